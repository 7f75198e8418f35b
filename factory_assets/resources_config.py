"""Resource wiring from the environment (DESIGN.md §4), shared by the code location and the CLI.

A configured variable is injected as ``EnvVar`` (resolved at run time, never shown in the UI);
an unset one leaves the field empty so the resource falls back to the documented default.
Code that uses a resource outside a Dagster run (the CLI) must call :func:`resolved` first:
an unresolved ``EnvVar`` is only the variable's *name*.
"""

from __future__ import annotations

import os

import dagster as dg

from factory_assets.sql_sources.assets import sql_source_resources
from resources.landing import LandingZoneResource
from resources.warehouse import WarehouseResource


def _env(name: str) -> dg.EnvVar | None:
    return dg.EnvVar(name) if os.environ.get(name) else None


def build_resources() -> dict:
    sftp = {
        "sftp_key_file": _env("FACTORY_SFTP_KEY_FILE"),
        "sftp_password": _env("FACTORY_SFTP_PASSWORD"),
        "sftp_known_hosts": _env("FACTORY_SFTP_KNOWN_HOSTS"),
    }
    return {
        "warehouse": WarehouseResource(url=_env("FACTORY_WAREHOUSE_URL")),
        "landing": LandingZoneResource(role="landing", url=_env("FACTORY_LANDING_URL"), **sftp),
        "archive": LandingZoneResource(role="archive", url=_env("FACTORY_ARCHIVE_URL"), **sftp),
        **sql_source_resources(),
    }


def resolved(resource: dg.ConfigurableResource) -> dg.ConfigurableResource:
    """The resource with its ``EnvVar`` fields replaced by their values (for use outside a run)."""
    return resource.process_config_and_initialize()
