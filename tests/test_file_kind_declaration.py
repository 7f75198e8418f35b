"""A new file kind is a declaration: a toy CSV kind, declared here and nowhere else, ingests end to
end through the shared factory: sensor -> run -> ledger -> rows -> rejects -> conservation check
-> marts.data_quality_daily. Nothing outside this file knows it."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import psycopg

from factory_assets.ingest.copy import copy_rows
from factory_assets.ingest.definitions import ingest_definitions
from factory_assets.ingest.factory import file_kind_definitions
from factory_assets.ingest.kinds import BadName, Classified, FileKind, LoadContext, LoadCounts
from factory_assets.ingest.streams import iter_line_batches
from factory_assets.resources_config import build_resources
from tests.dbt_harness import rows as dbt_rows
from tests.dbt_harness import run_dbt

# --- the whole declaration of the toy kind -------------------------------------------------------

TOY_DDL = """CREATE TABLE raw.toy__readings (
    file_version_id bigint NOT NULL REFERENCES raw.ingest_ledger (id),
    line_no integer NOT NULL, sensor text NOT NULL, value numeric NOT NULL)"""


def classify(path: str) -> Classified:
    if not path.endswith(".csv"):
        raise BadName(f"expected toy/<name>.csv, got {path!r}")
    return Classified(partition_key=None, logical_key=path)


def load_toy(ctx: LoadContext) -> LoadCounts:
    """``sensor;value`` lines; a value that is not a number is rejected with its line."""
    good, rows_in, blank = [], 0, 0
    for batch in iter_line_batches(ctx.stream, max_line_bytes=ctx.kind.max_line_bytes):
        for line in batch:
            rows_in += 1
            if not line.strip():
                blank += 1
                continue
            sensor, _, value = line.partition(";")
            try:
                good.append((ctx.version.ledger_id, rows_in, sensor, float(value)))
            except ValueError:
                ctx.rejects.add(rows_in, "bad_value", f"{value!r} is not a number", line)
    copy_rows(ctx.cur, "raw.toy__readings", ("file_version_id", "line_no", "sensor", "value"), good)
    return LoadCounts(rows_in, len(good), ctx.rejects.count, rows_skipped=blank)


TOY = FileKind(
    source="toy",
    prefix="toy",
    classify=classify,
    load=load_toy,
    tables=("readings",),
    description="Toy sensor readings (test only).",
    replace="version",
    version_tables=("readings",),
    present_rows_sql="SELECT file_version_id, count(*) FROM raw.toy__readings "
    "WHERE file_version_id = ANY(%(ids)s) GROUP BY 1",
)

# -------------------------------------------------------------------------------------------------


def _tick_and_run(defs: dg.Definitions, instance: dg.DagsterInstance) -> list[dg.ExecuteInProcessResult]:
    sensor = defs.sensors[0]
    with dg.build_sensor_context(instance=instance, resources=build_resources()) as ctx:
        result = sensor(ctx)
    job = defs.resolve_job_def("toy_refresh_job")  # what the sensor starts
    return [
        job.execute_in_process(run_config=r.run_config, instance=instance, tags=r.tags, raise_on_error=False)
        for r in result.run_requests
    ]


def test_a_toy_file_kind_ingests_end_to_end_from_its_declaration_alone(factory_env, tmp_path: Path):
    url = factory_env["warehouse_url"]
    dbname = url.rsplit("/", 1)[1]
    # the kind's raw table: part of the test's own set-up, like a migration of a real domain
    from factory_assets.ingest.migrate import migrate

    with psycopg.connect(url, autocommit=True) as conn:
        migrate(conn)
        conn.execute(TOY_DDL)

    landing = factory_env["landing"]
    (landing / "toy").mkdir()
    (landing / "toy" / "a.csv").write_text("t1;20.5\nt2;oops\n\nt3;19\n")
    (landing / "toy" / "b.csv").write_text("t1;21\n")
    (landing / "toy" / "readme.txt").write_text("not a csv")

    defs = dg.Definitions.merge(
        ingest_definitions(), file_kind_definitions(TOY), dg.Definitions(resources=build_resources())
    )
    instance = dg.DagsterInstance.ephemeral()
    runs = _tick_and_run(defs, instance)
    assert len(runs) == 1 and runs[0].success
    checks = runs[0].get_asset_check_evaluations()
    assert [(c.check_name, c.passed) for c in checks] == [("rows_conserved", True)]

    with psycopg.connect(url) as conn:
        ledger = conn.execute(
            "SELECT path, status, rows_in, rows_loaded, rows_rejected, rows_skipped, error "
            "FROM raw.ingest_ledger ORDER BY path"
        ).fetchall()
        assert ledger[0][:6] == ("toy/a.csv", "loaded", 4, 2, 1, 1)
        assert ledger[1][:6] == ("toy/b.csv", "loaded", 1, 1, 0, 0)
        assert ledger[2][1] == "quarantined" and ledger[2][6].startswith("bad_file_name")
        assert conn.execute("SELECT count(*) FROM raw.toy__readings").fetchone()[0] == 3
        assert conn.execute("SELECT item_no, reason, raw_text FROM raw.ingest_rejects").fetchall() == [
            (2, "bad_value", "t2;oops")
        ]

    # The same tick again asks for nothing; a corrected a.csv replaces a.csv's rows and rejects.
    assert _tick_and_run(defs, instance) == []
    (landing / "toy" / "a.csv").write_text("t1;20.5\nt2;20.7\nt3;19\n")
    os.utime(landing / "toy" / "a.csv", (2_000_000_000, 2_000_000_000))
    runs = _tick_and_run(defs, instance)
    assert len(runs) == 1 and runs[0].success
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM raw.toy__readings").fetchone()[0] == 4
        assert conn.execute("SELECT count(*) FROM raw.ingest_rejects").fetchone()[0] == 0
        assert conn.execute(
            "SELECT status FROM raw.ingest_ledger WHERE path = 'toy/a.csv' ORDER BY id"
        ).fetchall() == [("superseded",), ("loaded",)]
        # one more bad row in a third file, to see it in the data-quality mart
    (landing / "toy" / "c.csv").write_text("t9;NaNx\n")
    assert all(r.success for r in _tick_and_run(defs, instance))

    run_dbt(dbname, tmp_path, "run", select="+data_quality_daily")
    quality = dbt_rows(
        dbname,
        "SELECT reason, rejected_rows, file_versions FROM marts.data_quality_daily WHERE source = 'toy'",
    )
    assert sorted((r["reason"], r["rejected_rows"], r["file_versions"]) for r in quality) == [
        ("bad_value", 1, 1),
        ("file_quarantined", 1, 1),
    ]
