"""The data-quality summary asset: pure helpers (totals, top reasons, table, chart) and one
materialisation against a real PostgreSQL database holding a hand-filled
``marts.data_quality_daily``, checking the metadata table, the totals and the PNG chart."""

from __future__ import annotations

import base64
import re
from datetime import date
from decimal import Decimal

import dagster as dg
import psycopg

from factory_assets.data_quality import report
from factory_assets.data_quality.definitions import SUMMARY, data_quality_summary, definitions
from factory_assets.data_quality.report import QualityRow
from resources.warehouse import WarehouseResource

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
D = date.fromisoformat

ROWS = [
    QualityRow(D("2026-03-02"), "machine_logs", "bad_timestamp", 4, 200),
    QualityRow(D("2026-03-10"), "machine_logs", "bad_timestamp", 6, 300),
    QualityRow(D("2026-03-10"), "machine_logs", "file_quarantined", 1, 4),
    QualityRow(D("2026-03-15"), "plant", "NULL_KEY", 2, 50),
    QualityRow(D("2026-03-31"), "logistics_visits", "unparseable_date", 3, None),
    # one day with a known denominator, one without: the share uses the known day only
    QualityRow(D("2026-03-05"), "oltp", "INSUFFICIENT_STOCK", 1, 8),
    QualityRow(D("2026-03-06"), "oltp", "INSUFFICIENT_STOCK", 5, None),
]


# --- pure helpers --------------------------------------------------------------------------------


def test_reason_totals_sum_rows_and_share_over_days_with_a_known_denominator():
    totals = {(t.source, t.reason): t for t in report.reason_totals(ROWS)}
    ml = totals[("machine_logs", "bad_timestamp")]
    assert (ml.rejected_rows, ml.days, ml.rows_in) == (10, 2, 500)
    assert ml.share == Decimal("0.02")  # (4 + 6) / (200 + 300)
    oltp = totals[("oltp", "INSUFFICIENT_STOCK")]
    assert (oltp.rejected_rows, oltp.rows_in) == (6, 8)
    assert oltp.share == Decimal("0.125")  # 1 / 8: the 5 rows of a day without rows_in are left out
    assert totals[("logistics_visits", "unparseable_date")].share is None


def test_top_reasons_by_rejected_rows_then_name():
    totals = report.reason_totals(ROWS)
    assert [t.label for t in totals] == [
        "machine_logs: bad_timestamp",  # 10
        "oltp: INSUFFICIENT_STOCK",  # 6
        "logistics_visits: unparseable_date",  # 3
        "plant: NULL_KEY",  # 2
        "machine_logs: file_quarantined",  # 1
    ]
    assert report.top_reasons(totals, 2) == ["machine_logs: bad_timestamp", "oltp: INSUFFICIENT_STOCK"]


def test_other_row_counts_the_days_of_any_of_its_reasons():
    rows = [
        QualityRow(D("2026-03-02"), "plant", "NULL_KEY", 5, 10),
        QualityRow(D("2026-03-02"), "plant", "FUTURE_DATE", 1, 10),
        QualityRow(D("2026-03-03"), "plant", "FUTURE_DATE", 1, 10),
        QualityRow(D("2026-03-04"), "plant", "NEGATIVE_VALUES", 1, 20),
    ]
    assert report.table_rows(report.reason_totals(rows), per_source=1) == [
        ("plant", "NULL_KEY", 5, 10, "50.00 %", 1),
        ("plant", "other (2 reasons)", 3, None, "—", 3),  # on 03-02, 03-03, 03-04
    ]


def test_table_rows_group_by_source_with_an_other_row():
    rows = report.table_rows(report.reason_totals(ROWS), per_source=1)
    assert rows == [
        ("machine_logs", "bad_timestamp", 10, 500, "2.00 %", 2),
        ("machine_logs", "other (1 reasons)", 1, None, "—", 1),
        ("oltp", "INSUFFICIENT_STOCK", 6, 8, "12.50 %", 2),
        ("logistics_visits", "unparseable_date", 3, None, "n/a", 1),
        ("plant", "NULL_KEY", 2, 50, "4.00 %", 1),
    ]


def test_format_share_never_shows_a_rejection_as_zero():
    assert report.format_share(Decimal("0.01875")) == "1.88 %"
    assert report.format_share(Decimal(1) / Decimal(10_000_000)) == "<0.01 %"
    assert report.format_share(Decimal(0)) == "0.00 %"
    assert report.format_share(None) == "n/a"


def test_markdown_table_escapes_pipes_and_says_when_empty():
    md = report.markdown_table([("toy", "bad|value", 2, None, "n/a", 1)])
    assert md.splitlines()[2] == "| toy | bad\\|value | 2 |  | n/a | 1 |"
    assert "no rejection in the window" in report.markdown_table([])


def test_chart_series_cover_every_day_and_lump_the_rest_into_other():
    first, last = report.window(D("2026-03-31"), 30)
    assert (first, last) == (D("2026-03-02"), D("2026-03-31"))
    outside = QualityRow(D("2026-03-01"), "machine_logs", "bad_timestamp", 100, 100)
    days, series = report.chart_series([*ROWS, outside], first, last, ["machine_logs: bad_timestamp"])
    assert len(days) == 30 and days[0] == first and days[-1] == last
    assert list(series) == ["machine_logs: bad_timestamp", "other"]
    ml = series["machine_logs: bad_timestamp"]
    assert ml[0] == 4 and ml[8] == 6 and sum(ml) == 10  # 03-01 is outside the window
    assert sum(series["other"]) == 1 + 2 + 3 + 1 + 5
    _, only_top = report.chart_series(ROWS[:2], first, last, ["machine_logs: bad_timestamp"])
    assert list(only_top) == ["machine_logs: bad_timestamp"]  # no empty "other" series


