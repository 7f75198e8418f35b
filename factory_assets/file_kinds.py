"""Every landing-zone file kind the platform knows (each declared in its domain package).

Adding a kind = declaring it in its domain and listing it here; the CLI uses this list to find a
job's kind (e.g. which dates have files), the code location gets its definitions from the
domain's ``definitions()``.
"""

from __future__ import annotations

from factory_assets.ingest.factory import job_name
from factory_assets.ingest.kinds import FileKind
from factory_assets.logistics.kind import CUSTOMERS as LOGISTICS_CUSTOMERS
from factory_assets.logistics.kind import VISITS as LOGISTICS_VISITS
from factory_assets.machine_logs.kind import MACHINE_LOGS
from factory_assets.operations.kind import OPERATIONS

FILE_KINDS: tuple[FileKind, ...] = (MACHINE_LOGS, LOGISTICS_VISITS, LOGISTICS_CUSTOMERS, OPERATIONS)


def kind_for_job(name: str) -> FileKind | None:
    return next((k for k in FILE_KINDS if job_name(k) == name), None)
