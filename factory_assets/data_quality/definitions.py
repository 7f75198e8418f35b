"""The daily data-quality summary asset: ``marts.data_quality_daily`` over the last 30 plant-local
days, as a Markdown table (top reasons per source with rejected rows and share), totals and a
stacked-bar chart of rejected rows per day and reason, embedded in the asset's metadata (and
written to ``$FACTORY_HOME/reports/data_quality_daily.png``).

Automation: a daily schedule (07:00 plant time), not ``eager()``. The mart is rebuilt by the
dbt automation after every sync and every file drop (every 15 minutes when the MES syncs), and a
30-day chart by day gains nothing from being redrawn that often, while each run costs a slot of
the run queue on a small plant server. 07:00 follows the nightly OLTP sync (02:00) and the dbt
rebuild it triggers; the asset can also be materialised by hand at any time.
"""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import dagster as dg
import psycopg

from factory_assets.data_quality import report
from factory_assets.tags import PHASE_TAG
from resources import settings
from resources.warehouse import WarehouseResource

MART = dg.AssetKey(["marts", "data_quality_daily"])
SUMMARY = dg.AssetKey(["data_quality_summary"])
CHART_FILE = "reports/data_quality_daily.png"  # under $FACTORY_HOME
SCHEDULE_CRON = "0 7 * * *"

QUERY = """
SELECT day, source, reason, rejected_rows, rows_in
  FROM marts.data_quality_daily
 WHERE day BETWEEN %(first)s AND %(last)s
 ORDER BY day, source, reason
"""


class SummaryConfig(dg.Config):
    as_of_date: str = ""  # YYYY-MM-DD, last day of the window; empty = plant-local today
    days: int = 30
    top_reasons: int = 8  # coloured series in the chart; the rest is "other"
    per_source: int = 5  # table rows per source before its "other" row


def read_rows(conn: psycopg.Connection, first: date, last: date) -> list[report.QualityRow]:
    try:
        rows = conn.execute(QUERY, {"first": first, "last": last}).fetchall()
    except psycopg.errors.UndefinedTable:
        raise dg.Failure(
            "marts.data_quality_daily does not exist yet: build the dbt models first "
            "(the dbt_build job, or `factory materialize`)"
        ) from None
    return [report.QualityRow(d, s, r, int(n), None if rin is None else int(rin)) for d, s, r, n, rin in rows]


@dg.asset(
    key=SUMMARY,
    deps=[MART],
    group_name="data_quality",
    kinds={"python", "postgres"},
    description="Daily data-quality summary: marts.data_quality_daily over the last 30 days "
    "(top reasons per source, shares, chart of rejected rows per day and reason).",
)
def data_quality_summary(
    context: dg.AssetExecutionContext, config: SummaryConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    tz = ZoneInfo(settings.plant_timezone())
    as_of = date.fromisoformat(config.as_of_date) if config.as_of_date else datetime.now(tz).date()
    first, last = report.window(as_of, config.days)
    with warehouse.connection() as conn:
        rows = read_rows(conn, first, last)

    totals = report.reason_totals(rows)
    table = report.table_rows(totals, config.per_source)
    top = report.top_reasons(totals, config.top_reasons)
    days, series = report.chart_series(rows, first, last, top)
    png = report.render_chart_png(
        days, series, f"Rejected rows per day and reason, {first:%d %b %Y} to {last:%d %b %Y}"
    )
    path = settings.factory_home() / CHART_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png)
    context.log.info(f"{len(rows)} rows of marts.data_quality_daily from {first} to {last}; chart at {path}")

    rejected = sum(r.rejected_rows for r in rows)
    return dg.MaterializeResult(
        metadata={
            "window": dg.MetadataValue.text(f"{first} .. {last} ({settings.plant_timezone()})"),
            "total_rejected_rows": dg.MetadataValue.int(rejected),
            "sources_with_rejections": dg.MetadataValue.int(len({r.source for r in rows})),
            "reasons": dg.MetadataValue.int(len(totals)),
            "days_with_rejections": dg.MetadataValue.int(len({r.day for r in rows})),
            "top_reasons": dg.MetadataValue.md(report.markdown_table(table)),
            "chart": dg.MetadataValue.md(report.png_markdown(png, "rejected rows per day and reason")),
            "chart_path": dg.MetadataValue.path(str(path)),
        }
    )


data_quality_summary_job = dg.define_asset_job(
    "data_quality_summary_job",
    selection=dg.AssetSelection.assets(SUMMARY),
    tags={PHASE_TAG: "report"},
    description="Redraw the data-quality summary from marts.data_quality_daily.",
)


def definitions() -> dg.Definitions:
    schedule = dg.ScheduleDefinition(
        name="data_quality_summary_schedule",
        cron_schedule=SCHEDULE_CRON,
        job=data_quality_summary_job,
        execution_timezone=settings.plant_timezone(),
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"data-quality summary of the last 30 days ({SCHEDULE_CRON}, plant time)",
    )
    return dg.Definitions(
        assets=[data_quality_summary], jobs=[data_quality_summary_job], schedules=[schedule]
    )
