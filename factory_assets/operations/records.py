"""Operation records (DESIGN.md §6.4): the Pydantic v2 model of one record, and the bulk validation
of a drop (a JSON array of records) into rows, anomalies and rejects.

Pure: no database, no Dagster, no environment read at import. The loader
(:mod:`factory_assets.operations.loader`) and the HTTP gateway share :func:`parse_drop`, so the
gateway refuses (400) exactly what a dropped file would be quarantined for.

How a drop is validated (:func:`validate_drop`):

1. One bulk pass of pydantic-core over the whole array (``TypeAdapter(list[OperationRecord])``).
   A clean drop costs just that pass plus one Python loop for the rules of step 3.
2. If that pass reports errors, each error's location says what to do:

   * the item is not an object, or an identity field (``id_ordine``, ``codice_pezzo``,
     ``tipo_operazione``) is missing or invalid: the record is **rejected whole** with a reason
     (``not_an_object``, ``missing_order_id``, ``invalid_piece_code``, ...) and its JSON text;
   * any other field is invalid: it becomes NULL and the record gets an ``INVALID_FIELD`` anomaly
     with Pydantic's message and the value as sent;
   * an unknown field is removed (``UNKNOWN_FIELD``, value kept in the anomaly);
   * an invalid item of ``anomalia`` is removed (``INVALID_FIELD`` on ``anomalia[k]``).

   The corrected records are validated again in one more bulk pass.
3. Rules on the valid records (one Python pass): measures of the other operation type
   (``FIELD_NOT_APPLICABLE``), global ranges (``OUT_OF_RANGE``), timestamps more than
   ``max_future`` after the drop was received (``FUTURE_TIMESTAMP``), an end before the start
   (``END_BEFORE_START``, the end is NULLed), expected values that are absent
   (``MISSING_VALUE``), and one ``OPERATOR_REPORTED`` anomaly per item of ``anomalia``. A
   breach NULLs the value; the piece-specific limits of the MES (``OUT_OF_PIECE_RANGE``, value
   kept) are applied in dbt, where the piece master is always the latest synced one.

Nothing is dropped silently: every record is loaded (possibly with NULLs and anomalies) or
rejected with a reason; every NULLed value is kept as text in its anomaly.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Annotated, Any, Literal, Required
from zoneinfo import ZoneInfo

import pydantic_core
from pydantic import (
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
)
from typing_extensions import TypedDict  # pydantic needs this one on Python < 3.12

OPERATION_TYPES = ("forgiatura", "cnc")
FORGING_MEASURES = ("peso_effettivo", "temperatura_effettiva")
CNC_MEASURES = ("numero_pezzi_ora", "tipo_fermo")
IDENTITY = {"id_ordine": "order_id", "codice_pezzo": "piece_code", "tipo_operazione": "operation_type"}
EXPECTED = ("codice_macchinario", "codice_operatore", "timestamp_inizio", "timestamp_fine")
MAX_VALUE_TEXT = 200  # characters of a NULLed value kept in its anomaly row
KEY_SEP = "\x1f"  # separates the parts of a record's natural key

# Anomaly codes (raw.operations__anomalies.code; marts.operation_anomalies adds OUT_OF_PIECE_RANGE
# and UNKNOWN_ORDER_LINE).
INVALID_FIELD = "INVALID_FIELD"
UNKNOWN_FIELD = "UNKNOWN_FIELD"
OUT_OF_RANGE = "OUT_OF_RANGE"
FUTURE_TIMESTAMP = "FUTURE_TIMESTAMP"
END_BEFORE_START = "END_BEFORE_START"
FIELD_NOT_APPLICABLE = "FIELD_NOT_APPLICABLE"
MISSING_VALUE = "MISSING_VALUE"
OPERATOR_REPORTED = "OPERATOR_REPORTED"
ANOMALY_CODES = (
    INVALID_FIELD,
    UNKNOWN_FIELD,
    OUT_OF_RANGE,
    FUTURE_TIMESTAMP,
    END_BEFORE_START,
    FIELD_NOT_APPLICABLE,
    MISSING_VALUE,
    OPERATOR_REPORTED,
)
# Reject reasons (raw.ingest_rejects.reason) of a record rejected whole.
REJECT_REASONS = (
    "not_an_object",
    "missing_order_id",
    "invalid_order_id",
    "missing_piece_code",
    "invalid_piece_code",
    "missing_operation_type",
    "invalid_operation_type",
    "invalid_record",
)


def may_hold_nul(data: bytes) -> bool:
    """Whether a drop's text can hold a NUL character: raw control characters are not JSON, so
    only the escape ``\\u0000`` can make one."""
    return b"\\u0000" in data


class NotADrop(ValueError):
    """The bytes are not a JSON array (not JSON at all, or another JSON value); the message says why."""


def parse_drop(data: bytes) -> list:
    """The JSON array of a drop, parsed by pydantic-core's JSON parser (strict JSON: no NaN, no
    Infinity, no lone surrogates, no trailing characters; nesting is bounded).

    A UTF-8 byte-order mark (Windows tools write one) is ignored, as RFC 8259 allows.
    Raises :class:`NotADrop` with the parser's message otherwise.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        value = pydantic_core.from_json(data, allow_inf_nan=False, cache_strings="keys")
    except ValueError as exc:
        raise NotADrop(f"not_json: {exc}") from None
    if not isinstance(value, list):
        kind = {dict: "an object", str: "a string", bool: "a boolean", type(None): "null"}.get(
            type(value), "a number"
        )
        raise NotADrop(f"not_a_json_array: the document is {kind}, expected an array of operation records")
    return value


