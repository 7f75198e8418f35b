"""Erasure of one customer's personal data (DESIGN.md §6.7): the Dagster job ``erase_customer``.

What is removed, for the customer id given as config:

* ``raw.logistics__customers``: every row of the customer, in every loaded file version (name,
  email, phone, pseudonym); the ledger counts of those versions move the rows from loaded to
  skipped, so row conservation still holds;
* ``raw.logistics__visits``: the customer id of the customer's visits becomes NULL; the visits
  themselves stay (SLA and productivity figures do not change);
* ``raw.ingest_rejects``: the raw text (and detail) of every logistics reject that belongs to the
  customer (its customer-id field is the id, or it contains the customer's email, phone or name);
* any table outside ``raw`` with a ``customer_key`` column (none today: staging views read raw
  live, marts carry no customer): the pseudonym is set to NULL;
* the **archive**: every archived logistics file that mentions the customer is rewritten, the
  customer's lines removed (customers exports) or their customer id emptied (visits exports),
  and stored under its new content-addressed name; the old file is removed and the ledger points
  to the new one. The ledger's sha256 stays that of the version as received (its identity).

What is recorded: one row of ``raw.logistics__erasures`` per run — when, who asked, the run id,
counts of what was removed, and a suppression fingerprint (an HMAC of the id in a domain of its
own, not the customer's pseudonym) with a keyed 12-bit bucket. Loaders use them so that the
customer never comes back when a file is loaded again (a re-parse, a file still in the landing
zone, a new export that still holds the customer). Nothing else of the customer is kept; logs
and asset metadata carry counts only. The landing zone is not modified (it belongs to the source
system and may be read-only): remove the customer there at the source.

An advisory lock serialises the erasure with the logistics loaders (they hold it shared while
loading), so a load in progress cannot put back what the erasure removes.
"""

import hashlib
import logging
import tempfile
from collections import Counter
from dataclasses import dataclass, field

import dagster as dg
import psycopg
from psycopg import errors, sql
from psycopg.types.json import Jsonb
from pydantic import Field

from factory_assets.ingest.files import archive_path
from factory_assets.ingest.migrate import ensure_schema
from factory_assets.logistics.loader import ERASURE_LOCK
from factory_assets.logistics.pii import pseudonymiser
from resources.landing import LandingZoneResource
from resources.warehouse import WarehouseResource
from resources.zone import LandingZone, iter_chunks

log = logging.getLogger(__name__)

SOURCES = {"logistics_visits": 1, "logistics_customers": 0}  # ledger source -> customer-id field


@dataclass
class ErasureReport:
    erasure_id: int = 0
    counts: Counter = field(default_factory=Counter)


def _same_id(field_value: bytes | str, customer_id: int) -> bool:
    text = field_value.decode("utf-8", errors="replace") if isinstance(field_value, bytes) else field_value
    text = text.strip()
    return text.isascii() and text.isdigit() and int(text) == customer_id


def _scrub_database(
    conn: psycopg.Connection, customer_id: int, requested_by: str, run_id: str
) -> ErasureReport:
    pii = pseudonymiser()
    report = ErasureReport()
    c = report.counts
    key = pii.customer(customer_id)
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (ERASURE_LOCK,))
        cur.execute(
            "SELECT DISTINCT name, email, phone FROM raw.logistics__customers WHERE customer_id = %s",
            (customer_id,),
        )
        strings = sorted({s for row in cur.fetchall() for s in row if s and len(s) >= 5})
        cur.execute(
            "DELETE FROM raw.logistics__customers WHERE customer_id = %s RETURNING file_version_id",
            (customer_id,),
        )
        per_version = Counter(v for (v,) in cur.fetchall())
        c["customer_rows_deleted"] = sum(per_version.values())
        for version, n in per_version.items():
            cur.execute(
                "UPDATE raw.ingest_ledger SET rows_loaded = rows_loaded - %s, "
                "rows_skipped = coalesce(rows_skipped, 0) + %s, updated_at = now() WHERE id = %s",
                (n, n, version),
            )
        cur.execute(
            "UPDATE raw.logistics__visits SET customer_id = NULL WHERE customer_id = %s", (customer_id,)
        )
        c["visits_unlinked"] = cur.rowcount
        # Rejected lines that belong to the customer: by the customer-id field, or by the text.
        id_text = str(customer_id)
        cur.execute(
            """UPDATE raw.ingest_rejects
                  SET raw_text = NULL, detail = 'removed by a customer erasure (was: ' || reason || ')'
                WHERE (source = 'logistics_customers'
                       AND ltrim(btrim(split_part(raw_text, ';', 1)), '0') = ltrim(%(id)s, '0'))
                   OR (source = 'logistics_visits'
                       AND ltrim(btrim(split_part(raw_text, ';', 2)), '0') = ltrim(%(id)s, '0'))
                   OR (source IN ('logistics_customers', 'logistics_visits')
                       AND EXISTS (SELECT 1 FROM unnest(%(strings)s::text[]) AS s(v)
                                    WHERE position(s.v IN coalesce(raw_text, '') || ' ' || coalesce(detail, '')) > 0))""",
            {"id": id_text, "strings": strings},
        )
        c["rejects_scrubbed"] = cur.rowcount
        cur.execute(
            """SELECT c.table_schema, c.table_name FROM information_schema.columns c
                 JOIN information_schema.tables t USING (table_schema, table_name)
                WHERE c.column_name = 'customer_key' AND t.table_type = 'BASE TABLE'
                  AND c.table_schema NOT IN ('raw', 'pg_catalog', 'information_schema')"""
        )
        for schema, table in cur.fetchall():
            ident = sql.Identifier(schema, table)
            try:
                with conn.transaction():
                    cur.execute(
                        sql.SQL("UPDATE {} SET customer_key = NULL WHERE customer_key = %s").format(ident),
                        (key,),
                    )
            except errors.NotNullViolation:
                cur.execute(sql.SQL("DELETE FROM {} WHERE customer_key = %s").format(ident), (key,))
            c["derived_rows_scrubbed"] += cur.rowcount
        cur.execute(
            """INSERT INTO raw.logistics__erasures (requested_by, run_id, fingerprint, bucket, status, counts)
               VALUES (%s, %s, %s, %s, 'archive_pending', %s) RETURNING id""",
            (
                requested_by or None,
                run_id,
                pii.erased_fingerprint(customer_id),
                pii.bucket(customer_id),
                Jsonb(dict(c)),
            ),
        )
        report.erasure_id = cur.fetchone()[0]
    return report


