"""Every SQL source table the platform mirrors, and how (DESIGN.md §6.8).

This list is the only place that knows the source tables. A table is synced in one of two modes:

* ``incremental``: rows whose ``cursor`` (a monotonically increasing id, or an update/creation
  timestamp) is at or after the stored watermark, minus an overlap window; upserted by key.
* ``snapshot``: the whole table is re-read and the mirror made equal to it, deletions included, in
  one transaction. For tables without a usable cursor, or whose rows change without one
  (``A_Kopf`` statuses, ``ordine.stato``, ``transacciones.estado``, ``production_raw``
  corrections), and for small reference tables, where a full read is cheap and always right.

Keys come from the source's primary key (reflection) unless ``key`` is given, for source tables
that have none (the ERP's ``A_KopfFreie``, ``A_Vorgang`` and ``P_Zubeh``). Names are the
source's; the raw mirror is ``raw.<source>__<table in lower case>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Mode = Literal["incremental", "snapshot"]


@dataclass(frozen=True)
class TableSpec:
    source: str
    table: str  # exactly as in the source (ERP tables are CamelCase: ``A_Kopf``)
    mode: Mode
    cursor: str | None = None  # incremental only: source column name
    key: tuple[str, ...] | None = None  # override where the source table has no primary key
    description: str = ""

    def __post_init__(self):
        if (self.mode == "incremental") != (self.cursor is not None):
            raise ValueError(
                f"{self.source}.{self.table}: a cursor is required for, and only for, incremental"
            )

    @property
    def name(self) -> str:
        """Lower-case table name: the asset key's second part and the raw table's suffix."""
        return self.table.lower()

    @property
    def raw_table(self) -> str:
        return f"raw.{self.source}__{self.name}"

    @property
    def asset_key(self) -> list[str]:
        return [self.source, self.name]


TABLES: tuple[TableSpec, ...] = (
    # ERP (MySQL): roller-shutter orders, DESIGN.md §6.3
    TableSpec("erp", "A_Kopf", "snapshot", description="order headers; AufStatus changes in place"),
    TableSpec("erp", "A_Logbuch", "incremental", cursor="ID", description="order logbook, append-only"),
    TableSpec(
        "erp",
        "A_KopfFreie",
        "snapshot",
        key=("ID_A_Kopf", "Nummer"),
        description="free fields of an order; no primary key at the source",
    ),
    TableSpec(
        "erp",
        "A_Vorgang",
        "snapshot",
        key=("ID_A_Kopf", "Nummer"),
        description="order events; no primary key, rows edited in place (NLoesch)",
    ),
    TableSpec(
        "erp", "P_Artikel", "snapshot", description="order positions; dimensions edited without a timestamp"
    ),
    TableSpec(
        "erp",
        "P_Zubeh",
        "snapshot",
        key=("ID_A_Kopf", "Position", "Kennung"),
        description="accessories per position (ZCode = box code); no primary key at the source",
    ),
    # Forge MES, DESIGN.md §6.4
    TableSpec("mes", "ordine", "snapshot", description="orders; stato changes in place"),
    TableSpec("mes", "pezzi", "snapshot", description="piece master (reference)"),
    TableSpec("mes", "pezzi_ordine", "snapshot", description="order lines (reference, no cursor)"),
    TableSpec(
        "mes",
        "magazzino",
        "incremental",
        cursor="data_ultimo_aggiornamento",
        description="warehouse stock; every change stamps data_ultimo_aggiornamento",
    ),
    # Plant database, DESIGN.md §6.5
    TableSpec("plant", "production_raw", "snapshot", description="daily counts; corrected in place"),
    # OLTP sales and goods receipts, DESIGN.md §6.6
    TableSpec(
        "oltp",
        "productos_maestro",
        "incremental",
        cursor="updated_at",
        description="product master; updated_at is NULL until a product is first edited",
    ),
    TableSpec("oltp", "transacciones", "snapshot", description="transactions; estado changes in place"),
    TableSpec("oltp", "items_transaccion", "incremental", cursor="item_id", description="transaction lines"),
    TableSpec("oltp", "entradas_mercancia", "incremental", cursor="entrada_id", description="goods receipts"),
)

SOURCES: tuple[str, ...] = ("erp", "mes", "plant", "oltp")


def tables_for(source: str) -> list[TableSpec]:
    return [t for t in TABLES if t.source == source]


def table_spec(source: str, table: str) -> TableSpec:
    """Look a table up by source and name (any case)."""
    for t in TABLES:
        if t.source == source and t.name == table.lower():
            return t
    raise KeyError(f"no SQL source table {source}.{table}")
