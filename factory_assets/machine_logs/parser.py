"""Parser for machining-centre log files (DESIGN.md §6.1).

Pure functions only: bytes in, rows out. Every input line ends up in exactly one bucket —
parsed, blank or rejected (with a reason) — so ``lines_in == parsed + blank + rejected`` holds
for any input, which the tests check on arbitrary bytes.

Line grammar: ``YYYYMMDD HH:MM:SS|@<Event>[: <details>]`` in plant local time.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import BinaryIO
from zoneinfo import ZoneInfo

from factory_assets.ingest.kinds import BadName
from factory_assets.ingest.streams import TooLongLine, iter_line_batches

# Bump when parsing rules change: the ingestion asset's code version follows it, so Dagster
# marks every loaded day stale and a backfill re-parses the archive.
PARSER_VERSION = "1"

FILE_NAME_RE = re.compile(r"machine_logs/([A-Za-z0-9][A-Za-z0-9_.-]*)/([0-9]{8})\.log", re.IGNORECASE)
STAMP_RE = re.compile(r"[0-9]{8} [0-9]{2}:[0-9]{2}:[0-9]{2}")  # ASCII digits only ('²'.isdigit() is True)
MAX_WAIT_S = 86_400.0
WAIT_RE = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*s(?:ec(?:ond)?s?)?\s*$", re.IGNORECASE)
NUMBER_RE = re.compile(r"^\d+(?:[.,]\d+)?$")
MAX_LINE_TEXT = 500
MAX_LINE_BYTES = 64 << 10  # a longer line is rejected as line_too_long (DESIGN.md §6.1, hardening)

KNOWN_EVENTS = frozenset({"StukUitgevoerd", "MachineWait", "MachineStop", "MachineStart", "JobProfiel"})


class BadFileName(BadName):
    """The path does not follow ``machine_logs/<CENTRE>/YYYYMMDD.LOG``."""


def session_of_path(path: str) -> tuple[str, date]:
    """(centre, production date) from a landing path, or :class:`BadFileName` with the reason."""
    m = FILE_NAME_RE.fullmatch(path)
    if not m:
        raise BadFileName(f"expected machine_logs/<CENTRE>/YYYYMMDD.LOG, got {path!r}")
    try:
        day = datetime.strptime(m.group(2), "%Y%m%d").date()
    except ValueError as exc:
        raise BadFileName(f"file name date {m.group(2)!r} is not a calendar date") from exc
    return m.group(1), day


@dataclass
class ParsedLog:
    centre: str
    production_date: date
    lines_in: int = 0
    lines_parsed: int = 0
    lines_blank: int = 0
    # (line_no, event_at, reference, length_mm, colour, details)
    job_profiles: list[tuple] = field(default_factory=list)
    # (line_no, event_at, job_profile_line_no, reference, details)
    pieces: list[tuple] = field(default_factory=list)
    # with ``pieces_as_copy_text``: the same pieces as lines of PostgreSQL COPY text format
    # (centre, production_date, line_no, event_at, job_profile_line_no, reference, details)
    pieces_text: list[str] = field(default_factory=list)
    # (line_no, started_at, ended_at, seconds)
    waits: list[tuple] = field(default_factory=list)
    # (line_no, started_at, ended_at, seconds, end_line_no, closed_at_eof)
    stops: list[tuple] = field(default_factory=list)
    # (line_no, reason, detail, line_text)
    rejected: list[tuple] = field(default_factory=list)
    first_event_at: datetime | None = None
    last_event_at: datetime | None = None
    open_stop_closed_at_eof: bool = False

    @property
    def lines_rejected(self) -> int:
        return len(self.rejected)

    @property
    def rows_loaded(self) -> int:
        return len(self.job_profiles) + len(self.pieces) + len(self.waits) + len(self.stops)

    def is_conserved(self) -> bool:
        return self.lines_in == self.lines_parsed + self.lines_blank + self.lines_rejected


class _LocalClock:
    """Converts wall-clock seconds of one plant-local day to UTC instants.

    On ordinary days the UTC offset is constant, so conversion is one addition. On a
    daylight-saving day each time goes through zoneinfo; a repeated autumn hour is resolved by
    file order: once time would run backwards we take the second occurrence (fold=1).
    """

    def __init__(self, day: date, tz: ZoneInfo):
        self.day = day
        self.tz = tz
        start = datetime(day.year, day.month, day.day, tzinfo=tz)
        end = start + timedelta(hours=23, minutes=59, seconds=59)
        self.constant = start.utcoffset() == end.utcoffset() and not self._has_transition(start)
        self.base = datetime(day.year, day.month, day.day, tzinfo=UTC) - start.utcoffset()
        self.prev: datetime | None = None

    def _has_transition(self, start: datetime) -> bool:
        offsets = {
            (start.replace(tzinfo=None) + timedelta(hours=h)).replace(tzinfo=self.tz).utcoffset()
            for h in range(24)
        }
        return len(offsets) > 1

    def to_utc(self, seconds: int) -> datetime | None:
        """UTC instant, or None for a wall time that does not exist (spring-forward gap)."""
        if self.constant:
            return self.base + timedelta(seconds=seconds)
        naive = datetime(self.day.year, self.day.month, self.day.day) + timedelta(seconds=seconds)
        first = naive.replace(tzinfo=self.tz, fold=0).astimezone(UTC)
        if first.astimezone(self.tz).replace(tzinfo=None) != naive:
            return None
        second = naive.replace(tzinfo=self.tz, fold=1).astimezone(UTC)
        chosen = first
        if first != second and self.prev is not None and self.prev > first:
            chosen = second  # repeated hour, second pass: time never runs backwards in a file
        if self.prev is None or chosen > self.prev:
            self.prev = chosen
        return chosen


def _parse_job_profile(details: str) -> tuple[str, float | None, str | None] | str:
    """(reference, length_mm, colour) or an error message."""
    tokens = details.split()
    reference = length = colour = None
    for i, tok in enumerate(tokens):
        key, _, value = tok.partition(":")
        key = key.upper()
        if key == "R" and reference is None:
            reference = value or (tokens[i + 1] if i + 1 < len(tokens) and ":" not in tokens[i + 1] else "")
        elif key == "L" and length is None:
            length = value
        elif key == "C" and colour is None:
            colour = value or None
    if not reference:
        return "JobProfiel without a reference (R:<reference>)"
    length_mm = None
    if length is not None:
        if not NUMBER_RE.match(length):
            return f"JobProfiel length {length!r} is not a number"
        length_mm = float(length.replace(",", "."))
    return reference, length_mm, colour


# Offsets from local midnight for the fast path below: "HH:MM" (1,440 entries) and "SS" (60),
# ASCII digits and valid ranges only, so a hit is a validated time of day.
_HOUR_MINUTE = {f"{h:02d}:{m:02d}": timedelta(hours=h, minutes=m) for h in range(24) for m in range(60)}
_SECOND = {f"{s:02d}": timedelta(seconds=s) for s in range(60)}
_PIECE_MARKER = "|@StukUitgevoerd:"


def parse_log(
    data: bytes,
    centre: str,
    production_date: date,
    tz: str | ZoneInfo,
    *,
    max_line_bytes: int = MAX_LINE_BYTES,
) -> ParsedLog:
    """Parse one file's bytes into rows; never raises on bad content."""
    *_, out = iter_parse_log(io.BytesIO(data), centre, production_date, tz, max_line_bytes=max_line_bytes)
    return out


