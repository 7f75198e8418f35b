"""Alerts: real failing runs and checks on a real Dagster instance, the real sensors ticking
repeatedly, delivered to a real HTTP receiver and a real SMTP server on loopback."""

import json
import ssl
import subprocess
from pathlib import Path

import dagster as dg
import pytest

from factory_assets.monitoring.alerts import Alert, Notifier, SmtpSettings, alerts_log_path
from factory_assets.monitoring.sensors import build_check_alert_sensor, build_run_failure_sensor
from resources import settings
from tests.alert_receivers import HttpReceiver, SmtpReceiver, free_port

SMTP_USER, SMTP_PASSWORD = "alerts", "s3cr@t:pw/x"  # raw '@', ':' and '/' percent-encoded in the URL
SMTP_PASSWORD_ENCODED = "s3cr%40t%3Apw%2Fx"
WEBHOOK_TOKEN = "T0KEN-abc123-very-secret"


class Flag(dg.Config):
    ok: bool = True


@dg.asset
def boom():
    raise RuntimeError("the press jammed (postgresql://loader:hunter2@db.plant/factory unreachable)")


@dg.asset(check_specs=[dg.AssetCheckSpec("widgets_positive", asset="widgets")])
def widgets(config: Flag):
    yield dg.MaterializeResult()
    yield dg.AssetCheckResult(
        check_name="widgets_positive",
        passed=config.ok,
        description="every widget count is positive" if config.ok else "3 negative widget counts",
        metadata={
            "negative_rows": 0 if config.ok else 3,
            "source": "postgresql://loader:hunter2@db.plant/factory",
            "examples": dg.MetadataValue.json({"rows": [{"id": i, "text": "x" * 5000} for i in range(3)]}),
        },
    )


@dg.asset
def fine():
    return 1


def fail_a_run(instance) -> str:
    result = dg.materialize([boom], instance=instance, raise_on_error=False)
    assert not result.success
    return result.run_id


def run_widgets(instance, ok: bool) -> None:
    result = dg.materialize(
        [widgets], instance=instance, run_config={"ops": {"widgets": {"config": {"ok": ok}}}}
    )
    assert result.success


class Ticker:
    """Ticks a sensor like the daemon does: each tick gets the cursor the previous one left."""

    def __init__(self, sensor: dg.SensorDefinition, instance):
        self.sensor, self.instance, self.cursor = sensor, instance, None

    def tick(self):
        context = dg.build_sensor_context(instance=self.instance, cursor=self.cursor)
        data = self.sensor.evaluate_tick(context)
        self.cursor = data.cursor
        return data


def alert_lines(home: Path, kind: str | None = None, type_: str = "alert") -> list[dict]:
    path = home / "logs" / "alerts.log"
    if not path.exists():
        return []
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    return [r for r in lines if r["type"] == type_ and (kind is None or r.get("kind") == kind)]


@pytest.fixture
def receivers(tmp_path, monkeypatch):
    home = tmp_path / "home"
    with HttpReceiver() as http, SmtpReceiver(require_auth=(SMTP_USER, SMTP_PASSWORD)) as smtp:
        monkeypatch.setenv("FACTORY_HOME", str(home))
        monkeypatch.setenv("FACTORY_ALERT_WEBHOOK_URL", f"{http.url}/hooks/{WEBHOOK_TOKEN}")
        monkeypatch.setenv(
            "FACTORY_ALERT_SMTP_URL", f"smtp://{SMTP_USER}:{SMTP_PASSWORD_ENCODED}@127.0.0.1:{smtp.port}"
        )
        monkeypatch.setenv("FACTORY_ALERT_EMAIL_TO", "maintenance@plant.example, it@plant.example")
        monkeypatch.setenv("FACTORY_ALERT_EMAIL_FROM", "factory@plant.example")
        yield http, smtp, home


@pytest.fixture
def instance(tmp_path, warehouse_url):
    """A Dagster instance on PostgreSQL (as deployed: dagster-postgres), in a scratch database."""
    (tmp_path / "dagster").mkdir()
    storage = {"postgres": {"postgres_url": settings.psycopg2_url(warehouse_url)}}
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster"), overrides={"storage": storage}) as inst:
        yield inst


