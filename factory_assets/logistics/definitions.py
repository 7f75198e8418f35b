"""Logistics definitions: the two file kinds (asset, check, job, sensor each) and the erasure job."""

import dagster as dg

from factory_assets.ingest.factory import file_kind_definitions
from factory_assets.logistics.erasure import erase_customer_job
from factory_assets.logistics.kind import CUSTOMERS, VISITS


def definitions() -> dg.Definitions:
    return dg.Definitions.merge(
        file_kind_definitions(VISITS),
        file_kind_definitions(CUSTOMERS),
        dg.Definitions(jobs=[erase_customer_job]),
    )
