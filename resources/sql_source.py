"""SQL source databases (ERP, MES, plant DB, OLTP) as SQLAlchemy engines.

One resource class serves the four sources; it only knows *where* a source is and how to talk to
it. What to copy and how lives in :mod:`factory_assets.sql_sources`.

URL resolution (DESIGN.md §4): a configured URL wins; with none, demo mode (no
``FACTORY_WAREHOUSE_URL``) reads the demo database ``<source>_demo`` on the embedded PostgreSQL;
outside demo mode the source's assets fail fast with a message naming the variable, and nothing
else is affected. URLs are only ever shown redacted, and driver messages are scrubbed of the
password before they reach a log, an error or asset metadata.
"""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from dagster import ConfigurableResource
from pydantic import Field
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from resources import settings

# source name -> the NAME part of FACTORY_<NAME>_URL / FACTORY_<NAME>_TIMEZONE (DESIGN.md §4)
SOURCE_ENV = {"erp": "ERP", "mes": "MES", "plant": "PLANT_DB", "oltp": "OLTP"}
READERS = ("auto", "connectorx", "pymysql", "sqlalchemy")

# Every MySQL session of a sync reads TIMESTAMP columns in UTC (MySQL converts them to the session
# zone, and named zones need time-zone tables many servers lack) and tolerates a slow consumer.
MYSQL_SESSION_INIT = "SET time_zone = '+00:00', net_write_timeout = 600"


class SourceNotConfigured(RuntimeError):
    """No URL for this source outside demo mode: a configuration error, not worth retrying."""


class SourceUnavailable(RuntimeError):
    """The source database cannot be reached (down, refused, auth); nothing was written."""


def url_variable(source: str) -> str:
    return f"FACTORY_{_env_name(source)}_URL"


def timezone_variable(source: str) -> str:
    return f"FACTORY_{_env_name(source)}_TIMEZONE"


def _env_name(source: str) -> str:
    try:
        return SOURCE_ENV[source]
    except KeyError:
        raise ValueError(f"unknown SQL source {source!r}; expected one of {sorted(SOURCE_ENV)}") from None


def normalise_url(url: str) -> str:
    """Pick the drivers this project ships: ``mysql://``/``mariadb://`` -> pymysql, ``postgres://`` ->
    ``postgresql://`` (psycopg 3 under SQLAlchemy 2.1)."""
    url = re.sub(r"^(mysql|mariadb)://", "mysql+pymysql://", url)
    url = re.sub(r"^mariadb\+pymysql://", "mysql+pymysql://", url)
    return re.sub(r"^postgres://", "postgresql://", url)


def scrub(message: str, url: str) -> str:
    """Remove the URL's password from a driver message (some echo the DSN back)."""
    password = make_url(url).password if "://" in url else None
    message = settings.redact_text(message)
    if password:
        message = message.replace(str(password), "***")
    return message


class SqlSourceResource(ConfigurableResource):
    """One SQL source database, read through SQLAlchemy core."""

    source: str = Field(description="erp | mes | plant | oltp")
    url: str | None = Field(
        default=None,
        description="SQLAlchemy URL (mysql+pymysql://… or postgresql://…); unset = demo database in demo mode",
    )
    timezone: str | None = Field(
        default=None,
        description="zone of the source's timestamps without a zone; unset = FACTORY_<SOURCE>_TIMEZONE, "
        "then FACTORY_TIMEZONE",
    )
    reader: str = Field(
        default="auto",
        description="auto | connectorx | pymysql | sqlalchemy. auto = connectorx for MySQL when installed "
        "(fast path), else pymysql in text mode; sqlalchemy for PostgreSQL",
    )
    batch_size: int = Field(
        default=50_000, description="rows per batch (one COPY, one commit in incremental mode)"
    )
    overlap_seconds: float = Field(
        default=300, description="timestamp cursors re-read this window before the watermark"
    )
    overlap_ids: int = Field(
        default=100,
        description="id cursors re-read this many ids before the watermark (auto-increment ids can commit "
        "out of order)",
    )
    max_delete_fraction: float = Field(
        default=0.5,
        description="a snapshot that would delete more than this share of a table (of > 100 rows) fails "
        "instead: an emptied source is more often a fault than real",
    )
    connect_timeout_s: int = Field(default=10)

    def resolved_url(self) -> str:
        if self.url:
            return normalise_url(self.url)
        if settings.demo_mode():
            from resources.embedded import embedded_url

            return embedded_url(f"{self.source}_demo")
        raise SourceNotConfigured(
            f"SQL source {self.source!r} has no URL: set {url_variable(self.source)} "
            "(e.g. mysql+pymysql://user:password@host:3306/db or postgresql://user:password@host/db)"
        )

    def display_url(self) -> str:
        try:
            return settings.redact_url(self.resolved_url())
        except Exception:  # noqa: BLE001 - only used in messages
            return f"(unset {url_variable(self.source)})"

    def resolved_timezone(self) -> str:
        tz = self.timezone or settings.plant_timezone(_env_name(self.source))
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{timezone_variable(self.source)} / FACTORY_TIMEZONE: unknown time zone {tz!r}"
            ) from None
        return tz

    def is_mysql(self) -> bool:
        return make_url(self.resolved_url()).get_backend_name() in ("mysql", "mariadb")

    def create_engine(self) -> sa.Engine:
        """A new engine (no pool: a sync opens few connections and holds them for a whole table)."""
        url = self.resolved_url()
        backend = make_url(url).get_backend_name()
        connect_args: dict = {"connect_timeout": self.connect_timeout_s}
        if backend in ("mysql", "mariadb"):
            connect_args["init_command"] = MYSQL_SESSION_INIT
        return sa.create_engine(url, poolclass=NullPool, connect_args=connect_args)

    def check_connection(self, engine: sa.Engine) -> None:
        """Connect once; raise :class:`SourceUnavailable` naming the source and its redacted URL."""
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError as exc:
            raise self.unavailable(exc) from None

    def unavailable(self, exc: BaseException, doing: str | None = None) -> SourceUnavailable:
        """The error to raise: names the source, its redacted URL and the driver's (scrubbed) reason."""
        detail = getattr(exc, "orig", None) or exc
        what = f"failed while {doing}" if doing else "is unreachable"
        return SourceUnavailable(
            f"SQL source {self.source!r} {what} at {self.display_url()}: "
            f"{scrub(str(detail).strip(), self.resolved_url())}"
        )