# --- the model --------------------------------------------------------------------------------


TIMESTAMP_HELP = (
    "YYYY-MM-DD HH:MM:SS[.ffffff] in plant local time, or ISO 8601 (e.g. 2024-05-01T10:00:00+02:00, "
    "2024-05-01T08:00:00Z); without an offset the plant time zone applies"
)
TIMESTAMP_PATTERN = r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}([.,]\d{1,9})?)?([Zz]|[+-]\d{2}(:?\d{2})?)?$"
_TIMESTAMP_RE = re.compile(TIMESTAMP_PATTERN)


class Localizer:
    """Naive plant-local datetimes -> aware ones, fast: the UTC offset is cached per local hour
    (one ``ZoneInfo`` look-up per hour instead of per value). Hours around a daylight-saving
    change take the exact path: an autumn repeated time takes its first occurrence (fold 0), a
    spring-gap time does not exist and raises ``ValueError``."""

    def __init__(self, tz: ZoneInfo):
        self.tz = tz
        self.hours: dict[str, tzinfo | None] = {}  # "YYYY-MM-DD HH" as sent -> fixed offset, or None
        self.suffixes: dict[str, str] = {}  # the same hours with a constant offset -> "+02:00"

    def __call__(self, value: datetime, hour: str | None = None) -> datetime:
        if value.tzinfo is not None:
            return value
        hour = hour or value.strftime("%Y-%m-%d %H")
        fixed = self.hours.get(hour, False)
        if fixed is False:
            fixed = self.hours[hour] = self._constant_offset(value)
            seconds = int(fixed.utcoffset(None).total_seconds()) if fixed is not None else 1
            if seconds % 60 == 0:  # whole minutes: "+HH:MM" appended to the text parses in one call
                hours, minutes = divmod(abs(seconds) // 60, 60)
                self.suffixes[hour] = f"{'-' if seconds < 0 else '+'}{hours:02d}:{minutes:02d}"
        if fixed is not None:
            return value.replace(tzinfo=fixed)
        local = value.replace(tzinfo=self.tz)
        if local.astimezone(UTC).astimezone(self.tz).replace(tzinfo=None) != value:
            raise ValueError(
                f"{value.isoformat(sep=' ')} does not exist in {self.tz} (skipped by the daylight-saving change)"
            )
        return local

    def _constant_offset(self, value: datetime) -> tzinfo | None:
        first = value.replace(minute=0, second=0, microsecond=0, tzinfo=self.tz)
        last = first.replace(minute=59, second=59, microsecond=999999)
        offsets = {t.replace(fold=f).utcoffset() for t in (first, last) for f in (0, 1)}
        return timezone(offsets.pop()) if len(offsets) == 1 else None


_fromisoformat = datetime.fromisoformat


def to_datetime(text: str, localize: Localizer) -> datetime:
    """A record timestamp as an aware datetime; ``ValueError`` with the reason otherwise.

    A cheap shape check first (``datetime.fromisoformat`` alone would also take a bare date, a
    week date or the basic format), then the C parser; naive values are plant-local, with the
    offset cached per hour of text (``YYYY-MM-DD HH``).
    """
    if not (len(text) >= 16 and text[4] == "-" and text[7] == "-" and text[10] in "Tt " and text[13] == ":"):
        raise ValueError("Expected " + TIMESTAMP_HELP)
    if "," in text:
        text = text.replace(",", ".")
    tail = text[16:]
    naive = not (tail[-1:] in ("Z", "z") or "+" in tail or "-" in tail)
    if naive:  # the usual case: plant-local text; its hour's offset is known after the first value
        suffix = localize.suffixes.get(text[:13])
        if suffix:
            try:
                return _fromisoformat(text + suffix)
            except ValueError:
                pass  # reported below
    try:
        value = _fromisoformat(text)
    except ValueError as exc:
        if not _TIMESTAMP_RE.match(text):
            raise ValueError("Expected " + TIMESTAMP_HELP) from None
        raise ValueError(f"Not a valid date or time: {exc}") from None
    if value.tzinfo is not None:
        return value
    return localize(value, text[:13])


def parse_timestamp(value: str, tz: ZoneInfo) -> datetime:
    """A record timestamp (see :data:`TIMESTAMP_HELP`) as an aware datetime; ValueError otherwise."""
    return to_datetime(value.strip(), Localizer(tz))


# Numbers are strict in the bulk pass (pydantic-core, no Python call): a boolean is never a number.
# Numbers sent as text ("12", "5.5") and integral floats for ids (12.0) are repaired by
# :func:`_repair` and validated again, so they cost only in the drops that have them.
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Measure = Annotated[float, Field(strict=True)]
Timestamp = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
    WithJsonSchema(
        {
            "type": "string",
            "maxLength": 64,
            "pattern": TIMESTAMP_PATTERN,
            "description": TIMESTAMP_HELP,
            "examples": ["2024-05-01 10:00:00", "2024-05-01T10:00:00.250+02:00"],
        }
    ),
]
OrderId = Annotated[int, Field(strict=True, ge=1, le=2**63 - 1)]


