"""Versioned SQL migrations of the ``raw`` schema (DESIGN.md §7).

Migrations are the ``NNNN_name.sql`` files next to this module, applied in order, each in its
own transaction together with its row in ``raw.schema_migrations``. An advisory lock makes
concurrent runs (sensor-driven runs start in parallel) wait instead of racing. A site install
therefore upgrades itself the first time an ingestion asset runs after an upgrade.
"""

from __future__ import annotations

import hashlib
from importlib import resources as importlib_resources

import psycopg

MIGRATION_LOCK_ID = 0x46414354  # 'FACT': arbitrary, stable advisory-lock key


def available_migrations() -> list[tuple[str, str]]:
    """(name, sql) of every migration shipped with the package, sorted by name."""
    folder = importlib_resources.files("factory_assets.ingest") / "migrations"
    out = [
        (entry.name.removesuffix(".sql"), entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    ]
    return sorted(out)


def migrate(conn: psycopg.Connection) -> list[str]:
    """Apply every pending migration; returns the names applied. Safe to call concurrently."""
    applied_now: list[str] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_ID,))
        conn.execute("CREATE SCHEMA IF NOT EXISTS raw")
        conn.execute(
            """CREATE TABLE IF NOT EXISTS raw.schema_migrations (
                   name text PRIMARY KEY,
                   checksum text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        done = dict(conn.execute("SELECT name, checksum FROM raw.schema_migrations").fetchall())
        for name, sql in available_migrations():
            checksum = hashlib.sha256(sql.encode()).hexdigest()
            if name in done:
                if done[name] != checksum:
                    raise RuntimeError(
                        f"migration {name} was changed after it was applied; add a new migration instead"
                    )
                continue
            conn.execute(sql)
            conn.execute(
                "INSERT INTO raw.schema_migrations (name, checksum) VALUES (%s, %s)", (name, checksum)
            )
            applied_now.append(name)
    return applied_now


def ensure_schema(warehouse) -> list[str]:
    """Apply pending migrations on a :class:`resources.warehouse.WarehouseResource`'s database."""
    with warehouse.connection() as conn:
        return migrate(conn)
