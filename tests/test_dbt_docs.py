"""The dbt documentation (DESIGN.md §7: marts have contracts and documented columns), the exposures
that put BI dashboards and the gateway's read endpoints downstream of the marts, the link from each
dbt asset in Dagster to its docs page, and ``factory docs`` serving the site on loopback.

The manifest is parsed into a test-owned target folder (``dbt parse``, as ``make setup`` does for
dbt_project/target), so a concurrent dbt run never races this test.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import urllib.request

import dagster as dg
import pytest

from factory_assets.dbt_cli import dbt_executable
from tests.dbt_harness import DBT_PROJECT, REPO, dbt_env, scratch_database

MARTS = "marts"


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> dict:
    target = tmp_path_factory.mktemp("dbt_parse")
    proc = subprocess.run(
        [dbt_executable(), "parse", "--quiet", "--project-dir", str(DBT_PROJECT),
         "--profiles-dir", str(DBT_PROJECT), "--target-path", str(target), "--log-path", str(target / "logs")],
        cwd=REPO, env=dbt_env("factory"), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads((target / "manifest.json").read_text())


def marts_of(manifest: dict) -> dict[str, dict]:
    return {
        n["name"]: n
        for n in manifest["nodes"].values()
        if n["resource_type"] == "model" and n["schema"] == MARTS
    }


def test_every_mart_and_every_column_is_documented_under_an_enforced_contract(manifest):
    marts = marts_of(manifest)
    assert len(marts) >= 20  # the required marts of DESIGN.md §7 and more
    problems = []
    for name, node in sorted(marts.items()):
        if len((node.get("description") or "").strip()) < 20:
            problems.append(f"{name}: no (or a too short) model description")
        # An enforced contract makes dbt fail a build whose SQL produces other columns than the
        # YAML lists: YAML columns = produced columns (checked against the database as well in
        # tests/test_bi_reader.py after a real build).
        if not node["config"].get("contract", {}).get("enforced"):
            problems.append(f"{name}: contract not enforced, so its YAML columns may differ from the table")
        if not node["columns"]:
            problems.append(f"{name}: no column documented")
        for column, spec in node["columns"].items():
            if len((spec.get("description") or "").strip()) < 3:
                problems.append(f"{name}.{column}: no description")
            if not spec.get("data_type"):
                problems.append(f"{name}.{column}: no data_type in the contract")
    assert not problems, "\n".join(problems)


def test_exposures_are_downstream_of_marts_only(manifest):
    exposures = manifest["exposures"]
    dashboards = [e for e in exposures.values() if e["type"] == "dashboard"]
    assert {e["name"] for e in dashboards} >= {
        "plant_oee_dashboard", "data_quality_dashboard", "field_service_sla_dashboard", "inventory_dashboard",
    }  # fmt: skip
    mart_ids = {n["unique_id"] for n in marts_of(manifest).values()}
    for exposure in exposures.values():
        depends = set(exposure["depends_on"]["nodes"])
        assert depends and depends <= mart_ids, (
            f"{exposure['name']} must read marts only (bi_reader): {depends - mart_ids}"
        )
        assert exposure["owner"].get("name") or exposure["owner"].get("email")
        assert exposure["description"].strip()
    # in the lineage: a mart's children include its exposures (what `dbt docs` draws)
    assert "exposure.factory.gateway_oee" in manifest["child_map"]["model.factory.oee_daily"]


def _read_endpoints() -> dict[str, set[str]]:
    """``{path: marts its code reads}`` for every GET endpoint of the gateway that reads the
    warehouse, from the endpoint function's source (``marts.<name>`` or a mart name literal)."""
    import inspect

    from gateway.app import route_modules

    out = {}
    for route in (r for module in route_modules() for r in module.router.routes):
        if "GET" not in getattr(route, "methods", ()) or not route.path.startswith("/v1/"):
            continue
        source = inspect.getsource(route.endpoint)
        names = set(re.findall(r"marts\.(\w+)", source)) | set(re.findall(r"[\"'](\w+)[\"']", source))
        out[route.path] = names
    return out


def test_every_gateway_read_endpoint_is_an_exposure_with_the_marts_it_reads(manifest):
    marts = set(marts_of(manifest))
    apps = {e["url"]: e for e in manifest["exposures"].values() if e["type"] == "application"}
    endpoints = {path: names & marts for path, names in _read_endpoints().items()}
    reading = {path: names for path, names in endpoints.items() if names}
    assert "/v1/oee" in reading and "/v1/orders/{order_id}" in reading
    assert not {p for p, n in endpoints.items() if not n} - {"/v1/health"}, (
        "an endpoint whose marts were not found"
    )
    for path, names in reading.items():
        assert path in apps, f"gateway endpoint {path} has no exposure in dbt_project/models/exposures.yml"
        declared = {uid.rsplit(".", 1)[1] for uid in apps[path]["depends_on"]["nodes"]}
        assert declared == names, (
            f"{path}: exposure depends on {sorted(declared)}, the code reads {sorted(names)}"
        )
    assert set(apps) == set(reading), f"exposures for endpoints that do not exist: {set(apps) - set(reading)}"