class OperatorAnomaly(TypedDict):
    """An anomaly reported by the operator; extra keys (e.g. a description) are kept as text."""

    __pydantic_config__ = ConfigDict(extra="allow", title="OperatorAnomaly")  # type: ignore[misc]
    id: Annotated[int, Field(strict=True, ge=0, le=2**63 - 1)]


# A TypedDict (plain dicts out) validates about 2.5 times faster in bulk than a BaseModel.
class OperationRecord(TypedDict, total=False):
    """One forging or CNC operation record (DESIGN.md §6.4), as shop-floor apps send it."""

    __pydantic_config__ = ConfigDict(  # type: ignore[misc]
        extra="forbid",
        coerce_numbers_to_str=True,
        allow_inf_nan=False,
        str_strip_whitespace=True,
        title="OperationRecord",
    )

    id_ordine: Required[Annotated[OrderId, Field(description="MES order id (ordine.id_ordine). Required.")]]
    codice_pezzo: Required[Annotated[Code, Field(description="Piece code (pezzi.codice_pezzo). Required.")]]
    tipo_operazione: Required[
        Annotated[
            Literal["forgiatura", "cnc"],
            Field(description="forgiatura (forging) or cnc. Required; case and blanks are ignored."),
        ]
    ]
    codice_macchinario: Annotated[Code | None, Field(description="Machine code.")]
    codice_operatore: Annotated[Code | None, Field(description="Operator code.")]
    timestamp_inizio: Annotated[Timestamp | None, Field(description="Start of the operation.")]
    timestamp_fine: Annotated[Timestamp | None, Field(description="End of the operation.")]
    peso_effettivo: Annotated[Measure | None, Field(description="Forging: actual weight in kg.")]
    temperatura_effettiva: Annotated[Measure | None, Field(description="Forging: temperature in °C.")]
    numero_pezzi_ora: Annotated[Measure | None, Field(description="CNC: pieces per hour.")]
    tipo_fermo: Annotated[
        Code | None, Field(description="CNC: stop kind, e.g. utensile, software, nessun_fermo.")
    ]
    anomalia: Annotated[
        list[OperatorAnomaly] | None,
        Field(description='Anomalies reported by the operator: [{"id": 3}, ...].'),
    ]


