"""Demo SQL source databases: the ERP, forge MES, plant and OLTP schemas of DESIGN.md §6.8, with rows.

Why: the demo, the tests and the benchmark need source databases that look like the real systems —
the ERP's CamelCase tables without primary keys, naive local timestamps, bad production rows —
on MySQL/MariaDB *and* PostgreSQL. The schemas are written once as SQLAlchemy tables, so the same
definition renders as MySQL or PostgreSQL DDL (:func:`ddl`), and the rows are a pure function of
``(seed, today)``: deterministic, yet dated around today so "future" production rows stay future.

What the rows contain, on purpose:

* ERP: roller-shutter orders whose accessories (``P_Zubeh.ZCode``) start with ``SOP``, ``S P``,
  ``S D``, ``S Q``, ``S T``, ``S TAB`` or ``S TN`` and orders without any; logbook notes
  ``cde Planifiee``; statuses containing ``Planifiee``, ``lancer en prod`` or ``vitrage``; stock
  events (``A_Vorgang.Nummer`` containing ``VR``); no primary key on ``A_KopfFreie``,
  ``A_Vorgang`` and ``P_Zubeh``, as in the real ERP.
* MES: orders in every state, order lines, pieces with weight/temperature limits, stock rows.
* Plant: one row per day, plant, line and machine, plus the bad rows of §6.5 (NULL plant, line or
  date, negative values, a future date, scrap above production).
* OLTP: a year of a hardware shop (factory_assets.inventory.simulation): goods receipts that
  follow demand, sales, returns, cancelled transactions, sales refused for insufficient stock,
  stagnant and run-out products, and products never edited (``updated_at`` NULL).

CLI: ``python -m factory_assets.demo.sql_sources [--url URL] [--sources erp,mes] [--seed N]``; with
no URL it creates the ``<source>_demo`` databases on the embedded PostgreSQL.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.schema import CreateTable

from factory_assets.inventory.simulation import (
    ITEM_COLUMNS,
    PRODUCT_COLUMNS,
    RECEIPT_COLUMNS,
    TRANSACTION_COLUMNS,
    ProductSpec,
    ShopParams,
    product_rows,
    simulate,
)

SOURCES = ("erp", "mes", "plant", "oltp")

# Naive timestamps with microseconds on both servers (MySQL DATETIME defaults to whole seconds).
TS = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def _id(name: str = "ID", *, auto: bool = False) -> sa.Column:
    return sa.Column(name, sa.Integer, primary_key=True, autoincrement=auto)


def _metadata() -> dict[str, sa.MetaData]:
    md = {s: sa.MetaData() for s in SOURCES}
    s = sa.String
    # ERP (MySQL). Names as the ERP has them.
    sa.Table(
        "A_Kopf", md["erp"], _id(), sa.Column("AuftragsTyp", s(4)), sa.Column("AuNummer", s(20)),
        sa.Column("AuAlpha", s(4)), sa.Column("KundenNr", s(20)), sa.Column("KundenBez", s(100)),
        sa.Column("Kommission", s(100)), sa.Column("AufStatus", s(60)), sa.Column("Techniker", s(40)),
        sa.Column("A_VorMwSt", sa.Numeric(12, 2)),
    )  # fmt: skip
    sa.Table(
        "A_Logbuch", md["erp"], sa.Column("ID", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("ID_A_Kopf", sa.Integer, index=True), sa.Column("Code", s(10)), sa.Column("Bezeichnung", s(100)),
        sa.Column("Datum", sa.Date), sa.Column("Zeit", sa.Time), sa.Column("Benutzer", s(30)),
        sa.Column("Notiz", sa.Text),
    )  # fmt: skip
    sa.Table(
        "A_KopfFreie", md["erp"], sa.Column("ID_A_Kopf", sa.Integer, index=True), sa.Column("Nummer", s(10)),
        sa.Column("FeldTyp", s(10)), sa.Column("FeldInhalt", s(100)), sa.Column("Feld1", s(100)),
        sa.Column("Feld2", s(100)), sa.Column("Feld3", s(100)), sa.Column("Feld5", s(100)),
    )  # fmt: skip
    sa.Table(
        "A_Vorgang", md["erp"], sa.Column("ID_A_Kopf", sa.Integer, index=True), sa.Column("Nummer", s(30)),
        sa.Column("Bezeichnung", s(100)), sa.Column("Datum", sa.Date), sa.Column("Zeit", sa.Time),
        sa.Column("Benutzer", s(30)), sa.Column("NotizCode", s(10)), sa.Column("NotizText", sa.Text),
        sa.Column("CodeIntern", s(20)), sa.Column("NLoesch", sa.SmallInteger),
    )  # fmt: skip
    sa.Table(
        "P_Artikel", md["erp"], _id(), sa.Column("ID_A_Kopf", sa.Integer, index=True),
        sa.Column("Position", sa.Integer), sa.Column("ArtikelID", s(40)), sa.Column("Dim1", sa.Numeric(10, 1)),
        sa.Column("Dim2", sa.Numeric(10, 1)), sa.Column("Dim3", sa.Numeric(10, 1)),
    )  # fmt: skip
    sa.Table(
        "P_Zubeh", md["erp"], sa.Column("ID_A_Kopf", sa.Integer, index=True), sa.Column("Position", sa.Integer),
        sa.Column("Kennung", s(10)), sa.Column("ZNr", s(10)), sa.Column("ZCode", s(30)), sa.Column("Text", s(200)),
        sa.Column("Stueck", sa.Numeric(10, 2)),
    )  # fmt: skip
    # Forge MES
    sa.Table(
        "ordine", md["mes"], _id("id_ordine"), sa.Column("id_cliente", sa.Integer), sa.Column("data_inizio", TS),
        sa.Column("totale_pezzi", sa.Integer), sa.Column("data_fine", TS), sa.Column("stato", s(20)),
    )  # fmt: skip
    sa.Table(
        "pezzi", md["mes"], sa.Column("codice_pezzo", s(20), primary_key=True), sa.Column("nome", s(100)),
        sa.Column("tipo_acciaio", s(20)), sa.Column("peso_min", sa.Numeric(8, 2)), sa.Column("peso_max", sa.Numeric(8, 2)),
        sa.Column("temperatura_min", sa.Numeric(6, 1)), sa.Column("temperatura_max", sa.Numeric(6, 1)),
    )  # fmt: skip
    sa.Table(
        "pezzi_ordine", md["mes"], sa.Column("id_ordine", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("codice_pezzo", s(20), primary_key=True), sa.Column("quantita_totale", sa.Integer),
    )  # fmt: skip
    sa.Table(
        "magazzino", md["mes"], sa.Column("codice_pezzo", s(20), primary_key=True),
        sa.Column("quantita_disponibile", sa.Integer), sa.Column("data_ultimo_aggiornamento", TS, index=True),
    )  # fmt: skip
    # Plant database
    sa.Table(
        "production_raw", md["plant"], _id("id", auto=True), sa.Column("plant", s(20)), sa.Column("line", s(20)),
        sa.Column("machine_id", s(20)), sa.Column("production_date", sa.Date), sa.Column("produced_qty", sa.Integer),
        sa.Column("scrap_qty", sa.Integer), sa.Column("created_at", TS),
    )  # fmt: skip
    # OLTP sales and goods receipts
    sa.Table(
        "productos_maestro", md["oltp"], _id("producto_id"), sa.Column("nombre_producto", s(100)),
        sa.Column("categoria", s(50)), sa.Column("created_at", TS), sa.Column("updated_at", TS, index=True),
    )  # fmt: skip
    sa.Table(
        "transacciones", md["oltp"], _id("transaccion_id"), sa.Column("tipo_transaccion", s(30)),
        sa.Column("fecha_hora", TS), sa.Column("estado", s(20)), sa.Column("total_bruto", sa.Numeric(12, 2)),
        sa.Column("notas", sa.Text), sa.Column("created_at", TS),
    )  # fmt: skip
    sa.Table(
        "items_transaccion", md["oltp"], _id("item_id"), sa.Column("transaccion_id", sa.Integer, index=True),
        sa.Column("producto_id", sa.Integer), sa.Column("cantidad", sa.Numeric(12, 3)),
        sa.Column("precio_unitario_venta", sa.Numeric(12, 2)), sa.Column("costo_unitario_compra", sa.Numeric(12, 2)),
        sa.Column("created_at", TS),
    )  # fmt: skip
    sa.Table(
        "entradas_mercancia", md["oltp"], _id("entrada_id"), sa.Column("transaccion_id", sa.Integer),
        sa.Column("nombre_proveedor", s(100)), sa.Column("numero_factura", s(40)), sa.Column("fecha_recepcion", TS),
    )  # fmt: skip
    return md


METADATA = _metadata()


def tables(source: str) -> list[sa.Table]:
    return list(METADATA[source].sorted_tables)


def ddl(source: str, dialect: str) -> list[str]:
    """``CREATE TABLE`` statements of a source schema for ``mysql`` (MariaDB too) or ``postgresql``."""
    d = {"mysql": mysql.dialect(), "mariadb": mysql.dialect(), "postgresql": postgresql.dialect()}[dialect]
    return [str(CreateTable(t).compile(dialect=d)).strip() for t in tables(source)]


# --- rows --------------------------------------------------------------------------------------
ROLLER_CODES = ("SOP 250 ALU", "S P 205 PVC", "S D 180", "S Q 165 ALU", "S T 250", "S TAB 300", "S TN 180")
OTHER_CODES = ("MOT 10NM", "TEL 5C", "LAM 39 ALU", "COUL 45", "GUIDE 53", "STORE 12")  # none is a box code
ERP_STATUSES = (
    ("Cde Planifiee", 0.25),
    ("A lancer en prod", 0.15),
    ("Attente vitrage", 0.1),
    ("Devis", 0.15),
    ("Confirmee", 0.15),
    ("Livree", 0.1),
    ("Facturee", 0.1),
)
CUSTOMERS = (
    "Menuiserie Dupont", "Fermetures Martin", "Alu Concept Lyon", "Habitat Services", "Stores & Volets 69",
    "Batiplus Grenoble", "Renov'Habitat", "SCI Les Tilleuls", "Mairie de Vienne", "Particulier Moreau",
)  # fmt: skip
USERS = ("mlefevre", "cgarcia", "pbernard", "atech", "sroux")


def _weighted(rng: random.Random, items):
    values, weights = zip(*items, strict=True)
    return rng.choices(values, weights)[0]


def _erp_rows(rng: random.Random, today: date, orders: int) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {
        k: [] for k in ("A_Kopf", "A_Logbuch", "A_KopfFreie", "A_Vorgang", "P_Artikel", "P_Zubeh")
    }
    art_id = 0
    log_id = 0
    for i in range(1, orders + 1):
        status = _weighted(rng, ERP_STATUSES)
        created = today - timedelta(days=rng.randint(1, 120))
        number = f"{created:%y}{i:04d}"
        out["A_Kopf"].append(
            {
                "ID": i,
                "AuftragsTyp": "AN" if status == "Devis" else "AU",
                "AuNummer": number,
                "AuAlpha": rng.choice(("", "", "", "A", "B")),
                "KundenNr": f"K{1000 + rng.randrange(len(CUSTOMERS))}",
                "KundenBez": rng.choice(CUSTOMERS),
                "Kommission": rng.choice(("Chantier", "Maison", "Immeuble", "Ecole"))
                + f" {rng.randint(1, 99)}",
                "AufStatus": status,
                "Techniker": rng.choice(("J. Perrin", "L. Faure", "N. Blanc", None)),
                "A_VorMwSt": Decimal(rng.randint(18000, 450000)) / 100,
            }
        )
        roller = rng.random() < 0.7
        positions = rng.randint(1, 4)
        for pos in range(1, positions + 1):
            art_id += 1
            out["P_Artikel"].append(
                {
                    "ID": art_id,
                    "ID_A_Kopf": i,
                    "Position": pos,
                    "ArtikelID": rng.choice(
                        ("VR-ALU-45", "VR-PVC-40", "VR-SOL-52", "FEN-PVC-70", "PORTE-ALU")
                    ),
                    "Dim1": Decimal(rng.randrange(600, 3600, 5)),
                    "Dim2": Decimal(rng.randrange(800, 2800, 5)),
                    "Dim3": Decimal(rng.choice((45, 52, 70))),
                }
            )
            codes = [rng.choice(ROLLER_CODES)] if roller and pos == 1 else []
            codes += [rng.choice(OTHER_CODES) for _ in range(rng.randint(0, 2))]
            for k, code in enumerate(codes, start=1):
                out["P_Zubeh"].append(
                    {
                        "ID_A_Kopf": i,
                        "Position": pos,
                        "Kennung": f"Z{k}",
                        "ZNr": str(rng.randint(100, 999)),
                        "ZCode": code,
                        "Text": f"{code.split()[0]} coffre {rng.choice(('blanc', 'gris 7016', 'chene dore'))}",
                        "Stueck": Decimal(rng.randint(1, 4)),
                    }
                )
        day = created
        for n in range(rng.randint(2, 6)):
            log_id += 1
            planned = n == 1 and status in ("Cde Planifiee", "A lancer en prod", "Attente vitrage")
            day = day + timedelta(days=rng.randint(0, 6))
            out["A_Logbuch"].append(
                {
                    "ID": log_id,
                    "ID_A_Kopf": i,
                    "Code": "STAT" if planned or n == 0 else rng.choice(("NOTE", "MAIL", "TEL")),
                    "Bezeichnung": "Changement de statut" if planned or n == 0 else "Suivi client",
                    "Datum": min(day, today),
                    "Zeit": time(rng.randint(7, 18), rng.randint(0, 59), rng.randint(0, 59)),
                    "Benutzer": rng.choice(USERS),
                    "Notiz": "cde Planifiee semaine " + str(rng.randint(1, 52))
                    if planned
                    else rng.choice(
                        ("cde saisie", "Client rappele", "Attente acompte", "Mesures confirmees", None)
                    ),
                }
            )
        for n in range(1, rng.randint(1, 3) + 1):
            out["A_KopfFreie"].append(
                {
                    "ID_A_Kopf": i,
                    "Nummer": str(n),
                    "FeldTyp": rng.choice(("TXT", "NUM", "DAT")),
                    "FeldInhalt": rng.choice(
                        ("Pose incluse", "Livraison chantier", "Motorisation Somfy", "RAL 7016")
                    ),
                    "Feld1": rng.choice(("", "urgent", "RDV pris")),
                    "Feld2": None,
                    "Feld3": str(rng.randint(1, 9)),
                    "Feld5": None,
                }
            )
        stock = roller and rng.random() < 0.4
        events = [f"VR{number}" if stock else f"BL{number}"] + [
            f"FA{number}-{k}" for k in range(rng.randint(0, 2))
        ]
        for nummer in events:
            out["A_Vorgang"].append(
                {
                    "ID_A_Kopf": i,
                    "Nummer": nummer,
                    "Bezeichnung": "Sortie stock volets" if nummer.startswith("VR") else "Bon de livraison",
                    "Datum": min(created + timedelta(days=rng.randint(0, 30)), today),
                    "Zeit": time(rng.randint(7, 18), rng.randint(0, 59)),
                    "Benutzer": rng.choice(USERS),
                    "NotizCode": rng.choice(("N1", "N2", None)),
                    "NotizText": rng.choice(("RAS", "Controle qualite OK", None)),
                    "CodeIntern": rng.choice(("LAGER", "PROD", "VERSAND")),
                    "NLoesch": 1 if rng.random() < 0.05 else 0,
                }
            )
    return out


# Forging weights span 5–1,000 kg (a flange to a large rolled ring), as in the operation drops.
PIECES = (
    ("FLG-0100", "Flangia DN100", "C45", 5.0, 5.6, 1150, 1250),
    ("FLG-0150", "Flangia DN150", "C45", 7.9, 8.7, 1150, 1250),
    ("ALB-2040", "Albero motore 40", "42CrMo4", 12.5, 13.4, 1180, 1240),
    ("ALB-2060", "Albero motore 60", "42CrMo4", 21.0, 22.5, 1180, 1240),
    ("COR-0300", "Corona dentata 300", "16MnCr5", 18.0, 19.5, 1100, 1200),
    ("BIE-0120", "Biella 120", "C45", 5.4, 6.0, 1150, 1250),
    ("MOZ-0080", "Mozzo ruota 80", "C45", 5.5, 6.1, None, None),
    ("ANE-1200", "Anello laminato 1200", "42CrMo4", 920.0, 990.0, 1150, 1230),
    ("ANE-0400", "Anello laminato 400", "42CrMo4", 35.0, 38.0, 1150, 1230),
    ("LEV-0210", "Leva freno 210", "16MnCr5", 6.5, 7.2, 1100, 1200),
)
MES_STATES = (("COMPLETATO", 0.35), ("IN CORSO", 0.3), ("IN ATTESA", 0.3), ("ANNULLATO", 0.05))


def _mes_rows(rng: random.Random, today: date, orders: int) -> dict[str, list[dict]]:
    now = datetime.combine(today, time(6, 0))
    out: dict[str, list[dict]] = {"pezzi": [], "ordine": [], "pezzi_ordine": [], "magazzino": []}
    for code, name, steel, pmin, pmax, tmin, tmax in PIECES:
        out["pezzi"].append(
            {
                "codice_pezzo": code,
                "nome": name,
                "tipo_acciaio": steel,
                "peso_min": Decimal(str(pmin)),
                "peso_max": Decimal(str(pmax)),
                "temperatura_min": None if tmin is None else Decimal(tmin),
                "temperatura_max": None if tmax is None else Decimal(tmax),
            }
        )
        out["magazzino"].append(
            {
                "codice_pezzo": code,
                "quantita_disponibile": rng.randint(0, 400),
                "data_ultimo_aggiornamento": now
                - timedelta(minutes=rng.randint(10, 20000), microseconds=rng.randint(0, 999999)),
            }
        )
    for k in range(orders):
        oid = 1001 + k
        state = _weighted(rng, MES_STATES)
        start = now - timedelta(days=rng.randint(0, 60), minutes=rng.randint(0, 600))
        lines = rng.sample(PIECES, rng.randint(1, 4))
        total = 0
        for piece in lines:
            qty = rng.choice((10, 20, 25, 50, 100, 150, 200))
            total += qty
            out["pezzi_ordine"].append({"id_ordine": oid, "codice_pezzo": piece[0], "quantita_totale": qty})
        out["ordine"].append(
            {
                "id_ordine": oid,
                "id_cliente": 500 + rng.randint(1, 25),
                "data_inizio": start,
                "totale_pezzi": total,
                "data_fine": min(start + timedelta(days=rng.randint(1, 12)), now)
                if state == "COMPLETATO"
                else None,
                "stato": state,
            }
        )
    return out


PLANTS = {("PLANT-01", "LINE-A"): ("DEM12", "DEMALU", "SU12"), ("PLANT-01", "LINE-B"): ("PRS-01", "PRS-02"),
          ("PLANT-02", "LINE-A"): ("CNC-21", "CNC-22", "CNC-23")}  # fmt: skip


def _plant_rows(rng: random.Random, today: date, days: int) -> dict[str, list[dict]]:
    rows = []
    for d in range(days, 0, -1):
        day = today - timedelta(days=d)
        if day.weekday() == 6:
            continue
        for (plant, line), machines in PLANTS.items():
            for machine in machines:
                produced = rng.randint(300, 990)
                scrap = int(produced * rng.uniform(0.0, 0.04))
                created = datetime.combine(day, time(21, 30)) + timedelta(
                    minutes=rng.randint(0, 90), microseconds=rng.randint(0, 999999)
                )
                rows.append((plant, line, machine, day, produced, scrap, created))
    y = today - timedelta(days=1)
    at = datetime.combine(today, time(0, 15, 0, 123456))
    bad = [
        (None, "LINE-A", "DEM12", y, 500, 5, at),  # NULL_KEY: plant
        ("PLANT-01", None, "PRS-01", y, 420, 3, at),  # NULL_KEY: line
        ("PLANT-02", "LINE-A", "CNC-21", None, 610, 4, at),  # NULL_KEY: date
        ("PLANT-01", "LINE-B", "PRS-02", y, -40, 0, at),  # NEGATIVE_VALUES
        ("PLANT-02", "LINE-A", "CNC-22", y, 380, -2, at),  # NEGATIVE_VALUES
        ("PLANT-01", "LINE-A", "SU12", today + timedelta(days=3), 450, 6, at),  # FUTURE_DATE
        ("PLANT-02", "LINE-A", "CNC-23", y, 120, 150, at),  # SCRAP_GT_PRODUCTION
    ]
    cols = ("plant", "line", "machine_id", "production_date", "produced_qty", "scrap_qty", "created_at")
    return {
        "production_raw": [
            {"id": n, **dict(zip(cols, r, strict=True))} for n, r in enumerate(rows + bad, start=1)
        ]
    }


PRODUCTS = (
    ("Tornillo hexagonal M8x40 (caja 100)", "Ferreteria"), ("Taco nylon 8 mm (bolsa 50)", "Ferreteria"),
    ("Bisagra acero 80 mm", "Ferreteria"), ("Cerradura embutir 40 mm", "Ferreteria"),
    ("Cable unipolar 2,5 mm2 (100 m)", "Electricidad"), ("Interruptor simple blanco", "Electricidad"),
    ("Enchufe schuko doble", "Electricidad"), ("Bombilla LED E27 9W", "Electricidad"),
    ("Tubo PVC 40 mm (3 m)", "Fontaneria"), ("Codo cobre 22 mm", "Fontaneria"), ("Grifo monomando lavabo", "Fontaneria"),
    ("Cinta teflon 12 mm", "Fontaneria"), ("Pintura plastica blanca 15 L", "Pintura"), ("Rodillo antigota 22 cm", "Pintura"),
    ("Esmalte sintetico negro 750 ml", "Pintura"), ("Silicona neutra transparente", "Pintura"),
    ("Guantes nitrilo T9 (par)", "Seguridad"), ("Gafas proteccion", "Seguridad"), ("Casco obra blanco", "Seguridad"),
    ("Disco corte metal 125 mm", "Herramienta"), ("Broca hormigon 8 mm", "Herramienta"), ("Nivel aluminio 60 cm", "Herramienta"),
)  # fmt: skip


def _oltp_rows(rng: random.Random, today: date, days: int) -> dict[str, list[dict]]:
    """A hardware shop's last ``days`` days (up to yesterday): the simulation of
    factory_assets.inventory.simulation over the 22 products above, with the scenarios the
    inventory marts exist for, so that ``make demo`` shows each of them:

    * one product received but never sold (stagnant: no_sales);
    * three products whose sales stopped 45, 75 and 120 days ago (attention, alert, critical);
    * one product no longer delivered for the last 40 days: it runs out, and the sales asked for
      after that are refused (INSUFFICIENT_STOCK, in marts.data_quality_daily);
    * everyday cancellations, returns, ties at the same microsecond, back-dated entries.

    Costs have two decimals here because ``costo_unitario_compra`` is NUMERIC(12, 2) at the
    source; sub-cent costs are exercised by the tests' generated histories instead.
    """
    ids = list(range(1, len(PRODUCTS) + 1))
    picked = rng.sample(ids, 5)
    never_sold, runs_out = picked[0], picked[4]
    stop_sales = dict(zip(picked[1:4], (45, 75, 120), strict=True))  # days before today
    specs = [
        ProductSpec(
            product_id=pid,
            name=name,
            category=category,
            base_cost=Decimal(rng.randint(80, 6000)) / 100,
            popularity=rng.uniform(0.3, 2.0),
            never_sold=pid == never_sold,
            sells_until=days - stop_sales[pid] if pid in stop_sales else None,
            receives_until=days - 40 if pid == runs_out else None,
        )
        for pid, (name, category) in enumerate(PRODUCTS, start=1)
    ]
    start = today - timedelta(days=days)
    seed = rng.randrange(2**31)
    params = ShopParams(sale_transactions_per_day=7.0, sub_cent_cost_rate=0.0)
    out: dict[str, list[dict]] = {
        "productos_maestro": [
            dict(zip(PRODUCT_COLUMNS, r, strict=True)) for r in product_rows(specs, start, seed=seed)
        ],
        "transacciones": [],
        "items_transaccion": [],
        "entradas_mercancia": [],
    }
    for day in simulate(specs, start, days, params, seed=seed):
        out["transacciones"].extend(dict(zip(TRANSACTION_COLUMNS, r, strict=True)) for r in day.transactions)
        out["items_transaccion"].extend(dict(zip(ITEM_COLUMNS, r, strict=True)) for r in day.items)
        out["entradas_mercancia"].extend(dict(zip(RECEIPT_COLUMNS, r, strict=True)) for r in day.receipts)
    return out


def demo_rows(
    source: str, *, seed: int = 42, today: date | None = None, scale: int = 1
) -> dict[str, list[dict]]:
    """The demo rows of one source, per table: a pure function of (source, seed, today, scale)."""
    today = today or date.today()
    rng = random.Random(f"{seed}:{source}")
    if source == "erp":
        return _erp_rows(rng, today, 240 * scale)
    if source == "mes":
        return _mes_rows(rng, today, 40 * scale)
    if source == "plant":
        return _plant_rows(rng, today, 45 * scale)
    if source == "oltp":
        return _oltp_rows(rng, today, 365 * scale)
    raise ValueError(f"unknown source {source!r}")


def create_demo_sources(
    target: str | sa.Engine,
    *,
    sources: Iterable[str] = SOURCES,
    seed: int = 42,
    today: date | None = None,
    scale: int = 1,
) -> dict[str, int]:
    """Create the schemas of ``sources`` in the database ``target`` (URL or engine; MySQL/MariaDB or
    PostgreSQL) and fill every table that is empty. Returns rows written per table."""
    engine = sa.create_engine(target) if isinstance(target, str) else target
    written: dict[str, int] = {}
    try:
        for source in sources:
            METADATA[source].create_all(engine, checkfirst=True)
            rows = demo_rows(source, seed=seed, today=today, scale=scale)
            with engine.begin() as conn:
                for table in tables(source):
                    if conn.execute(sa.select(sa.func.count()).select_from(table)).scalar():
                        continue
                    data = rows.get(table.name, [])
                    for i in range(0, len(data), 5000):
                        conn.execute(table.insert(), data[i : i + 5000])
                    written[table.name] = len(data)
    finally:
        if isinstance(target, str):
            engine.dispose()
    return written


def create_demo_databases(*, seed: int = 42, sources: Sequence[str] = SOURCES) -> dict[str, int]:
    """Demo mode: create ``<source>_demo`` on the running embedded PostgreSQL and fill the empty ones."""
    from resources.embedded import embedded_url, ensure_databases

    ensure_databases([f"{s}_demo" for s in sources])
    written: dict[str, int] = {}
    for s in sources:
        written.update(create_demo_sources(embedded_url(f"{s}_demo"), sources=(s,), seed=seed))
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m factory_assets.demo.sql_sources",
        description="Create and fill the demo ERP, MES, plant and OLTP source databases.",
    )
    parser.add_argument("--url", help="database to fill (mysql+pymysql://… or postgresql://…); default: "
                        "the <source>_demo databases on the embedded PostgreSQL")  # fmt: skip
    parser.add_argument("--sources", default=",".join(SOURCES))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--ddl", choices=("mysql", "postgresql"), help="print the DDL and exit")
    args = parser.parse_args(argv)
    sources = [s.strip() for s in args.sources.split(",") if s.strip()]
    if args.ddl:
        for s in sources:
            print(f"-- {s}\n" + ";\n\n".join(ddl(s, args.ddl)) + ";\n")
        return 0
    if args.url:
        written = create_demo_sources(args.url, sources=sources, seed=args.seed)
    else:
        written = create_demo_databases(seed=args.seed, sources=sources)
    for table, n in written.items():
        print(f"  {table:<20} {n} rows")
    if not written:
        print("demo sources already filled; nothing written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
