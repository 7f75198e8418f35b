"""Synthetic machining-centre log files (``machine_logs/<CENTRE>/YYYYMMDD.LOG``).

Why a generator rather than fixture files: the demo, the tests and the benchmarks all need log files
that look like a real plant's — same grammar, same quirks, same volumes — for any date range and any
number of centres, without shipping customer data. Every file is a pure function of
``(seed, centre, date)`` so runs are reproducible and a file does not change when the date window does.

File format (one line per event, latin-1, plant local time, non-decreasing time order)::

    YYYYMMDD HH:MM:SS|@<Event>[: <details>]

Events: ``StukUitgevoerd`` (one piece produced), ``MachineWait: <N> sec`` (a wait of N seconds starting
at the timestamp), ``MachineStop`` … ``MachineStart`` (a stop period) and ``JobProfiel: R:<ref>
L:<length> C:<colour> …`` (a bar/job loaded; the following pieces belong to it).

How a day is built, so that the volumes are realistic *by construction* rather than by luck:

1. Pick the production window (~05:00–21:00), a target occupation (62.5–69.5 %) and a lunch break.
2. Spend the non-productive budget ``(1 - occupation) * span`` on waits (several per hour, 5–120 s) and
   stops (16–25 a day, lunch included), and assign each to the morning or the afternoon.
3. What remains is productive time, split into piece cycles. Interruptions are placed on this
   *productive* clock, strictly between two pieces, so they never overlap a piece and the lunch stop
   lands exactly at its planned wall-clock time.

Quirks reproduced on purpose: CRLF line ends on SU12, ``L:4200.00`` vs ``L:4200``, ``°`` (latin-1) in
piece details, rare malformed lines, NUL bytes, and a file still being uploaded (``.LOG.part``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import random
import sys
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

__all__ = [
    "CentreProfile",
    "DEFAULT_CENTRES",
    "centre_profile",
    "generate_day",
    "lines_for_benchmark",
    "main",
    "write_machine_logs",
]

DEFAULT_CENTRES = ("DEM12", "DEMALU", "SU12")
PARTIAL_UPLOAD_CENTRE = "DEM12"

_OCCUPATION_RANGE = (0.625, 0.695)  # inside the real plant's 60–72 %, leaving room for rounding
_STOPS_RANGE = (16, 25)  # lunch included; real plant: 15–26
_STOP_MEAN_RANGE = (320.0, 880.0)  # mean stop duration of a day; real plant: 270–935 s
_PIECES_RANGE = (320, 960)  # real plant: 300–990
_WAIT_RANGE = (5.0, 120.0)
_MIN_STOP_S = 45
_MIN_CYCLE_WEIGHT = 0.7  # cycle weights are drawn in [0.7, 1.3) (x1.7 for slow pieces)
_NUL_SHARE = 0.2  # share of files with NUL bytes
_ESTIMATED_OVERHEAD_LINES = 250  # non-piece lines of a day (waits, stops, jobs): for sizing only


@dataclass(frozen=True)
class CentreProfile:
    """The rhythm and vocabulary of one machining centre.

    Centres differ on purpose (PVC is cut faster than aluminium, the hybrid line waits more often but
    shorter) so dashboards and tests see distinguishable machines, as in a real plant.
    """

    name: str
    cycle_s: float  # mean productive time per piece
    waits_per_hour: float
    wait_mean_s: float
    stop_mean_s: float  # target mean stop duration; the count follows from the stop budget
    start_s: int  # planned first piece (seconds after midnight)
    end_s: int  # planned last piece
    references: tuple[str, ...]
    colours: tuple[str, ...]
    bar_lengths: tuple[int, ...]  # mm
    decimal_length_share: float  # share of JobProfiel lines written ``L:6500.00`` instead of ``L:6500``
    angles: tuple[str, ...]  # piece-detail suffixes ("" = none)
    crlf: bool


_PROFILES: dict[str, CentreProfile] = {
    "DEM12": CentreProfile(
        name="DEM12",
        cycle_s=52.0,
        waits_per_hour=8.5,
        wait_mean_s=28.0,
        stop_mean_s=620.0,
        start_s=5 * 3600,
        end_s=21 * 3600,
        references=("6112", "6101", "6103", "6120", "6130", "215023"),
        colours=("654", "WS", "7016", "LAQ", "9001", "GOLDEN"),
        bar_lengths=(6500, 6000, 5800),
        decimal_length_share=0.3,
        angles=("", " 45°/45°", " 45°/90°"),
        crlf=False,
    ),
    "DEMALU": CentreProfile(
        name="DEMALU",
        cycle_s=72.0,
        waits_per_hour=7.0,
        wait_mean_s=40.0,
        stop_mean_s=760.0,
        start_s=5 * 3600 + 15 * 60,
        end_s=20 * 3600 + 50 * 60,
        references=("GY1104", "GY1107", "GY1210", "215023", "215031", "AL4410"),
        colours=("ALU", "7016", "LAQ", "9016", "ANO"),
        bar_lengths=(6500, 6000, 4700, 3000),
        decimal_length_share=0.7,
        angles=("", " 90°/90°", " 45°/90°"),
        crlf=False,
    ),
    "SU12": CentreProfile(
        name="SU12",
        cycle_s=62.0,
        waits_per_hour=10.0,
        wait_mean_s=25.0,
        stop_mean_s=640.0,
        start_s=4 * 3600 + 50 * 60,
        end_s=21 * 3600 + 5 * 60,
        references=("6112", "6101", "GY1104", "215023", "215031"),
        colours=("654", "WS", "ALU", "LAQ", "7016"),
        bar_lengths=(6500, 6000, 4200, 3600),
        decimal_length_share=0.5,
        angles=("", " 45°/45°", " 90°/90°"),
        crlf=True,
    ),
}


def centre_profile(centre: str) -> CentreProfile:
    """Profile of a known centre, or a stable variant of one of them for any other name (``C001``…).

    Derived from a CRC of the name (not ``hash()``, which is salted per process) so that benchmark
    centres keep their rhythm across runs.
    """
    known = _PROFILES.get(centre)
    if known is not None:
        return known
    crc = zlib.crc32(centre.encode("utf-8"))
    bases = list(_PROFILES.values())
    base = bases[crc % len(bases)]
    jitter = 0.9 + 0.2 * ((crc >> 8) % 1000) / 1000  # cycle time ±10 %
    return replace(base, name=centre, cycle_s=base.cycle_s * jitter)


@cache
def _hms_table() -> tuple[str, ...]:
    """``"HH:MM:SS"`` for every second of a day: formatting timestamps is the generator's hot path."""
    return tuple(f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86400))