def test_alerts_log_is_under_factory_home(monkeypatch, tmp_path):
    monkeypatch.setenv("FACTORY_HOME", str(tmp_path / "h"))
    assert alerts_log_path() == (tmp_path / "h" / "logs" / "alerts.log").resolve()


def test_a_failed_run_alerts_once_everywhere_however_often_the_sensor_ticks(receivers, instance):
    http, smtp, home = receivers
    ticker = Ticker(build_run_failure_sensor(30), instance)
    ticker.tick()  # first tick: the sensor starts from "now"
    run_id = fail_a_run(instance)
    dg.materialize([fine], instance=instance)  # a successful run alerts nobody
    for _ in range(4):
        ticker.tick()

    assert [m["id"] for m in http.received] == [f"run_failure:{run_id}"]
    assert http.paths == [f"/hooks/{WEBHOOK_TOKEN}"]
    alert = http.received[0]
    assert (
        alert["kind"] == "run_failure"
        and alert["run_id"] == run_id
        and alert["job"] == "__ephemeral_asset_job__"
    )
    assert [step["step"] for step in alert["failed_steps"]] == ["boom"]
    assert "the press jammed" in alert["failed_steps"][0]["error"]
    assert "hunter2" not in json.dumps(alert)  # secrets in the error are redacted

    assert len(smtp.messages) == 1
    mail = smtp.messages[0]
    assert mail.auth == (SMTP_USER, SMTP_PASSWORD)
    assert sorted(mail.rcpt_to) == ["it@plant.example", "maintenance@plant.example"]
    assert mail.mail_from == "factory@plant.example"
    assert mail.message["X-Factory-Alert-Id"] == f"run_failure:{run_id}"
    assert "failed" in mail.message["Subject"]

    logged = alert_lines(home, "run_failure")
    assert [r["run_id"] for r in logged] == [run_id]
    assert alert_lines(home, type_="delivery_failed") == []

    second = fail_a_run(instance)  # a new failure is a new alert
    ticker.tick()
    ticker.tick()
    assert [m["run_id"] for m in http.received] == [run_id, second]
    assert len(smtp.messages) == 2
    assert [r["run_id"] for r in alert_lines(home, "run_failure")] == [run_id, second]


def test_a_failing_check_alerts_once_until_it_passes_then_recovers(receivers, instance):
    http, smtp, home = receivers
    ticker = Ticker(build_check_alert_sensor(30), instance)
    ticker.tick()
    run_widgets(instance, ok=True)
    ticker.tick()
    assert http.received == [] and smtp.messages == []  # passing checks are silent

    for _ in range(3):  # keeps failing on each evaluation, the sensor ticks in between
        run_widgets(instance, ok=False)
        ticker.tick()
        ticker.tick()
    failed = [m for m in http.received if m["kind"] == "check_failed"]
    assert len(failed) == 1
    assert failed[0]["asset"] == "widgets" and failed[0]["check"] == "widgets_positive"
    assert failed[0]["description"] == "3 negative widget counts"
    assert failed[0]["metadata"]["negative_rows"] == 3
    assert failed[0]["metadata"]["source"] == "postgresql://loader:***@db.plant/factory"
    assert [r["id"] for r in failed[0]["metadata"]["examples"]["rows"]] == [0, 1, 2]  # long values bounded
    assert "hunter2" not in json.dumps(http.received)
    assert len(smtp.messages) == 1
    assert "widgets:widgets_positive" in smtp.messages[0].message["Subject"]
    assert len(alert_lines(home, "check_failed")) == 1

    # the state survives a "restart": a new sensor object, same instance, stored cursor
    restarted = Ticker(build_check_alert_sensor(30), instance)
    restarted.cursor = ticker.cursor
    run_widgets(instance, ok=False)
    restarted.tick()
    assert len([m for m in http.received if m["kind"] == "check_failed"]) == 1

    run_widgets(instance, ok=True)
    restarted.tick()
    restarted.tick()
    kinds = [m["kind"] for m in http.received]
    assert kinds == ["check_failed", "check_recovered"]
    assert http.received[1]["failing_since"] == failed[0]["at"]
    assert len(smtp.messages) == 2
    assert [r["kind"] for r in alert_lines(home)] == ["check_failed", "check_recovered"]

    run_widgets(instance, ok=False)  # failing again after recovering: a new alert
    restarted.tick()
    assert [m["kind"] for m in http.received] == ["check_failed", "check_recovered", "check_failed"]
    assert len(smtp.messages) == 3