RECORDS = TypeAdapter(list[OperationRecord])


def drop_json_schema() -> dict:
    """JSON Schema of an accepted drop (published as docs/operations.schema.json)."""
    schema = _inline_refs(RECORDS.json_schema())
    schema["title"] = "Operation drop"
    schema["description"] = (
        "A JSON array of forging / CNC operation records (DESIGN.md §6.4), dropped as "
        "operations/<anything>.json or POSTed to /v1/operations. A record without id_ordine, "
        "codice_pezzo or tipo_operazione is rejected; any other invalid field is loaded as NULL "
        "with an anomaly; unknown fields are reported as anomalies."
    )
    return schema


def _inline_refs(schema: dict) -> dict:
    """The schema with its ``$defs`` substituted, so it stands alone (inside an OpenAPI document too)."""
    defs = schema.pop("$defs", {})

    def walk(node):
        if isinstance(node, dict):
            if "$ref" in node:
                return walk(defs[node["$ref"].rsplit("/", 1)[-1]])
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(schema)


# --- rules ------------------------------------------------------------------------------------


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value not in (None, "") else default


@dataclass(frozen=True)
class Rules:
    """Global ranges of DESIGN.md §6.4 (inclusive bounds) and the plant time zone of naive
    timestamps. :meth:`from_env` reads the ``FACTORY_OPERATIONS_*`` overrides."""

    weight_kg: tuple[float, float] = (0.0, 1000.0)
    temperature_c: tuple[float, float] = (700.0, 1300.0)
    pieces_per_hour: tuple[float, float] = (0.0, 3600.0)
    max_future: timedelta = timedelta(minutes=60)
    timezone: str = "Europe/Paris"

    @classmethod
    def from_env(cls) -> Rules:
        from resources import settings

        p = "FACTORY_OPERATIONS_"
        d = cls()
        return cls(
            weight_kg=(_env_float(p + "WEIGHT_MIN_KG", d.weight_kg[0]), _env_float(p + "WEIGHT_MAX_KG", d.weight_kg[1])),
            temperature_c=(
                _env_float(p + "TEMPERATURE_MIN_C", d.temperature_c[0]),
                _env_float(p + "TEMPERATURE_MAX_C", d.temperature_c[1]),
            ),
            pieces_per_hour=(
                _env_float(p + "PIECES_PER_HOUR_MIN", d.pieces_per_hour[0]),
                _env_float(p + "PIECES_PER_HOUR_MAX", d.pieces_per_hour[1]),
            ),
            max_future=timedelta(minutes=_env_float(p + "MAX_FUTURE_MIN", 60.0)),
            timezone=settings.plant_timezone("operations"),
        )  # fmt: skip

    def ranges(self) -> dict[str, tuple[float, float, str]]:
        return {
            "peso_effettivo": (*self.weight_kg, "kg"),
            "temperatura_effettiva": (*self.temperature_c, "°C"),
            "numero_pezzi_ora": (*self.pieces_per_hour, "pieces/h"),
        }


# --- validation of a drop ---------------------------------------------------------------------


@dataclass(frozen=True)
class Reject:
    record_no: int
    reason: str
    detail: str
    raw_text: str
    data_date: date | None