@dataclass(frozen=True)
class _Interruption:
    pos: int  # position on the productive clock (seconds of production since the first piece)
    order: int  # tie-break at the same position: a wait may come right before a stop
    kind: str  # "wait" | "stop"
    text: str  # wait value as written ("12", "12.5"); empty for stops
    advance: int  # wall-clock seconds the interruption lasts (waits rounded up)


_Unit = list[tuple[int, str, str, int]]  # (order, kind, text, advance) placed at one position


def _draw_wait(rng: random.Random, mean_s: float) -> str:
    lo, hi = _WAIT_RANGE
    value = min(hi, lo + rng.expovariate(1.0 / max(1.0, mean_s - lo)))
    if rng.random() < 0.1:  # some controllers write tenths: "MachineWait: 12.5 sec"
        return f"{round(value * 2) / 2:.1f}"
    return str(int(value))


def _plan_interruptions(
    prof: CentreProfile, rng: random.Random, start: int, span: int
) -> tuple[int, list[_Interruption]]:
    """Spend the day's non-productive budget; return (productive seconds, interruptions by position)."""
    occupation = rng.uniform(*_OCCUPATION_RANGE)
    budget = span * (1.0 - occupation)
    lunch_start = 12 * 3600 + rng.randint(-300, 600)
    lunch_len = rng.randint(2400, 3000)
    lunch_is_stop = rng.random() < 0.85  # otherwise the operator logs one long wait

    waits: list[str] = []
    wait_total = 0
    wait_target = prof.waits_per_hour * rng.uniform(0.8, 1.25) * span / 3600 * prof.wait_mean_s
    while wait_total < wait_target:
        text = _draw_wait(rng, prof.wait_mean_s)
        waits.append(text)
        wait_total += math.ceil(float(text))

    stop_total = budget - wait_total - (0 if lunch_is_stop else lunch_len)  # lunch included if a stop
    n_stops = round(stop_total / (prof.stop_mean_s * rng.uniform(0.75, 1.25)))
    lo_avg, hi_avg = _STOP_MEAN_RANGE  # keep the day's mean stop in the plant's range as well
    n_stops = min(max(n_stops, math.ceil(stop_total / hi_avg)), int(stop_total / lo_avg))
    n_stops = min(max(n_stops, _STOPS_RANGE[0]), _STOPS_RANGE[1])
    n_other = n_stops - 1 if lunch_is_stop else n_stops
    other_total = stop_total - (lunch_len if lunch_is_stop else 0)
    # Mostly short stops (tool change, material) and a few long ones (breakdown, set-up).
    weights = [
        rng.uniform(0.15, 0.6) if rng.random() < 0.7 else rng.uniform(1.0, 3.5) for _ in range(n_other)
    ]
    wsum = sum(weights)
    stops = [max(_MIN_STOP_S, round(other_total * w / wsum)) for w in weights]

    # Units placed together: a stop, sometimes preceded by a wait (the operator first waits, then stops).
    units: list[_Unit] = []
    for d in stops:
        unit = [(1, "stop", "", d)]
        if waits and rng.random() < 0.25:
            text = waits.pop()
            unit.insert(0, (0, "wait", text, math.ceil(float(text))))
        units.append(unit)
    units.extend([(0, "wait", text, math.ceil(float(text)))] for text in waits)

    productive = span - sum(d for unit in units for *_, d in unit) - lunch_len
    if productive <= 0:
        raise ValueError(f"{prof.name}: no productive time left in the day (span {span} s)")

    # Morning/afternoon split, so the lunch can sit at its planned wall-clock time.
    morning_share = (lunch_start - start) / max(1, span - lunch_len)
    morning: list[_Unit] = []
    afternoon: list[_Unit] = []
    for unit in units:
        (morning if rng.random() < morning_share else afternoon).append(unit)
    before = sum(d for unit in morning for *_, d in unit)
    lunch_pos = lunch_start - start - before
    lunch_pos = min(max(lunch_pos, productive // 5), productive * 4 // 5)  # safety net, not expected

    out: list[_Interruption] = []
    for unit in morning:
        pos = 1 + int(rng.random() * (lunch_pos - 1))
        out.extend(_Interruption(pos, order, kind, text, d) for order, kind, text, d in unit)
    out.append(
        _Interruption(
            lunch_pos,
            2,
            "stop" if lunch_is_stop else "wait",
            "" if lunch_is_stop else str(lunch_len),
            lunch_len,
        )
    )
    for unit in afternoon:
        pos = lunch_pos + 1 + int(rng.random() * (productive - lunch_pos - 2))
        out.extend(_Interruption(pos, order, kind, text, d) for order, kind, text, d in unit)
    out.sort(key=lambda i: (i.pos, i.order))
    return productive, out


def _job_profile(
    prof: CentreProfile, rng: random.Random, quantity: int
) -> tuple[str, str, tuple[int, ...], str]:
    """One bar/job: (JobProfiel details, reference, cut lengths, piece-detail suffix)."""
    ref = rng.choice(prof.references)
    colour = rng.choice(prof.colours)
    bar = rng.choice(prof.bar_lengths)
    length = f"{bar}.00" if rng.random() < prof.decimal_length_share else str(bar)
    extras = ""
    r = rng.random()
    if r < 0.5:
        extras = f" S:{rng.randint(1, 3)}"
    elif r < 0.8:
        extras = f" Q:{quantity} S:{rng.randint(1, 3)}"
    details = f"R:{ref} L:{length} C:{colour}{extras}"
    cuts = tuple(rng.randrange(350, min(2600, bar)) for _ in range(rng.randint(1, 4)))
    return details, ref, cuts, rng.choice(prof.angles)


def _day_lines(prof: CentreProfile, day: dt.date, rng: random.Random, pieces: int | None) -> list[str]:
    """The well-formed lines of one day, in time order."""
    start = prof.start_s + rng.randint(-900, 900)
    end = prof.end_s + rng.randint(-1200, 900)
    span = end - start
    productive, interruptions = _plan_interruptions(prof, rng, start, span)

    cycle_mean = prof.cycle_s * rng.uniform(0.92, 1.08)
    if pieces is None:
        n = min(max(round(productive / cycle_mean), _PIECES_RANGE[0]), _PIECES_RANGE[1])
    else:
        n = pieces
    if n < 2:
        raise ValueError("a day needs at least 2 pieces")

    rnd = rng.random
    weights = [_MIN_CYCLE_WEIGHT + 0.6 * rnd() for _ in range(n - 1)]
    for i in rng.sample(range(n - 1), (n - 1) // 20):  # ~5 % slow pieces (manual handling, re-clamp)
        weights[i] *= 1.7
    scale = productive / sum(weights)
    if scale * _MIN_CYCLE_WEIGHT < 2.0:
        max_pieces = int(productive * _MIN_CYCLE_WEIGHT / 2.0 / 1.04)
        raise ValueError(f"{n} pieces do not fit in one day of {prof.name} (at most about {max_pieces})")

    hms = _hms_table()
    pfx = day.strftime("%Y%m%d") + " "
    lines: list[str] = []
    ap = lines.append

    def new_job(t: int) -> tuple[int, str, tuple[int, ...], int, str]:
        length = rng.randint(20, 80)
        details, ref, cuts, suffix = _job_profile(prof, rng, length)
        ap(f"{pfx}{hms[t]}|@JobProfiel: {details}")
        return length, f"|@StukUitgevoerd: {ref} L:", cuts, len(cuts), suffix

    t = start
    job_left, head, cuts, ncuts, tail = new_job(start - rng.randint(20, 600))
    ap(f"{pfx}{hms[t]}{head}{cuts[0]} #1{tail}")
    job_left -= 1

    intr = interruptions
    n_intr = len(intr)
    ii = 0
    next_pos = intr[0].pos if intr else productive + 1
    delay = 0
    acc = 0.0
    for k in range(2, n + 1):
        acc += weights[k - 2]
        tp = int(acc * scale + 0.5)
        if job_left == 0:
            job_left, head, cuts, ncuts, tail = new_job(t)
        while next_pos < tp:
            it = intr[ii]
            et = start + it.pos + delay
            if it.kind == "wait":
                ap(f"{pfx}{hms[et]}|@MachineWait: {it.text} sec")
            else:
                ap(f"{pfx}{hms[et]}|@MachineStop")
                ap(f"{pfx}{hms[et + it.advance]}|@MachineStart")
            delay += it.advance
            ii += 1
            next_pos = intr[ii].pos if ii < n_intr else productive + 1
        t = start + tp + delay
        ap(f"{pfx}{hms[t]}{head}{cuts[k % ncuts]} #{k}{tail}")
        job_left -= 1
    return lines


_BANNERS = (
    "*** {centre} Logbuch V3.2 gestartet ***",
    "Démarrage contrôleur {centre} - firmware 4.21",
    "==== {centre} POWER ON ====",
)


def _malformed_line(kind: str, centre: str, prev: str, rng: random.Random) -> str:
    """A realistic bad line; ``prev`` (a well-formed neighbour) lends it a plausible timestamp."""
    ts = prev[:17]
    if kind == "banner":
        return rng.choice(_BANNERS).format(centre=centre)
    if kind == "timestamp":
        return rng.choice(
            (
                f"{ts[:7]} 25:61:00|@StukUitgevoerd",
                f"{ts[:8]} {ts[9:14]}|@MachineWait: 12 sec",
                f"{ts[:8]}T{ts[9:]}|@MachineStop",
            )
        )
    if kind == "event":
        return rng.choice((f"{ts}|@Foo", f"{ts}|@Alarm: 1043 Deur open", f"{ts}|@"))
    if kind == "details":
        return rng.choice(
            (f"{ts}|@MachineWait: abc sec", f"{ts}|@JobProfiel: R: L:xx", f"{ts}|@MachineWait: sec")
        )
    return ""  # blank line


_MALFORMED_KINDS = ("banner", "timestamp", "event", "details", "blank")
_MALFORMED_WEIGHTS = (2, 2, 2, 3, 1)


def generate_day(
    centre: str,
    day: dt.date,
    rng: random.Random,
    *,
    malformed: int = 0,
    nul_bytes: bool = False,
    pieces: int | None = None,
) -> bytes:
    """One day's log file for ``centre`` (latin-1 bytes, ending with a line break).

    ``malformed`` extra bad lines are inserted between well-formed ones (one line each). With
    ``nul_bytes`` a short run of NULs prefixes one line and, half of the time, NUL padding follows
    the last line break (what controllers leave after a power cut): removing every NUL byte gives
    back a clean file. ``pieces`` forces the number of pieces; the day keeps its 05:00–21:00 window,
    so large values compress the cycle time (used by benchmarks; at most ~12,000).
    """
    prof = centre_profile(centre)
    lines = _day_lines(prof, day, rng, pieces)

    if malformed:
        positions = sorted((rng.randint(1, len(lines) - 1) for _ in range(malformed)), reverse=True)
        for pos in positions:  # descending, so lines[pos - 1] is still a well-formed line
            kind = rng.choices(_MALFORMED_KINDS, _MALFORMED_WEIGHTS)[0]
            lines.insert(pos, _malformed_line(kind, centre, lines[pos - 1], rng))

    trailer = ""
    if nul_bytes:
        i = rng.randint(1, len(lines) - 1)
        lines[i] = "\x00" * rng.randint(1, 8) + lines[i]
        if rng.random() < 0.5:
            trailer = "\x00" * rng.randint(16, 512)

    eol = "\r\n" if prof.crlf else "\n"
    return (eol.join(lines) + eol + trailer).encode("latin-1")


def _file_rng(seed: int, centre: str, day: dt.date, purpose: str = "") -> random.Random:
    """Independent stream per file: a file's content depends only on (seed, centre, date)."""
    return random.Random(f"{seed}:{centre}:{day.isoformat()}{purpose}")


def _atomic_write(path: Path, data: bytes) -> None:
    """Write under ``.<name>.part`` then rename, so a reader never sees a half-written ``.LOG``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_machine_logs(
    landing_root: Path,
    *,
    days: int = 7,
    end: dt.date | None = None,
    centres: Sequence[str] = DEFAULT_CENTRES,
    seed: int = 42,
    malformed_per_file: int = 2,
    with_partial_upload: bool = True,
    skip_sundays: bool = True,
) -> list[Path]:
    """Write ``machine_logs/<CENTRE>/YYYYMMDD.LOG`` for the ``days`` days ending at ``end``.

    ``end`` defaults to yesterday (today's file is still being written on a real controller). About a
    fifth of the files get NUL bytes (at least one file of the window). With ``with_partial_upload`` one more file,
    ``machine_logs/DEM12/<end + 1 day>.LOG.part``, holds a truncated day, as an upload in progress: the
    platform must ignore it. Writing a day's final file removes a stale ``.part`` of that day.
    Returns the written paths, the partial file last.
    """
    if days < 1:
        raise ValueError("days must be >= 1")
    if not centres:
        raise ValueError("at least one centre is needed")
    end = end or dt.date.today() - dt.timedelta(days=1)
    dates = [end - dt.timedelta(days=i) for i in range(days - 1, -1, -1)]
    if skip_sundays:
        dates = [d for d in dates if d.weekday() != 6]
    jobs = [(d, c) for d in dates for c in centres]
    with_nul = {i for i, (d, c) in enumerate(jobs) if _file_rng(seed, c, d, ":nul").random() < _NUL_SHARE}
    if jobs and not with_nul:  # the quirk must show up in every demo, even a one-day one
        with_nul.add(len(jobs) - 1)

    base = Path(landing_root) / "machine_logs"
    written: list[Path] = []
    for i, (day, centre) in enumerate(jobs):
        data = generate_day(
            centre,
            day,
            _file_rng(seed, centre, day),
            malformed=malformed_per_file,
            nul_bytes=i in with_nul,
        )
        path = base / centre / f"{day:%Y%m%d}.LOG"
        _atomic_write(path, data)
        path.with_name(path.name + ".part").unlink(missing_ok=True)
        written.append(path)

    if with_partial_upload:
        centre = PARTIAL_UPLOAD_CENTRE if PARTIAL_UPLOAD_CENTRE in centres else centres[0]
        today = end + dt.timedelta(days=1)
        rng = _file_rng(seed, centre, today, ":partial")
        full = generate_day(centre, today, rng, malformed=malformed_per_file)
        partial = full[: int(len(full) * rng.uniform(0.3, 0.7))]  # cut anywhere, even mid-line
        path = base / centre / f"{today:%Y%m%d}.LOG.part"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(partial)  # deliberately not atomic: it *is* the in-progress temp name
        written.append(path)
    return written


def lines_for_benchmark(
    total_lines: int, lines_per_file: int = 7000, seed: int = 1
) -> Iterator[tuple[str, bytes]]:
    """Yield ``(relative_path, content)`` for day files totalling about ``total_lines`` lines.

    Files are spread over many centres (``C001``…) and consecutive working days from 2024-01-01, each
    with the usual quirks (2 malformed lines, NULs in about a fifth). ``lines_per_file`` beyond a real
    day's ~1,000 lines compresses the cycle time (at most ~12,000). Nothing is written to disk.
    """
    if total_lines <= 0:
        return
    per_file_pieces = max(2, round((lines_per_file - _ESTIMATED_OVERHEAD_LINES) / 1.02))
    n_files = max(1, math.ceil(total_lines / lines_per_file))
    n_centres = min(999, max(1, math.isqrt(n_files)))
    centres = [f"C{i:03d}" for i in range(1, n_centres + 1)]
    day = dt.date(2024, 1, 1)
    produced = 0
    while True:
        if day.weekday() != 6:
            for centre in centres:
                rng = _file_rng(seed, centre, day)
                remaining = total_lines - produced
                pieces = per_file_pieces
                if remaining < lines_per_file:
                    pieces = max(2, round((remaining - _ESTIMATED_OVERHEAD_LINES) / 1.02))
                data = generate_day(
                    centre, day, rng, malformed=2, nul_bytes=rng.random() < _NUL_SHARE, pieces=pieces
                )
                produced += data.count(b"\n")
                yield f"machine_logs/{centre}/{day:%Y%m%d}.LOG", data
                if produced >= total_lines:
                    return
        day += dt.timedelta(days=1)


def _parse_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a YYYY-MM-DD date: {text!r}") from exc


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: ``python -m factory_assets.demo.machine_logs --landing DIR --days N --seed S [--end DATE]``."""
    parser = argparse.ArgumentParser(
        prog="python -m factory_assets.demo.machine_logs",
        description="Write synthetic machining-centre log files into a landing folder.",
    )
    parser.add_argument("--landing", type=Path, required=True, help="landing-zone root folder")
    parser.add_argument("--days", type=int, default=7, help="number of calendar days (default 7)")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument(
        "--end", type=_parse_date, default=None, help="last day, YYYY-MM-DD (default yesterday)"
    )
    parser.add_argument(
        "--centres",
        default=",".join(DEFAULT_CENTRES),
        help="comma-separated centre names (default %(default)s)",
    )
    parser.add_argument("--malformed", type=int, default=2, help="malformed lines per file (default 2)")
    parser.add_argument("--no-partial", action="store_true", help="do not write the in-progress .part file")
    parser.add_argument("--with-sundays", action="store_true", help="also produce on Sundays")
    args = parser.parse_args(argv)
    if args.days < 1:
        parser.error("--days must be >= 1")
    centres = tuple(c.strip() for c in args.centres.split(",") if c.strip())
    if not centres:
        parser.error("--centres is empty")

    paths = write_machine_logs(
        args.landing,
        days=args.days,
        end=args.end,
        centres=centres,
        seed=args.seed,
        malformed_per_file=args.malformed,
        with_partial_upload=not args.no_partial,
        skip_sundays=not args.with_sundays,
    )
    total_bytes = 0
    for path in paths:
        size = path.stat().st_size
        total_bytes += size
        note = "  (upload in progress, ignored by the platform)" if path.name.endswith(".part") else ""
        print(f"{path.relative_to(args.landing).as_posix()}  {size:>9,d} B{note}")
    print(f"{len(paths)} file(s), {total_bytes:,d} bytes under {args.landing}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