def test_a_webhook_that_is_down_does_not_stop_the_email_and_is_logged_without_secrets(
    receivers, instance, monkeypatch
):
    http, smtp, home = receivers
    down = f"http://127.0.0.1:{free_port()}/hooks/{WEBHOOK_TOKEN}?token=qs-secret"
    monkeypatch.setenv("FACTORY_ALERT_WEBHOOK_URL", down)
    ticker = Ticker(build_run_failure_sensor(30), instance)
    ticker.tick()
    run_id = fail_a_run(instance)
    ticker.tick()
    ticker.tick()

    assert (
        len(smtp.messages) == 1 and smtp.messages[0].message["X-Factory-Alert-Id"] == f"run_failure:{run_id}"
    )
    assert [r["run_id"] for r in alert_lines(home, "run_failure")] == [run_id]
    failures = alert_lines(home, type_="delivery_failed")
    assert [(f["alert_id"], f["target"]) for f in failures] == [(f"run_failure:{run_id}", "webhook")]
    assert "unreachable" in failures[0]["error"] and "127.0.0.1" in failures[0]["error"]
    text = (home / "logs" / "alerts.log").read_text()
    for secret in (WEBHOOK_TOKEN, "qs-secret", SMTP_PASSWORD, SMTP_PASSWORD_ENCODED, "hunter2"):
        assert secret not in text


def test_a_webhook_answering_an_error_and_smtp_refusing_the_login_are_both_reported(
    tmp_path, monkeypatch, instance
):
    home = tmp_path / "home"
    with HttpReceiver(status=500) as http, SmtpReceiver(require_auth=("alerts", "other")) as smtp:
        monkeypatch.setenv("FACTORY_HOME", str(home))
        monkeypatch.setenv("FACTORY_ALERT_WEBHOOK_URL", http.url + "/x")
        monkeypatch.setenv("FACTORY_ALERT_SMTP_URL", f"smtp://alerts:wrong-pw@127.0.0.1:{smtp.port}")
        monkeypatch.setenv("FACTORY_ALERT_EMAIL_TO", "a@plant.example")
        ticker = Ticker(build_run_failure_sensor(30), instance)
        ticker.tick()
        fail_a_run(instance)
        ticker.tick()
        assert len(http.received) == 1  # it arrived, but the receiver said 500
        assert smtp.messages == []
    failures = {f["target"]: f["error"] for f in alert_lines(home, type_="delivery_failed")}
    assert set(failures) == {"webhook", "email"}
    assert "HTTP 500" in failures["webhook"]
    assert "535" in failures["email"] and "wrong-pw" not in failures["email"]
    assert len(alert_lines(home, "run_failure")) == 1


def test_smtp_down_does_not_stop_the_webhook(receivers, instance, monkeypatch):
    http, smtp, home = receivers
    monkeypatch.setenv("FACTORY_ALERT_SMTP_URL", f"smtp://u:p@127.0.0.1:{free_port()}")
    ticker = Ticker(build_run_failure_sensor(30), instance)
    ticker.tick()
    fail_a_run(instance)
    ticker.tick()
    assert len(http.received) == 1
    assert [f["target"] for f in alert_lines(home, type_="delivery_failed")] == ["email"]


def test_without_targets_configured_the_log_file_still_gets_every_alert(tmp_path, monkeypatch, instance):
    monkeypatch.setenv("FACTORY_HOME", str(tmp_path / "home"))
    for var in ("FACTORY_ALERT_WEBHOOK_URL", "FACTORY_ALERT_SMTP_URL", "FACTORY_ALERT_EMAIL_TO"):
        monkeypatch.delenv(var, raising=False)
    assert Notifier.from_env().others == []
    ticker = Ticker(build_check_alert_sensor(30), instance)
    ticker.tick()
    run_widgets(instance, ok=False)
    ticker.tick()
    assert [r["check"] for r in alert_lines(tmp_path / "home", "check_failed")] == ["widgets_positive"]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.plant:2525", ("mail.plant", 2525, False, False, None, None)),
        ("smtp://u:p%40ss@mail.plant", ("mail.plant", 25, False, False, "u", "p@ss")),
        ("smtp://u:p@mail.plant?starttls=true", ("mail.plant", 587, False, True, "u", "p")),
        ("smtps://u:p@mail.plant", ("mail.plant", 465, True, False, "u", "p")),
    ],
)
def test_smtp_url_forms(url, expected):
    s = SmtpSettings.parse(url)
    assert (s.host, s.port, s.implicit_tls, s.starttls, s.user, s.password) == expected