def test_each_dbt_asset_links_to_its_docs_page(manifest, monkeypatch):
    from factory_assets.dbt_assets import TRANSLATOR
    from factory_assets.definitions import defs as lazy

    defs = lazy()  # dagster-dbt caches specs per process: the base URL is the one at first load
    for key, uid in ((["marts", "oee_daily"], "model.factory.oee_daily"),
                     (["marts", "machine_sessions"], "model.factory.machine_sessions")):  # fmt: skip
        spec = defs.resolve_assets_def(dg.AssetKey(key)).specs_by_key[dg.AssetKey(key)]
        link = spec.metadata["dbt_docs"]
        assert isinstance(link, dg.UrlMetadataValue)
        assert re.fullmatch(rf"http://[^/]+(:\d+)?/#!/model/{re.escape(uid)}", link.url), link.url
    # the base URL comes from FACTORY_DBT_DOCS_URL (a site's docs host), default the local server
    node = manifest["nodes"]["model.factory.oee_daily"]
    monkeypatch.setenv("FACTORY_DBT_DOCS_URL", "http://docs.plant.example:8080/")
    assert (
        TRANSLATOR.get_metadata(node)["dbt_docs"].url
        == "http://docs.plant.example:8080/#!/model/model.factory.oee_daily"
    )
    monkeypatch.delenv("FACTORY_DBT_DOCS_URL")
    assert (
        TRANSLATOR.get_metadata(node)["dbt_docs"].url
        == "http://127.0.0.1:8080/#!/model/model.factory.oee_daily"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_factory_docs_generates_from_the_warehouse_and_serves_on_loopback(tmp_path, monkeypatch):
    """What `factory serve` / `demo` start beside the UI and `factory stop` stops (pid file)."""
    from factory_assets import cli
    from tests.dbt_harness import PG_HOST, PG_PORT, PG_USER

    port = _free_port()
    with scratch_database("test_dbt_docs") as dbname:
        monkeypatch.setenv("FACTORY_HOME", str(tmp_path / "home"))
        monkeypatch.setenv("FACTORY_WAREHOUSE_URL", f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{dbname}")
        monkeypatch.setenv("FACTORY_DBT_DOCS_PORT", str(port))
        proc = cli.start_docs(tmp_path / "logs", wait_s=240)
        try:
            assert proc is not None and proc.poll() is None
            assert (cli.run_dir() / "docs.pid").read_text() == str(proc.pid)
            base = f"http://127.0.0.1:{port}"
            with urllib.request.urlopen(base + "/", timeout=10) as r:
                assert r.status == 200 and b"dbt" in r.read().lower()
            with urllib.request.urlopen(base + "/manifest.json", timeout=10) as r:
                served = json.loads(r.read())
            assert (
                "model.factory.oee_daily" in served["nodes"]
                and "exposure.factory.gateway_oee" in served["exposures"]
            )
            with urllib.request.urlopen(base + "/catalog.json", timeout=10) as r:
                catalog = json.loads(r.read())
            # the catalog was read from the warehouse: the raw tables the migrations created
            assert any(uid.startswith("source.factory.") for uid in catalog["sources"])
        finally:
            cli.stop_all()
        assert proc.wait(10) is not None
        assert not (cli.run_dir() / "docs.pid").exists()
        with pytest.raises(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)


def test_factory_docs_without_a_warehouse_builds_the_site_from_the_project_alone(tmp_path, monkeypatch):
    """`factory docs --empty-catalog`: for a machine that cannot reach the warehouse; no connection
    is attempted (the profile points at a closed port)."""
    from factory_assets import cli

    monkeypatch.setenv("FACTORY_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FACTORY_DBT_HOST", "127.0.0.1")
    monkeypatch.setenv("FACTORY_DBT_PORT", "1")
    monkeypatch.setenv("FACTORY_DBT_USER", "nobody")
    monkeypatch.setenv("FACTORY_DBT_DBNAME", "nothing")
    assert cli.main(["docs", "--no-serve", "--empty-catalog"]) == 0
    site = tmp_path / "home" / "dbt_docs"
    manifest = json.loads((site / "manifest.json").read_text())
    assert "model.factory.oee_daily" in manifest["nodes"] and manifest["exposures"]
    assert json.loads((site / "catalog.json").read_text())["nodes"] == {}
    assert (site / "index.html").stat().st_size > 10_000


def test_exposures_are_dagster_assets_downstream_of_their_marts(manifest):
    """dagster-dbt does not make assets of exposures; factory_assets/exposures.py does, from the
    same manifest, so the Dagster lineage ends at the dashboards and gateway endpoints too."""
    from factory_assets.definitions import defs as lazy

    graph = lazy().resolve_asset_graph()
    for exposure in manifest["exposures"].values():
        node = graph.get(dg.AssetKey(["exposures", exposure["name"]]))
        assert node.is_external and not node.is_materializable
        marts = {dg.AssetKey(["marts", uid.rsplit(".", 1)[1]]) for uid in exposure["depends_on"]["nodes"]}
        assert node.parent_keys == marts, exposure["name"]
    oee = graph.get(dg.AssetKey(["marts", "oee_daily"]))
    assert dg.AssetKey(["exposures", "gateway_oee"]) in oee.child_keys
