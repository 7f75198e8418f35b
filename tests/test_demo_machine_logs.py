"""Tests of the synthetic machine-log generator (no database needed).

The generator feeds the demo, the ingestion tests and the benchmarks, so it is checked against the
file-format spec with an independent parser written here (not the platform's), and against the
volumes observed in a real plant.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from factory_assets.demo.machine_logs import generate_day, lines_for_benchmark, main, write_machine_logs

LINE_RE = re.compile(
    r"^(?P<date>\d{8}) (?P<time>\d{2}:\d{2}:\d{2})\|@(?P<event>[A-Za-z]+)(?:: (?P<details>.*))?$"
)
WAIT_RE = re.compile(r"^(?P<n>\d+(?:\.\d+)?) sec$")
JOB_RE = re.compile(r"^R:(?P<ref>\S+) L:(?P<len>\d+(?:\.\d+)?) C:(?P<colour>\S+)(?: .*)?$")
KNOWN_EVENTS = {"StukUitgevoerd", "MachineWait", "MachineStop", "MachineStart", "JobProfiel"}

END = dt.date(2024, 11, 9)  # a Saturday: the default 7-day window then contains one Sunday (11-03)


@dataclass
class Event:
    at: dt.datetime
    event: str
    details: str | None


@dataclass
class Parsed:
    events: list[Event] = field(default_factory=list)
    bad: list[str] = field(default_factory=list)


def parse_line(line: str) -> Event | None:
    """The spec's grammar, strictly: returns None for any malformed line."""
    m = LINE_RE.match(line)
    if not m:
        return None
    try:
        at = dt.datetime.strptime(f"{m['date']} {m['time']}", "%Y%m%d %H:%M:%S")
    except ValueError:
        return None
    event, details = m["event"], m["details"]
    if event not in KNOWN_EVENTS:
        return None
    if event == "MachineWait" and not (details and WAIT_RE.match(details)):
        return None
    if event == "JobProfiel" and not (details and JOB_RE.match(details)):
        return None
    if event in ("MachineStop", "MachineStart") and details is not None:
        return None
    return Event(at, event, details)


def parse(data: bytes) -> Parsed:
    text = data.replace(b"\x00", b"").decode("latin-1")
    assert text.endswith("\n")
    out = Parsed()
    for line in text[:-1].split("\n"):
        line = line.removesuffix("\r")
        ev = parse_line(line)
        if ev is None:
            out.bad.append(line)
        else:
            out.events.append(ev)
    return out


def seconds(at: dt.datetime) -> int:
    return at.hour * 3600 + at.minute * 60 + at.second


@dataclass
class DayStats:
    pieces: list[int]
    waits: list[tuple[int, float]]  # (start, seconds)
    stops: list[tuple[int, int]]  # (start, end)
    jobs: list[int]

    @property
    def span(self) -> tuple[int, int]:
        return self.pieces[0], self.pieces[-1]

    def occupation(self) -> float:
        """effective / span, effective = span - union(waits ∪ stops clipped to the span)."""
        lo, hi = self.span
        intervals = sorted(
            (max(lo, a), min(hi, b))
            for a, b in [(s, s + w) for s, w in self.waits] + self.stops
            if min(hi, b) > max(lo, a)
        )
        covered, cur_a, cur_b = 0.0, None, None
        for a, b in intervals:
            if cur_b is None or a > cur_b:
                if cur_b is not None:
                    covered += cur_b - cur_a
                cur_a, cur_b = a, b
            else:
                cur_b = max(cur_b, b)
        if cur_b is not None:
            covered += cur_b - cur_a
        return (hi - lo - covered) / (hi - lo)


def day_stats(parsed: Parsed) -> DayStats:
    pieces, waits, stops, jobs = [], [], [], []
    open_stop = None
    for ev in parsed.events:
        s = seconds(ev.at)
        if ev.event == "StukUitgevoerd":
            pieces.append(s)
        elif ev.event == "MachineWait":
            waits.append((s, float(WAIT_RE.match(ev.details)["n"])))
        elif ev.event == "MachineStop":
            assert open_stop is None, "MachineStop while already stopped"
            open_stop = s
        elif ev.event == "MachineStart":
            assert open_stop is not None, "MachineStart without MachineStop"
            stops.append((open_stop, s))
            open_stop = None
        else:
            jobs.append(s)
    assert open_stop is None, "stop still open at end of file"
    return DayStats(pieces, waits, stops, jobs)


# --------------------------------------------------------------------------------------------------
# generate_day


