"""The read-only role ``bi_reader`` (DESIGN.md §7): BI tools and the HTTP gateway read ``marts`` only.

:func:`ensure_bi_reader` is called whenever the warehouse is prepared (``factory up`` / ``demo``
/ ``materialize``, and before every dbt build), in every mode:

* the role exists; it may LOG IN with ``FACTORY_BI_READER_PASSWORD`` when that is set (in demo
  mode a password is generated once into ``$FACTORY_HOME/secrets``); without a password it stays
  as it is (``NOLOGIN`` when created here): BI tools then log in as their own roles made members
  of ``bi_reader`` (docs/site-install.md);
* the password is sent as a SCRAM-SHA-256 verifier computed by libpq on this side, so the clear
  text never reaches the server (nor its statement log);
* the role reads in read-only transactions with a statement timeout;
* ``CONNECT`` on the warehouse database, ``USAGE`` on ``marts``, ``SELECT`` on its tables, and the
  same on tables created there later (default privileges of the warehouse user, who runs dbt;
  dbt's ``on-run-end`` hook grants them again after every run, because a rebuilt table loses
  its grants); nothing on ``raw``, ``staging``, ``intermediate``, ``seeds``, ``snapshots``.

A warehouse user without the right to create or alter roles gets a warning naming the statement a
DBA must run, never a failure: loading data does not depend on the BI role.
"""

from __future__ import annotations

import logging
import os
import time

import psycopg
from psycopg import sql

from resources import settings

log = logging.getLogger(__name__)
ROLE = "bi_reader"
READABLE_SCHEMA = "marts"
PRIVATE_SCHEMAS = ("raw", "staging", "intermediate", "seeds", "snapshots")
STATEMENT_TIMEOUT = "60s"


def bi_reader_password() -> str | None:
    """``FACTORY_BI_READER_PASSWORD``; in demo mode, the one generated into ``$FACTORY_HOME``."""
    password = os.environ.get("FACTORY_BI_READER_PASSWORD")
    if password:
        return password
    if settings.demo_mode():
        from factory_assets.demo.secrets import demo_secret

        return demo_secret("bi_reader_password")
    return None


def _run(
    conn: psycopg.Connection, notes: list[str], statement: sql.Composable, what: str, shown: str | None = None
) -> bool:
    """Run one statement (autocommit); a missing privilege becomes a note. Retries a role update
    that raced with another session (``tuple concurrently updated``)."""
    for attempt in range(3):
        try:
            conn.execute(statement)
            return True
        except psycopg.errors.InsufficientPrivilege as exc:
            notes.append(f"{what}: {str(exc).strip()} — a DBA must run: {shown or statement.as_string(conn)}")
            return False
        except psycopg.errors.DuplicateObject:
            return True  # created meanwhile by another session
        except psycopg.errors.InternalError_ as exc:
            if "concurrently" not in str(exc) or attempt == 2:
                raise
            time.sleep(0.2 * (attempt + 1))
    return False


def ensure_bi_reader(conn: psycopg.Connection, password: str | None, *, role: str = ROLE) -> list[str]:
    """Create or refresh ``role`` and its grants on ``conn``'s database (autocommit connection).

    Returns notes (privileges the warehouse user lacks); raises only for a broken connection.
    """
    notes: list[str] = []
    r = sql.Identifier(role)
    row = conn.execute("SELECT rolcanlogin FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
    verifier = None
    if password:
        verifier = conn.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256").decode()
    if row is None:
        login = sql.SQL("LOGIN PASSWORD {}").format(sql.Literal(verifier)) if verifier else sql.SQL("NOLOGIN")
        shown = f"CREATE ROLE {role} " + (
            "LOGIN PASSWORD '<FACTORY_BI_READER_PASSWORD>'" if verifier else "NOLOGIN"
        )
        if not _run(conn, notes, sql.SQL("CREATE ROLE {} {}").format(r, login), f"create role {role}", shown):
            return notes
    elif verifier:
        _run(
            conn, notes, sql.SQL("ALTER ROLE {} WITH LOGIN PASSWORD {}").format(r, sql.Literal(verifier)),
            f"set the password of {role}", f"ALTER ROLE {role} WITH LOGIN PASSWORD '<FACTORY_BI_READER_PASSWORD>'",
        )  # fmt: skip
    if row is None or verifier:
        for name, value in (
            ("default_transaction_read_only", "on"),
            ("statement_timeout", STATEMENT_TIMEOUT),
        ):
            _run(
                conn, notes, sql.SQL("ALTER ROLE {} SET {} = {}").format(r, sql.Identifier(name), sql.Literal(value)),
                f"configure {role}",
            )  # fmt: skip
    db = conn.execute("SELECT current_database()").fetchone()[0]
    schema = sql.Identifier(READABLE_SCHEMA)
    for statement in (
        sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(db), r),
        sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(schema),
        sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, r),
        sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(schema, r),
        sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA {} GRANT SELECT ON TABLES TO {}").format(schema, r),
    ):
        _run(conn, notes, statement, f"grant {role} read access to {READABLE_SCHEMA}")
    present = {s for (s,) in conn.execute("SELECT nspname FROM pg_namespace").fetchall()}
    for name in PRIVATE_SCHEMAS:
        if name in present:
            s = sql.Identifier(name)
            _run(
                conn,
                notes,
                sql.SQL("REVOKE ALL ON SCHEMA {} FROM {}").format(s, r),
                f"keep {role} out of {name}",
            )
            _run(
                conn, notes, sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA {} FROM {}").format(s, r),
                f"keep {role} out of {name}",
            )  # fmt: skip
    return notes


def prepare_bi_reader(warehouse, logger=log) -> list[str]:
    """:func:`ensure_bi_reader` on a :class:`resources.warehouse.WarehouseResource`; notes are
    logged as warnings."""
    with warehouse.connection(autocommit=True) as conn:
        notes = ensure_bi_reader(conn, bi_reader_password())
    for note in notes:
        logger.warning(settings.redact_text(note))
    return notes