def iter_parse_log(
    stream: BinaryIO,
    centre: str,
    production_date: date,
    tz: str | ZoneInfo,
    *,
    max_line_bytes: int = MAX_LINE_BYTES,
    chunk_size: int = 1 << 20,
    pieces_as_copy_text: bool = False,
) -> Iterator[ParsedLog]:
    """:func:`parse_log` over a stream, progressively: yields the same :class:`ParsedLog` after
    each batch of lines (about ``chunk_size`` bytes).

    Between two yields only rows are appended to its lists, and a consumer may empty those lists
    (the loader does, so memory stays bounded whatever the file size); the counts, first/last
    event and the stop still open at the end of the file are final after the last yield. A line
    longer than ``max_line_bytes`` is rejected (``line_too_long``) with its first bytes as evidence.

    ``pieces_as_copy_text``: pieces go to ``pieces_text`` as ready COPY lines instead of tuples.
    A piece line is nearly every line of a file, and building its COPY line from the raw text
    (the local time plus the day's constant UTC offset) costs a fraction of making a datetime and
    a tuple and encoding them row by row; the loader streams these lines straight into COPY.
    """
    batches = iter_line_batches(stream, max_line_bytes=max_line_bytes, remove_nul=True, chunk_size=chunk_size)
    return _iter_parse_batches(batches, centre, production_date, tz, pieces_as_copy_text)


