"""Where alerts go: always a log file, and a webhook and e-mail when configured.

* :class:`LogFileTarget` — ``$FACTORY_HOME/logs/alerts.log``, one JSON line per alert (``"type":
  "alert"``), plus one ``"type": "delivery_failed"`` line per target that could not be reached;
* :class:`WebhookTarget` — ``FACTORY_ALERT_WEBHOOK_URL``: the alert POSTed as JSON, with a
  ``text`` field so Slack / Mattermost / Teams-style incoming webhooks show it as is;
* :class:`SmtpTarget` — ``FACTORY_ALERT_SMTP_URL`` (``smtp://user:pass@host:port``,
  ``smtps://…`` for implicit TLS, ``?starttls=true`` to upgrade a plain connection) to the
  comma-separated ``FACTORY_ALERT_EMAIL_TO``, from ``FACTORY_ALERT_EMAIL_FROM``.

Targets are independent: :meth:`Notifier.send` tries every one, a failing target (webhook down,
SMTP refusing) is logged and never stops the others, and ``send`` never raises. A target that
failed is not tried again by the same notifier (one sensor tick): a webhook that hangs costs one
timeout per tick, not one per alert. Errors are shown
with secrets removed (:func:`resources.settings.redact_text`, and the webhook's path and query,
which often are the secret, e.g. a Slack hook URL, are never shown at all).
"""

from __future__ import annotations

import json
import logging
import os
import smtplib
import socket
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from resources import settings

LOG = logging.getLogger("factory.alerts")
TIMEOUT_S = 5.0  # per target and alert: a sensor tick must end well inside Dagster's timeout
MAX_TEXT = 4000


@dataclass(frozen=True)
class Alert:
    """One alert. ``id`` is stable for the failure it reports (receivers may dedupe on it)."""

    id: str
    kind: str  # run_failure | check_failed | check_recovered
    title: str
    details: dict[str, Any] = field(default_factory=dict)
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def payload(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "title": self.title, "at": self.at, **self.details}

    def text(self) -> str:
        lines = [self.title, ""]
        for key, value in self.details.items():
            shown = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
            lines.append(f"{key}: {shown}")
        lines.append(f"at: {self.at}")
        return "\n".join(lines)


class Target(Protocol):
    name: str

    def send(self, alert: Alert) -> None: ...

    def secrets(self) -> list[str]: ...


def scrub(text: str, secrets: list[str]) -> str:
    """``text`` with every URL credential and each given secret string replaced by ``***``."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "***")
    return settings.redact_text(text)[:MAX_TEXT]


def endpoint_label(url: str) -> str:
    """``scheme://host:port`` only: what may be shown of a URL whose path or query may be a secret."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}"


