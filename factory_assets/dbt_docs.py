"""The dbt docs site (every model, column, test, exposure and the lineage), generated against the
warehouse and served as static files on loopback.

* :func:`generate` runs ``dbt docs generate`` into its own target folder
  (``$FACTORY_HOME/dbt_docs``, never ``dbt_project/target``, which dagster-dbt reads). With the
  warehouse it also writes ``catalog.json`` (column types, row counts); ``empty_catalog=True``
  writes an empty one, for a machine that cannot reach the warehouse.
* :func:`serve_forever` serves that folder as static files on 127.0.0.1 (the site is read-only
  HTML + JSON; nothing on the server side runs dbt); ``python -m factory_assets.dbt_docs``
  (:func:`main`) generates then serves, which is what ``factory serve`` / ``demo`` start in the
  background. ``FACTORY_DBT_DOCS_PORT=0`` turns that off.
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
    ``empty_catalog``) makes an empty catalog without connecting to any database: the site still
    shows every model, column description, test, exposure and the lineage, without column types,
    row counts and compiled SQL."""
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
    common = [
        "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
        "--target-path", str(target), "--log-path", str(target / "logs"), "--no-use-colors", "--quiet",
    ]  # fmt: skip
    if empty_catalog:
        # No connection at all: compiling opens one, so skip it; `docs generate --no-compile`
        # writes no manifest.json, which `dbt parse` writes first.
        invocations = [["parse"], ["docs", "generate", "--no-compile", "--empty-catalog"]]
    else:
        invocations = [["docs", "generate"]]
    for command in invocations:
        proc = subprocess.run(
            [dbt_executable(), *command, *common], env=env, capture_output=True, text=True, timeout=timeout_s
        )
        if proc.returncode != 0:
            out = settings.redact_text((proc.stdout + proc.stderr)[-4000:])
            raise RuntimeError(f"dbt {' '.join(command)} failed ({proc.returncode}):\n{out}")
    missing = [name for name in DOCS_FILES if not (target / name).exists()]
    if missing:
        raise RuntimeError(f"dbt docs generate wrote no {', '.join(missing)} in {target}")
    return target


def serve_argv(port: int) -> list[str]:
    """The background process: generate, then serve (:func:`main`)."""
    return [sys.executable, "-m", "factory_assets.dbt_docs", "--port", str(port)]


def docs_url(port: int | None = None) -> str:
    return os.environ.get("FACTORY_DBT_DOCS_URL") or f"http://127.0.0.1:{port or docs_port()}"


def serve_forever(target: Path, port: int, host: str = "127.0.0.1") -> None:
    """Serve ``target`` (static files, GET/HEAD only) until interrupted."""
    import functools
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:  # one line per request would fill the log
            pass

    handler = functools.partial(Quiet, directory=str(target))
    with ThreadingHTTPServer((host, port), handler) as server:
        server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    """``python -m factory_assets.dbt_docs``: generate against the configured warehouse, then
    serve. What ``factory serve`` / ``demo`` start in the background (``run/docs.pid``)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m factory_assets.dbt_docs")
    parser.add_argument("--port", type=int, default=docs_port())
    parser.add_argument("--empty-catalog", action="store_true")
    args = parser.parse_args(argv)
    url = None
    if not args.empty_catalog:
        from factory_assets.resources_config import build_resources, resolved

        url = resolved(build_resources()["warehouse"]).resolved_url()
    target = generate(docs_dir(), url, empty_catalog=args.empty_catalog)
    print(f"dbt docs generated in {target}; serving http://127.0.0.1:{args.port}", flush=True)
    try:
        serve_forever(target, args.port)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
