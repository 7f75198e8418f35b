"""Validation of operation records (DESIGN.md §6.4), pure: every anomaly code, every reject reason,
both timestamp formats, repairs, the natural key, the published JSON Schema, and a bounded fuzz."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from factory_assets.operations.records import (
    ANOMALY_CODES,
    KEY_SEP,
    REJECT_REASONS,
    NotADrop,
    Rules,
    drop_json_schema,
    may_hold_nul,
    parse_drop,
    parse_timestamp,
    validate_drop,
)

PARIS = ZoneInfo("Europe/Paris")
RECEIVED = datetime(2024, 5, 2, 12, 0, tzinfo=UTC)
RULES = Rules(timezone="Europe/Paris")
COLS = ("record_no", "record_key", "id_ordine", "codice_pezzo", "tipo_operazione", "codice_macchinario",
        "codice_operatore", "timestamp_inizio", "timestamp_fine", "peso_effettivo", "temperatura_effettiva",
        "numero_pezzi_ora", "tipo_fermo")  # fmt: skip


def forging(**kw) -> dict:
    rec = {
        "id_ordine": 1001, "codice_pezzo": "FLG-0100", "codice_macchinario": "PRESSA-01",
        "codice_operatore": "OP-101", "timestamp_inizio": "2024-05-01 10:00:00",
        "timestamp_fine": "2024-05-01 10:04:00", "tipo_operazione": "forgiatura",
        "peso_effettivo": 5.3, "temperatura_effettiva": 1200.0,
    }  # fmt: skip
    rec.update(kw)
    return {k: v for k, v in rec.items() if v is not DROP}


def cnc(**kw) -> dict:
    rec = {
        "id_ordine": 1001, "codice_pezzo": "ALB-2040", "codice_macchinario": "CNC-21",
        "codice_operatore": "OP-102", "timestamp_inizio": "2024-05-01T08:00:00Z",
        "timestamp_fine": "2024-05-01T08:30:00Z", "tipo_operazione": "cnc",
        "numero_pezzi_ora": 2, "tipo_fermo": "nessun_fermo",
    }  # fmt: skip
    rec.update(kw)
    return {k: v for k, v in rec.items() if v is not DROP}


DROP = object()  # marks a field to leave out


def run(*records, rules: Rules = RULES):
    drop = validate_drop(json.loads(json.dumps(list(records))), rules, RECEIVED)
    assert len(drop.rows) + len(drop.rejects) == drop.records_in == len(records)
    return drop


def row(drop, n: int = 0) -> dict:
    return dict(zip(COLS, drop.rows[n], strict=True))


def anomalies(drop, record_no: int = 1) -> list[tuple]:
    return [(code, fld) for _, _, code, fld, *_ in drop.anomalies.get(record_no, [])]


def test_clean_forging_and_cnc_records_load_whole_with_no_anomaly():
    drop = run(forging(), cnc())
    assert drop.anomalies == {} and drop.rejects == []
    f, c = row(drop, 0), row(drop, 1)
    assert f["timestamp_inizio"] == datetime(2024, 5, 1, 8, 0, tzinfo=UTC)  # 10:00 in Paris (CEST)
    assert (f["peso_effettivo"], f["temperatura_effettiva"], f["numero_pezzi_ora"]) == (5.3, 1200.0, None)
    assert (c["numero_pezzi_ora"], c["tipo_fermo"], c["peso_effettivo"]) == (2.0, "nessun_fermo", None)
    assert c["timestamp_fine"] - c["timestamp_inizio"] == timedelta(minutes=30)


def test_one_bad_field_loads_the_record_with_that_field_null_and_one_anomaly():
    drop = run(forging(peso_effettivo="n/d"))
    r = row(drop)
    assert r["peso_effettivo"] is None and r["temperatura_effettiva"] == 1200.0
    ((_, n, code, fld, message, value, op_id),) = drop.anomalies[1]
    assert (n, code, fld, value, op_id) == (1, "INVALID_FIELD", "peso_effettivo", "n/d", None)
    assert "valid number" in message


@pytest.mark.parametrize(
    ("record", "expected", "nulled"),
    [
        (
            forging(temperatura_effettiva=True),
            ("INVALID_FIELD", "temperatura_effettiva"),
            "temperatura_effettiva",
        ),
        (forging(codice_macchinario=""), ("INVALID_FIELD", "codice_macchinario"), "codice_macchinario"),
        (forging(codice_operatore=["OP"]), ("INVALID_FIELD", "codice_operatore"), "codice_operatore"),
        (forging(timestamp_inizio="2024-05-01"), ("INVALID_FIELD", "timestamp_inizio"), "timestamp_inizio"),
        (forging(timestamp_inizio=1714550400), ("INVALID_FIELD", "timestamp_inizio"), "timestamp_inizio"),
        (
            forging(timestamp_fine="2024-02-30 10:00:00"),
            ("INVALID_FIELD", "timestamp_fine"),
            "timestamp_fine",
        ),
        (forging(peso_effettivo=1000.5), ("OUT_OF_RANGE", "peso_effettivo"), "peso_effettivo"),
        (forging(peso_effettivo=-1), ("OUT_OF_RANGE", "peso_effettivo"), "peso_effettivo"),
        (
            forging(temperatura_effettiva=650),
            ("OUT_OF_RANGE", "temperatura_effettiva"),
            "temperatura_effettiva",
        ),
        (cnc(numero_pezzi_ora=-2), ("OUT_OF_RANGE", "numero_pezzi_ora"), "numero_pezzi_ora"),
        (
            forging(timestamp_fine="2024-05-02 15:30:00"),
            ("FUTURE_TIMESTAMP", "timestamp_fine"),
            "timestamp_fine",
        ),
        (
            forging(timestamp_inizio="2024-05-01 10:05:00"),
            ("END_BEFORE_START", "timestamp_fine"),
            "timestamp_fine",
        ),
        (cnc(peso_effettivo=13.1), ("FIELD_NOT_APPLICABLE", "peso_effettivo"), "peso_effettivo"),
        (forging(tipo_fermo="utensile"), ("FIELD_NOT_APPLICABLE", "tipo_fermo"), "tipo_fermo"),
        (forging(codice_operatore=DROP), ("MISSING_VALUE", "codice_operatore"), "codice_operatore"),
        (cnc(tipo_fermo=None), ("MISSING_VALUE", "tipo_fermo"), "tipo_fermo"),
    ],
)
def test_each_anomaly_code_nulls_its_field_and_keeps_the_record(record, expected, nulled):
    drop = run(record)
    assert anomalies(drop) == [expected]
    assert row(drop)[nulled] is None
    assert row(drop)["id_ordine"] == 1001


def test_an_unknown_field_is_reported_with_its_value_and_not_loaded():
    drop = run(forging(nota="ripreso a mano"))
    ((_, _, code, fld, message, value, _),) = drop.anomalies[1]
    assert (code, fld, value) == ("UNKNOWN_FIELD", "nota", "ripreso a mano") and "nota" in message


def test_operator_anomalies_give_one_row_each_and_a_bad_item_is_reported():
    drop = run(cnc(anomalia=[{"id": 3}, {"id": "x"}, {"id": 5, "descrizione": "cricca"}]))
    found = drop.anomalies[1]
    assert [(a[2], a[3], a[6]) for a in found] == [
        ("INVALID_FIELD", "anomalia[1]", None),
        ("OPERATOR_REPORTED", "anomalia[0]", 3),
        ("OPERATOR_REPORTED", "anomalia[1]", 5),
    ]
    assert json.loads(found[2][5]) == {"id": 5, "descrizione": "cricca"}  # extra keys kept as text
    assert row(drop)["numero_pezzi_ora"] == 2.0  # the record itself is whole


def test_future_is_judged_against_the_receipt_time_and_is_configurable():
    start = (RECEIVED + timedelta(minutes=50)).isoformat()
    end = (RECEIVED + timedelta(minutes=59)).isoformat()
    assert anomalies(run(forging(timestamp_inizio=start, timestamp_fine=end))) == []
    late = (RECEIVED + timedelta(minutes=61)).isoformat()
    assert anomalies(run(forging(timestamp_inizio=start, timestamp_fine=late))) == [
        ("FUTURE_TIMESTAMP", "timestamp_fine")
    ]
    strict = Rules(timezone="Europe/Paris", max_future=timedelta(minutes=5))
    assert anomalies(run(forging(timestamp_inizio=start, timestamp_fine=end), rules=strict)) == [
        ("FUTURE_TIMESTAMP", "timestamp_inizio"),
        ("FUTURE_TIMESTAMP", "timestamp_fine"),
    ]


def test_ranges_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("FACTORY_OPERATIONS_WEIGHT_MAX_KG", "20")
    monkeypatch.setenv("FACTORY_OPERATIONS_TEMPERATURE_MIN_C", "740")
    monkeypatch.setenv("FACTORY_OPERATIONS_MAX_FUTURE_MIN", "10")
    monkeypatch.setenv("FACTORY_OPERATIONS_TIMEZONE", "America/New_York")
    rules = Rules.from_env()
    assert (rules.weight_kg, rules.temperature_c[0], rules.max_future) == (
        (0.0, 20.0),
        740.0,
        timedelta(minutes=10),
    )
    assert rules.timezone == "America/New_York"
    assert anomalies(run(forging(peso_effettivo=25, temperatura_effettiva=720), rules=rules)) == [
        ("OUT_OF_RANGE", "peso_effettivo"),
        ("OUT_OF_RANGE", "temperatura_effettiva"),
    ]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"id_ordine": DROP}, "missing_order_id"),
        ({"id_ordine": None}, "invalid_order_id"),
        ({"id_ordine": "abc"}, "invalid_order_id"),
        ({"id_ordine": 12.5}, "invalid_order_id"),
        ({"id_ordine": True}, "invalid_order_id"),
        ({"id_ordine": 0}, "invalid_order_id"),
        ({"id_ordine": 2**64}, "invalid_order_id"),
        ({"codice_pezzo": DROP}, "missing_piece_code"),
        ({"codice_pezzo": "   "}, "invalid_piece_code"),
        ({"codice_pezzo": "x" * 101}, "invalid_piece_code"),
        ({"tipo_operazione": DROP}, "missing_operation_type"),
        ({"tipo_operazione": "saldatura"}, "invalid_operation_type"),
        ({"id_ordine": DROP, "tipo_operazione": "x"}, "missing_order_id"),  # the first identity field wins
    ],
)
def test_a_record_without_a_usable_identity_is_rejected_with_its_reason(change, reason):
    record = forging(**change)
    drop = run(forging(), record)
    assert len(drop.rows) == 1
    (reject,) = drop.rejects
    assert (reject.record_no, reject.reason) == (2, reason)
    assert reason in REJECT_REASONS
    assert json.loads(reject.raw_text) == record
    assert reject.data_date.isoformat() == "2024-05-01"  # the day its start says, for data quality


def test_entries_that_are_not_objects_are_rejected():
    drop = run(forging(), "FLG ok", [1, 2], None, 7)
    assert [(r.record_no, r.reason) for r in drop.rejects] == [(n, "not_an_object") for n in (2, 3, 4, 5)]
    assert drop.rejects[0].raw_text == '"FLG ok"'


def test_lossless_repairs_load_without_anomaly():
    drop = run(
        cnc(id_ordine=" 1001 ", tipo_operazione=" CNC ", numero_pezzi_ora="2.5"), forging(id_ordine=1001.0)
    )
    assert drop.anomalies == {}
    assert [(r[2], r[4]) for r in drop.rows] == [(1001, "cnc"), (1001, "forgiatura")]
    assert row(drop)["numero_pezzi_ora"] == 2.5


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2024-05-01 10:00:00", "2024-05-01T08:00:00+00:00"),  # plant-local, summer time
        ("2024-01-15 10:00:00.123456", "2024-01-15T09:00:00.123456+00:00"),  # winter time
        ("2024-05-01T10:00:00,5", "2024-05-01T08:00:00.500000+00:00"),
        ("2024-05-01T08:00:00Z", "2024-05-01T08:00:00+00:00"),
        ("2024-05-01T10:00:00+02:00", "2024-05-01T08:00:00+00:00"),
        ("2024-05-01T04:00:00-0400", "2024-05-01T08:00:00+00:00"),
        ("2024-05-01T10:00", "2024-05-01T08:00:00+00:00"),
        ("2024-10-27 02:30:00", "2024-10-27T00:30:00+00:00"),  # repeated autumn hour: first occurrence
    ],
)
def test_both_timestamp_formats(text, utc):
    assert parse_timestamp(text, PARIS).astimezone(UTC).isoformat() == utc


@pytest.mark.parametrize(
    "text",
    ["2024-03-31 02:30:00", "2024-05-01", "20240501T100000", "2024-W18-3T10:00:00", "01/05/2024 10:00"],
)
def test_impossible_or_other_timestamps_are_refused(text):
    with pytest.raises(ValueError):
        parse_timestamp(text, PARIS)


def test_a_spring_gap_time_is_an_invalid_field():
    drop = run(forging(timestamp_inizio="2024-03-31 02:30:00", timestamp_fine="2024-03-31 03:10:00"))
    (a,) = drop.anomalies[1]
    assert (a[2], a[3]) == ("INVALID_FIELD", "timestamp_inizio") and "daylight-saving" in a[4]


def test_the_natural_key_is_the_same_instant_whatever_the_notation():
    local = forging(timestamp_inizio="2024-05-01 10:00:00")
    iso = forging(timestamp_inizio="2024-05-01T08:00:00Z", temperatura_effettiva=1190.0)
    other_machine = forging(codice_macchinario="PRESSA-02")
    drop = run(local, iso, other_machine)
    keys = [r[1] for r in drop.rows]
    assert keys[0] == keys[1] != keys[2]
    assert keys[0] == KEY_SEP.join(
        ("1001", "FLG-0100", "PRESSA-01", "forgiatura", "2024-05-01T08:00:00+00:00")
    )
    # an invalid start keeps the value as sent in the key, so a re-sent copy still matches
    bad = run(forging(timestamp_inizio="ieri"), forging(timestamp_inizio="ieri"))
    assert bad.rows[0][1] == bad.rows[1][1] and bad.rows[0][1].endswith("raw:ieri")


def test_nul_characters_never_reach_the_database():
    data = json.dumps([
        forging(codice_pezzo="FLG\u00000100"),
        forging(codice_macchinario="PRESSA\u0000"),
        forging(**{"no\u0000te": 1}),
    ]).encode()  # fmt: skip
    assert may_hold_nul(data) and not may_hold_nul(json.dumps([forging()]).encode())
    drop = validate_drop(parse_drop(data), RULES, RECEIVED, nul_possible=True)
    assert [(r.record_no, r.reason) for r in drop.rejects] == [(1, "invalid_piece_code")]
    assert [r[5] for r in drop.rows] == [None, "PRESSA-01"]
    texts = [str(x) for a in drop.anomalies.values() for x in a] + [str(r) for r in drop.rows]
    assert not any("\x00" in t for t in texts)
    assert anomalies(drop, 2) == [("INVALID_FIELD", "codice_macchinario")]
    assert anomalies(drop, 3) == [("INVALID_FIELD", "note")]


@pytest.mark.parametrize(
    ("data", "start"),
    [
        (b"", "not_json"),
        (b"[{", "not_json"),
        (b'{"id_ordine": 1}', "not_a_json_array: the document is an object"),
        (b'"text"', "not_a_json_array: the document is a string"),
        (b"[NaN]", "not_json"),
        (b"[1] trailing", "not_json"),
        (b'["\\ud800"]', "not_json"),
        (b"\xff\xfe[\x00]\x00", "not_json"),
        (b"[" * 5000 + b"]" * 5000, "not_json"),
    ],
)
def test_a_document_that_is_not_a_json_array_is_refused_with_the_parser_message(data, start):
    with pytest.raises(NotADrop) as err:
        parse_drop(data)
    assert str(err.value).startswith(start)


def test_a_utf8_byte_order_mark_is_accepted():
    assert parse_drop(b"\xef\xbb\xbf" + json.dumps([forging()]).encode()) == [forging()]


def test_the_published_json_schema_is_the_models():
    published = json.loads((Path(__file__).parents[1] / "docs" / "operations.schema.json").read_text())
    assert published == drop_json_schema(), (
        "regenerate: python -m factory_assets.operations.schema > docs/operations.schema.json"
    )
    item = published["items"]
    assert item["required"] == ["id_ordine", "codice_pezzo", "tipo_operazione"]
    assert item["additionalProperties"] is False


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
field_values = {
    "id_ordine": st.one_of(st.integers(-5, 2**64), st.text(max_size=6), json_values),
    "codice_pezzo": st.one_of(st.text(max_size=12), json_values),
    "tipo_operazione": st.sampled_from(["forgiatura", "cnc", "CNC ", "x", None, 3]),
    "timestamp_inizio": st.one_of(
        st.sampled_from(["2024-05-01 10:00:00", "2024-03-31 02:30:00", "2031-01-01T00:00:00Z"]), json_values
    ),
    "timestamp_fine": st.one_of(
        st.sampled_from(["2024-05-01 10:04:00", "2024-05-01T07:00:00Z"]), json_values
    ),
    "peso_effettivo": st.one_of(st.floats(-10, 2000), json_values),
    "temperatura_effettiva": st.one_of(st.floats(0, 2000), json_values),
    "numero_pezzi_ora": json_values,
    "tipo_fermo": json_values,
    "codice_macchinario": json_values,
    "anomalia": st.one_of(st.lists(st.fixed_dictionaries({"id": json_values}), max_size=2), json_values),
    "extra": json_values,
}
records = st.one_of(st.fixed_dictionaries({}, optional=field_values), json_values)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(records, max_size=8))
def test_fuzz_every_record_is_loaded_or_rejected_and_nothing_raises(items):
    data = json.dumps(items).encode()
    drop = validate_drop(parse_drop(data), RULES, RECEIVED, nul_possible=may_hold_nul(data))
    loaded = {r[0] for r in drop.rows}
    rejected = {r.record_no for r in drop.rejects}
    assert loaded.isdisjoint(rejected) and loaded | rejected == set(range(1, len(items) + 1))
    for record_no, rows in drop.anomalies.items():
        assert record_no in loaded
        assert all(a[2] in ANOMALY_CODES for a in rows)
        assert [a[1] for a in rows] == list(range(1, len(rows) + 1))
    for r in drop.rows:
        assert r[4] in ("forgiatura", "cnc") and isinstance(r[2], int) and r[2] >= 1
        assert r[7] is None or r[8] is None or r[7] <= r[8]


@pytest.mark.parametrize("tz", ["Europe/Paris", "America/New_York", "Australia/Lord_Howe"])
def test_the_cached_offsets_agree_with_the_time_zone_around_daylight_saving_changes(tz):
    from factory_assets.operations.records import Localizer, to_datetime

    zone, localize = ZoneInfo(tz), Localizer(ZoneInfo(tz))
    for day in ("2024-03-31", "2024-10-27", "2024-03-10", "2024-11-03", "2024-04-07", "2024-10-06"):
        start = datetime.fromisoformat(day)
        for minute in range(0, 5 * 60, 7):
            naive = start + timedelta(minutes=minute)
            text = naive.isoformat(sep=" ")
            local = naive.replace(tzinfo=zone)
            exists = local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == naive
            for _ in range(2):  # first look computes the hour, the second uses the cache
                if exists:
                    assert to_datetime(text, localize) == local, text
                else:
                    with pytest.raises(ValueError, match="daylight-saving"):
                        to_datetime(text, localize)
