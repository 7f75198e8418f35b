"""Operations definitions: everything comes from the file-kind declaration."""

import dagster as dg

from factory_assets.ingest.factory import file_kind_definitions
from factory_assets.operations.kind import OPERATIONS


def definitions() -> dg.Definitions:
    return file_kind_definitions(OPERATIONS)