# Row layout of raw.operations__operations after file_version_id (the loader prefixes it).
ROW_COLUMNS = (
    "record_no", "record_key", "id_ordine", "codice_pezzo", "tipo_operazione", "codice_macchinario",
    "codice_operatore", "timestamp_inizio", "timestamp_fine", "peso_effettivo", "temperatura_effettiva",
    "numero_pezzi_ora", "tipo_fermo",
)  # fmt: skip
ANOMALY_COLUMNS = ("record_no", "anomaly_no", "code", "field", "message", "value", "operator_anomaly_id")


@dataclass
class ValidatedDrop:
    records_in: int
    rows: list[tuple] = field(default_factory=list)  # ROW_COLUMNS, in record order
    anomalies: dict[int, list[tuple]] = field(default_factory=dict)  # record_no -> ANOMALY_COLUMNS rows
    rejects: list[Reject] = field(default_factory=list)

    def anomaly_rows(self, record_nos=None):
        """Anomaly rows (ANOMALY_COLUMNS) of the given record numbers (all when None), in order."""
        keys = (
            sorted(self.anomalies) if record_nos is None else [n for n in record_nos if n in self.anomalies]
        )
        for n in keys:
            yield from self.anomalies[n]


def value_text(value: Any) -> str | None:
    """A value as sent, as text for an anomaly or reject row (NUL removed, truncated)."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, allow_nan=True, default=str)
        except (TypeError, ValueError, RecursionError):
            text = repr(value)
    return text.replace("\x00", "")[:MAX_VALUE_TEXT]


def record_text(item: Any) -> str:
    try:
        text = json.dumps(item, ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError):
        text = repr(item)
    return text[:2000]


class _Notes:
    """Anomalies of one record while it is being validated."""

    __slots__ = ("items", "fields", "raw_start")

    def __init__(self):
        self.items: list[tuple[str, str | None, str, str | None, int | None]] = []
        self.fields: set[str] = set()
        self.raw_start: str | None = None  # timestamp_inizio as sent, when it was NULLed as invalid

    def add(self, code: str, fld: str | None, message: str, value: Any = None, op_id: int | None = None):
        if fld:
            self.fields.add(fld)
            fld = fld.replace("\x00", "")[:MAX_VALUE_TEXT]
        self.items.append((code, fld, message.replace("\x00", "")[:1000], value_text(value), op_id))


def _message(e: dict) -> str:
    return e["msg"]


_NUMBER_TEXT = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")
CODE_FIELDS = ("codice_pezzo", "codice_macchinario", "codice_operatore", "tipo_fermo")


def _repair(item: dict, e: dict) -> bool:
    """Lossless fixes of a value the strict bulk pass refused; True when ``item`` was changed.

    A number sent as text ("12", " 5.5 "), an integral float as an id (12.0), an operation type in
    another case or with blanks (" CNC "). Anything else stays an error.
    """
    loc, value = e["loc"], e["input"]
    fld = loc[1]
    if e["type"] == "literal_error" and fld == "tipo_operazione" and isinstance(value, str):
        fixed = value.strip().lower()
        if fixed != value and fixed in OPERATION_TYPES:
            item[fld] = fixed
            return True
    elif e["type"] == "int_type" and (fld == "id_ordine" or (fld == "anomalia" and loc[-1] == "id")):
        number = None
        if isinstance(value, str) and value.strip().isdecimal() and value.strip().isascii():
            number = int(value.strip())
        elif isinstance(value, float) and value.is_integer():
            number = int(value)
        if number is not None:
            if fld == "anomalia":
                item["anomalia"][loc[2]]["id"] = number
            else:
                item[fld] = number
            return True
    elif (
        e["type"] == "float_type"
        and isinstance(value, str)
        and len(loc) == 2
        and _NUMBER_TEXT.fullmatch(value)
    ):
        item[fld] = float(value)
        return True
    return False


def _nul_pass(items: list, out: ValidatedDrop, notes: dict, rejected: set[int]) -> None:
    """Text with a NUL character (only possible through a \\u0000 escape) cannot be stored in
    PostgreSQL: in an identity field the record is rejected, elsewhere the field is NULLed."""
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        for fld in [k for k, v in item.items() if isinstance(v, str) and "\x00" in v or "\x00" in k]:
            value = item[fld]
            if fld == "codice_pezzo":
                detail = "codice_pezzo: Text must not contain NUL characters"
                out.rejects.append(Reject(i + 1, "invalid_piece_code", detail, record_text(item), None))
                rejected.add(i)
                break
            if fld in IDENTITY:
                continue  # not a valid order id or operation type anyway: the bulk pass says so
            notes.setdefault(i, _Notes()).add(
                INVALID_FIELD, fld, "Text must not contain NUL characters", value
            )
            if "\x00" in fld:
                del item[fld]
            else:
                item[fld] = None


def _reject_reason(errors: list[dict]) -> tuple[str, str]:
    """Reason and detail of a record rejected for its identity (the first identity field wins)."""
    by_field: dict[str, dict] = {}
    for e in errors:
        by_field.setdefault(e["loc"][1], e)
    name = next(n for n in IDENTITY if n in by_field)
    reason = ("missing_" if by_field[name]["type"] == "missing" else "invalid_") + IDENTITY[name]
    detail = "; ".join(
        f"{n}: {_message(by_field[n])}"
        + ("" if by_field[n]["type"] == "missing" else f" (got {value_text(by_field[n]['input'])})")
        for n in IDENTITY
        if n in by_field
    )
    return reason, detail


def _first_pass(
    items: list, out: ValidatedDrop, notes: dict, tz: ZoneInfo, nul_possible: bool
) -> tuple[list[int], list[dict]]:
    """Bulk validation; records with errors are repaired, rejected or corrected (NULLed fields),
    then validated again. Returns the indices of the records kept and their validated dicts."""
    rejected: set[int] = set()
    if nul_possible:
        _nul_pass(items, out, notes, rejected)
    todo = [i for i in range(len(items)) if i not in rejected]
    kept: list[int] = []
    models: list[dict] = []
    # In chunks: a chunk with an error is validated again after its corrections, the others once.
    for first in range(0, len(todo), CHUNK):
        keep, valid = _validate_chunk(items, todo[first : first + CHUNK], out, notes, tz)
        kept += keep
        models += valid
    return kept, models


CHUNK = 512  # records per bulk call


def _validate_chunk(items: list, keep: list[int], out: ValidatedDrop, notes: dict, tz: ZoneInfo):
    rejected: set[int] = set()
    for attempt in range(5):
        try:
            return keep, RECORDS.validate_python([items[i] for i in keep])
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
        per_record: dict[int, list[dict]] = {}
        for e in errors:
            per_record.setdefault(keep[e["loc"][0]], []).append(e)
        for i, errs in per_record.items():
            item = items[i]
            if attempt < 4 and isinstance(item, dict):
                errs = [e for e in errs if len(e["loc"]) < 2 or not _repair(item, e)]
                if not errs:
                    continue  # repaired: validated again in the next pass
            if attempt == 4 or any(len(e["loc"]) < 2 for e in errs):
                reason = "not_an_object" if not isinstance(item, dict) else "invalid_record"
                detail = "; ".join(_message(e) for e in errs)
                if not isinstance(item, dict):
                    detail = f"a record must be a JSON object, got {type(item).__name__}"
                out.rejects.append(Reject(i + 1, reason, detail, record_text(item), None))
                rejected.add(i)
                continue
            identity = [e for e in errs if e["loc"][1] in IDENTITY]
            if identity:
                reason, detail = _reject_reason(identity)
                out.rejects.append(Reject(i + 1, reason, detail, record_text(item), _day_of(item, tz)))
                rejected.add(i)
                continue
            n = notes.setdefault(i, _Notes())
            bad_items: set[int] = set()
            for e in errs:
                loc, fld = e["loc"], str(e["loc"][1])
                if e["type"] == "extra_forbidden":
                    n.add(UNKNOWN_FIELD, fld, f"Unknown field {fld!r}: not loaded", e["input"])
                    item.pop(fld, None)
                elif fld == "anomalia" and len(loc) > 2 and isinstance(loc[2], int):
                    if loc[2] not in bad_items:
                        bad_items.add(loc[2])
                        n.add(INVALID_FIELD, f"anomalia[{loc[2]}]", _message(e), item["anomalia"][loc[2]])
                elif fld not in n.fields:
                    n.add(INVALID_FIELD, fld, _message(e), item.get(fld))
                    if fld == "timestamp_inizio":
                        n.raw_start = value_text(item.get(fld)) or ""
                    item[fld] = None
            if bad_items:
                item["anomalia"] = [a for k, a in enumerate(item["anomalia"]) if k not in bad_items]
        keep = [i for i in keep if i not in rejected]
    raise AssertionError("unreachable: the last attempt rejects every record still in error")


def validate_drop(
    items: list, rules: Rules, received_at: datetime, *, nul_possible: bool = True
) -> ValidatedDrop:
    """Validate every record of a drop (see the module docstring). Never raises for bad records.

    ``received_at`` is when the platform first saw the drop: timestamps more than
    ``rules.max_future`` after it are ``FUTURE_TIMESTAMP``. Using the receipt time (not the
    clock) keeps a re-parse of the same drop later giving the same result. ``nul_possible=False``
    (the drop's bytes hold no ``\\u0000`` escape, see :func:`may_hold_nul`) skips the NUL scan.
    """
    tz = ZoneInfo(rules.timezone)
    localize = Localizer(tz)
    out = ValidatedDrop(records_in=len(items))
    notes: dict[int, _Notes] = {}
    keep, models = _first_pass(items, out, notes, tz, nul_possible)
    out.rejects.sort(key=lambda r: r.record_no)

    wmin, wmax = rules.weight_kg
    tmin, tmax = rules.temperature_c
    pmin, pmax = rules.pieces_per_hour
    horizon = received_at + rules.max_future
    append = out.rows.append
    for i, m in zip(keep, models, strict=True):
        get = m.get
        op = m["tipo_operazione"]
        machine, operator = get("codice_macchinario"), get("codice_operatore")
        start_text, end_text = get("timestamp_inizio"), get("timestamp_fine")
        weight, temp = get("peso_effettivo"), get("temperatura_effettiva")
        pph, stop = get("numero_pezzi_ora"), get("tipo_fermo")
        n = notes.get(i)
        start = end = None
        try:
            start = to_datetime(start_text, localize) if start_text is not None else None
            end = to_datetime(end_text, localize) if end_text is not None else None
        except ValueError:
            n = n or _Notes()  # one of the two is a bad date or time: the slow path says which
        # Fast path for the common clean record: everything present and plausible, no anomaly.
        if (
            n is None
            and get("anomalia") is None
            and machine is not None
            and operator is not None
            and start is not None
            and end is not None
            and start <= end <= horizon
            and (
                (op == "forgiatura" and pph is None and stop is None and weight is not None and temp is not None
                 and wmin <= weight <= wmax and tmin <= temp <= tmax)
                or (op == "cnc" and weight is None and temp is None and pph is not None and stop is not None
                    and pmin <= pph <= pmax)
            )
        ):  # fmt: skip
            key = KEY_SEP.join((str(m["id_ordine"]), m["codice_pezzo"], machine, op, _instant(start)))
            append(
                (i + 1, key, m["id_ordine"], m["codice_pezzo"], op, machine, operator,
                 start, end, weight, temp, pph, stop)
            )  # fmt: skip
            continue
        n = n or _Notes()
        start, key_start = _checked_time(n, "timestamp_inizio", start_text, localize)
        end, _ = _checked_time(n, "timestamp_fine", end_text, localize)
        if start is None and n.raw_start is not None:
            key_start = "raw:" + n.raw_start
        values = {
            "peso_effettivo": weight,
            "temperatura_effettiva": temp,
            "numero_pezzi_ora": pph,
            "tipo_fermo": stop,
        }
        for fld in CNC_MEASURES if op == "forgiatura" else FORGING_MEASURES:
            if values[fld] is not None:
                n.add(
                    FIELD_NOT_APPLICABLE,
                    fld,
                    f"{fld} does not apply to a {op} operation; not loaded",
                    values[fld],
                )
                values[fld] = None
        for fld, (lo, hi, unit) in rules.ranges().items():
            v = values[fld]
            if v is not None and not (lo <= v <= hi):
                n.add(
                    OUT_OF_RANGE, fld, f"{v:g} {unit} is outside the accepted range {lo:g}–{hi:g} {unit}", v
                )
                values[fld] = None
        if start is not None and start > horizon:
            n.add(FUTURE_TIMESTAMP, "timestamp_inizio", _future_msg(start, received_at, rules), start_text)
            start = None
        if end is not None and end > horizon:
            n.add(FUTURE_TIMESTAMP, "timestamp_fine", _future_msg(end, received_at, rules), end_text)
            end = None
        if start is not None and end is not None and end < start:
            n.add(
                END_BEFORE_START, "timestamp_fine",
                f"end {end.isoformat()} is before the start {start.isoformat()}; the end is not loaded", end_text,
            )  # fmt: skip
            end = None
        current = {"codice_macchinario": machine, "codice_operatore": operator,
                   "timestamp_inizio": start, "timestamp_fine": end, **values}  # fmt: skip
        for fld in (*EXPECTED, *(FORGING_MEASURES if op == "forgiatura" else CNC_MEASURES)):
            if current[fld] is None and fld not in n.fields:
                n.add(MISSING_VALUE, fld, f"{fld} is missing")
        for k, a in enumerate(get("anomalia") or ()):
            n.add(
                OPERATOR_REPORTED, f"anomalia[{k}]", f"anomaly {a['id']} reported by the operator",
                a if len(a) > 1 else str(a["id"]), a["id"],
            )  # fmt: skip
        key = KEY_SEP.join((str(m["id_ordine"]), m["codice_pezzo"], machine or "", op, key_start))
        append(
            (i + 1, key, m["id_ordine"], m["codice_pezzo"], op, machine, operator, start, end,
             values["peso_effettivo"], values["temperatura_effettiva"], values["numero_pezzi_ora"],
             values["tipo_fermo"])
        )  # fmt: skip
        if n.items:
            out.anomalies[i + 1] = [
                (i + 1, k, code, fld, msg, val, op_id)
                for k, (code, fld, msg, val, op_id) in enumerate(n.items, 1)
            ]
    return out


def _checked_time(n: _Notes, fld: str, text: str | None, localize: Localizer) -> tuple[datetime | None, str]:
    """(timestamp or None, its natural-key text). An impossible date or a daylight-saving-gap
    time is an INVALID_FIELD anomaly; the key then keeps the value as sent."""
    if text is None:
        return None, ""
    try:
        ts = to_datetime(text, localize)
    except ValueError as exc:
        n.add(INVALID_FIELD, fld, str(exc), text)
        return None, "raw:" + text
    return ts, _instant(ts)


def _instant(ts: datetime) -> str:
    """The instant in UTC, ISO 8601: equal for equal instants whatever notation was sent."""
    return ts.astimezone(UTC).isoformat()


def _future_msg(ts: datetime, received_at: datetime, rules: Rules) -> str:
    ahead = (ts - received_at).total_seconds() / 60
    return (
        f"{ts.isoformat()} is {ahead:,.0f} min after the drop was received ({received_at.isoformat()}); "
        f"at most {rules.max_future.total_seconds() / 60:g} min ahead is accepted"
    )


def _day_of(item: dict, tz: ZoneInfo) -> date | None:
    """Plant-local day of a rejected record's start, when it has a readable one."""
    value = item.get("timestamp_inizio")
    if not isinstance(value, str):
        return None
    try:
        return parse_timestamp(value, tz).astimezone(tz).date()
    except ValueError:
        return None