_NULL = "\\N"  # NULL in COPY text format


def copy_text(value: str | None) -> str:
    """A text field in PostgreSQL COPY text format (``\\N`` for NULL, escapes)."""
    if value is None:
        return "\\N"
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        value = value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return value


def _utc_offset_text(offset: timedelta) -> str:
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _iter_parse_batches(
    batches: Iterable[list[str]],
    centre: str,
    production_date: date,
    tz: str | ZoneInfo,
    as_text: bool = False,
) -> Iterator[ParsedLog]:
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    out = ParsedLog(centre=centre, production_date=production_date)
    day_str = production_date.strftime("%Y%m%d")
    clock = _LocalClock(production_date, zone)
    reject = out.rejected.append
    add_piece = out.pieces.append
    add_text = out.pieces_text.append
    # COPY text pieces: "<centre>\t<day>\t" ... "<day> <HH:MM:SS><offset>" ... "<profile>\t<ref>"
    head = f"{copy_text(centre)}\t{production_date.isoformat()}\t"
    local_day = production_date.isoformat() + " "
    midnight_utc = datetime(production_date.year, production_date.month, production_date.day, tzinfo=UTC)
    offset = _utc_offset_text(midnight_utc - clock.base)  # the day's UTC offset (constant-offset days)
    profile_text = "\\N\t\\N"  # COPY text of (job_profile_line_no, reference) for the next pieces
    fast_first = fast_last = None  # seconds of day of the first / last fast-path piece
    hour_minute, second = _HOUR_MINUTE, _SECOND
    # Fast path: on a day with a constant UTC offset, a well-formed piece line
    # ``<file day> <HH:MM:SS>|@StukUitgevoerd:<details>`` (nearly every line of a real file) gives
    # exactly what the general path below gives, with a few slice comparisons and lookups.
    fast_prefix = day_str + " " if clock.constant and len(day_str) == 8 else None
    base = clock.base
    profile_line = reference = None  # latest valid JobProfiel (line number, reference)
    open_stop: tuple[int, datetime] | None = None
    first = last = None
    parsed = blank = 0

    lines_in = 0
    for lines in batches:
        if lines_in:
            out.lines_in, out.lines_parsed, out.lines_blank = lines_in, parsed, blank
            yield out
        chunk_start = lines_in
        lines_in += len(lines)
        for line_no, raw in enumerate(lines, start=chunk_start + 1):
            if fast_prefix is not None and raw[17:34] == _PIECE_MARKER and raw[:9] == fast_prefix:
                hm = hour_minute.get(raw[9:14])
                ss = second.get(raw[15:17])
                if hm is not None and ss is not None and raw[14] == ":":
                    details = raw[34:].strip()
                    parsed += 1
                    if as_text:
                        add_text(
                            f"{head}{line_no}\t{local_day}{raw[9:17]}{offset}\t{profile_text}\t"
                            f"{copy_text(details) if details else _NULL}\n"
                        )
                        secs = hm + ss
                        if fast_first is None:
                            fast_first = fast_last = secs
                        elif secs > fast_last:
                            fast_last = secs
                        continue
                    at = base + (hm + ss)
                    add_piece((line_no, at, profile_line, reference, details or None))
                    if first is None:
                        first = last = at
                    elif at > last:
                        last = at
                    continue
            if type(raw) is TooLongLine:
                reject(
                    (
                        line_no,
                        "line_too_long",
                        f"line of {raw.length:,} bytes is over the length limit",
                        raw.head,
                    )
                )
                continue
            line = raw[:-1] if raw.endswith("\r") else raw
            stripped = line.strip()
            if not stripped:
                blank += 1
                continue
            marker = stripped.find("|@")
            if marker < 0:
                reject((line_no, "no_event_marker", "no '|@' event marker", line[:MAX_LINE_TEXT]))
                continue
            stamp = stripped[:marker]
            if not STAMP_RE.fullmatch(stamp):
                reject(
                    (
                        line_no,
                        "bad_timestamp",
                        f"timestamp {stamp[:40]!r} is not YYYYMMDD HH:MM:SS",
                        line[:MAX_LINE_TEXT],
                    )
                )
                continue
            hh, mm, ss = int(stamp[9:11]), int(stamp[12:14]), int(stamp[15:17])
            if hh > 23 or mm > 59 or ss > 59:
                reject((line_no, "bad_timestamp", f"time {stamp[9:]!r} out of range", line[:MAX_LINE_TEXT]))
                continue
            seconds_of_day = hh * 3600 + mm * 60 + ss
            if stamp[:8] != day_str:
                try:
                    datetime.strptime(stamp[:8], "%Y%m%d")
                except ValueError:
                    reject(
                        (
                            line_no,
                            "bad_timestamp",
                            f"date {stamp[:8]!r} is not a calendar date",
                            line[:MAX_LINE_TEXT],
                        )
                    )
                    continue
                reject(
                    (
                        line_no,
                        "date_outside_file_day",
                        f"line date {stamp[:8]} is not the file's day {day_str}",
                        line[:MAX_LINE_TEXT],
                    )
                )
                continue
            at = clock.to_utc(seconds_of_day)
            if at is None:
                reject(
                    (
                        line_no,
                        "bad_timestamp",
                        f"{stamp[9:]} does not exist on {day_str} in {zone.key} (daylight-saving gap)",
                        line[:MAX_LINE_TEXT],
                    )
                )
                continue
            body = stripped[marker + 2 :]
            event, sep, details = body.partition(":")
            event = event.strip()
            details = details.strip() if sep else ""
            if event not in KNOWN_EVENTS:
                reject((line_no, "unknown_event", f"unknown event {event[:40]!r}", line[:MAX_LINE_TEXT]))
                continue

            if event == "StukUitgevoerd":
                if as_text:
                    add_text(
                        f"{head}{line_no}\t{at.isoformat()}\t{profile_text}\t"
                        f"{copy_text(details) if details else _NULL}\n"
                    )
                else:
                    add_piece((line_no, at, profile_line, reference, details or None))
            elif event == "MachineWait":
                m = WAIT_RE.match(details)
                if not m:
                    reject(
                        (
                            line_no,
                            "bad_details",
                            f"MachineWait needs '<N> sec', got {details[:40]!r}",
                            line[:MAX_LINE_TEXT],
                        )
                    )
                    continue
                seconds = float(m.group(1).replace(",", "."))
                if seconds > MAX_WAIT_S:
                    reject(
                        (
                            line_no,
                            "bad_details",
                            f"MachineWait of {seconds:g} s is longer than a day",
                            line[:MAX_LINE_TEXT],
                        )
                    )
                    continue
                out.waits.append((line_no, at, at + timedelta(seconds=seconds), seconds))
            elif event == "JobProfiel":
                job = _parse_job_profile(details)
                if isinstance(job, str):
                    reject((line_no, "bad_details", job, line[:MAX_LINE_TEXT]))
                    continue
                job_reference, length_mm, colour = job
                out.job_profiles.append((line_no, at, job_reference, length_mm, colour, details))
                profile_line, reference = line_no, job_reference
                profile_text = f"{line_no}\t{copy_text(job_reference)}"
            elif event == "MachineStop":
                if open_stop is None:  # a second stop while stopped continues the same period
                    open_stop = (line_no, at)
            elif open_stop is not None:  # MachineStart closes the open stop
                start_line, started = open_stop
                ended = max(at, started)  # a start logged before its stop closes it at zero length
                out.stops.append(
                    (start_line, started, ended, (ended - started).total_seconds(), line_no, False)
                )
                open_stop = None
            parsed += 1
            if first is None:
                first = last = at
            elif at > last:
                last = at

    out.lines_in = lines_in
    out.lines_parsed = parsed
    out.lines_blank = blank
    if fast_first is not None:  # fast-path pieces in text mode kept seconds, not datetimes
        fast_first_at, fast_last_at = base + fast_first, base + fast_last
        first = fast_first_at if first is None else min(first, fast_first_at)
        last = fast_last_at if last is None else max(last, fast_last_at)
    if open_stop is not None:
        start_line, started = open_stop
        end = last if last is not None and last > started else started
        out.stops.append((start_line, started, end, (end - started).total_seconds(), None, True))
        out.open_stop_closed_at_eof = True
    out.first_event_at, out.last_event_at = first, last
    yield out