def _rewrite(
    zone: LandingZone, path: str, id_field: int, customer_id: int
) -> tuple[tempfile.SpooledTemporaryFile, str, int] | None:
    """The archived file without the customer: (spool, sha256, lines changed), or None if unchanged."""
    out = tempfile.SpooledTemporaryFile(max_size=8 << 20, prefix="factory-erasure-")
    h = hashlib.sha256()
    changed = 0
    carry = b""

    def emit(line: bytes) -> None:
        nonlocal changed
        body = line.rstrip(b"\r\n")
        end = line[len(body) :]
        fields = body.split(b";")
        if len(fields) > id_field and _same_id(fields[id_field].removeprefix(b"\xef\xbb\xbf"), customer_id):
            changed += 1
            if id_field == 0:  # a customers export: the customer's line goes
                return
            fields[id_field] = b""  # a visits export: the visit stays, without its customer
            line = b";".join(fields) + end
        h.update(line)
        out.write(line)

    with zone.open_read(path) as stream:
        for chunk in iter_chunks(stream):
            data = carry + chunk
            last = data.rfind(b"\n")
            if last < 0:
                carry = data
                continue
            carry = data[last + 1 :]
            start = 0
            while start <= last:  # lines end at "\n" only: a lone "\r" stays inside its line
                end = data.index(b"\n", start) + 1
                emit(data[start:end])
                start = end
    if carry:
        emit(carry)
    if not changed:
        out.close()
        return None
    out.seek(0)
    return out, h.hexdigest(), changed


def _scrub_archive(
    conn: psycopg.Connection, archive: LandingZone, customer_id: int, report: ErasureReport
) -> None:
    rows = conn.execute(
        """SELECT archived_path, min(path), min(source) FROM raw.ingest_ledger
            WHERE source = ANY(%s) AND archived_path IS NOT NULL GROUP BY archived_path ORDER BY 1""",
        (list(SOURCES),),
    ).fetchall()
    for archived, path, source in rows:
        if not archive.exists(archived):
            continue
        result = _rewrite(archive, archived, SOURCES[source], customer_id)
        if result is None:
            continue
        spool, sha, changed = result
        with spool:
            new_path = archive_path(path, sha)
            archive.write_stream(new_path, iter_chunks(spool))
        with conn.transaction():
            conn.execute(
                "UPDATE raw.ingest_ledger SET archived_path = %s, updated_at = now() WHERE archived_path = %s",
                (new_path, archived),
            )
        if new_path != archived:
            archive.remove(archived)
        report.counts["archive_files_rewritten"] += 1
        report.counts["archive_lines_changed"] += changed


def erase_customer_data(
    conn: psycopg.Connection,
    archive: LandingZone | None,
    customer_id: int,
    *,
    requested_by: str = "",
    run_id: str = "",
) -> ErasureReport:
    """Remove the customer's personal data everywhere (see the module docstring); idempotent."""
    report = _scrub_database(conn, customer_id, requested_by, run_id)
    if archive is not None:
        _scrub_archive(conn, archive, customer_id, report)
    with conn.transaction():
        conn.execute(
            "UPDATE raw.logistics__erasures SET status = 'done', completed_at = now(), counts = %s WHERE id = %s",
            (Jsonb(dict(report.counts)), report.erasure_id),
        )
    return report


class EraseCustomerConfig(dg.Config):
    """Which customer to erase. The id is used and forgotten: it is not stored nor logged."""

    customer_id: int = Field(description="id_cliente of the customer to erase")
    requested_by: str = Field(
        default="", description="who asked for the erasure (a name, a ticket number); recorded"
    )


@dg.op(
    name="erase_customer_data",
    description="Remove one customer's personal data from every table and archived file, and record it.",
)
def erase_customer_op(
    context: dg.OpExecutionContext,
    config: EraseCustomerConfig,
    warehouse: WarehouseResource,
    archive: LandingZoneResource,
):
    ensure_schema(warehouse)
    with warehouse.connection() as conn, archive.open() as zone:
        report = erase_customer_data(
            conn, zone, config.customer_id, requested_by=config.requested_by, run_id=context.run_id
        )
    counts = {k: int(v) for k, v in sorted(report.counts.items())}
    context.log.info(f"erasure {report.erasure_id} done: {counts}")
    for table in ("customers", "visits"):
        context.log_event(
            dg.AssetMaterialization(
                asset_key=["logistics", table],
                description="customer erasure",
                metadata={"erasure_id": report.erasure_id, **counts},
            )
        )
    return report.erasure_id


@dg.job(
    name="erase_customer",
    description="Erase one customer's personal data (config: customer_id, requested_by); recorded in "
    "raw.logistics__erasures.",
    tags={"factory/admin": "erasure"},
)
def erase_customer_job():
    erase_customer_op()
