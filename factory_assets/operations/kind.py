"""Operation drops as a file kind (DESIGN.md §5, §6.4, §9): ``operations/<anything>.json``.

A drop is a JSON array of forging / CNC operation records, dropped into the landing zone by
SFTP, a shared folder, or the HTTP gateway (``POST /v1/operations`` writes the same kind of file).
Unpartitioned (DESIGN.md §8): a drop is about whatever orders it names, not about one day.
Everything else — ledger, streaming, archive, sensor, retries, shared rejects, row conservation —
comes from ``factory_assets.ingest``.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from factory_assets.ingest.kinds import BadName, Classified, FileKind
from factory_assets.operations.loader import SOURCE, TABLES, load_operations

PREFIX = "operations"
MAX_FILE_BYTES = 16 << 20  # FACTORY_OPERATIONS_MAX_FILE_MB overrides; the gateway's body limit too
CODE_VERSION = "1"  # bump when validation rules change: loaded drops are re-validated


def classify(path: str) -> Classified:
    """Any ``*.json`` below ``operations/`` (sub-folders allowed); each file is its own key."""
    if PurePosixPath(path).suffix.lower() != ".json":
        raise BadName(f"expected {PREFIX}/<name>.json (a JSON array of operation records), got {path!r}")
    return Classified(partition_key=None, logical_key=path)


OPERATIONS = FileKind(
    source=SOURCE,
    prefix=PREFIX,
    classify=classify,
    load=load_operations,
    tables=TABLES,
    description="JSON drops operations/<name>.json of forging and CNC operation records (shop-floor apps, "
    "the HTTP gateway): validated records, field-level anomalies; rejected records in raw.ingest_rejects.",
    replace="version",  # a changed drop file replaces the records its previous version loaded
    version_tables=("anomalies", "operations"),
    present_rows_sql="SELECT file_version_id, count(*) FROM raw.operations__operations "
    "WHERE file_version_id = ANY(%(ids)s) GROUP BY 1",
    present_rule="equal",
    files_per_run=50,
    max_file_bytes=MAX_FILE_BYTES,
    code_version=CODE_VERSION,
    check_name="records_conserved",
)
