"""Pure pieces of the data-quality summary: aggregate ``marts.data_quality_daily`` rows, pick the
reasons worth a colour, build the Markdown table and render the chart (PNG).

Nothing here touches the warehouse or Dagster; :mod:`.definitions` reads the rows and emits the
metadata.
"""

from __future__ import annotations

import base64
import io
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

OTHER = "other"


@dataclass(frozen=True)
class QualityRow:
    """One row of marts.data_quality_daily."""

    day: date
    source: str
    reason: str
    rejected_rows: int
    rows_in: int | None


@dataclass(frozen=True)
class ReasonTotal:
    """One (source, reason) over the window."""

    source: str
    reason: str
    rejected_rows: int
    day_set: frozenset[date]  # days with a rejection of this reason
    rejected_with_known_rows_in: int  # rejected rows of the days whose rows_in is known
    rows_in: int | None  # sum of rows_in of those days; None when no day has it

    @property
    def days(self) -> int:
        return len(self.day_set)

    @property
    def label(self) -> str:
        return f"{self.source}: {self.reason}"

    @property
    def share(self) -> Decimal | None:
        """Rejected rows / rows in, over the days whose denominator is known."""
        if not self.rows_in:
            return None
        return Decimal(self.rejected_with_known_rows_in) / Decimal(self.rows_in)


def window(as_of: date, days: int) -> tuple[date, date]:
    """The ``days`` plant-local days ending with ``as_of`` (inclusive): (first, last)."""
    return as_of - timedelta(days=days - 1), as_of


def reason_totals(rows: Iterable[QualityRow]) -> list[ReasonTotal]:
    """Per (source, reason), sorted by rejected rows (descending), then source and reason."""
    acc: dict[tuple[str, str], list] = defaultdict(lambda: [0, set(), 0, None])
    for r in rows:
        a = acc[(r.source, r.reason)]
        a[0] += r.rejected_rows
        a[1].add(r.day)
        if r.rows_in is not None:
            a[2] += r.rejected_rows
            a[3] = (a[3] or 0) + r.rows_in
    totals = [ReasonTotal(s, reason, a[0], frozenset(a[1]), a[2], a[3]) for (s, reason), a in acc.items()]
    return sorted(totals, key=lambda t: (-t.rejected_rows, t.source, t.reason))


def top_reasons(totals: Sequence[ReasonTotal], n: int) -> list[str]:
    """Labels of the ``n`` reasons with the most rejected rows (``totals`` as sorted by
    :func:`reason_totals`); the chart draws every other reason as one "other" series."""
    return [t.label for t in totals[:n]]


def table_rows(
    totals: Sequence[ReasonTotal], per_source: int
) -> list[tuple[str, str, int, int | None, str, int]]:
    """Rows of the Markdown table: per source (sources by rejected rows), its ``per_source``
    top reasons and then one "other (k reasons)" row for the rest (rejected rows and days only).

    Each row: (source, reason, rejected rows, rows in, share as text, days)."""
    by_source: dict[str, list[ReasonTotal]] = defaultdict(list)
    for t in totals:
        by_source[t.source].append(t)
    order = sorted(by_source, key=lambda s: (-sum(t.rejected_rows for t in by_source[s]), s))
    out = []
    for source in order:
        reasons = by_source[source]
        for t in reasons[:per_source]:
            out.append((source, t.reason, t.rejected_rows, t.rows_in, format_share(t.share), t.days))
        rest = reasons[per_source:]
        if rest:
            # No rows in and no share: reasons of one day may share a denominator (adding them
            # would count its rows twice) or not (conversions and rules of one SQL source).
            days = len(frozenset().union(*(t.day_set for t in rest)))  # days with any of them
            out.append(
                (
                    source,
                    f"{OTHER} ({len(rest)} reasons)",
                    sum(t.rejected_rows for t in rest),
                    None,
                    "—",
                    days,
                )
            )
    return out


def format_share(share: Decimal | None) -> str:
    """A share as a percent for people (``0.01875`` -> ``1.88 %``), ``n/a`` when unknown;
    a share below 0.01 % but not zero shows as ``<0.01 %`` rather than a misleading 0."""
    if share is None:
        return "n/a"
    pct = share * 100
    if 0 < pct < Decimal("0.01"):
        return "<0.01 %"
    return f"{pct:.2f} %"


def markdown_table(rows: Sequence[tuple]) -> str:
    """The table rows as Markdown (Dagster renders it in the asset's metadata)."""
    head = "| source | reason | rejected rows | rows in | share | days |\n|---|---|---:|---:|---:|---:|\n"
    if not rows:
        return head + "| — | no rejection in the window | 0 | | | |\n"
    body = "".join(
        f"| {_md(s)} | {_md(r)} | {n} | {'' if rin is None else rin} | {share} | {days} |\n"
        for s, r, n, rin, share, days in rows
    )
    return head + body


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def chart_series(
    rows: Iterable[QualityRow], first: date, last: date, top: Sequence[str]
) -> tuple[list[date], dict[str, list[int]]]:
    """Rejected rows per day (every day of the window, zero when none) for each ``top`` label
    plus "other" (only when some other reason has rejections), in ``top`` order."""
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    index = {d: i for i, d in enumerate(days)}
    series: dict[str, list[int]] = {label: [0] * len(days) for label in top}
    other = [0] * len(days)
    for r in rows:
        i = index.get(r.day)
        if i is None:
            continue
        label = f"{r.source}: {r.reason}"
        (series[label] if label in series else other)[i] += r.rejected_rows
    if any(other):
        series[OTHER] = other
    return days, series


def render_chart_png(days: Sequence[date], series: dict[str, list[int]], title: str) -> bytes:
    """Stacked bars of rejected rows per day, one colour per series, as PNG bytes (matplotlib,
    Agg backend: no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.8), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    x = list(range(len(days)))
    bottom = [0] * len(days)
    tab10 = matplotlib.colormaps["tab10"]
    palette = [tab10(i) for i in range(10) if i != 7]  # tab10 without its grey: grey is "other"
    for k, (label, values) in enumerate(series.items()):
        colour = "#b0b0b0" if label == OTHER else palette[k % len(palette)]
        ax.bar(x, values, bottom=bottom, label=label, color=colour, width=0.8)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    step = max(1, len(days) // 10)
    ax.set_xticks(x[::step], [d.strftime("%d %b") for d in days[::step]])
    ax.set_xlim(-0.6, len(days) - 0.4)
    ax.set_ylabel("rejected rows (file versions for file_*)")
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    if series:
        handles, labels = ax.get_legend_handles_labels()  # listed top to bottom, like the stack
        ax.legend(
            handles[::-1],
            labels[::-1],
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            fontsize=8,
            frameon=False,
        )
    else:
        ax.text(0.5, 0.5, "no rejection in the window", ha="center", va="center", transform=ax.transAxes)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def png_markdown(png: bytes, alt: str) -> str:
    """The PNG embedded in Markdown as a data URI (what Dagster's UI shows inline)."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"
