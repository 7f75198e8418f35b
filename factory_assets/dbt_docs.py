"""The dbt docs site (every model, column, test, exposure and the lineage), generated against the
warehouse and served as static files on loopback.

* :func:`generate` runs ``dbt docs generate`` into its own target folder
  (``$FACTORY_HOME/dbt_docs``, never ``dbt_project/target``, which dagster-dbt reads). With the
  warehouse it also writes ``catalog.json`` (column types, row counts); ``empty_catalog=True``
  writes an empty one, for a machine that cannot reach the warehouse.
* :func:`serve_argv` is the static file server of that folder (``python -m http.server``, bound to
  127.0.0.1 by default): the site is read-only HTML + JSON, nothing on the server side runs dbt.
* Dagster links each dbt asset to its page: ``<FACTORY_DBT_DOCS_URL>/#!/model/<unique_id>``
  (factory_assets/dbt_assets.py), so the default port here matches that default URL.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from resources import settings

DEFAULT_PORT = 8080
DOCS_FILES = ("index.html", "manifest.json", "catalog.json")


def docs_port() -> int:
    return int(os.environ.get("FACTORY_DBT_DOCS_PORT") or DEFAULT_PORT)


def docs_dir() -> Path:
    return settings.factory_home() / "dbt_docs"


def generate(
    target: Path, warehouse_url: str | None, *, empty_catalog: bool = False, timeout_s: float = 600
) -> Path:
    """``dbt docs generate`` into ``target``; returns ``target``. ``warehouse_url`` None (or
    ``empty_catalog``) makes an empty catalog: the site still shows every model, column
    description, test, exposure and the lineage, without types and row counts."""
    from factory_assets.dbt_assets import DBT_PROJECT_DIR, dbt_executable

    target.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DO_NOT_TRACK": "1"}
    if warehouse_url:
        env.update(settings.dbt_env(warehouse_url))
    else:
        empty_catalog = True
        # profiles.yml needs values to render even when no connection is made
        env.setdefault("FACTORY_DBT_HOST", "localhost")
        env.setdefault("FACTORY_DBT_DBNAME", "factory")
        env.setdefault("FACTORY_DBT_USER", "factory")
    argv = [
        dbt_executable(), "docs", "generate", "--project-dir", str(DBT_PROJECT_DIR),
        "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(target),
        "--log-path", str(target / "logs"), "--no-use-colors", "--quiet",
    ]  # fmt: skip
    if empty_catalog:
        argv.append("--empty-catalog")
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout_s)
    if proc.returncode != 0:
        out = settings.redact_text((proc.stdout + proc.stderr)[-4000:])
        raise RuntimeError(f"dbt docs generate failed ({proc.returncode}):\n{out}")
    missing = [name for name in DOCS_FILES if not (target / name).exists()]
    if missing:
        raise RuntimeError(f"dbt docs generate wrote no {', '.join(missing)} in {target}")
    return target


def serve_argv(target: Path, port: int, host: str = "127.0.0.1") -> list[str]:
    """The static server of a generated docs folder."""
    return [sys.executable, "-m", "http.server", str(port), "--bind", host, "--directory", str(target)]


def docs_url(port: int | None = None) -> str:
    return os.environ.get("FACTORY_DBT_DOCS_URL") or f"http://127.0.0.1:{port or docs_port()}"
