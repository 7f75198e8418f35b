"""Loaders of the two logistics file kinds: visits and customers CSV exports (DESIGN.md §6.7).

Each runs inside its file version's ledger transaction (``factory_assets.ingest.files``):

1. the file is read a block (1 MiB of whole lines) at a time by
   :class:`~factory_assets.ingest.delimited.DelimitedReader`: pyarrow splits the fields, so
   memory stays that of a few blocks whatever the file size; bad lines (not UTF-8, wrong number
   of fields, too long) are rejected alone with their line number and text;
2. ids and dates are checked and normalised column-wise (:mod:`factory_assets.logistics.values`);
   a row with a bad value is rejected with the reason and the value (``non_numeric_id``,
   ``unparseable_date``, ``missing_value``); pseudonyms are computed here (the key never reaches
   SQL);
3. the accepted rows are encoded in the binary COPY format, column-wise, and streamed into
   ``raw.logistics__<table>``. Parsing runs in a background thread one block ahead, so the next
   block is parsed while PostgreSQL ingests the previous one.

Per file: rows in (lines) = loaded + rejected + skipped (header, blank lines, erased customers).
A file in which no line can be loaded but some were rejected is quarantined whole (it is
probably another kind of file).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.compute as pc

from factory_assets.ingest.copy import (
    BINARY_HEADER,
    BINARY_TRAILER,
    arrow_binary_rows,
    copy_payload,
    copy_rows,
)
from factory_assets.ingest.delimited import Block, DelimitedReader
from factory_assets.ingest.kinds import LoadContext, LoadCounts, Quarantine
from factory_assets.ingest.streams import RowSpool, prefetch
from factory_assets.logistics.pii import Pseudonymiser, pseudonymiser
from factory_assets.logistics.values import dates_column, ids_column, parse_id

VISIT_FIELDS = ("id", "id_cliente", "angel", "polo", "data_limite", "data_de_atendimento")
CUSTOMER_FIELDS = ("id_cliente", "name", "email", "phone")
VISIT_COLUMNS = (
    "file_version_id", "line_no", "visit_id", "customer_id", "technician", "base",
    "deadline_date", "deadline_at", "visit_date", "visited_at",
)  # fmt: skip
# Held shared by every logistics load and exclusively by an erasure (factory_assets.logistics.erasure),
# so that a load in progress can never put back what an erasure removes.
ERASURE_LOCK = 0x4C4F4753  # 'LOGS'
CUSTOMER_COLUMNS = ("file_version_id", "line_no", "customer_id", "customer_key", "name", "email", "phone")


@dataclass
class Suppression:
    """Customers erased by the ``erase_customer`` job: their rows must not come back on a reload."""

    pii: Pseudonymiser
    buckets: np.ndarray  # int64 buckets of the erased ids
    fingerprints: frozenset[str]

    @classmethod
    def load(cls, cur: psycopg.Cursor, pii: Pseudonymiser) -> Suppression:
        cur.execute("SELECT bucket, fingerprint FROM raw.logistics__erasures")
        rows = cur.fetchall()
        return cls(pii, np.array(sorted({b for b, _ in rows}), dtype=np.int64), frozenset(f for _, f in rows))

    def erased(self, ids: pa.Array) -> np.ndarray:
        """Bool mask of the ids (int64, may hold nulls) that belong to an erased customer.

        Vectorised: a keyed bucket of every id (no per-row HMAC); only the ids in an erased
        bucket (about 1 in 4,096 per erased customer) are confirmed with their fingerprint.
        """
        n = len(ids)
        if not self.fingerprints or n == 0:
            return np.zeros(n, dtype=bool)
        values = ids.fill_null(-1).to_numpy(zero_copy_only=False)
        candidates = np.isin(self.pii.buckets(values).astype(np.int64), self.buckets) & (values >= 0)
        out = np.zeros(n, dtype=bool)
        for i in np.flatnonzero(candidates):
            out[i] = self.pii.erased_fingerprint(int(values[i])) in self.fingerprints
        return out


TECHNICIANS_IN_MEMORY = 20_000  # distinct names kept in memory; more wait on disk (a pathological file)


@dataclass
class _Tally:
    rows_in: int = 0
    skipped: int = 0
    loaded: int = 0
    erased: int = 0
    technicians: dict[str, str] = field(default_factory=dict)  # name -> pseudonym, recent names
    technicians_spilled: RowSpool = field(default_factory=RowSpool)  # older (name, pseudonym) pairs

    def technician_seen(self, name: str, pii: Pseudonymiser) -> None:
        if name in self.technicians:
            return
        if len(self.technicians) >= TECHNICIANS_IN_MEMORY:
            self.technicians_spilled.extend(self.technicians.items())
            self.technicians.clear()
        self.technicians[name] = pii.technician(name)

    def all_technicians(self):
        return itertools.chain(self.technicians_spilled, self.technicians.items())


def _trimmed(col) -> pa.Array:
    col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    return pc.utf8_trim_whitespace(col)


def _empty_to_null(col: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(pc.utf8_length(col), 0), pa.scalar(None, pa.string()), col)


def _flag(mask) -> np.ndarray:
    return mask.to_numpy(zero_copy_only=False) if isinstance(mask, pa.Array) else mask


def _raw_text(block: Block, i: int) -> str:
    return ";".join(col[i].as_py() for col in block.table.columns)


def _visits_batch(
    block: Block, version_id: int, pii: Pseudonymiser, suppression: Suppression, tally: _Tally, rejects
):
    t = block.table
    n = t.num_rows
    if n == 0:
        return None
    visit_id, bad_id = ids_column(t["id"])
    customer_id, bad_customer = ids_column(t["id_cliente"], allow_empty=True)
    technician, base = _trimmed(t["angel"]), _trimmed(t["polo"])
    no_technician = _flag(pc.equal(pc.utf8_length(technician), 0))
    no_base = _flag(pc.equal(pc.utf8_length(base), 0))
    deadline_date, deadline_at, bad_deadline = dates_column(t["data_limite"])
    visit_date, visited_at, bad_visit = dates_column(t["data_de_atendimento"])
    bad = bad_id | bad_customer | no_technician | no_base | bad_deadline | bad_visit
    if bad.any():
        checks = (
            (bad_id, "non_numeric_id", "id", "is not a number"),
            (bad_customer, "non_numeric_id", "id_cliente", "is not a number"),
            (no_technician, "missing_value", "angel", "is empty (no technician)"),
            (no_base, "missing_value", "polo", "is empty (no base)"),
            (bad_deadline, "unparseable_date", "data_limite", "is not a date in a known format"),
            (bad_visit, "unparseable_date", "data_de_atendimento", "is not a date in a known format"),
        )
        for i in np.flatnonzero(bad):
            problems = [
                (reason, f"{col} {t[col][int(i)].as_py()!r} {what}")
                for m, reason, col, what in checks
                if m[i]
            ]
            day = None if bad_visit[i] else visit_date[int(i)].as_py()
            rejects.append(
                (
                    int(block.line_no[i]),
                    problems[0][0],
                    "; ".join(p[1] for p in problems),
                    _raw_text(block, int(i)),
                    day,
                )
            )
    keep = ~bad
    erased = suppression.erased(customer_id) & keep
    if erased.any():
        tally.erased += int(erased.sum())
        customer_id = pc.if_else(pa.array(~erased), customer_id, pa.scalar(None, pa.int64()))
    out = pa.table(
        {
            "file_version_id": pa.array(np.full(n, version_id, dtype=np.int64)),
            "line_no": pa.array(block.line_no.astype(np.int32)),
            "visit_id": visit_id,
            "customer_id": customer_id,
            "technician": technician,
            "base": base,
            "deadline_date": deadline_date,
            "deadline_at": deadline_at,
            "visit_date": visit_date,
            "visited_at": visited_at,
        }
    )
    if not keep.all():
        out = out.filter(pa.array(keep))
    for name in pc.unique(out["technician"]).to_pylist():
        tally.technician_seen(name, pii)
    return out


def _customers_batch(
    block: Block, version_id: int, pii: Pseudonymiser, suppression: Suppression, tally: _Tally, rejects
):
    t = block.table
    n = t.num_rows
    if n == 0:
        return None
    customer_id, bad = ids_column(t["id_cliente"])
    for i in np.flatnonzero(bad):
        value = t["id_cliente"][int(i)].as_py()
        rejects.append(
            (
                int(block.line_no[i]),
                "non_numeric_id",
                f"id_cliente {value!r} is not a number",
                _raw_text(block, int(i)),
                None,
            )
        )
    keep = ~bad
    erased = suppression.erased(customer_id) & keep
    if erased.any():  # an erased customer is not loaded again (counted as skipped)
        tally.erased += int(erased.sum())
        keep &= ~erased
    out = pa.table(
        {
            "file_version_id": pa.array(np.full(n, version_id, dtype=np.int64)),
            "line_no": pa.array(block.line_no.astype(np.int32)),
            "customer_id": customer_id,
            "name": _empty_to_null(_trimmed(t["name"])),
            "email": _empty_to_null(_trimmed(t["email"])),
            "phone": _empty_to_null(_trimmed(t["phone"])),
        }
    )
    if not keep.all():
        out = out.filter(pa.array(keep))
    keys = pa.array(pii.customers(out["customer_id"].to_pylist()), pa.string())
    return out.add_column(3, "customer_key", keys)


def _scrub_erased(rejects: list[tuple], id_field: int, suppression: Suppression) -> None:
    """A rejected line of an erased customer keeps no text (its customer-id field identifies it)."""
    if not suppression.fingerprints:
        return
    for i, (line_no, reason, _detail, raw_text, day) in enumerate(rejects):
        fields = (raw_text or "").split(";")
        cid = parse_id(fields[id_field]) if len(fields) > id_field else None
        if cid is not None and suppression.erased(pa.array([cid], pa.int64()))[0]:
            rejects[i] = (line_no, reason, f"text removed: an erased customer ({reason})", None, day)


def _load(
    ctx: LoadContext, fields: tuple[str, ...], columns: tuple[str, ...], table: str, batch_fn
) -> tuple[LoadCounts, _Tally]:
    pii = pseudonymiser()
    ctx.cur.execute("SELECT pg_advisory_xact_lock_shared(%s)", (ERASURE_LOCK,))
    suppression = Suppression.load(ctx.cur, pii)
    reader = DelimitedReader(fields, max_line_bytes=ctx.kind.max_line_bytes)
    id_field = fields.index("id_cliente")
    tally = _Tally()
    version_id = ctx.version.ledger_id

    def encoded():
        """Runs in the prefetch thread: parse, check, pseudonymise, encode one block at a time."""
        for block in reader.blocks(ctx.stream):
            rejects: list[tuple] = []
            tally.rows_in += block.lines
            tally.skipped += block.skipped
            for r in block.rejects:
                rejects.append((r.line_no, r.reason, r.detail, r.raw_text, None))
            out = batch_fn(block, version_id, pii, suppression, tally, rejects)
            _scrub_erased(rejects, id_field, suppression)
            rejects.sort(key=lambda r: r[0])
            for r in rejects:
                ctx.rejects.add(*r)
            if out is not None and out.num_rows:
                tally.loaded += out.num_rows
                yield arrow_binary_rows(out.select(list(columns)))

    chunks = prefetch(encoded(), depth=2)
    first = next(chunks, None)
    if first is not None:
        copy_payload(
            ctx.cur,
            table,
            columns,
            itertools.chain([BINARY_HEADER, first], chunks, [BINARY_TRAILER]),
            fmt="binary",
        )
    tally.skipped += tally.erased if table.endswith("customers") else 0
    counts = LoadCounts(tally.rows_in, tally.loaded, ctx.rejects.count, rows_skipped=tally.skipped)
    if tally.loaded == 0 and ctx.rejects.count:
        raise Quarantine(
            f"no_valid_rows: none of the {tally.rows_in} lines could be loaded ({ctx.rejects.count} rejected, "
            f"{tally.skipped} skipped): is this a {table.removeprefix('raw.logistics__')} export "
            f"({';'.join(fields)})?",
            counts=(tally.rows_in, ctx.rejects.count),
        )
    return counts, tally


def load_visits(ctx: LoadContext) -> LoadCounts:
    """Load one ``logistics/visits/*.csv`` version into ``raw.logistics__visits``."""
    counts, tally = _load(ctx, VISIT_FIELDS, VISIT_COLUMNS, "raw.logistics__visits", _visits_batch)
    try:
        if tally.technicians:
            cur = ctx.cur
            cur.execute(
                "CREATE TEMP TABLE logistics_technicians_seen (name text, technician_key text) ON COMMIT DROP"
            )
            copy_rows(cur, "logistics_technicians_seen", ("name", "technician_key"), tally.all_technicians())
            cur.execute(
                """INSERT INTO raw.logistics__technicians AS t (name, technician_key, first_file_version_id)
                   SELECT DISTINCT ON (name) name, technician_key, %s FROM logistics_technicians_seen
                   ORDER BY name
                   ON CONFLICT (name) DO UPDATE SET technician_key = EXCLUDED.technician_key
                   WHERE t.technician_key IS DISTINCT FROM EXCLUDED.technician_key""",
                (ctx.version.ledger_id,),
            )
            cur.execute("DROP TABLE logistics_technicians_seen")
    finally:
        tally.technicians_spilled.close()
    return counts


def load_customers(ctx: LoadContext) -> LoadCounts:
    """Load one ``logistics/customers/*.csv`` version into ``raw.logistics__customers``."""
    counts, tally = _load(
        ctx, CUSTOMER_FIELDS, CUSTOMER_COLUMNS, "raw.logistics__customers", _customers_batch
    )
    tally.technicians_spilled.close()
    return counts
