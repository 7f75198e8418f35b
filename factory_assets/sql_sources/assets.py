"""One Dagster asset per SQL source table (key ``[source, table]``, group = source).

Materialising an asset runs :func:`~factory_assets.sql_sources.sync.sync_table` for its table; the
watermark lives in ``raw.sync_state``, so a hand-started run, a scheduled run and a retry all
continue from the same place. Failures are split in two: a source that is down or drops the
connection is retried by the asset's :class:`~dagster.RetryPolicy` (exponential backoff), while a
configuration or schema problem (no URL, a key that changed, a refused snapshot) fails at once with
the reason, since retrying cannot fix it.

Each asset carries an asset check ``rows_conserved``: rows read = inserted + updated + unchanged +
rejected (NULL key) + duplicates, and after a snapshot the mirror holds exactly the keys read. Rows
loaded with a converted dirty value (NUL removed, zero date -> NULL) count as loaded; the
conversions are in the ``conversions`` metadata. A value that cannot load at all
(:class:`~factory_assets.sql_sources.sync.UnloadableValue`) fails at once, naming table, column and
row key.
"""

import os

import dagster as dg
import psycopg

from factory_assets.ingest.migrate import ensure_schema
from factory_assets.sql_sources.mapping import SchemaMismatch
from factory_assets.sql_sources.sync import (
    SnapshotGuard,
    SyncResult,
    UnloadableValue,
    mirror_data_version,
    sync_table,
)
from factory_assets.sql_sources.tables import SOURCES, TABLES, TableSpec
from factory_assets.tags import SOURCE_TAG
from resources.embedded import EmbeddedNotRunning
from resources.sql_source import (
    SourceNotConfigured,
    SourceUnavailable,
    SqlSourceResource,
    timezone_variable,
    url_variable,
)
from resources.warehouse import WarehouseResource

DEFAULT_RETRY_POLICY = dg.RetryPolicy(
    max_retries=3, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)
CHECK_NAME = "rows_conserved"
# Configuration, schema and data problems: a retry cannot fix them, so fail at once with the reason.
NOT_RETRIABLE = (
    SourceNotConfigured,
    SchemaMismatch,
    SnapshotGuard,
    UnloadableValue,
    EmbeddedNotRunning,
    ValueError,
    psycopg.DataError,
)


def resource_key(source: str) -> str:
    """Resource key of a source: ``erp_db``, ``mes_db``, ``plant_db``, ``oltp_db``."""
    return f"{source}_db"


def sql_source_resources() -> dict[str, SqlSourceResource]:
    """One resource per source; a configured URL or time zone is injected as ``EnvVar`` (resolved at
    run time, never shown in the UI), an unset one falls back to the documented default."""

    def env(name: str) -> dg.EnvVar | None:
        return dg.EnvVar(name) if os.environ.get(name) else None

    return {
        resource_key(s): SqlSourceResource(
            source=s, url=env(url_variable(s)), timezone=env(timezone_variable(s))
        )
        for s in SOURCES
    }


def result_metadata(result: SyncResult, source: SqlSourceResource) -> dict:
    meta = {
        "source_url": source.display_url(),
        "mode": result.mode,
        "reader": result.reader,
        "rows_read": result.rows_read,
        "rows_upserted": result.rows_upserted,
        "rows_inserted": result.rows_inserted,
        "rows_updated": result.rows_updated,
        "rows_unchanged": result.rows_unchanged,
        "rows_deleted": result.rows_deleted,
        "rows_rejected": result.rows_rejected,
        "rows_duplicate": result.rows_duplicate,
        "null_cursor_rows": result.null_cursor_rows,
        "watermark": result.watermark or "",
        "batches": result.batches,
        "seconds": result.seconds,
        "warnings": dg.MetadataValue.json(result.warnings),
        "conversions": dg.MetadataValue.json(result.conversions),
    }
    if result.rows_total is not None:
        meta["dagster/row_count"] = result.rows_total
    return meta


def build_sql_source_asset(spec: TableSpec, retry_policy: dg.RetryPolicy | None = DEFAULT_RETRY_POLICY):
    key = resource_key(spec.source)
    what = f"cursor `{spec.cursor}`" if spec.cursor else "full snapshot, deletions detected"

    @dg.asset(
        key=spec.asset_key,
        group_name=spec.source,
        kinds={"sql", "postgres"},
        description=f"{spec.raw_table}: mirror of {spec.source} table `{spec.table}` ({spec.mode}, {what}). "
        f"{spec.description}",
        metadata={
            "table": spec.raw_table,
            "source_table": spec.table,
            "mode": spec.mode,
            "cursor": spec.cursor or "",
        },
        required_resource_keys={"warehouse", key},
        retry_policy=retry_policy,
        op_tags={SOURCE_TAG: spec.source},
        check_specs=[
            dg.AssetCheckSpec(
                CHECK_NAME,
                asset=spec.asset_key,
                description="rows read = inserted + updated + unchanged + rejected + duplicates; after a "
                "snapshot the mirror holds exactly the keys read.",
            )
        ],
    )
    def _sync(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        source: SqlSourceResource = getattr(context.resources, key)
        warehouse: WarehouseResource = context.resources.warehouse
        try:
            source.resolved_url()  # fail fast on a missing URL, before touching the warehouse
            ensure_schema(warehouse)
            with warehouse.connection() as conn:
                result = sync_table(spec, source, conn, run_id=context.run_id, logger=context.log)
                version = mirror_data_version(conn, spec.source, spec.name)
        except NOT_RETRIABLE as exc:
            raise dg.Failure(description=f"{spec.source}.{spec.table}: {exc}", allow_retries=False) from None
        except SourceUnavailable as exc:
            raise dg.Failure(description=str(exc), allow_retries=True) from None
        context.log.info(
            f"{spec.source}.{spec.table}: read {result.rows_read}, inserted {result.rows_inserted}, "
            f"updated {result.rows_updated}, deleted {result.rows_deleted}, null cursor {result.null_cursor_rows} "
            f"in {result.seconds:.1f} s ({result.reader})"
        )
        return dg.MaterializeResult(
            metadata=result_metadata(result, source),
            # unchanged when the sync changed no row: see mirror_data_version and
            # factory_assets.dbt_assets.any_deps_changed
            data_version=dg.DataVersion(version),
            check_results=[
                dg.AssetCheckResult(
                    check_name=CHECK_NAME,
                    passed=result.conserved,
                    metadata={
                        k: v
                        for k, v in result.as_dict().items()
                        if (k.startswith("rows_") or k in ("raw_rows", "null_cursor_rows")) and v is not None
                    },
                )
            ],
        )

    return _sync


def build_sql_source_assets(
    retry_policy: dg.RetryPolicy | None = DEFAULT_RETRY_POLICY,
) -> list[dg.AssetsDefinition]:
    """Every SQL source table as an asset (DESIGN.md §6.8, §7)."""
    return [build_sql_source_asset(spec, retry_policy) for spec in TABLES]
