"""Unit tests of the machine-log parser (DESIGN.md §6.1): pure functions, no database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from factory_assets.machine_logs.parser import (
    PARSER_VERSION,
    BadFileName,
    ParsedLog,
    parse_log,
    session_of_path,
)

PARIS = "Europe/Paris"
DAY = date(2024, 10, 15)  # ordinary summer-time day: UTC+2
WINTER_DAY = date(2024, 1, 15)  # UTC+1
SUMMER_DAY = date(2024, 7, 15)  # UTC+2
AUTUMN_DST = date(2024, 10, 27)  # 03:00 CEST -> 02:00 CET, 02:00-02:59 happens twice
SPRING_DST = date(2024, 3, 31)  # 02:00 CET -> 03:00 CEST, 02:00-02:59 does not exist


def _stamp(day: date, hms: str) -> str:
    return f"{day:%Y%m%d} {hms}"


def _line(hms: str, body: str, day: date = DAY) -> str:
    return f"{_stamp(day, hms)}|@{body}"


def _parse(*lines: str, day: date = DAY, tz: str = PARIS, final_newline: bool = True) -> ParsedLog:
    text = "\n".join(lines) + ("\n" if final_newline and lines else "")
    return parse_log(text.encode("latin-1"), "DEM12", day, tz)


def _utc(d: date, hms: str) -> datetime:
    h, m, s = (int(x) for x in hms.split(":"))
    return datetime(d.year, d.month, d.day, h, m, s, tzinfo=UTC)


def _rejects(out: ParsedLog) -> list[tuple[int, str]]:
    return [(r[0], r[1]) for r in out.rejected]


# --------------------------------------------------------------------------------------------
# Grammar: each event kind gives exact rows
# --------------------------------------------------------------------------------------------


def test_parser_version_is_a_non_empty_string():
    assert isinstance(PARSER_VERSION, str) and PARSER_VERSION.strip()


def test_piece_with_and_without_details():
    out = _parse(
        _line("08:00:00", "StukUitgevoerd: 6112 654  extra"),
        _line("08:00:30", "StukUitgevoerd"),
    )
    assert out.pieces == [
        (1, _utc(DAY, "06:00:00"), None, None, "6112 654  extra"),
        (2, _utc(DAY, "06:00:30"), None, None, None),
    ]
    assert (out.lines_in, out.lines_parsed, out.lines_blank, out.rejected) == (2, 2, 0, [])
    assert out.first_event_at == _utc(DAY, "06:00:00")
    assert out.last_event_at == _utc(DAY, "06:00:30")
    assert out.centre == "DEM12" and out.production_date == DAY


@pytest.mark.parametrize(
    ("details", "seconds"),
    [("12 sec", 12.0), ("12.5 sec", 12.5), ("12,5 sec", 12.5), ("0 sec", 0.0), ("90 seconds", 90.0)],
)
def test_machine_wait_seconds(details: str, seconds: float):
    out = _parse(_line("09:15:00", f"MachineWait: {details}"))
    start = _utc(DAY, "07:15:00")
    assert out.waits == [(1, start, start + timedelta(seconds=seconds), seconds)]
    assert out.rejected == [] and out.lines_parsed == 1


def test_stop_period_from_machine_stop_to_next_machine_start():
    out = _parse(
        _line("10:00:00", "MachineStop"),
        _line("10:01:00", "StukUitgevoerd"),
        _line("10:04:30", "MachineStart"),
        _line("10:05:00", "MachineStart"),  # no open stop: parsed, no row
    )
    assert out.stops == [(1, _utc(DAY, "08:00:00"), _utc(DAY, "08:04:30"), 270.0, 3, False)]
    assert out.open_stop_closed_at_eof is False
    assert out.lines_parsed == 4 and out.rejected == []


def test_second_machine_stop_while_stopped_does_not_restart_the_period():
    out = _parse(
        _line("10:00:00", "MachineStop"),
        _line("10:02:00", "MachineStop"),
        _line("10:05:00", "MachineStart"),
    )
    assert out.stops == [(1, _utc(DAY, "08:00:00"), _utc(DAY, "08:05:00"), 300.0, 3, False)]


def test_job_profiles_and_piece_attribution():
    out = _parse(
        _line("05:00:00", "StukUitgevoerd: before any profile"),
        _line("05:01:00", "JobProfiel: R:6112 L:4200 C:7016 S:2"),
        _line("05:02:00", "StukUitgevoerd"),
        _line("05:03:00", "StukUitgevoerd"),
        _line("05:04:00", "JobProfiel: R:GY1104 L:4200.00 C:WS ALU"),
        _line("05:05:00", "StukUitgevoerd: x"),
    )
    assert out.job_profiles == [
        (2, _utc(DAY, "03:01:00"), "6112", 4200.0, "7016", "R:6112 L:4200 C:7016 S:2"),
        (5, _utc(DAY, "03:04:00"), "GY1104", 4200.0, "WS", "R:GY1104 L:4200.00 C:WS ALU"),
    ]
    assert out.pieces == [
        (1, _utc(DAY, "03:00:00"), None, None, "before any profile"),
        (3, _utc(DAY, "03:02:00"), 2, "6112", None),
        (4, _utc(DAY, "03:03:00"), 2, "6112", None),
        (6, _utc(DAY, "03:05:00"), 5, "GY1104", "x"),
    ]


def test_job_profile_without_length_or_colour():
    out = _parse(_line("06:00:00", "JobProfiel: R:215023"))
    assert out.job_profiles == [(1, _utc(DAY, "04:00:00"), "215023", None, None, "R:215023")]


def test_rejected_job_profile_does_not_become_the_current_profile():
    out = _parse(
        _line("06:00:00", "JobProfiel: R:6101 L:3000 C:654"),
        _line("06:01:00", "JobProfiel: R:6112 L:xx C:654"),
        _line("06:02:00", "StukUitgevoerd"),
    )
    assert _rejects(out) == [(2, "bad_details")]
    assert out.pieces == [(3, _utc(DAY, "04:02:00"), 1, "6101", None)]


# --------------------------------------------------------------------------------------------
# Bytes and line handling
# --------------------------------------------------------------------------------------------


def test_nul_bytes_are_removed_anywhere_in_a_line():
    data = (
        b"\x002024\x001015 08:\x0000:00|@Stuk\x00Uitgevoerd: a\x00b\x00\n"
        b"20241015 08:00:05|@MachineWait:\x00 3\x00 sec\r\x00\n"
        b"\x00\x00\n"
    )
    out = parse_log(data, "DEM12", DAY, PARIS)
    assert out.pieces == [(1, _utc(DAY, "06:00:00"), None, None, "ab")]
    assert out.waits == [(2, _utc(DAY, "06:00:05"), _utc(DAY, "06:00:08"), 3.0)]
    assert (out.lines_in, out.lines_parsed, out.lines_blank, out.rejected) == (3, 2, 1, [])


def test_latin1_bytes_are_decoded():
    data = b"20241015 08:00:00|@StukUitgevoerd: pi\xe9ce \xb0C\n20241015 08:00:01|@\xc9v\xe9nement\n"
    out = parse_log(data, "DEM12", DAY, PARIS)
    assert out.pieces == [(1, _utc(DAY, "06:00:00"), None, None, "piéce °C")]
    assert out.rejected[0][:2] == (2, "unknown_event")
    assert out.rejected[0][3] == "20241015 08:00:01|@Événement"


def test_crlf_line_endings_are_tolerated():
    data = b"20241015 08:00:00|@StukUitgevoerd: a\r\n\r\n20241015 08:00:10|@MachineStop\r\n junk \r\n"
    out = parse_log(data, "DEM12", DAY, PARIS)
    assert out.pieces == [(1, _utc(DAY, "06:00:00"), None, None, "a")]
    assert (out.lines_in, out.lines_parsed, out.lines_blank) == (4, 2, 1)
    assert out.rejected == [(4, "no_event_marker", out.rejected[0][2], " junk ")]  # the \r is not line text


def test_trailing_newline_does_not_create_a_blank_line():
    with_nl = _parse(_line("08:00:00", "StukUitgevoerd"), final_newline=True)
    assert (with_nl.lines_in, with_nl.lines_blank) == (1, 0)


def test_missing_final_newline_still_parses_the_last_line():
    out = _parse(
        _line("08:00:00", "StukUitgevoerd"), _line("08:00:09", "MachineWait: 7 sec"), final_newline=False
    )
    assert out.lines_in == 2 and out.lines_parsed == 2
    assert out.waits == [(2, _utc(DAY, "06:00:09"), _utc(DAY, "06:00:16"), 7.0)]


def test_empty_file_and_only_newlines():
    empty = parse_log(b"", "DEM12", DAY, PARIS)
    assert (empty.lines_in, empty.lines_parsed, empty.lines_blank, empty.rejected) == (0, 0, 0, [])
    assert empty.first_event_at is None and empty.last_event_at is None and empty.stops == []
    blanks = parse_log(b"\n  \n\t\r\n", "DEM12", DAY, PARIS)
    assert (blanks.lines_in, blanks.lines_blank, blanks.lines_parsed) == (3, 3, 0)


# --------------------------------------------------------------------------------------------
# Rejects
# --------------------------------------------------------------------------------------------

REJECT_CASES = [
    ("no marker at all", "no_event_marker"),
    ("20241015 08:00:00 StukUitgevoerd", "no_event_marker"),
    ("2024-10-15 08:00:00|@StukUitgevoerd", "bad_timestamp"),
    ("20241015 8:00:00|@StukUitgevoerd", "bad_timestamp"),
    ("20241015T08:00:00|@StukUitgevoerd", "bad_timestamp"),
    ("|@StukUitgevoerd", "bad_timestamp"),
    ("20241015 25:61:00|@StukUitgevoerd", "bad_timestamp"),
    ("20241015 23:59:60|@StukUitgevoerd", "bad_timestamp"),
    ("20240231 08:00:00|@StukUitgevoerd", "bad_timestamp"),
    ("20241015 08:00:00|@Stukuitgevoerd", "unknown_event"),
    ("20241015 08:00:00|@", "unknown_event"),
    ("20241015 08:00:00|@MachineWait: abc", "bad_details"),
    ("20241015 08:00:00|@MachineWait: -5 sec", "bad_details"),
    ("20241015 08:00:00|@MachineWait", "bad_details"),
    ("20241015 08:00:00|@JobProfiel: L:4200 C:7016", "bad_details"),
    ("20241015 08:00:00|@JobProfiel: R:6112 L:xx C:7016", "bad_details"),
    ("20241016 08:00:00|@StukUitgevoerd", "date_outside_file_day"),
    ("20241014 23:59:59|@StukUitgevoerd", "date_outside_file_day"),
]


@pytest.mark.parametrize(("text", "reason"), REJECT_CASES)
def test_reject_reason(text: str, reason: str):
    out = _parse(_line("07:00:00", "StukUitgevoerd"), text, _line("07:00:01", "StukUitgevoerd"))
    assert len(out.rejected) == 1
    line_no, got_reason, detail, line_text = out.rejected[0]
    assert (line_no, got_reason, line_text) == (2, reason, text)
    assert isinstance(detail, str) and detail
    assert [p[0] for p in out.pieces] == [1, 3]  # neighbours unaffected
    assert out.lines_parsed == 2 and out.is_conserved()


def test_reject_keeps_original_text_including_surrounding_spaces():
    out = _parse("  garbage line  ")
    assert out.rejected == [(1, "no_event_marker", out.rejected[0][2], "  garbage line  ")]


# --------------------------------------------------------------------------------------------
# Conservation
# --------------------------------------------------------------------------------------------


def test_conservation_on_mixed_input():
    lines = [
        _line("05:00:00", "JobProfiel: R:6112 L:4200 C:7016"),
        "",
        _line("05:00:10", "StukUitgevoerd"),
        "junk",
        "   ",
        _line("05:01:00", "MachineStop"),
        _line("05:02:00", "MachineStart"),
        _line("25:00:00", "StukUitgevoerd"),
        _line("05:03:00", "Bogus"),
        _line("05:04:00", "MachineWait: 10 sec"),
        _line("05:05:00", "StukUitgevoerd", day=date(2024, 10, 16)),
        "\r",
    ]
    out = _parse(*lines)
    assert out.lines_in == 12
    assert (out.lines_parsed, out.lines_blank, out.lines_rejected) == (5, 3, 4)
    assert out.lines_in == out.lines_parsed + out.lines_blank + out.lines_rejected
    assert out.is_conserved()
    assert out.rows_loaded == 4  # one profile, piece, stop and wait
    assert _rejects(out) == [
        (4, "no_event_marker"),
        (8, "bad_timestamp"),
        (9, "unknown_event"),
        (11, "date_outside_file_day"),
    ]


def test_is_conserved_detects_a_broken_count():
    out = _parse(_line("05:00:00", "StukUitgevoerd"), "", "junk")
    assert out.is_conserved()
    out.lines_blank += 1
    assert not out.is_conserved()


# --------------------------------------------------------------------------------------------
# Open stop at end of file
# --------------------------------------------------------------------------------------------


def test_trailing_stop_closes_at_last_event_and_is_flagged():
    out = _parse(
        _line("20:00:00", "StukUitgevoerd"),
        _line("20:10:00", "MachineStop"),
        _line("20:12:00", "StukUitgevoerd"),
        _line("20:15:00", "MachineWait: 30 sec"),
        "junk after the last event",
    )
    assert out.stops == [(2, _utc(DAY, "18:10:00"), _utc(DAY, "18:15:00"), 300.0, None, True)]
    assert out.open_stop_closed_at_eof is True
    assert out.last_event_at == _utc(DAY, "18:15:00")


def test_machine_stop_as_very_last_line_gets_zero_length_stop():
    out = _parse(_line("20:00:00", "StukUitgevoerd"), _line("20:10:00", "MachineStop"))
    assert out.stops == [(2, _utc(DAY, "18:10:00"), _utc(DAY, "18:10:00"), 0.0, None, True)]
    assert out.open_stop_closed_at_eof is True


def test_closed_stop_is_not_flagged():
    out = _parse(_line("20:10:00", "MachineStop"), _line("20:11:00", "MachineStart"))
    assert out.open_stop_closed_at_eof is False and out.stops[0][5] is False


def test_out_of_order_stop_start_never_ends_before_it_starts():
    out = _parse(_line("10:00:00", "MachineStop"), _line("09:00:00", "MachineStart"))
    ((_, started, ended, seconds, _, _),) = out.stops
    assert ended >= started
    assert seconds == (ended - started).total_seconds() == 0.0


# --------------------------------------------------------------------------------------------
# Time zones
# --------------------------------------------------------------------------------------------


def test_winter_day_is_utc_plus_one():
    out = _parse(
        _line("00:00:00", "StukUitgevoerd", WINTER_DAY),
        _line("23:59:59", "StukUitgevoerd", WINTER_DAY),
        day=WINTER_DAY,
    )
    assert [p[1] for p in out.pieces] == [
        datetime(2024, 1, 14, 23, 0, 0, tzinfo=UTC),
        datetime(2024, 1, 15, 22, 59, 59, tzinfo=UTC),
    ]


def test_summer_day_is_utc_plus_two():
    out = _parse(
        _line("00:30:00", "StukUitgevoerd", SUMMER_DAY),
        _line("21:00:00", "StukUitgevoerd", SUMMER_DAY),
        day=SUMMER_DAY,
    )
    assert [p[1] for p in out.pieces] == [
        datetime(2024, 7, 14, 22, 30, 0, tzinfo=UTC),
        datetime(2024, 7, 15, 19, 0, 0, tzinfo=UTC),
    ]


def test_accepts_a_zoneinfo_object_and_other_zones():
    out = parse_log(
        (_line("08:00:00", "StukUitgevoerd", WINTER_DAY) + "\n").encode(),
        "SU12",
        WINTER_DAY,
        ZoneInfo("America/New_York"),
    )
    assert out.pieces[0][1] == datetime(2024, 1, 15, 13, 0, 0, tzinfo=UTC)
    utc = _parse(_line("08:00:00", "StukUitgevoerd"), tz="UTC")
    assert utc.pieces[0][1] == _utc(DAY, "08:00:00")


def test_autumn_dst_repeated_hour_resolved_by_file_order():
    times = ["01:50:00", "02:30:00", "02:59:00", "02:10:00", "02:40:00", "03:05:00"]
    out = _parse(*(_line(t, "StukUitgevoerd", AUTUMN_DST) for t in times), day=AUTUMN_DST)
    got = [p[1] for p in out.pieces]
    assert got == [
        datetime(2024, 10, 26, 23, 50, tzinfo=UTC),
        datetime(2024, 10, 27, 0, 30, tzinfo=UTC),  # 02:30 first pass (CEST)
        datetime(2024, 10, 27, 0, 59, tzinfo=UTC),
        datetime(2024, 10, 27, 1, 10, tzinfo=UTC),  # 02:10 second pass (CET)
        datetime(2024, 10, 27, 1, 40, tzinfo=UTC),
        datetime(2024, 10, 27, 2, 5, tzinfo=UTC),
    ]
    assert all(a < b for a, b in zip(got, got[1:], strict=False))


def test_autumn_dst_wait_and_stop_across_the_repeated_hour():
    out = _parse(
        _line("02:50:00", "MachineStop", AUTUMN_DST),
        _line("02:05:00", "MachineStart", AUTUMN_DST),  # second pass: 15 minutes later
        _line("02:06:00", "MachineWait: 60 sec", AUTUMN_DST),
        day=AUTUMN_DST,
    )
    assert out.stops == [
        (
            1,
            datetime(2024, 10, 27, 0, 50, tzinfo=UTC),
            datetime(2024, 10, 27, 1, 5, tzinfo=UTC),
            900.0,
            2,
            False,
        )
    ]
    assert out.waits == [
        (3, datetime(2024, 10, 27, 1, 6, tzinfo=UTC), datetime(2024, 10, 27, 1, 7, tzinfo=UTC), 60.0)
    ]


def test_spring_dst_nonexistent_time_does_not_crash():
    out = _parse(
        _line("01:59:00", "StukUitgevoerd", SPRING_DST),
        _line("02:30:00", "StukUitgevoerd", SPRING_DST),
        _line("03:10:00", "StukUitgevoerd", SPRING_DST),
        day=SPRING_DST,
    )
    assert out.is_conserved() and out.lines_in == 3
    by_line = {p[0]: p[1] for p in out.pieces}
    assert by_line == {
        1: datetime(2024, 3, 31, 0, 59, tzinfo=UTC),
        3: datetime(2024, 3, 31, 1, 10, tzinfo=UTC),
    }
    # 02:30 does not exist that day: rejected with the reason, never mapped out of order.
    ((line_no, reason, detail, _),) = out.rejected
    assert (line_no, reason) == (2, "bad_timestamp") and "daylight-saving gap" in detail


# --------------------------------------------------------------------------------------------
# session_of_path
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("machine_logs/DEM12/20241015.LOG", ("DEM12", date(2024, 10, 15))),
        ("machine_logs/DEMALU/20240229.log", ("DEMALU", date(2024, 2, 29))),
        ("machine_logs/SU12/20241231.Log", ("SU12", date(2024, 12, 31))),
        ("machine_logs/NEW_CENTRE-2.b/20250101.LOG", ("NEW_CENTRE-2.b", date(2025, 1, 1))),
        ("machine_logs/x/20240101.log", ("x", date(2024, 1, 1))),
    ],
)
def test_session_of_good_paths(path: str, expected: tuple[str, date]):
    assert session_of_path(path) == expected


@pytest.mark.parametrize(
    ("path", "message_part"),
    [
        ("machine_logs/DEM12/report.LOG", "YYYYMMDD"),
        ("machine_logs/DEM12/2024-10-15.LOG", "YYYYMMDD"),
        ("machine_logs/DEM12/2024101.LOG", "YYYYMMDD"),
        ("machine_logs/DEM12/20241015.txt", "YYYYMMDD"),
        ("machine_logs/DEM12/20241015", "YYYYMMDD"),
        ("machine_logs/DEM12/20241332.LOG", "not a calendar date"),
        ("machine_logs/DEM12/20230229.LOG", "not a calendar date"),
        ("machine_logs/DEM12/sub/20241015.LOG", "YYYYMMDD"),
        ("machine_logs/20241015.LOG", "YYYYMMDD"),
        ("logs/DEM12/20241015.LOG", "YYYYMMDD"),
        ("/machine_logs/DEM12/20241015.LOG", "YYYYMMDD"),
        ("x/machine_logs/DEM12/20241015.LOG", "YYYYMMDD"),
        ("machine_logs/.hidden/20241015.LOG", "YYYYMMDD"),
        ("machine_logs/DEM12/20241015.LOG.tmp", "YYYYMMDD"),
    ],
)
def test_session_of_bad_paths(path: str, message_part: str):
    with pytest.raises(BadFileName) as excinfo:
        session_of_path(path)
    message = str(excinfo.value)
    assert message_part in message
    if message_part == "YYYYMMDD":
        assert repr(path) in message  # the offending path is named
    else:
        assert path.rsplit("/", 1)[1][:8] in message  # the offending date is named


def test_bad_file_name_is_a_value_error():
    assert issubclass(BadFileName, ValueError)


def test_session_of_path_rejects_trailing_newline():
    with pytest.raises(BadFileName):
        session_of_path("machine_logs/DEM12/20241015.LOG\n")


# --------------------------------------------------------------------------------------------
# Crash bugs found while testing (never raises on bad content)
# --------------------------------------------------------------------------------------------


def test_superscript_digit_in_time_is_rejected_not_raised():
    out = parse_log(b"20241015 1\xb2:00:00|@StukUitgevoerd\n", "DEM12", DAY, PARIS)
    assert _rejects(out) == [(1, "bad_timestamp")]


@pytest.mark.parametrize("seconds", ["1000000000000", "9" * 30])
def test_huge_wait_is_rejected_not_raised(seconds: str):
    out = _parse(_line("08:00:00", f"MachineWait: {seconds} sec"))
    assert out.is_conserved() and out.lines_in == 1


# --------------------------------------------------------------------------------------------
# Property tests
# --------------------------------------------------------------------------------------------

PROPERTY_DAYS = [DAY, AUTUMN_DST, SPRING_DST]


def _expected_line_count(data: bytes) -> int:
    text = data.replace(b"\x00", b"").decode("latin-1")
    return text.count("\n") + (1 if text and not text.endswith("\n") else 0)


def _check_invariants(data: bytes, out: ParsedLog, *, check_stop_order: bool = False) -> None:
    assert out.lines_in == _expected_line_count(data)
    assert out.lines_in == out.lines_parsed + out.lines_blank + out.lines_rejected
    assert out.is_conserved()
    assert min(out.lines_parsed, out.lines_blank, out.lines_rejected) >= 0
    line_nos = [
        r[0] for rows in (out.job_profiles, out.pieces, out.waits, out.stops, out.rejected) for r in rows
    ]
    assert len(line_nos) == len(set(line_nos))
    assert all(1 <= n <= out.lines_in for n in line_nos)
    assert out.rows_loaded + out.lines_rejected <= out.lines_in
    assert len(out.pieces) + len(out.job_profiles) + len(out.waits) + len(out.stops) <= out.lines_parsed
    for _, started, ended, seconds in out.waits:
        assert seconds >= 0
        assert ended >= started
        assert ended - started == timedelta(seconds=seconds)
    for line_no, started, ended, seconds, end_line_no, closed_at_eof in out.stops:
        assert seconds >= 0
        if check_stop_order:
            assert ended >= started
            assert (ended - started).total_seconds() == seconds
        if closed_at_eof:
            assert end_line_no is None
        else:
            assert line_no < end_line_no <= out.lines_in
    assert sum(1 for s in out.stops if s[5]) == (1 if out.open_stop_closed_at_eof else 0)
    for _, reason, detail, text in out.rejected:
        assert reason in {
            "no_event_marker",
            "bad_timestamp",
            "unknown_event",
            "bad_details",
            "date_outside_file_day",
        }
        assert isinstance(detail, str) and isinstance(text, str)
    if out.lines_parsed:
        assert out.first_event_at is not None and out.last_event_at is not None
    else:
        assert out.first_event_at is None and out.last_event_at is None


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=4000), day=st.sampled_from(PROPERTY_DAYS))
def test_property_arbitrary_bytes_never_raise_and_conserve(data: bytes, day: date):
    out = parse_log(data, "DEM12", day, PARIS)
    _check_invariants(data, out)


# A line is (text, expected): expected is "parsed", "blank", a reject reason, or None (anything).
_hms = st.builds("{:02d}:{:02d}:{:02d}".format, st.integers(0, 23), st.integers(0, 59), st.integers(0, 59))
_token = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=8)
_seconds = st.one_of(
    st.integers(0, 5000).map(str),
    st.builds("{}.{}".format, st.integers(0, 5000), st.integers(0, 99)),
    st.builds("{},{}".format, st.integers(0, 5000), st.integers(0, 99)),
)
_length = st.one_of(
    st.integers(3000, 6500).map(str),
    st.builds("{}.{:02d}".format, st.integers(3000, 6500), st.integers(0, 99)),
)
_valid_body = st.one_of(
    st.just("StukUitgevoerd"),
    st.builds("StukUitgevoerd: {} {}".format, _token, _token),
    st.builds("MachineWait: {} sec".format, _seconds),
    st.just("MachineStop"),
    st.just("MachineStart"),
    st.builds("JobProfiel: R:{} L:{} C:{} S:2".format, _token, _length, _token),
    st.builds("JobProfiel: R:{}".format, _token),
)
_garbage_chars = st.characters(min_codepoint=1, max_codepoint=255, blacklist_characters="\n")


@st.composite
def _log_line(draw, day: date) -> tuple[str, str | None]:
    kind = draw(
        st.sampled_from(["valid", "valid", "valid", "blank", "garbage", "time", "date", "event", "wait"])
    )
    hms = draw(_hms)
    in_dst_gap = day == SPRING_DST and hms.startswith("02:")  # wall time that does not exist
    if kind == "valid":
        return f"{_stamp(day, hms)}|@{draw(_valid_body)}", "bad_timestamp" if in_dst_gap else "parsed"
    if kind == "blank":
        return draw(st.sampled_from(["", " ", "\t", "   \t "])), "blank"
    if kind == "garbage":
        return draw(st.text(alphabet=_garbage_chars, max_size=80)), None
    if kind == "time":
        bad = draw(st.sampled_from(["24:00:00", "25:61:00", "12:60:00", "12:00:60", "1:00:00", "12-00-00"]))
        return f"{_stamp(day, bad)}|@StukUitgevoerd", "bad_timestamp"
    if kind == "date":
        other = day + timedelta(days=draw(st.sampled_from([-400, -1, 1, 31])))
        return f"{_stamp(other, hms)}|@StukUitgevoerd", "date_outside_file_day"
    if kind == "event":
        return (
            f"{_stamp(day, hms)}|@{draw(st.sampled_from(['Foo', 'stukuitgevoerd', 'Machine Stop']))}",
            "bad_timestamp" if in_dst_gap else "unknown_event",
        )
    return (
        f"{_stamp(day, hms)}|@MachineWait: {draw(st.sampled_from(['abc', '', '-1 sec', '1 min']))}",
        "bad_timestamp" if in_dst_gap else "bad_details",
    )


@st.composite
def _log_file(draw) -> tuple[date, bytes, list[str | None]]:
    day = draw(st.sampled_from(PROPERTY_DAYS))
    lines = draw(st.lists(_log_line(day), max_size=60))
    parts: list[str] = []
    for text, _ in lines:
        if text and draw(st.booleans()):  # sprinkle NULs anywhere in the line
            positions = draw(st.lists(st.integers(0, len(text)), max_size=4))
            for pos in sorted(positions, reverse=True):
                text = text[:pos] + "\x00" + text[pos:]
        if draw(st.booleans()):
            text += "\r"
        parts.append(text)
    body = "\n".join(parts)
    expected = [e for _, e in lines]
    if parts and draw(st.booleans()):
        body += "\n"
    elif parts and parts[-1] == "":
        # the text then ends in "\n" anyway: that newline ends the previous line, no empty line follows
        expected.pop()
    return day, body.encode("latin-1"), expected


def _check_expected_buckets(out: ParsedLog, expected: list[str | None]) -> None:
    assert out.lines_in == len(expected)
    reasons = {r[0]: r[1] for r in out.rejected}
    for line_no, want in enumerate(expected, start=1):
        if want in ("parsed", "blank"):
            assert line_no not in reasons, (line_no, want, reasons.get(line_no))
        elif want is not None:
            assert reasons.get(line_no) == want, (line_no, want, reasons.get(line_no))
    assert out.lines_blank >= expected.count("blank")
    assert out.lines_parsed >= expected.count("parsed")


@settings(max_examples=300, deadline=None)
@given(log=_log_file())
def test_property_grammar_lines_never_raise_and_conserve(log: tuple[date, bytes, list[str | None]]):
    day, data, expected = log
    out = parse_log(data, "DEM12", day, PARIS)
    _check_invariants(data, out)
    _check_expected_buckets(out, expected)


@settings(max_examples=300, deadline=None)
@example(
    log=(DAY, b"20241015 10:00:00|@MachineStop\n20241015 09:00:00|@MachineStart\n", ["parsed", "parsed"])
)
@given(log=_log_file())
def test_property_stops_never_end_before_they_start(log: tuple[date, bytes, list[str | None]]):
    day, data, _ = log
    out = parse_log(data, "DEM12", day, PARIS)
    _check_invariants(data, out, check_stop_order=True)
