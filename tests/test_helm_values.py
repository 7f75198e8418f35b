"""deploy/helm/values.yaml against the official Dagster Helm chart (docs/scaling.md).

No cluster and no `helm` here: the values are checked against the chart's documented keys,
vendored in tests/data/dagster_helm_values_keys.txt (from the chart's values.schema.json; source
and version noted in that file). Every key path we set must exist in the chart — a misspelt key
is silently ignored by Helm, which is exactly what this catches — and the run queue must apply
the same limits as the docker-compose instance (docker/dagster.yaml).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
VALUES = ROOT / "deploy" / "helm" / "values.yaml"
CHART_KEYS = Path(__file__).parent / "data" / "dagster_helm_values_keys.txt"
DAGSTER_YAML = ROOT / "docker" / "dagster.yaml"


def chart_keys() -> set[str]:
    lines = (line.strip() for line in CHART_KEYS.read_text().splitlines())
    return {line for line in lines if line and not line.startswith("#")}


def key_paths(node: Any, keys: set[str], prefix: str = "") -> Iterator[str]:
    """Every key path of ``node`` as the chart spells them (``a.b``, ``a[]``, ``a.*``).

    Descends only where the chart documents deeper keys: below a path with nothing documented
    under it (a Kubernetes object such as ``resources`` or ``volumes``, or a free-form map
    entry) the content is Kubernetes', not the chart's.
    """

    def documented_below(path: str) -> bool:
        return any(k.startswith(path + ".") or k.startswith(path + "[]") for k in keys)

    if isinstance(node, dict):
        for key, value in node.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if path not in keys and prefix and f"{prefix}.*" in keys:
                yield f"{prefix}.*"  # an entry of a free-form map (env, labels, ...)
                continue
            yield path
            if documented_below(path):
                yield from key_paths(value, keys, path)
    elif isinstance(node, list) and documented_below(prefix):
        for item in node:
            if f"{prefix}[]" in keys:
                yield f"{prefix}[]"
            yield from key_paths(item, keys, f"{prefix}[]")


@pytest.fixture(scope="module")
def values() -> dict[str, Any]:
    return yaml.safe_load(VALUES.read_text())


def test_the_vendored_chart_keys_name_their_source():
    header = CHART_KEYS.read_text()
    assert re.search(
        r"github\.com/dagster-io/dagster/blob/[0-9a-f]{40}/helm/dagster/values\.schema\.json", header
    )
    keys = chart_keys()
    assert "dagsterDaemon.runCoordinator.config.queuedRunCoordinator.tagConcurrencyLimits[].key" in keys
    assert "runLauncher.config.k8sRunLauncher.envSecrets" in keys


def test_every_key_we_set_exists_in_the_chart(values):
    keys = chart_keys()
    unknown = sorted({p for p in key_paths(values, keys) if p not in keys})
    assert not unknown, f"keys the dagster chart does not define (Helm would ignore them): {unknown}"


def test_the_walker_catches_a_misspelt_key(values):
    keys = chart_keys()
    broken = {**values, "dagsterDaemon": {**values["dagsterDaemon"], "runCordinator": {}}}
    assert "dagsterDaemon.runCordinator" in set(key_paths(broken, keys)) - keys
    broken = {"runLauncher": {"config": {"k8sRunLauncher": {"envSecret": []}}}}
    assert "runLauncher.config.k8sRunLauncher.envSecret" in set(key_paths(broken, keys)) - keys


def test_runs_are_kubernetes_jobs_of_our_image_with_secrets_from_kubernetes(values):
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    assert values["dagster-user-deployments"]["enabled"] is True
    args = deployment.get("codeServerArgs") or deployment.get("dagsterApiGrpcArgs")
    assert args[args.index("-m") + 1] == "factory_assets.definitions"
    images = {
        (s["image"]["repository"], s["image"]["tag"])
        for s in (deployment, values["dagsterWebserver"], values["dagsterDaemon"])
    }
    assert len(images) == 1, "webserver, daemon and code server must run one image (one dagster version)"
    for env_secrets in (
        launcher["envSecrets"],
        deployment["envSecrets"],
        values["dagsterDaemon"]["envSecrets"],
    ):
        assert {"name": "factory-env"} in env_secrets
    assert deployment["includeConfigInLaunchedRuns"]["enabled"] is True


def test_dagster_storage_is_the_external_managed_postgresql(values):
    pg = values["postgresql"]
    assert pg["enabled"] is False and pg["postgresqlHost"] and pg["postgresqlDatabase"] == "dagster"
    assert "postgresqlPassword" not in pg, "the password comes from global.postgresqlSecretName"
    assert values["global"]["postgresqlSecretName"]
    assert values["generatePostgresqlPasswordSecret"] is False
    assert values["telemetry"]["enabled"] is False


def test_no_secret_literal_in_the_values():
    """Passwords and keys come from Kubernetes Secrets (``envSecrets``, ``postgresqlSecretName``
    name them): no key that holds a secret is set here and no URL carries credentials."""
    for line in VALUES.read_text().splitlines():
        if line.lstrip().startswith("#"):
            continue
        key = line.split(":", 1)[0].strip().lstrip("- ")
        if re.search(r"(?i)password|api_?key|token|pii", key):
            assert key == "generatePostgresqlPasswordSecret", line
        assert "://" not in line, line


def test_run_queue_limits_equal_the_docker_compose_instance(values):
    ours = yaml.safe_load(DAGSTER_YAML.read_text())["run_coordinator"]
    assert ours["class"] == "QueuedRunCoordinator"
    coordinator = values["dagsterDaemon"]["runCoordinator"]
    assert coordinator["enabled"] is True and coordinator["type"] == "QueuedRunCoordinator"
    queued = coordinator["config"]["queuedRunCoordinator"]
    assert queued["maxConcurrentRuns"] == ours["config"]["max_concurrent_runs"]
    assert queued["dequeueIntervalSeconds"] == ours["config"]["dequeue_interval_seconds"]
    # the chart copies tagConcurrencyLimits verbatim into tag_concurrency_limits
    assert queued["tagConcurrencyLimits"] == ours["config"]["tag_concurrency_limits"]


def test_the_chart_rendering_of_the_queue_is_a_valid_dagster_run_coordinator(values):
    """What the chart's _run-coordinator.tpl writes into the instance, loaded by dagster itself."""
    from dagster import QueuedRunCoordinator

    queued = values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    coordinator = QueuedRunCoordinator(
        max_concurrent_runs=queued["maxConcurrentRuns"],
        tag_concurrency_limits=queued["tagConcurrencyLimits"],
        dequeue_interval_seconds=queued["dequeueIntervalSeconds"],
    )
    config = coordinator.get_run_queue_config()
    assert config.max_concurrent_runs == 2
    assert {limit["key"] for limit in config.tag_concurrency_limits} == {"factory/dbt", "factory/source"}
