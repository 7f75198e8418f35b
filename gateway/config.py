"""Gateway configuration from the environment (DESIGN.md §4, §9), read when the app is created.

| variable | meaning | default |
|---|---|---|
| ``FACTORY_GATEWAY_API_KEY`` | key for ``POST /v1/operations`` (header ``X-API-KEY``) | none: refuses to start |
| ``FACTORY_GATEWAY_READ_API_KEY`` | key for the read endpoints | none: every read is refused (403) |
| ``FACTORY_GATEWAY_READ_URL`` | PostgreSQL URL the read endpoints use | the warehouse URL as ``bi_reader`` |
| ``FACTORY_BI_READER_PASSWORD`` | password of ``bi_reader`` (when the read URL is derived) | demo: generated |
| ``FACTORY_LANDING_URL``, ``FACTORY_SFTP_*`` | where drops are written | ``$FACTORY_HOME/landing`` |
| ``FACTORY_OPERATIONS_MAX_FILE_MB`` | largest body accepted (the operations file kind's limit) | 16 |
| ``FACTORY_GATEWAY_HOST`` / ``FACTORY_GATEWAY_PORT`` | where ``python -m gateway`` listens | 127.0.0.1 / 8000 |
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field

from resources import settings as platform


class GatewayConfigError(RuntimeError):
    """The gateway cannot start with this environment (the message says what to set)."""


DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


@dataclass
class GatewaySettings:
    ingest_key: str
    read_key: str | None = None
    landing_url: str | None = None  # None: FACTORY_LANDING_URL / the default below FACTORY_HOME
    sftp_key_file: str | None = None
    sftp_password: str | None = None
    sftp_known_hosts: str | None = None
    landing_timeout_s: float = 10.0
    read_url: str | None = None  # None: derived from the warehouse URL on first use
    max_body_bytes: int = 16 << 20
    timezone: str = platform.DEFAULT_TIMEZONE
    statement_timeout_ms: int = 15_000
    _read_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self):
        if not self.ingest_key:
            raise GatewayConfigError(
                "FACTORY_GATEWAY_API_KEY is not set: the gateway refuses to start without an ingest key "
                "(set it to a long random value, e.g. `openssl rand -hex 32`)"
            )

    def landing(self):
        from resources.landing import LandingZoneResource

        return LandingZoneResource(
            role="landing",
            url=self.landing_url,
            sftp_key_file=self.sftp_key_file,
            sftp_password=self.sftp_password,
            sftp_known_hosts=self.sftp_known_hosts,
            timeout_s=self.landing_timeout_s,
        )

    def resolved_read_url(self) -> str:
        """The connection string of the read endpoints: ``FACTORY_GATEWAY_READ_URL``, else the
        warehouse URL with user ``bi_reader`` and its password. Raises ``GatewayConfigError``."""
        with self._read_lock:
            if self.read_url is None:
                self.read_url = derive_read_url()
            return self.read_url

    def __repr__(self) -> str:  # never show the keys
        return f"GatewaySettings(landing={platform.redact_url(self.landing_url or platform.landing_url())})"


def derive_read_url() -> str:
    from psycopg.conninfo import make_conninfo

    from factory_assets.ingest.roles import ROLE, bi_reader_password

    url = os.environ.get("FACTORY_WAREHOUSE_URL")
    if not url:
        try:
            from resources.embedded import embedded_url

            url = embedded_url("factory")
        except Exception as exc:  # noqa: BLE001 - reported as a configuration error
            raise GatewayConfigError(
                f"no warehouse to read from: set FACTORY_GATEWAY_READ_URL or FACTORY_WAREHOUSE_URL ({exc})"
            ) from None
    password = bi_reader_password()
    extra = {"password": password} if password else {}
    return make_conninfo(platform.libpq_url(url), user=ROLE, **extra)


def settings_from_env() -> GatewaySettings:
    """The gateway's settings from the environment; ``GatewayConfigError`` without an ingest key."""
    from factory_assets.operations.kind import OPERATIONS

    def env(name: str) -> str | None:
        return os.environ.get(name) or None

    landing = env("FACTORY_LANDING_URL")
    if landing and not landing.startswith(("file:", "sftp:")):
        raise GatewayConfigError(
            f"FACTORY_LANDING_URL must be file:///abs/path or sftp://user@host:port/path, "
            f"got {platform.redact_url(landing)}"
        )
    return GatewaySettings(
        ingest_key=env("FACTORY_GATEWAY_API_KEY") or "",
        read_key=env("FACTORY_GATEWAY_READ_API_KEY"),
        landing_url=landing,
        sftp_key_file=env("FACTORY_SFTP_KEY_FILE"),
        sftp_password=env("FACTORY_SFTP_PASSWORD"),
        sftp_known_hosts=env("FACTORY_SFTP_KNOWN_HOSTS"),
        read_url=env("FACTORY_GATEWAY_READ_URL"),
        max_body_bytes=OPERATIONS.max_bytes(),
        timezone=platform.plant_timezone(),
    )


def listen_address() -> tuple[str, int]:
    return env_host(), int(os.environ.get("FACTORY_GATEWAY_PORT") or DEFAULT_PORT)


def env_host() -> str:
    return os.environ.get("FACTORY_GATEWAY_HOST") or DEFAULT_HOST
