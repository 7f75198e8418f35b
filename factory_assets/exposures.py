"""dbt exposures (BI dashboards, gateway read endpoints) as Dagster assets downstream of the marts.

dagster-dbt turns models, seeds and snapshots into assets but not exposures; declaring them here,
from the same manifest (``dbt_project/models/exposures.yml``), puts what reads each mart at the end
of the one lineage graph in the Dagster UI, next to the dbt docs lineage. They are external
assets: nothing materialises them, so they never start or block a run.
"""

import json
from collections.abc import Mapping
from typing import Any

import dagster as dg

KINDS = {"dashboard": "metabase", "application": "api"}


def exposure_specs(manifest: Mapping[str, Any], translator, docs_base: str) -> list[dg.AssetSpec]:
    specs = []
    for uid, exposure in sorted(manifest.get("exposures", {}).items()):
        deps = [
            translator.get_asset_key(manifest["nodes"][node])
            for node in exposure["depends_on"]["nodes"]
            if node in manifest["nodes"]
        ]
        owner = exposure.get("owner") or {}
        metadata: dict[str, Any] = {"dbt_docs": dg.MetadataValue.url(f"{docs_base}/#!/exposure/{uid}")}
        url = exposure.get("url") or ""
        if url.startswith(("http://", "https://")):
            metadata["url"] = dg.MetadataValue.url(url)
        elif url:
            metadata["endpoint"] = url
        specs.append(
            dg.AssetSpec(
                key=dg.AssetKey(["exposures", exposure["name"]]),
                deps=deps,
                description=(exposure.get("label") or exposure["name"])
                + ": "
                + " ".join(exposure["description"].split()),
                group_name="exposures",
                kinds={KINDS.get(exposure["type"], exposure["type"])},
                metadata={**metadata, "owner": owner.get("name") or owner.get("email") or ""},
            )
        )
    return specs


def exposure_definitions() -> dg.Definitions:
    import os

    from factory_assets.dbt_assets import TRANSLATOR, dbt_project

    manifest = json.loads(dbt_project().manifest_path.read_text())
    base = (os.environ.get("FACTORY_DBT_DOCS_URL") or "http://127.0.0.1:8080").rstrip("/")
    return dg.Definitions(assets=exposure_specs(manifest, TRANSLATOR, base))
