"""Demo operation drops (DESIGN.md §6.4): JSON arrays of forging / CNC records for the demo MES orders.

The drops move the demo MES orders (``factory_assets.demo.sql_sources``, same seed): finished MES
orders have every unit produced, orders in progress have part of theirs (a few all of them, so
they show as COMPLETED), a few waiting orders have started. Values are realistic: forging
temperatures 740–1,300 °C (mostly inside the piece's limits, some outside: OUT_OF_PIECE_RANGE),
weights around each piece's own (5–1,000 kg over the demo pieces), CNC 1–3 pieces per hour, stop
kinds ``utensile``, ``software``, ``nessun_fermo``, both timestamp formats, now and then an
anomaly reported by the operator.

On purpose, like real shop floors: a drop with a few bad records (no order id, an unknown
operation type, a weight written as text, a temperature beyond the global range, an end before
its start, a time in the future, an unknown field, a CNC record with a weight, an order the MES
does not know, an entry that is not an object), one drop sent twice in part (re-sent records are
loaded once), and one broken file (cut in the middle).

:func:`demo_drops` is a pure function of (seed, now, time zone); :func:`write_operation_drops`
writes the files, except ``post_body``, which ``factory demo`` POSTs through the gateway.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from factory_assets.demo.sql_sources import PIECES, demo_rows

FORGING_PREFIXES = ("FLG", "ANE", "BIE", "COR", "LEV")  # forged; shafts and hubs are machined (CNC)
PRESSES = ("PRESSA-01", "PRESSA-02", "MAGLIO-01")
CNC_MACHINES = ("CNC-21", "CNC-22", "CNC-23")
OPERATORS = tuple(f"OP-{n}" for n in range(101, 113))
STOPS = (("nessun_fermo", 0.8), ("utensile", 0.12), ("software", 0.08))


@dataclass
class DemoDrops:
    files: dict[str, bytes] = field(default_factory=dict)  # landing-zone path -> content
    post_body: list[dict] = field(default_factory=list)  # records `factory demo` POSTs to the gateway

    @property
    def records(self) -> int:
        return sum(len(json.loads(b)) for p, b in self.files.items() if not p.endswith("broken.json")) + len(
            self.post_body
        )


def _ts(rng: random.Random, moment: datetime, tz: ZoneInfo) -> str:
    """Both formats shop-floor apps send: local 'YYYY-MM-DD HH:MM:SS[.ffffff]' or ISO 8601 with offset."""
    local = moment.astimezone(tz)
    if rng.random() < 0.6:
        fmt = "%Y-%m-%d %H:%M:%S.%f" if rng.random() < 0.2 else "%Y-%m-%d %H:%M:%S"
        return local.strftime(fmt)
    return local.replace(microsecond=0).isoformat()


def _record(rng: random.Random, order: int, piece: tuple, end: datetime, tz: ZoneInfo) -> dict:
    code, _name, _steel, wmin, wmax, tmin, tmax = piece
    forging = code.startswith(FORGING_PREFIXES)
    if forging:
        start = end - timedelta(seconds=rng.randint(90, 420))
        weight = rng.uniform(wmin, wmax) if rng.random() > 0.03 else rng.uniform(wmin * 0.85, wmin * 0.97)
        if tmin is not None and rng.random() > 0.05:
            temp = rng.uniform(tmin, tmax)
        else:
            temp = rng.choice((rng.uniform(740, 1090), rng.uniform(1255, 1300)))
        rec = {
            "id_ordine": order, "codice_pezzo": code, "codice_macchinario": rng.choice(PRESSES),
            "codice_operatore": rng.choice(OPERATORS), "timestamp_inizio": _ts(rng, start, tz),
            "timestamp_fine": _ts(rng, end, tz), "tipo_operazione": "forgiatura",
            "peso_effettivo": round(weight, 2), "temperatura_effettiva": round(temp, 1),
        }  # fmt: skip
    else:
        per_hour = rng.choice((1, 2, 2, 3))
        start = end - timedelta(minutes=60 / per_hour)
        stop = rng.choices([s for s, _ in STOPS], [w for _, w in STOPS])[0]
        rec = {
            "id_ordine": order, "codice_pezzo": code, "codice_macchinario": rng.choice(CNC_MACHINES),
            "codice_operatore": rng.choice(OPERATORS), "timestamp_inizio": _ts(rng, start, tz),
            "timestamp_fine": _ts(rng, end, tz), "tipo_operazione": "cnc",
            "numero_pezzi_ora": per_hour, "tipo_fermo": stop,
        }  # fmt: skip
    if rng.random() < 0.02:
        rec["anomalia"] = [{"id": rng.randint(1, 6)}]
    return rec


def _bad_records(rng: random.Random, order: int, pieces: list[tuple], now: datetime, tz: ZoneInfo) -> list:
    """One of each kind of problem a shop floor sends (see the module docstring). Each record has
    its own start time: the same (order, piece, machine, type, start) would be a re-sent copy."""
    forged = next((p for p in pieces if p[0].startswith(FORGING_PREFIXES)), PIECES[0])
    machined = next((p for p in pieces if not p[0].startswith(FORGING_PREFIXES)), PIECES[2])

    def ok(k: int, piece=forged) -> dict:
        return _record(rng, order, piece, now - timedelta(hours=3, minutes=7 * k), tz)

    def earlier_end(rec: dict) -> str:
        start = datetime.fromisoformat(rec["timestamp_inizio"])
        return (start - timedelta(hours=1)).isoformat(sep=" ")

    bad = [
        {k: v for k, v in ok(1).items() if k != "id_ordine"},  # rejected: missing_order_id
        {**ok(2), "tipo_operazione": "saldatura"},  # rejected: invalid_operation_type
        {**ok(3), "peso_effettivo": "n/d"},  # INVALID_FIELD, weight NULL
        {**ok(4), "temperatura_effettiva": 1450.0},  # OUT_OF_RANGE, temperature NULL
        {**(r := ok(5)), "timestamp_fine": earlier_end(r)},  # END_BEFORE_START
        {**ok(6), "timestamp_fine": _ts(rng, now + timedelta(hours=3), tz)},  # FUTURE_TIMESTAMP
        {**ok(7), "nota": "pezzo ripreso a mano"},  # UNKNOWN_FIELD
        {**ok(8, machined), "peso_effettivo": 13.1, "tipo_operazione": "cnc", "numero_pezzi_ora": 2,
         "tipo_fermo": "utensile"},  # FIELD_NOT_APPLICABLE
        {**ok(9), "id_ordine": 999999},  # loaded, UNKNOWN_ORDER_LINE in the marts
        "pezzo FLG-0100 ok",  # rejected: not_an_object
    ]  # fmt: skip
    bad[7].pop("temperatura_effettiva", None)
    return bad


def demo_drops(*, seed: int = 42, now: datetime | None = None, timezone: str = "Europe/Paris") -> DemoDrops:
    """Every demo drop, as bytes per landing-zone path, plus the records to POST (pure)."""
    tz = ZoneInfo(timezone)
    now = (now or datetime.now(tz)).astimezone(tz)
    rng = random.Random(f"{seed}:operations")
    mes = demo_rows("mes", seed=seed, today=now.date())
    pieces = {p[0]: p for p in PIECES}
    lines: dict[int, list[tuple[str, int]]] = {}
    for line in mes["pezzi_ordine"]:
        lines.setdefault(line["id_ordine"], []).append((line["codice_pezzo"], line["quantita_totale"]))
    records: list[dict] = []
    waiting_started = 0
    for order in sorted(mes["ordine"], key=lambda o: o["id_ordine"]):
        oid, state = order["id_ordine"], order["stato"]
        if state == "COMPLETATO":
            share = lambda: 1.0  # noqa: E731
        elif state == "IN CORSO":
            full = rng.random() < 0.25  # these reach 0 remaining: COMPLETED in marts.order_status
            share = (lambda: 1.0) if full else (lambda: rng.uniform(0.2, 0.9))  # noqa: E731
        elif state == "IN ATTESA" and waiting_started < 3:
            waiting_started += 1
            share = lambda: rng.uniform(0.05, 0.3)  # noqa: E731
        else:
            continue
        start = order["data_inizio"].replace(tzinfo=tz)
        # a finished MES order was produced before its end date; the others up to now
        until = order["data_fine"].replace(tzinfo=tz) if order["data_fine"] else now - timedelta(minutes=10)
        span = max(min(until, now - timedelta(minutes=10)) - start, timedelta(hours=1))
        for code, qty in lines.get(oid, []):
            units = round(qty * share())
            for _ in range(units):
                end = start + span * rng.uniform(0.02, 1.0)
                records.append(_record(rng, oid, pieces[code], min(end, now - timedelta(minutes=5)), tz))
    rng.shuffle(records)
    records.sort(key=lambda r: r["timestamp_fine"][:10])  # drops roughly by day, like daily exports

    out = DemoDrops()
    post_size = min(120, len(records) // 10)
    out.post_body, records = records[-post_size:], records[:-post_size]
    sources = ("power_automate", "tablet-03", "tablet-07", "script_cnc")
    size = max(1, len(records) // 12)
    for n, first in enumerate(range(0, len(records), size), start=1):
        chunk = records[first : first + size]
        source = sources[n % len(sources)]
        out.files[f"operations/{source}/drop_{n:03d}.json"] = json.dumps(chunk, ensure_ascii=False).encode()
    some_order = next(o["id_ordine"] for o in mes["ordine"] if o["stato"] == "IN CORSO")
    its_pieces = [pieces[code] for code, _ in lines[some_order]]
    bad = _bad_records(rng, some_order, its_pieces, now, tz)
    out.files["operations/tablet-07/drop_bad_records.json"] = json.dumps(bad, ensure_ascii=False).encode()
    # re-sent in part: the first 40 records of drop 1 again, with 5 new ones
    first_drop = json.loads(next(iter(out.files.values())))
    extra = [
        _record(rng, some_order, its_pieces[0], now - timedelta(minutes=30 + 7 * k), tz) for k in range(5)
    ]
    out.files["operations/tablet-03/drop_001_resent.json"] = json.dumps(first_drop[:40] + extra).encode()
    broken = json.dumps(first_drop[:10]).encode()
    out.files["operations/script_cnc/drop_broken.json"] = broken[: len(broken) // 2]  # cut: quarantined
    return out


def write_operation_drops(root: Path, *, seed: int = 42, timezone: str = "Europe/Paris") -> DemoDrops:
    """Write the demo drops below ``root`` (the local landing zone) atomically; returns them."""
    from resources.local_zone import LocalLandingZone

    drops = demo_drops(seed=seed, timezone=timezone)
    zone = LocalLandingZone(root)
    for path, data in drops.files.items():
        zone.write_bytes(path, data)
    return drops
