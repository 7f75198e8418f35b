"""The two logistics file kinds (DESIGN.md §5, §6.7): ``logistics/visits/*.csv`` and
``logistics/customers/*.csv``.

Everything particular to them is in these declarations and their loaders; ledger, streaming,
archive, sensor, retries, shared rejects and row conservation come from ``factory_assets.ingest``.

* Unpartitioned (DESIGN.md §8): an export covers any range of dates.
* Two ledger sources (``logistics_visits``, ``logistics_customers``: two jobs, two sensors, one
  run at a time each, so a customers export never waits for a visits export) writing the tables
  of one asset prefix: ``raw.logistics__visits`` ``[logistics, visits]``,
  ``raw.logistics__customers`` ``[logistics, customers]``.
* Replacement: a file's logical key is its path. A corrected export of the same file replaces the
  rows of the version it supersedes (``replace="version"``: they are deleted by file version in
  the same transaction). A visit id present in two different files is kept once by dbt: the row
  of the file loaded last wins (docs/logistics.md).
"""

from __future__ import annotations

from pathlib import PurePosixPath

from factory_assets.ingest.kinds import BadName, Classified, FileKind
from factory_assets.logistics.loader import load_customers, load_visits

LOADER_VERSION = "1"


def _classifier(folder: str):
    def classify(path: str) -> Classified:
        p = PurePosixPath(path)
        if len(p.parts) < 3 or "/".join(p.parts[:2]) != folder:
            raise BadName(f"expected {folder}/<name>.csv, got {path!r}")
        if p.suffix.lower() != ".csv":
            raise BadName(f"expected a .csv file in {folder}/, got {p.name!r}")
        return Classified(partition_key=None, logical_key=path)

    return classify


VISITS = FileKind(
    source="logistics_visits",
    asset_prefix="logistics",
    group_name="logistics",
    prefix="logistics/visits",
    classify=_classifier("logistics/visits"),
    load=load_visits,
    tables=("visits", "technicians"),
    description="Field-service visit exports logistics/visits/*.csv (;-separated, header "
    "id;id_cliente;angel;polo;data_limite;data_de_atendimento): one row per visit, dates normalised, "
    "bad rows rejected with their line and reason. Technician names stay in raw; their pseudonyms "
    "go to raw.logistics__technicians.",
    replace="version",
    version_tables=("visits",),
    present_rows_sql="SELECT file_version_id, count(*) FROM raw.logistics__visits "
    "WHERE file_version_id = ANY(%(ids)s) GROUP BY 1",
    max_line_bytes=16 << 10,
    code_version=LOADER_VERSION,
)

CUSTOMERS = FileKind(
    source="logistics_customers",
    asset_prefix="logistics",
    group_name="logistics",
    prefix="logistics/customers",
    classify=_classifier("logistics/customers"),
    load=load_customers,
    tables=("customers",),
    description="Customer exports logistics/customers/*.csv (;-separated, no header: "
    "id_cliente;name;email;phone). Name, email and phone are personal data and stay in raw; "
    "staging and marts carry the customer's HMAC-SHA256 pseudonym.",
    replace="version",
    version_tables=("customers",),
    present_rows_sql="SELECT file_version_id, count(*) FROM raw.logistics__customers "
    "WHERE file_version_id = ANY(%(ids)s) GROUP BY 1",
    max_line_bytes=16 << 10,
    code_version=LOADER_VERSION,
)
