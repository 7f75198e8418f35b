"""Run tags the whole code location agrees on (run queue limits in dagster.yaml, CLI phases)."""

SOURCE_TAG = "factory/source"  # one run per source at a time: a slow source never blocks another
DBT_TAG = "factory/dbt"  # one dbt build at a time
DBT_RUN_TAGS = {DBT_TAG: "build"}
PHASE_TAG = "factory/phase"  # what `factory materialize` runs first: "ingest" jobs, then "dbt" jobs