def test_render_chart_is_a_png():
    first, last = report.window(D("2026-03-31"), 30)
    days, series = report.chart_series(ROWS, first, last, ["machine_logs: bad_timestamp"])
    png = report.render_chart_png(days, series, "test")
    assert png.startswith(PNG_MAGIC)
    empty = report.render_chart_png(days, {}, "nothing")
    assert empty.startswith(PNG_MAGIC)
    md = report.png_markdown(png, "alt")
    assert md.startswith("![alt](data:image/png;base64,")
    assert base64.b64decode(md.split(",", 1)[1].rstrip(")")) == png


# --- the asset on a real warehouse ---------------------------------------------------------------

MART_DDL = """
CREATE SCHEMA marts;
CREATE TABLE marts.data_quality_daily (
    day date NOT NULL, source text NOT NULL, reason text NOT NULL, rejected_rows bigint NOT NULL,
    file_versions bigint NOT NULL, rows_in bigint, share_of_rows numeric,
    PRIMARY KEY (day, source, reason))
"""
MART_ROWS = [
    ("2026-03-01", "machine_logs", "bad_timestamp", 100, 1, 1000),  # before the window
    ("2026-03-02", "machine_logs", "bad_timestamp", 4, 1, 200),
    ("2026-03-10", "machine_logs", "bad_timestamp", 6, 2, 300),
    ("2026-03-10", "machine_logs", "file_quarantined", 1, 1, 4),
    ("2026-03-15", "plant", "NULL_KEY", 2, 0, 50),
    ("2026-03-31", "logistics_visits", "unparseable_date", 3, 1, None),
    ("2026-04-01", "plant", "NULL_KEY", 9, 0, 10),  # after the window
]


def _materialize(url: str, **config) -> dg.MaterializeResult:
    result = dg.materialize(
        [data_quality_summary],
        resources={"warehouse": WarehouseResource(url=url)},
        run_config={"ops": {SUMMARY.to_python_identifier(): {"config": config}}},
        raise_on_error=False,
    )
    return result


def test_summary_asset_reads_the_mart_and_emits_table_totals_and_chart(factory_env):
    url = factory_env["warehouse_url"]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(MART_DDL)
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO marts.data_quality_daily VALUES (%s, %s, %s, %s, %s, %s,"
                " CASE WHEN %s::bigint > 0 THEN %s::numeric / %s::bigint END)",
                [(*r, r[5], r[3], r[5]) for r in MART_ROWS],
            )

    result = _materialize(url, as_of_date="2026-03-31", per_source=1)
    assert result.success
    meta = result.asset_materializations_for_node(SUMMARY.to_python_identifier())[0].metadata

    assert meta["window"].value == "2026-03-02 .. 2026-03-31 (Europe/Paris)"
    assert meta["total_rejected_rows"].value == 4 + 6 + 1 + 2 + 3
    assert meta["sources_with_rejections"].value == 3
    assert meta["reasons"].value == 4
    assert meta["days_with_rejections"].value == 4  # 03-02, 03-10, 03-15, 03-31

    lines = meta["top_reasons"].value.splitlines()
    assert lines[0] == "| source | reason | rejected rows | rows in | share | days |"
    assert lines[2:] == [
        "| machine_logs | bad_timestamp | 10 | 500 | 2.00 % | 2 |",  # (4 + 6) / (200 + 300)
        "| machine_logs | other (1 reasons) | 1 |  | — | 1 |",  # the quarantined file
        "| logistics_visits | unparseable_date | 3 |  | n/a | 1 |",
        "| plant | NULL_KEY | 2 | 50 | 4.00 % | 1 |",
    ]

    chart = meta["chart"].value
    m = re.fullmatch(r"!\[[^\]]*\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", chart)
    assert m, chart[:80]
    png = base64.b64decode(m.group(1), validate=True)
    assert png.startswith(PNG_MAGIC)
    written = factory_env["home"] / "reports" / "data_quality_daily.png"
    assert meta["chart_path"].value == str(written)
    assert written.read_bytes() == png


def test_cli_summary_lines_show_the_share(factory_env):
    from factory_assets.summary import data_quality_lines

    url = factory_env["warehouse_url"]
    with psycopg.connect(url, autocommit=True) as conn:
        assert data_quality_lines(conn) == []  # no mart yet
        conn.execute(MART_DDL)
        conn.execute(
            "INSERT INTO marts.data_quality_daily VALUES"
            " ('2026-03-02', 'plant', 'NULL_KEY', 2, 0, 5, 0.4),"
            " ('2026-03-03', 'plant', 'NULL_KEY', 1, 0, 20, 0.05),"
            " ('2026-03-03', 'toy', 'bad_value', 1, 1, NULL, NULL)"
        )
        assert data_quality_lines(conn)[1:] == [
            "  plant  NULL_KEY  3  (12.00 %)",  # (2 + 1) / (5 + 20)
            "  toy  bad_value  1  (n/a)",
        ]


def test_summary_asset_fails_clearly_before_the_mart_exists(factory_env):
    result = _materialize(factory_env["warehouse_url"], as_of_date="2026-03-31")
    assert not result.success
    failure = result.failure_data_for_node(SUMMARY.to_python_identifier())
    assert "marts.data_quality_daily does not exist yet" in str(failure.error)


def test_definitions_schedule_the_summary_daily_in_plant_time(monkeypatch):
    monkeypatch.setenv("FACTORY_TIMEZONE", "Europe/Paris")
    defs = definitions()
    (schedule,) = defs.schedules
    assert schedule.cron_schedule == "0 7 * * *"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    assert schedule.job_name == "data_quality_summary_job"
    assert schedule.execution_timezone == "Europe/Paris"