def test_a_bad_smtp_url_is_refused_without_showing_its_password():
    with pytest.raises(ValueError) as err:
        SmtpSettings.parse("http://u:topsecret@mail.plant")
    assert "topsecret" not in str(err.value)


@pytest.fixture
def tls_server_context(tmp_path):
    """A self-signed certificate for 127.0.0.1 (openssl), and the server's TLS context."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context, cert


@pytest.mark.parametrize(("mode", "url"), [("starttls", "smtp://{auth}@127.0.0.1:{port}?starttls=true"),
                                           ("implicit", "smtps://{auth}@127.0.0.1:{port}")])  # fmt: skip
def test_email_over_starttls_and_smtps_verifies_the_server_certificate(
    tls_server_context, tmp_path, monkeypatch, mode, url
):
    context, cert = tls_server_context
    monkeypatch.setenv("FACTORY_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FACTORY_ALERT_WEBHOOK_URL", raising=False)
    monkeypatch.setenv("FACTORY_ALERT_EMAIL_TO", "it@plant.example")
    alert = Alert(id="run_failure:r1", kind="run_failure", title="Run of x failed", details={"run_id": "r1"})
    with SmtpReceiver(require_auth=(SMTP_USER, SMTP_PASSWORD), tls=mode, ssl_context=context) as smtp:
        auth = f"{SMTP_USER}:{SMTP_PASSWORD_ENCODED}"
        monkeypatch.setenv("FACTORY_ALERT_SMTP_URL", url.format(auth=auth, port=smtp.port))
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "nobody.pem"))  # the certificate is not trusted
        refused = Notifier.from_env().send(alert)
        assert refused["log"] == "ok" and "CERTIFICATE_VERIFY_FAILED" in refused["email"]
        assert SMTP_PASSWORD not in refused["email"] and smtp.messages == []

        monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # trusted: delivered, encrypted, authenticated
        assert Notifier.from_env().send(alert) == {"log": "ok", "email": "ok"}
        (mail,) = smtp.messages
        assert mail.tls and mail.auth == (SMTP_USER, SMTP_PASSWORD)
        assert mail.message["X-Factory-Alert-Id"] == "run_failure:r1"


FLOOD = 60


@dg.asset(check_specs=[dg.AssetCheckSpec(f"rule_{i:02d}", asset="batch") for i in range(FLOOD)])
def batch():
    yield dg.MaterializeResult()
    for i in range(FLOOD):
        yield dg.AssetCheckResult(check_name=f"rule_{i:02d}", passed=False)


def test_a_burst_of_failures_is_spread_over_ticks_and_a_dead_webhook_is_tried_once_per_tick(
    receivers, instance, monkeypatch
):
    http, smtp, home = receivers
    monkeypatch.setenv("FACTORY_ALERT_WEBHOOK_URL", f"http://127.0.0.1:{free_port()}/hook")
    ticker = Ticker(build_check_alert_sensor(30), instance)
    ticker.tick()
    dg.materialize([batch], instance=instance)
    ticker.tick()
    assert len(alert_lines(home, "check_failed")) == 50 and len(smtp.messages) == 50
    failures = alert_lines(home, type_="delivery_failed")
    assert len(failures) == 50 and {f["target"] for f in failures} == {"webhook"}
    assert "unreachable" in failures[0]["error"]
    assert all(f["error"].startswith("not tried") for f in failures[1:])
    ticker.tick()
    ticker.tick()
    checks = [r["check"] for r in alert_lines(home, "check_failed")]
    assert sorted(checks) == [f"rule_{i:02d}" for i in range(FLOOD)]  # each exactly once
    assert len(smtp.messages) == FLOOD
