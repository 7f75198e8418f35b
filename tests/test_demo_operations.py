"""The demo operation drops: realistic, deterministic, moving the demo MES orders, with a few bad
records of every kind, one re-sent part and one broken file (pure: no database)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime

import pytest

from factory_assets.demo.operations import demo_drops
from factory_assets.demo.sql_sources import demo_rows
from factory_assets.operations.records import NotADrop, Rules, parse_drop, validate_drop

NOW = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def drops():
    return demo_drops(seed=42, now=NOW)


def test_demo_drops_are_deterministic(drops):
    again = demo_drops(seed=42, now=NOW)
    assert again.files == drops.files and again.post_body == drops.post_body
    assert len(drops.post_body) == 120


def test_values_are_realistic_and_move_the_demo_mes_orders(drops):
    records = [
        r for p, b in drops.files.items() if "broken" not in p and "bad" not in p for r in json.loads(b)
    ]
    records += drops.post_body
    forging = [r for r in records if r["tipo_operazione"] == "forgiatura"]
    cnc = [r for r in records if r["tipo_operazione"] == "cnc"]
    assert forging and cnc
    assert (
        740 <= min(r["temperatura_effettiva"] for r in forging)
        and max(r["temperatura_effettiva"] for r in forging) <= 1300
    )
    weights = [r["peso_effettivo"] for r in forging]
    assert min(weights) < 10 and max(weights) > 900  # 5 to 1,000 kg over the demo pieces
    assert {r["numero_pezzi_ora"] for r in cnc} <= {1, 2, 3}
    assert {r["tipo_fermo"] for r in cnc} == {"utensile", "software", "nessun_fermo"}
    mes = demo_rows("mes", seed=42, today=NOW.date())
    lines = {(line["id_ordine"], line["codice_pezzo"]) for line in mes["pezzi_ordine"]}
    assert {(r["id_ordine"], r["codice_pezzo"]) for r in records} <= lines
    states = {o["id_ordine"]: o["stato"] for o in mes["ordine"]}
    assert Counter(states[r["id_ordine"]] for r in records).keys() <= {"COMPLETATO", "IN CORSO", "IN ATTESA"}
    report = [validate_drop(parse_drop(b), Rules(), NOW) for p, b in drops.files.items() if "broken" not in p]
    assert all(r.rows[-1][8] <= NOW for r in report if r.rows and r.rows[-1][8])


def test_bad_records_a_resent_part_and_a_broken_file(drops):
    bad = validate_drop(parse_drop(drops.files["operations/tablet-07/drop_bad_records.json"]), Rules(), NOW)
    assert sorted(r.reason for r in bad.rejects) == [
        "invalid_operation_type",
        "missing_order_id",
        "not_an_object",
    ]
    codes = {a[2] for rows in bad.anomalies.values() for a in rows}
    assert codes == {"INVALID_FIELD", "OUT_OF_RANGE", "END_BEFORE_START", "FUTURE_TIMESTAMP", "UNKNOWN_FIELD",
                     "FIELD_NOT_APPLICABLE"}  # fmt: skip
    resent = json.loads(drops.files["operations/tablet-03/drop_001_resent.json"])
    first = json.loads(drops.files["operations/tablet-03/drop_001.json"])
    assert resent[:40] == first[:40] and len(resent) == 45
    with pytest.raises(NotADrop):
        parse_drop(drops.files["operations/script_cnc/drop_broken.json"])
