"""Secrets of demo mode: generated once into ``$FACTORY_HOME/secrets/<name>`` (mode 0600) and reused.

Only demo mode (``FACTORY_WAREHOUSE_URL`` unset) uses these; a site install sets every secret in
its environment (DESIGN.md §4). ``factory demo`` / ``factory serve`` export them to the processes
they start (the gateway, the Dagster webserver and daemon), so those read plain variables.
"""

from __future__ import annotations

import os
import secrets

from resources import settings

# variable -> file name of the demo secrets the CLI exports when the variable is unset
DEMO_SECRETS = {
    "FACTORY_GATEWAY_API_KEY": "gateway_api_key",
    "FACTORY_GATEWAY_READ_API_KEY": "gateway_read_api_key",
    "FACTORY_BI_READER_PASSWORD": "bi_reader_password",
}


def demo_secret(name: str) -> str:
    """The secret ``name`` of this ``FACTORY_HOME``, created (random, URL-safe) on first use."""
    folder = settings.factory_home() / "secrets"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / name
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_urlsafe(24) + "\n")
    return path.read_text().strip()


def export_demo_secrets() -> dict[str, str]:
    """Demo mode: set every unset variable of :data:`DEMO_SECRETS` from its file; returns them."""
    exported = {}
    if not settings.demo_mode():
        return exported
    for variable, name in DEMO_SECRETS.items():
        if not os.environ.get(variable):
            os.environ[variable] = exported[variable] = demo_secret(name)
    return exported
