"""Configuration contract (DESIGN.md §4) in one place.

Everything here is a pure function of the environment so that the CLI, the Dagster code
location, the sensors and the tests agree on defaults. Secrets are never logged: URLs are
shown through :func:`redact_url` only.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

DEFAULT_TIMEZONE = "Europe/Paris"
TEMP_NAME_PATTERNS = (".part", ".tmp")


def factory_home() -> Path:
    """Folder for local state (embedded Postgres, landing zone, archive, DAGSTER_HOME)."""
    return Path(os.environ.get("FACTORY_HOME") or "./.factory").expanduser().resolve()


def demo_mode() -> bool:
    """Demo mode = no warehouse URL configured: the embedded PostgreSQL hosts everything."""
    return not os.environ.get("FACTORY_WAREHOUSE_URL")


def landing_url() -> str:
    return os.environ.get("FACTORY_LANDING_URL") or (factory_home() / "landing").as_uri()


def archive_url() -> str:
    return os.environ.get("FACTORY_ARCHIVE_URL") or (factory_home() / "archive").as_uri()


def plant_timezone(source: str | None = None) -> str:
    """Plant time zone, optionally overridden per source (``FACTORY_<SOURCE>_TIMEZONE``)."""
    if source:
        override = os.environ.get(f"FACTORY_{source.upper()}_TIMEZONE")
        if override:
            return override
    return os.environ.get("FACTORY_TIMEZONE") or DEFAULT_TIMEZONE


def sensor_interval_s() -> int:
    return int(os.environ.get("FACTORY_SENSOR_INTERVAL_S") or 30)


def settle_s() -> float:
    return float(os.environ.get("FACTORY_SETTLE_S") or 60)


def is_temporary_name(path: str) -> bool:
    """Upload tools write ``*.part`` / ``*.tmp`` or hidden names first and rename at the end."""
    name = path.rsplit("/", 1)[-1]
    return name.startswith(".") or name.lower().endswith(TEMP_NAME_PATTERNS)


@dataclass(frozen=True)
class PgParams:
    """libpq connection parameters split out of a URL, for tools (dbt) that cannot take URLs."""

    host: str
    port: int
    user: str
    password: str
    dbname: str


def pg_params(url: str) -> PgParams:
    """Split ``postgresql[+driver]://user:pw@host:port/db?host=/socket/dir`` into parameters."""
    parts = urlsplit(url)
    if not parts.scheme.startswith("postgres"):
        raise ValueError(f"not a PostgreSQL URL: {redact_url(url)}")
    query = parse_qs(parts.query)
    host = query.get("host", [None])[0] or parts.hostname or "localhost"
    return PgParams(
        host=host,
        port=int(query.get("port", [None])[0] or parts.port or 5432),
        user=unquote(parts.username or "postgres"),
        password=unquote(parts.password or ""),
        dbname=(parts.path or "/").lstrip("/") or "postgres",
    )


def libpq_url(url: str) -> str:
    """Drop a SQLAlchemy driver suffix (``postgresql+psycopg2://``) so libpq/psycopg accept it."""
    return re.sub(r"^postgres(ql)?\+[a-z0-9_]+://", "postgresql://", url)


def psycopg2_url(url: str) -> str:
    """URL for dagster-postgres: it needs psycopg2 (its NOTIFY with bound parameters fails on
    psycopg 3, which SQLAlchemy 2.1 picks for a bare ``postgresql://``)."""
    return re.sub(r"^postgres(ql)?(\+[a-z0-9_]+)?://", "postgresql+psycopg2://", url)


# Query parameters whose value is a secret (libpq: password, sslpassword, passfile; common others).
SECRET_PARAMS = frozenset(
    {"password", "pass", "passwd", "pwd", "sslpassword", "passfile", "secret", "token", "api_key", "apikey"}
)
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")
_QUERY_SECRET = re.compile(r"(?i)([?&;](?:" + "|".join(sorted(SECRET_PARAMS)) + r")=)[^&#\s]*")
# libpq key=value connection strings and messages that echo them: password='x y' or password=x
_CONNINFO_SECRET = re.compile(r"(?i)\b((?:ssl)?password|passfile)\s*=\s*('(?:[^'\\]|\\.)*'|\S+)")


def redact_url(url: str) -> str:
    """``url`` safe to show anywhere (log, metadata, exception, CLI): secrets replaced by ``***``.

    The one redaction function of the platform. It hides:

    * the password of the user-info part. The user-info is everything between ``://`` and the
      **last** ``@`` of the URL, so a raw (unencoded) ``@``, ``:``, ``/``, ``?`` or ``#`` inside a
      password never leaks its tail (a path holding an ``@`` is over-redacted, which is safe);
    * secret query parameters (``password``, ``sslpassword``, ``passfile``, ``token``, ...).

    Text that is not a URL is returned with only the query-style secrets removed.
    """
    m = _SCHEME.match(url)
    if m:
        head, rest = url[: m.end()], url[m.end() :]
        at = rest.rfind("@")
        if at >= 0:
            userinfo, rest = rest[:at], rest[at + 1 :]
            user, sep, _password = userinfo.partition(":")
            url = f"{head}{user}{':***' if sep else ''}@{rest}"
    return _QUERY_SECRET.sub(r"\1***", url)


# In free text a URL's end is unknown (a raw password may hold spaces): the user-info runs to the
# last '@' on the same line, at most 256 characters on. Over-redaction is the safe side.
_TEXT_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@]*):([^\n]{0,256})@")


def redact_text(text: str) -> str:
    """Every URL and every ``password=...`` inside a free text (driver messages, exceptions)."""
    text = _TEXT_USERINFO.sub(r"\1:***@", text)
    text = re.sub(r"[A-Za-z][A-Za-z0-9+.\-]*://\S+", lambda m: redact_url(m.group(0)), text)
    return _CONNINFO_SECRET.sub(r"\1=***", text)


def dbt_env(warehouse_url: str) -> dict[str, str]:
    """Environment variables read by ``dbt_project/profiles.yml``."""
    p = pg_params(libpq_url(warehouse_url))
    return {
        "FACTORY_DBT_HOST": p.host,
        "FACTORY_DBT_PORT": str(p.port),
        "FACTORY_DBT_USER": p.user,
        "FACTORY_DBT_PASSWORD": p.password,
        "FACTORY_DBT_DBNAME": p.dbname,
        "DO_NOT_TRACK": "1",
    }