@pytest.mark.parametrize("centre", ["DEM12", "DEMALU", "SU12", "C042"])
def test_every_well_formed_line_follows_the_grammar(centre):
    day = dt.date(2024, 11, 5)
    data = generate_day(centre, day, random.Random(7))
    parsed = parse(data)
    assert parsed.bad == []
    assert b"\x00" not in data
    times = [ev.at for ev in parsed.events]
    assert all(t.date() == day for t in times)
    assert times == sorted(times), "lines must be in non-decreasing time order"
    assert parsed.events[0].event == "JobProfiel", "a JobProfiel precedes the first piece"
    for ev in parsed.events:
        if ev.event == "JobProfiel":
            m = JOB_RE.match(ev.details)
            assert 3000 <= float(m["len"]) <= 6500
        if ev.event == "StukUitgevoerd":
            assert ev.details


def test_line_endings_and_encoding():
    day = dt.date(2024, 11, 5)
    su12 = generate_day("SU12", day, random.Random(1))
    dem12 = generate_day("DEM12", day, random.Random(1))
    assert su12.count(b"\r\n") == su12.count(b"\n"), "SU12 writes CRLF"
    assert b"\r" not in dem12
    text = b"".join(generate_day(c, day, random.Random(s)) for c in ("DEM12", "SU12") for s in range(3))
    assert "°".encode("latin-1") in text, "latin-1 characters occur in piece details"
    jobs = re.findall(rb"JobProfiel: R:\S+ L:(\S+)", text)
    assert any(b"." in j for j in jobs) and any(b"." not in j for j in jobs), "L:4200.00 and L:4200"


def test_generate_day_is_deterministic():
    day = dt.date(2024, 11, 5)
    a = generate_day("DEM12", day, random.Random(3), malformed=2, nul_bytes=True)
    b = generate_day("DEM12", day, random.Random(3), malformed=2, nul_bytes=True)
    c = generate_day("DEM12", day, random.Random(4), malformed=2, nul_bytes=True)
    assert a == b
    assert a != c


@pytest.mark.parametrize("malformed", [1, 2, 5, 12])
def test_malformed_lines_are_present_when_asked(malformed):
    day = dt.date(2024, 11, 5)
    rng_seed = 100 + malformed
    clean = parse(generate_day("DEMALU", day, random.Random(rng_seed)))
    dirty = parse(generate_day("DEMALU", day, random.Random(rng_seed), malformed=malformed))
    assert len(dirty.bad) == malformed
    assert len(dirty.events) == len(clean.events)
    for line in dirty.bad:  # each one is one of the documented kinds
        assert (
            line == ""
            or "|@" not in line
            or not re.match(r"^\d{8} \d{2}:\d{2}:\d{2}\|", line)
            or "@Foo" in line
            or "@Alarm" in line
            or line.endswith("|@")
            or "abc sec" in line
            or "R: L:xx" in line
            or line.endswith("MachineWait: sec")
        ), line


def test_all_malformed_kinds_occur():
    day = dt.date(2024, 11, 5)
    bad = parse(generate_day("DEM12", day, random.Random(5), malformed=200)).bad
    assert "" in bad
    assert any("|@" not in line and line for line in bad), "controller banner"
    assert any("25:61:00" in line for line in bad), "bad timestamp"
    assert any(line.endswith("@Foo") for line in bad), "unknown event"
    assert any("MachineWait: abc sec" in line for line in bad) and any("R: L:xx" in line for line in bad)


def test_nul_bytes_when_asked():
    day = dt.date(2024, 11, 5)
    for seed in range(10):
        data = generate_day("DEM12", day, random.Random(seed), nul_bytes=True)
        assert b"\x00" in data
        parsed = parse(data)  # stripping the NULs gives back a clean file
        assert parsed.bad == []
    assert b"\x00" not in generate_day("DEM12", day, random.Random(0))


def test_pieces_override_keeps_the_day_window():
    day = dt.date(2024, 11, 5)
    stats = day_stats(parse(generate_day("DEM12", day, random.Random(2), pieces=6000)))
    assert len(stats.pieces) == 6000
    assert 4 * 3600 <= stats.pieces[0] and stats.pieces[-1] <= 22 * 3600
    with pytest.raises(ValueError):
        generate_day("DEM12", day, random.Random(2), pieces=50_000)
    with pytest.raises(ValueError):
        generate_day("DEM12", day, random.Random(2), pieces=1)


# --------------------------------------------------------------------------------------------------
# realistic volumes


def _sample_days():
    for centre in ("DEM12", "DEMALU", "SU12", "C007"):
        for seed in range(12):
            day = dt.date(2024, 3, 4) + dt.timedelta(days=seed)
            yield (
                centre,
                day,
                parse(generate_day(centre, day, random.Random(f"{seed}:{centre}"), malformed=2)),
            )


@pytest.fixture(scope="module")
def sample_days():
    return list(_sample_days())


