"""What to copy: the source table's columns (reflection) matched to its raw mirror, and the SQL that
turns the text we stage into the raw column types.

Why text staging: every reader (connectorx's Arrow batches, pymysql in text mode, SQLAlchemy rows)
can produce a faithful text rendering of a value cheaply, and PostgreSQL's own input functions
then parse it into the raw column's type while merging. One conversion rule per column, written
once in SQL, instead of one per reader and driver.

Time zones: a source timestamp *without* a zone is read in the source's zone
(``FACTORY_<SOURCE>_TIMEZONE``, else ``FACTORY_TIMEZONE``) with ``AT TIME ZONE``; a MySQL
``TIMESTAMP`` is read in UTC (sessions run with ``time_zone = '+00:00'``); a PostgreSQL
``timestamptz`` keeps its offset.

Dirty MySQL values (DESIGN.md §10: one bad value must not lose the rest), converted the way MySQL
connectors do, each conversion counted per column (:data:`CONVERSIONS`):

* ``zero_date_to_null``: a ``DATE``/``DATETIME``/``TIMESTAMP`` with a zero year, month or day
  (``0000-00-00``, ``2024-00-15``, ``2024-05-00``) becomes NULL;
* ``invalid_date_to_null``: an impossible date a permissive ``sql_mode`` (``ALLOW_INVALID_DATES``)
  lets MySQL store (``2024-02-30``) becomes NULL;
* ``nul_removed``: NUL characters are removed from strings (PostgreSQL text cannot hold them); done
  by the readers before ``COPY`` (:mod:`.readers`), which mark the row's column in the stage column
  :data:`NUL_COLUMNS`.

The date rules are SQL over the staged text (:meth:`Plan.date_fault`), used both by the conversion
and by the counts, so what is counted is exactly what was converted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg
import sqlalchemy as sa
from psycopg import sql

from factory_assets.sql_sources.tables import TableSpec

INTEGER_TYPES = ("bigint", "integer", "smallint")
TIMESTAMPTZ = "timestamp with time zone"

# Conversion kinds (keys of ``raw.sync_runs.conversions``); see the module docstring.
NUL_REMOVED = "nul_removed"
ZERO_DATE = "zero_date_to_null"
INVALID_DATE = "invalid_date_to_null"
CONVERSIONS = (NUL_REMOVED, ZERO_DATE, INVALID_DATE)
# Stage column (text[]) listing, for a row whose strings lost NUL characters, the source names of
# those columns; NULL for every clean row. Raw columns starting with "_" are never mapped, so the
# name cannot clash with a source column.
NUL_COLUMNS = "_nul_columns"
# Source value kinds MySQL can store zero or impossible dates in.
MYSQL_DATE_KINDS = ("date", "ts_naive", "ts_utc")


class SchemaMismatch(RuntimeError):
    """Source and raw mirror disagree in a way a sync cannot bridge (key or cursor missing)."""


@dataclass(frozen=True)
class Column:
    source: str  # name at the source
    raw: str  # raw column name (lower case)
    raw_type: str  # format_type() of the raw column
    kind: str  # source value kind: int, float, numeric, text, date, time, ts_naive, ts_utc, ts_aware, other

    @property
    def temporal(self) -> bool:
        return self.kind in ("date", "time", "ts_naive", "ts_utc", "ts_aware")


@dataclass
class Plan:
    spec: TableSpec
    table: sa.Table  # reflected source table
    dialect: str  # mysql | postgresql | …
    timezone: str
    columns: list[Column]  # mapped columns, in stage order
    key: list[str]  # raw names of the key columns
    cursor: Column | None = None
    cursor_kind: str | None = None  # "id" | "ts"
    dedup: bool = False  # the source has no primary key: duplicates are possible
    has_synced_at: bool = True  # the raw table has the ``_synced_at`` bookkeeping column
    ignored: list[str] = field(default_factory=list)  # source columns with no raw column
    missing: list[str] = field(default_factory=list)  # raw columns with no source column

    @property
    def warnings(self) -> list[str]:
        out = []
        if self.ignored:
            out.append(
                f"{self.spec.source}.{self.spec.table}: source column(s) {', '.join(self.ignored)} have no "
                f"column in {self.spec.raw_table} and are ignored (add a migration to keep them)"
            )
        if self.missing:
            out.append(
                f"{self.spec.source}.{self.spec.table}: {self.spec.raw_table} column(s) "
                f"{', '.join(self.missing)} do not exist at the source and stay NULL"
            )
        return out

    def source_columns(self) -> list[sa.Column]:
        return [self.table.c[c.source] for c in self.columns]

    def column(self, raw: str) -> Column:
        return next(c for c in self.columns if c.raw == raw)

    # --- SQL over the text stage -------------------------------------------------------------
    def checks_dates(self, col: Column) -> bool:
        """Does ``col`` hold MySQL dates, which may be zero or impossible?"""
        return col.kind in MYSQL_DATE_KINDS and self.dialect in ("mysql", "mariadb")

    def date_fault(self, col: Column, alias: str = "s") -> sql.Composable:
        """Expression: :data:`ZERO_DATE`, :data:`INVALID_DATE` or NULL (a good date, or NULL) for the
        staged MySQL text of ``col`` (``YYYY-MM-DD[ hh:mm:ss[.ffffff]]``).

        Cheap on good rows: three prefix ``LIKE``s and one byte comparison; the month length is only
        computed for a day of 29 to 31 (``CASE`` evaluates in order, so ``make_date`` never sees a
        zero part).
        """
        r = sql.SQL("{}.{}").format(sql.Identifier(alias), sql.Identifier(col.raw))
        return sql.SQL(
            "(CASE WHEN {r} LIKE '0000%' OR {r} LIKE '_____00%' OR {r} LIKE '________00%' THEN {zero}"
            " WHEN substr({r}, 9, 2) > '28' COLLATE \"C\" AND substr({r}, 9, 2)::int > extract(day FROM"
            " make_date(substr({r}, 1, 4)::int, substr({r}, 6, 2)::int, 1) + interval '1 month - 1 day')"
            " THEN {invalid} END)"
        ).format(r=r, zero=sql.Literal(ZERO_DATE), invalid=sql.Literal(INVALID_DATE))

    def converted(self, col: Column, alias: str = "s", *, checked: bool = True) -> sql.Composable:
        """Expression turning the staged text of ``col`` into its raw type. ``checked=False`` leaves
        out the date rules: only for a stage known to hold no zero or impossible date."""
        ref = sql.SQL("{}.{}").format(sql.Identifier(alias), sql.Identifier(col.raw))
        if checked and self.checks_dates(col):
            ref = sql.SQL("(CASE WHEN {} IS NULL THEN {} END)").format(self.date_fault(col, alias), ref)
        if col.raw_type == TIMESTAMPTZ:
            if col.kind == "ts_aware":
                return sql.SQL("{}::timestamptz").format(ref)
            zone = "UTC" if col.kind == "ts_utc" else self.timezone
            return sql.SQL("({}::timestamp AT TIME ZONE {})").format(ref, sql.Literal(zone))
        if col.raw_type == "text":
            return ref
        return sql.SQL("{}::{}").format(ref, sql.SQL(col.raw_type))


def value_kind(sa_type: sa.types.TypeEngine, dialect: str) -> str:
    if isinstance(sa_type, sa.DateTime):
        if dialect in ("mysql", "mariadb") and isinstance(sa_type, sa.TIMESTAMP):
            return "ts_utc"
        return "ts_aware" if getattr(sa_type, "timezone", False) else "ts_naive"
    if isinstance(sa_type, sa.Date):
        return "date"
    if isinstance(sa_type, sa.Time):
        return "time"
    if isinstance(sa_type, sa.Integer):
        return "int"
    if isinstance(sa_type, sa.Float):
        return "float"
    if isinstance(sa_type, sa.Numeric):
        return "numeric"
    if isinstance(sa_type, sa.String | sa.Enum):
        return "text"
    return "other"


def raw_columns(conn: psycopg.Connection, raw_table: str) -> tuple[dict[str, str], list[str]]:
    """({column: type}, primary key columns) of a raw table; raises if it does not exist."""
    exists = conn.execute("SELECT to_regclass(%s)", (raw_table,)).fetchone()[0]
    if exists is None:
        raise SchemaMismatch(f"{raw_table} does not exist: it is created by the raw migrations")
    cols = conn.execute(
        """SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
            WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum""",
        (raw_table,),
    ).fetchall()
    pk = conn.execute(
        """SELECT a.attname FROM pg_index i
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
            WHERE i.indrelid = %s::regclass AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)""",
        (raw_table,),
    ).fetchall()
    return dict(cols), [r[0] for r in pk]


def reflect(engine: sa.Engine, spec: TableSpec) -> sa.Table:
    try:
        return sa.Table(spec.table, sa.MetaData(), autoload_with=engine)
    except sa.exc.NoSuchTableError:
        raise SchemaMismatch(f"table {spec.table!r} does not exist in the {spec.source} source") from None


def build_plan(engine: sa.Engine, spec: TableSpec, conn: psycopg.Connection, timezone: str) -> Plan:
    """Reflect the source table, read the raw mirror's columns, and match them by lower-case name."""
    table = reflect(engine, spec)
    dialect = engine.dialect.name
    raw_types, raw_pk = raw_columns(conn, spec.raw_table)
    by_lower: dict[str, sa.Column] = {}
    ignored: list[str] = []
    for col in table.columns:
        low = col.name.lower()
        if low in raw_types and not low.startswith("_") and low not in by_lower:
            by_lower[low] = col
        else:
            ignored.append(col.name)
    columns = [
        Column(c.name, raw, raw_types[raw], value_kind(c.type, dialect))
        for raw in raw_types
        if (c := by_lower.get(raw)) is not None
    ]
    missing = [r for r in raw_types if r not in by_lower and not r.startswith("_")]

    source_key = [c.name for c in table.primary_key.columns]
    key_names = list(spec.key) if spec.key else source_key
    if not key_names:
        raise SchemaMismatch(
            f"{spec.source}.{spec.table} has no primary key at the source: give its key in tables.py"
        )
    key = [k.lower() for k in key_names]
    if sorted(key) != sorted(raw_pk):
        raise SchemaMismatch(
            f"{spec.source}.{spec.table}: key ({', '.join(key)}) differs from the primary key of "
            f"{spec.raw_table} ({', '.join(raw_pk)}); add a migration or fix the key in tables.py"
        )
    absent = [k for k in key if k not in by_lower]
    if absent:
        raise SchemaMismatch(
            f"{spec.source}.{spec.table}: key column(s) {', '.join(absent)} missing at the source"
        )

    plan = Plan(
        spec=spec,
        table=table,
        dialect=dialect,
        timezone=timezone,
        columns=columns,
        key=raw_pk,
        dedup=not source_key or bool(spec.key),
        has_synced_at="_synced_at" in raw_types,
        ignored=ignored,
        missing=missing,
    )
    if spec.mode == "incremental":
        cur = spec.cursor.lower()
        if cur not in by_lower:
            raise SchemaMismatch(
                f"{spec.source}.{spec.table}: cursor column {spec.cursor} missing at the source or in "
                f"{spec.raw_table}"
            )
        plan.cursor = plan.column(cur)
        if plan.cursor.kind == "int" and plan.cursor.raw_type in INTEGER_TYPES:
            plan.cursor_kind = "id"
        elif plan.cursor.kind.startswith("ts") and plan.cursor.raw_type == TIMESTAMPTZ:
            plan.cursor_kind = "ts"
        else:
            raise SchemaMismatch(
                f"{spec.source}.{spec.table}: cursor {spec.cursor} must be an integer id or a timestamp "
                f"(source kind {plan.cursor.kind}, raw type {plan.cursor.raw_type})"
            )
    return plan
