"""The PostgreSQL warehouse: connections, bulk COPY, and the raw-schema migrations.

psycopg 3 is used directly (not SQLAlchemy) because COPY is the fastest way into PostgreSQL
and we need explicit transactions: a file version's ledger row and its rows commit together.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence

import psycopg
from dagster import ConfigurableResource
from pydantic import Field

from factory_assets import settings


def resolve_warehouse_url(url: str | None = None) -> str:
    """Configured URL, else the embedded PostgreSQL's ``factory`` database (demo mode)."""
    if url:
        return url
    from factory_assets.embedded import embedded_url

    return embedded_url("factory")


def connect(url: str, *, autocommit: bool = False, connect_timeout: int = 10) -> psycopg.Connection:
    """Open a psycopg connection; the error names the (redacted) URL instead of a bare libpq message."""
    try:
        return psycopg.connect(
            settings.libpq_url(url), autocommit=autocommit, connect_timeout=connect_timeout
        )
    except psycopg.OperationalError as exc:
        raise WarehouseUnavailable(
            f"cannot connect to the warehouse {settings.redact_url(url)}: {str(exc).strip()}"
        ) from exc


class WarehouseUnavailable(RuntimeError):
    """The warehouse cannot be reached; nothing was written."""


def copy_rows(cur: psycopg.Cursor, table: str, columns: Sequence[str], rows: Iterable[Sequence]) -> int:
    """COPY rows into ``table`` inside the cursor's transaction; returns the row count."""
    cols = ", ".join(columns)
    n = 0
    with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as cp:
        for row in rows:
            cp.write_row(row)
            n += 1
    return n


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

    def ensure_schema(self) -> list[str]:
        """Apply pending raw-schema migrations; returns the names applied now."""
        from factory_assets.ingest.migrate import migrate

        with self.connection() as conn:
            return migrate(conn)
