"""The PostgreSQL warehouse: where it is and how to connect.

psycopg 3 is used directly (not SQLAlchemy) because COPY is the fastest way into PostgreSQL
and we need explicit transactions: a file version's ledger row and its rows commit together.
The raw-schema migrations and the COPY helpers belong to the ingest layer
(``factory_assets.ingest``), which builds on this resource.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import psycopg
from dagster import ConfigurableResource
from pydantic import Field

from resources import settings


def resolve_warehouse_url(url: str | None = None) -> str:
    """Configured URL, else the embedded PostgreSQL's ``factory`` database (demo mode)."""
    if url:
        return url
    from resources.embedded import embedded_url

    return embedded_url("factory")


def connect(url: str, *, autocommit: bool = False, connect_timeout: int = 10) -> psycopg.Connection:
    """Open a psycopg connection; the error names the (redacted) URL instead of a bare libpq message."""
    try:
        return psycopg.connect(
            settings.libpq_url(url), autocommit=autocommit, connect_timeout=connect_timeout
        )
    except psycopg.ProgrammingError:
        raise WarehouseUnavailable(
            f"invalid warehouse URL {settings.redact_url(url)}: libpq cannot parse it; percent-encode "
            "special characters of the user name and password (@ as %40, : as %3A, / as %2F, ? as %3F)"
        ) from None
    except psycopg.OperationalError as exc:
        raise WarehouseUnavailable(
            f"cannot connect to the warehouse {settings.redact_url(url)}: "
            f"{settings.redact_text(str(exc).strip())}"
        ) from None


class WarehouseUnavailable(RuntimeError):
    """The warehouse cannot be reached; nothing was written."""


class WarehouseResource(ConfigurableResource):
    """PostgreSQL warehouse (``FACTORY_WAREHOUSE_URL``; the embedded server when unset)."""

    url: str | None = Field(default=None, description="PostgreSQL URL; unset = embedded PostgreSQL")

    def resolved_url(self) -> str:
        return resolve_warehouse_url(self.url)

    def display_url(self) -> str:
        return settings.redact_url(self.resolved_url())

    @contextlib.contextmanager
    def connection(self, *, autocommit: bool = True) -> Iterator[psycopg.Connection]:
        """Autocommit by default: every multi-statement unit uses an explicit ``conn.transaction()``."""
        conn = connect(self.resolved_url(), autocommit=autocommit)
        try:
            yield conn
        finally:
            conn.close()