def test_volumes_are_in_realistic_ranges(sample_days):
    for centre, day, parsed in sample_days:
        s = day_stats(parsed)
        ctx = f"{centre} {day}"
        assert 300 <= len(s.pieces) <= 990, ctx
        assert 4.5 * 3600 <= s.pieces[0] <= 5.75 * 3600, ctx
        assert 20.25 * 3600 <= s.pieces[-1] <= 21.5 * 3600, ctx
        assert 15 <= len(s.stops) <= 26, ctx
        assert 270 <= sum(b - a for a, b in s.stops) / len(s.stops) <= 935, ctx
        assert 0.60 <= s.occupation() <= 0.72, (ctx, s.occupation())

        long_waits = [(st, w) for st, w in s.waits if w > 120]
        assert len(long_waits) <= 1, ctx  # only a lunch break may be logged as one long wait
        assert all(11.5 * 3600 <= st <= 12.5 * 3600 for st, _ in long_waits), ctx
        assert all(5 <= w <= 120 for _, w in s.waits if (_, w) not in long_waits), ctx
        hours = (s.pieces[-1] - s.pieces[0]) / 3600
        assert 3 <= len(s.waits) / hours <= 15, ctx  # several waits per hour

        assert len(s.pieces) / 80 <= len(s.jobs) <= len(s.pieces) / 20 + 1, ctx  # a bar every 20–80 pieces
        cycles = [b - a for a, b in zip(s.pieces, s.pieces[1:], strict=False)]
        cycles.sort()
        median = cycles[len(cycles) // 2]
        assert 40 <= median <= 90, ctx


def test_lunch_dip(sample_days):
    for centre, day, parsed in sample_days:
        s = day_stats(parsed)
        lunch = [p for p in s.pieces if 12 * 3600 + 15 * 60 <= p <= 12 * 3600 + 35 * 60]
        assert lunch == [], f"{centre} {day}: pieces during the lunch break"
        inside = [(a, b) for a, b in s.stops if a <= 12 * 3600 + 15 * 60 and b >= 12 * 3600 + 35 * 60]
        inside += [(a, a + w) for a, w in s.waits if w > 120]
        assert len(inside) == 1, f"{centre} {day}: lunch is one stop or one long wait"


def test_no_interruption_overlaps_a_piece(sample_days):
    for centre, day, parsed in sample_days:
        s = day_stats(parsed)
        intervals = [(st, st + w) for st, w in s.waits] + s.stops
        for a, b in intervals:
            assert s.pieces[0] <= a and b <= s.pieces[-1], f"{centre} {day}"
        # a piece strictly inside an interruption would mean production while waiting or stopped
        for p in s.pieces:
            assert not any(a < p < b for a, b in intervals), f"{centre} {day}: piece at {p}"


def test_centres_have_different_rhythms(sample_days):
    by_centre: dict[str, list[int]] = {}
    for centre, _day, parsed in sample_days:
        by_centre.setdefault(centre, []).append(len(day_stats(parsed).pieces))
    mean = {c: sum(v) / len(v) for c, v in by_centre.items()}
    assert mean["DEM12"] > mean["SU12"] > mean["DEMALU"]


# --------------------------------------------------------------------------------------------------
# write_machine_logs


def test_layout_names_and_sundays(tmp_path: Path):
    paths = write_machine_logs(tmp_path, end=END, seed=42)
    final = [p for p in paths if p.suffix == ".LOG"]
    assert len([p for p in paths if p.name.endswith(".part")]) == 1
    days = [END - dt.timedelta(days=i) for i in range(7)]
    working = [d for d in days if d.weekday() != 6]
    assert len(working) == 6
    expected = {
        tmp_path / "machine_logs" / c / f"{d:%Y%m%d}.LOG"
        for c in ("DEM12", "DEMALU", "SU12")
        for d in working
    }
    assert set(final) == expected and len(final) == len(expected)
    assert all(p.is_file() for p in paths)
    on_disk = {p for p in (tmp_path / "machine_logs").rglob("*") if p.is_file()}
    assert on_disk == set(paths), "no leftover temporary files"
    # a file holds its own date only
    for p in final:
        parsed = parse(p.read_bytes())
        assert {ev.at.strftime("%Y%m%d") for ev in parsed.events} == {p.stem}
        assert len(parsed.bad) == 2


def test_partial_upload_file(tmp_path: Path):
    paths = write_machine_logs(tmp_path, end=END, seed=42)
    part = tmp_path / "machine_logs" / "DEM12" / f"{END + dt.timedelta(days=1):%Y%m%d}.LOG.part"
    assert paths[-1] == part
    data = part.read_bytes()
    assert data and data.startswith(b"20241110 ")
    full_day_size = min(p.stat().st_size for p in paths if p.parent.name == "DEM12" and p.suffix == ".LOG")
    assert len(data) < full_day_size
    assert sum(1 for p in paths if p.name.endswith(".part")) == 1

    none = write_machine_logs(tmp_path / "b", end=END, seed=42, with_partial_upload=False)
    assert not any(p.name.endswith(".part") for p in (tmp_path / "b").rglob("*"))
    assert len(none) == len(paths) - 1


def test_write_is_deterministic(tmp_path: Path):
    a = write_machine_logs(tmp_path / "a", end=END, seed=7, days=4)
    b = write_machine_logs(tmp_path / "b", end=END, seed=7, days=4)
    c = write_machine_logs(tmp_path / "c", end=END, seed=8, days=4)
    rel = [p.relative_to(tmp_path / "a") for p in a]
    assert rel == [p.relative_to(tmp_path / "b") for p in b] == [p.relative_to(tmp_path / "c") for p in c]
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    assert [p.read_bytes() for p in a] != [p.read_bytes() for p in c]
    # a file does not depend on the window: the same day has the same content with a longer window
    longer = write_machine_logs(tmp_path / "d", end=END, seed=7, days=9, with_partial_upload=False)
    by_rel = {p.relative_to(tmp_path / "d"): p.read_bytes() for p in longer}
    for p in a[:-1]:
        assert by_rel[p.relative_to(tmp_path / "a")] == p.read_bytes()


def test_some_files_have_nul_bytes(tmp_path: Path):
    paths = [p for p in write_machine_logs(tmp_path, end=END, seed=42) if p.suffix == ".LOG"]
    with_nul = [p for p in paths if b"\x00" in p.read_bytes()]
    assert 1 <= len(with_nul) < len(paths)


def test_sundays_and_options(tmp_path: Path):
    paths = write_machine_logs(
        tmp_path,
        end=END,
        days=7,
        centres=("X1",),
        skip_sundays=False,
        malformed_per_file=0,
        with_partial_upload=False,
    )
    assert len(paths) == 7
    assert all(parse(p.read_bytes()).bad == [] for p in paths)
    with pytest.raises(ValueError):
        write_machine_logs(tmp_path, days=0)


def test_rewrite_replaces_stale_partial_file(tmp_path: Path):
    thursday = dt.date(2024, 11, 7)
    write_machine_logs(tmp_path, end=thursday, seed=1, days=1)
    stale = tmp_path / "machine_logs" / "DEM12" / "20241108.LOG.part"
    assert stale.exists()
    write_machine_logs(tmp_path, end=thursday + dt.timedelta(days=1), seed=1, days=1)
    assert not stale.exists(), "the day's final file supersedes its in-progress upload"
    assert stale.with_name(stale.name.removesuffix(".part")).exists()


def test_default_end_is_yesterday(tmp_path: Path):
    paths = write_machine_logs(tmp_path, days=1, skip_sundays=False, centres=("DEM12",))
    yesterday = dt.date.today() - dt.timedelta(days=1)
    assert paths[0].name == f"{yesterday:%Y%m%d}.LOG"
    assert paths[-1].name == f"{dt.date.today():%Y%m%d}.LOG.part"


# --------------------------------------------------------------------------------------------------
# CLI and benchmark helper


def test_cli(tmp_path: Path, capsys):
    rc = main(["--landing", str(tmp_path), "--days", "3", "--seed", "5", "--end", "2024-11-09"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "machine_logs/DEM12/20241109.LOG" in out
    assert "machine_logs/DEM12/20241110.LOG.part" in out
    assert (tmp_path / "machine_logs" / "SU12" / "20241107.LOG").is_file()
    with pytest.raises(SystemExit):
        main(["--landing", str(tmp_path), "--end", "2024-13-01"])


def test_lines_for_benchmark_volume_and_shape():
    total = 50_000
    files = list(lines_for_benchmark(total, lines_per_file=7000, seed=1))
    lines = sum(data.count(b"\n") for _, data in files)
    assert total <= lines <= total * 1.1
    paths = [p for p, _ in files]
    assert len(set(paths)) == len(paths)
    assert all(re.fullmatch(r"machine_logs/C\d{3}/\d{8}\.LOG", p) for p in paths)
    assert len({p.split("/")[1] for p in paths}) > 1
    for path, data in files[:3]:
        parsed = parse(data)
        assert len(parsed.bad) == 2
        assert {ev.at.strftime("%Y%m%d") for ev in parsed.events} == {path[-12:-4]}
        assert 6000 <= data.count(b"\n") <= 8000
    assert files == list(lines_for_benchmark(total, lines_per_file=7000, seed=1))
    assert files != list(lines_for_benchmark(total, lines_per_file=7000, seed=2))
