"""The plant's working days, and time measured in working-day hours.

A machining centre writes no log on a Saturday: "no new file for 26 h" is only an alarm when the
26 hours are hours of working days. :func:`working_hours_between` counts the part of an interval
that falls on working days of the plant's calendar (local dates in ``FACTORY_TIMEZONE``, so a
daylight-saving day counts 23 or 25 hours, as the clock on the shop floor does).
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_WORKING_DAYS = "mon-fri"
MAX_DAYS = 3660  # an interval longer than ten years is stale anyway: counting stops there


def parse_working_days(text: str) -> frozenset[int]:
    """``"mon-fri"``, ``"Mon,Tue,Sat"``, ``"mon-sun"``, ``"sun-thu"`` -> ISO weekday numbers (1 = Monday)."""
    days: set[int] = set()
    for part in text.replace(" ", "").lower().split(","):
        if not part:
            continue
        first, sep, last = part.partition("-")
        try:
            a = DAY_NAMES.index(first[:3]) + 1
            b = DAY_NAMES.index(last[:3]) + 1 if sep else a
        except ValueError:
            raise ValueError(
                f"FACTORY_WORKING_DAYS: cannot read {part!r}; use day names such as 'mon-fri' or 'mon,tue,sat'"
            ) from None
        d = a
        while True:
            days.add(d)
            if d == b:
                break
            d = d % 7 + 1  # ranges may wrap around the week (sun-thu)
    if not days:
        raise ValueError("FACTORY_WORKING_DAYS names no day")
    return frozenset(days)


def working_days() -> frozenset[int]:
    """``FACTORY_WORKING_DAYS`` (default Monday to Friday)."""
    return parse_working_days(os.environ.get("FACTORY_WORKING_DAYS") or DEFAULT_WORKING_DAYS)


def _local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """Local midnight as a UTC instant (arithmetic between two datetimes of one ``ZoneInfo`` is
    wall-clock arithmetic in Python, which would make every day 24 h long)."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def working_hours_between(start: datetime, end: datetime, tz: str, days: frozenset[int]) -> float:
    """Hours of ``[start, end)`` that fall on working days (plant-local dates). Aware datetimes."""
    if end <= start:
        return 0.0
    zone = ZoneInfo(tz)
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    first = start.astimezone(zone).date()
    last = end.astimezone(zone).date()
    if (last - first).days > MAX_DAYS:
        first = last - timedelta(days=MAX_DAYS)
        start = _local_midnight(first, zone)
    total = 0.0
    day = first
    while day <= last:
        if day.isoweekday() in days:
            lo = max(start, _local_midnight(day, zone))
            hi = min(end, _local_midnight(day + timedelta(days=1), zone))
            if hi > lo:
                total += (hi - lo).total_seconds()
        day += timedelta(days=1)
    return total / 3600.0
