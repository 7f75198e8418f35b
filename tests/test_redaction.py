"""One redaction function for every URL shown anywhere: property tests over generated URLs."""

from __future__ import annotations

from urllib.parse import quote

from hypothesis import example, given
from hypothesis import strategies as st

from resources.settings import redact_text, redact_url

# Secrets are drawn from an alphabet that never occurs in the other parts of the URL (upper case
# letters and digits plus every character that is special in a URL), so "not in the output" is
# a real check rather than an accident of a short secret matching a host name.
SPECIAL = "@:/?#&=%;+! $'\"\\[]{}~*,"
secrets = st.text(
    alphabet=st.sampled_from("ABCDEFGHJKLMNPQRSTUVWXYZ23456789" + SPECIAL), min_size=6, max_size=30
).filter(lambda s: sum(c.isalnum() for c in s) >= 4)
names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12)
hosts = st.from_regex(r"[a-z][a-z0-9.-]{0,20}", fullmatch=True)
schemes = st.sampled_from(["postgresql", "postgresql+psycopg2", "mysql+pymysql", "sftp", "mariadb"])


def leaked(secret: str, text: str) -> bool:
    """Any 4 consecutive alphanumeric-bearing characters of the secret shown (raw or encoded)."""
    if secret in text or quote(secret, safe="") in text:
        return True
    core = "".join(c for c in secret if c.isalnum())
    return any(core[i : i + 4] in text for i in range(len(core) - 3))


@given(schemes, names, secrets, hosts, st.integers(1, 65535), names, st.booleans())
@example("postgresql", "factory", "p@ss:w/rd?x=1", "db", 5432, "factory", False)
@example("sftp", "factory", "SECRET@2024", "sftp.plant", 22, "in", True)
def test_password_in_user_info_is_never_shown(scheme, user, secret, host, port, db, encoded):
    password = quote(secret, safe="") if encoded else secret
    url = f"{scheme}://{user}:{password}@{host}:{port}/{db}"
    shown = redact_url(url)
    assert not leaked(secret, shown), shown
    assert shown.startswith(f"{scheme}://{user}:***@")
    message = redact_text(f"could not connect to {url}: connection refused")
    assert not leaked(secret, message), message


@given(schemes, names, secrets, hosts, st.sampled_from(["password", "sslpassword", "passfile", "PASSWORD"]))
@example("postgresql", "factory", "Qz9Y8XW7!@", "db.plant", "password")
def test_secret_query_parameters_are_never_shown(scheme, user, secret, host, param):
    url = f"{scheme}://{user}@{host}/db?sslmode=require&{param}={quote(secret, safe='')}&application_name=x"
    shown = redact_url(url)
    assert not leaked(secret, shown), shown
    assert "sslmode=require" in shown and "application_name=x" in shown and f"{param}=***" in shown


@given(secrets)
def test_libpq_key_value_strings_in_messages_are_redacted(secret):
    quoted = secret.replace("\\", "\\\\").replace("'", "\\'")
    message = redact_text(f"connection to server failed: host=db user=factory password='{quoted}' dbname=x")
    assert not leaked(secret, message), message


def test_a_url_without_a_secret_is_unchanged():
    for url in ("sftp://factory@host:22/in", "file:///srv/landing", "postgresql://u@h/db?sslmode=require"):
        assert redact_url(url) == url
