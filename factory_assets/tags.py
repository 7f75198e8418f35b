"""Tags the whole code location agrees on: run tags (run queue limits in dagster.yaml, CLI phases) and asset tags."""

SOURCE_TAG = "factory/source"  # one run per source at a time: a slow source never blocks another
DBT_TAG = "factory/dbt"  # one dbt build at a time
DBT_RUN_TAGS = {DBT_TAG: "build"}
PHASE_TAG = "factory/phase"  # what `factory materialize` runs first: "ingest" jobs, then "dbt" jobs
# Asset tag (not a run tag) of a dbt model that reads only its own source's rows of the shared
# ledger / reject table: set from the model's meta ``factory_shared_tables: own_source``
# (factory_assets/dbt_assets.py), read by ReadersOfSharedTables (factory_assets/ingest/factory.py).
SHARED_SCOPE_TAG = "factory/shared_tables"