class LogFileTarget:
    name = "log"

    def __init__(self, path: Path):
        self.path = path

    def write(self, record: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(record, default=str, ensure_ascii=False, sort_keys=True)
        with open(self.path, "a", encoding="utf-8") as fh:  # one write per line: lines never interleave
            fh.write(line + "\n")

    def send(self, alert: Alert) -> None:
        self.write({"type": "alert", **alert.payload()})

    def secrets(self) -> list[str]:
        return []


class WebhookTarget:
    name = "webhook"

    def __init__(self, url: str, timeout: float = TIMEOUT_S):
        self.url = url
        self.timeout = timeout

    def send(self, alert: Alert) -> None:
        body = json.dumps({"text": alert.text(), **alert.payload()}, default=str).encode()
        request = urllib.request.Request(
            self.url, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 (configured URL)
                response.read(64 << 10)  # drain a bounded reply; its content is not used
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"webhook {endpoint_label(self.url)} answered HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise RuntimeError(f"webhook {endpoint_label(self.url)} unreachable: {reason}") from None

    def secrets(self) -> list[str]:
        parts = urlsplit(self.url)
        return [self.url, parts.path if len(parts.path) > 1 else "", parts.query, parts.password or ""]


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    implicit_tls: bool
    starttls: bool
    user: str | None
    password: str | None

    @classmethod
    def parse(cls, url: str) -> SmtpSettings:
        """``smtp://[user[:pass]@]host[:port][?starttls=true]`` or ``smtps://…`` (implicit TLS)."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("smtp", "smtps", "smtp+starttls") or not parts.hostname:
            raise ValueError(
                f"FACTORY_ALERT_SMTP_URL must look like smtp://user:pass@host:port, smtps://… or "
                f"smtp://…?starttls=true; got {settings.redact_url(url)}"
            )
        query = {k.lower(): v[-1].lower() for k, v in parse_qs(parts.query).items()}
        implicit = scheme == "smtps"
        starttls = scheme == "smtp+starttls" or query.get("starttls") in ("1", "true", "yes", "on")
        default_port = 465 if implicit else 587 if starttls else 25
        return cls(
            host=parts.hostname,
            port=parts.port or default_port,
            implicit_tls=implicit,
            starttls=starttls,
            user=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
        )


class SmtpTarget:
    name = "email"

    def __init__(self, url: str, to: list[str], sender: str, timeout: float = TIMEOUT_S):
        self.url = url
        self.to = to
        self.sender = sender
        self.timeout = timeout

    def send(self, alert: Alert) -> None:
        if not self.to:
            raise RuntimeError("FACTORY_ALERT_SMTP_URL is set but FACTORY_ALERT_EMAIL_TO is empty")
        cfg = SmtpSettings.parse(self.url)
        msg = EmailMessage()
        msg["Subject"] = f"[factory] {alert.title}"[:200]
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.to)
        msg["X-Factory-Alert-Id"] = alert.id
        msg.set_content(alert.text() + "\n\n" + json.dumps(alert.payload(), default=str, indent=2) + "\n")
        where = f"smtp {cfg.host}:{cfg.port}"
        try:
            if cfg.implicit_tls:
                smtp = smtplib.SMTP_SSL(
                    cfg.host, cfg.port, timeout=self.timeout, context=ssl.create_default_context()
                )
            else:
                smtp = smtplib.SMTP(cfg.host, cfg.port, timeout=self.timeout)
            with smtp:
                if cfg.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if cfg.user:
                    smtp.login(cfg.user, cfg.password or "")
                smtp.send_message(msg)
        except (smtplib.SMTPException, OSError) as exc:  # OSError covers timeouts
            raise RuntimeError(f"{where}: {type(exc).__name__}: {exc}") from None

    def secrets(self) -> list[str]:
        try:
            password = SmtpSettings.parse(self.url).password
        except ValueError:
            password = None
        return [self.url, password or ""]


def alerts_log_path() -> Path:
    return settings.factory_home() / "logs" / "alerts.log"


class Notifier:
    """Sends one alert to every target; the log file first, so it holds every alert."""

    def __init__(self, log: LogFileTarget, others: list[Target], logger: Any = None):
        self.log = log
        self.others = others
        self.logger = logger or LOG
        self.down: dict[str, str] = {}  # target -> error: not tried again by this notifier (one tick)

    @classmethod
    def from_env(cls, logger: Any = None) -> Notifier:
        others: list[Target] = []
        webhook = os.environ.get("FACTORY_ALERT_WEBHOOK_URL")
        if webhook:
            others.append(WebhookTarget(webhook))
        smtp = os.environ.get("FACTORY_ALERT_SMTP_URL")
        if smtp:
            to = [a.strip() for a in (os.environ.get("FACTORY_ALERT_EMAIL_TO") or "").split(",") if a.strip()]
            sender = os.environ.get("FACTORY_ALERT_EMAIL_FROM") or f"factory-alerts@{socket.gethostname()}"
            others.append(SmtpTarget(smtp, to, sender))
        return cls(LogFileTarget(alerts_log_path()), others, logger)

    def secrets(self) -> list[str]:
        return [s for t in self.others for s in t.secrets()]

    def send(self, alert: Alert) -> dict[str, str]:
        """Deliver ``alert`` everywhere; returns target name -> ``"ok"`` or the (redacted) error."""
        outcome: dict[str, str] = {}
        for target in (self.log, *self.others):
            try:
                if target.name in self.down:
                    raise RuntimeError(f"not tried: failed earlier in this tick ({self.down[target.name]})")
                target.send(alert)
                outcome[target.name] = "ok"
            except Exception as exc:  # noqa: BLE001 - one target's failure never stops the others
                error = scrub(f"{exc}", self.secrets())
                if target is not self.log:
                    self.down.setdefault(target.name, error)
                outcome[target.name] = error
                self.logger.warning(f"alert {alert.id}: {target.name} target failed: {error}")
                if target is not self.log:
                    try:
                        self.log.write(
                            {
                                "type": "delivery_failed",
                                "alert_id": alert.id,
                                "target": target.name,
                                "error": error,
                            }
                        )
                    except OSError as log_exc:
                        self.logger.error(f"alerts log unwritable: {scrub(str(log_exc), [])}")
        return outcome
