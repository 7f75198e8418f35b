"""Structure and wiring of the site-install stack: docker-compose.yml and docker/.

No Docker engine runs where this stack was written, so it is never started here. These tests parse
the compose file, the Dockerfile, the Dagster instance and workspace files and the warehouse init
script, and check that the pieces point at each other: every URL names the service that serves it
with the credentials that service is given, the webserver and daemon reach the code server, the
image ships the instance config the services expect, and no secret is written in the files.
The Dagster files are validated with dagster's own config schemas.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import sqlalchemy as sa
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKER_DIR = ROOT / "docker"

DAGSTER_SERVICES = ("dagster-code", "dagster-webserver", "dagster-daemon")
REQUIRED_SERVICES = ("warehouse", "erp", "sftp", *DAGSTER_SERVICES, "gateway", "metabase")
REQUIRED_ENV = (
    "DAGSTER_HOME",
    "DO_NOT_TRACK",
    "FACTORY_HOME",
    "FACTORY_WAREHOUSE_URL",
    "FACTORY_DAGSTER_STORAGE_URL",
    "FACTORY_LANDING_URL",
    "FACTORY_SFTP_KEY_FILE",
    "FACTORY_SFTP_KNOWN_HOSTS",
    "FACTORY_ERP_URL",
    "FACTORY_MES_URL",
    "FACTORY_PLANT_DB_URL",
    "FACTORY_OLTP_URL",
    "FACTORY_PII_KEY",
    "FACTORY_TIMEZONE",
)
# What a site's `.env` must hold at the least (the rest has defaults).
SITE_ENV = {
    "FACTORY_WAREHOUSE_PASSWORD": "wh-pw-0123",
    "FACTORY_ERP_PASSWORD": "erp-pw-4567",
    "FACTORY_PII_KEY": "pii-key-89ab",
    "FACTORY_GATEWAY_API_KEY": "gw-key-cdef",
    "FACTORY_BI_READER_PASSWORD": "bi-pw-0246",
    "FACTORY_METABASE_ENCRYPTION_KEY": "mb-key-1357",
}
# Environment names whose value is a secret: it must come from a ${...} variable.
SECRET_NAME = re.compile(r"(PASSWORD|PASSWD|PII_KEY|API_KEY|SECRET|TOKEN)$")
NOT_A_SECRET = {"MARIADB_RANDOM_ROOT_PASSWORD"}  # a flag: "1" = let the image pick one
VARIABLE_REF = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*(?::?[-?][^}]*)?\}")
RESTART_POLICIES = {"always", "unless-stopped", "on-failure"}


# --- compose variable interpolation (the subset of the compose spec the file may use) ---------


class MissingVariableError(Exception):
    pass


_VARIABLE = re.compile(
    r"\$(?:(?P<dollar>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


def interpolate(value: str, env: Mapping[str, str]) -> str:
    """``$$``, ``$VAR``, ``${VAR}``, ``${VAR:-default}``, ``${VAR:?error}``, ``${VAR:+alt}`` (and the
    forms without ``:``), as ``docker compose`` resolves them against ``.env``."""

    def replace(m: re.Match[str]) -> str:
        if m.group("dollar"):
            return "$"
        name = m.group("braced") or m.group("bare")
        current = env.get(name)
        op = m.group("op")
        if not op:
            return current or ""
        missing = not current if op.startswith(":") else current is None
        kind, arg = op[-1], m.group("arg")
        if kind == "-":
            return arg if missing else current
        if kind == "?":
            if missing:
                raise MissingVariableError(f"{name}: {arg}")
            return current
        return "" if missing else arg  # "+"

    return _VARIABLE.sub(replace, value)


def resolve(node: Any, env: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, Mapping):
        return {k: resolve(v, env) for k, v in node.items()}
    if isinstance(node, list):
        return [resolve(v, env) for v in node]
    return node


# --- helpers --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def site(compose) -> dict[str, Any]:
    """The compose file as ``docker compose config`` would see it with a minimal site `.env`."""
    return resolve(compose, SITE_ENV)


def env_of(site: Mapping[str, Any], service: str) -> dict[str, str]:
    env = site["services"][service].get("environment") or {}
    assert isinstance(env, Mapping), f"{service}: environment must be a mapping"
    return {k: "" if v is None else str(v) for k, v in env.items()}


def command_of(site: Mapping[str, Any], service: str) -> list[str]:
    cmd = site["services"][service]["command"]
    return shlex.split(cmd) if isinstance(cmd, str) else [str(c) for c in cmd]


def option(cmd: list[str], *names: str) -> str:
    for i, arg in enumerate(cmd):
        if arg in names:
            return cmd[i + 1]
        for name in names:
            if name.startswith("--") and arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    raise AssertionError(f"none of {names} in {cmd}")


def container_ports(site: Mapping[str, Any], service: str) -> set[int]:
    ports = set()
    for spec in site["services"][service].get("ports", []):
        if isinstance(spec, Mapping):
            ports.add(int(spec["target"]))
        else:
            ports.add(int(str(spec).split("/")[0].rsplit(":", 1)[-1]))
    return ports


def volume_mounts(site: Mapping[str, Any], service: str) -> list[tuple[str, str]]:
    """(source, target) of every volume of a service, short or long syntax."""
    mounts = []
    for spec in site["services"][service].get("volumes", []):
        if isinstance(spec, Mapping):
            mounts.append((str(spec.get("source", "")), str(spec["target"])))
        else:
            parts = str(spec).split(":")
            mounts.append((parts[0], parts[1]))
    return mounts


def url_parts(url: str) -> dict[str, Any]:
    p = urlsplit(url)
    return {
        "scheme": p.scheme,
        "host": p.hostname,
        "port": p.port,
        "user": unquote(p.username or ""),
        "password": unquote(p.password or ""),
        "path": p.path,
        "database": p.path.lstrip("/"),
        "query": parse_qs(p.query),
    }


def pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def dockerfile_path(site: Mapping[str, Any], service: str) -> tuple[Path, Path]:
    build = site["services"][service]["build"]
    if isinstance(build, str):
        build = {"context": build}
    context = (COMPOSE_FILE.parent / build.get("context", ".")).resolve()
    return context, context / build.get("dockerfile", "Dockerfile")


def dockerfile_instructions(path: Path) -> Iterator[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    logical = ""
    for line in path.read_text().splitlines():
        if not logical and line.lstrip().startswith("#"):
            continue
        if line.rstrip().endswith("\\"):
            logical += line.rstrip()[:-1] + " "
            continue
        logical += line
        if logical.strip():
            instruction, _, args = logical.strip().partition(" ")
            yield instruction.upper(), args.strip()
        logical = ""


class Dockerfile:
    def __init__(self, path: Path, context: Path):
        self.path, self.context = path, context
        self.base = ""
        self.env: dict[str, str] = {}
        self.workdir = "/"
        self.runs: list[str] = []
        self.copies: dict[str, tuple[str, ...]] = {}  # absolute destination -> sources
        for instruction, args in dockerfile_instructions(path):
            args = re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: self.env.get(m[1], m[0]), args)
            if instruction == "FROM":
                self.base = args.split()[0]
            elif instruction == "ENV":
                for item in shlex.split(args):
                    key, _, value = item.partition("=")
                    self.env[key] = value
            elif instruction == "WORKDIR":
                self.workdir = str(PurePosixPath(self.workdir) / args)
            elif instruction == "RUN":
                self.runs.append(args)
            elif instruction in ("COPY", "ADD"):
                words = [w for w in shlex.split(args) if not w.startswith("--")]
                *sources, dest = words
                dest_path = PurePosixPath(self.workdir) / dest
                if len(sources) == 1 and not dest.endswith("/"):
                    self.copies[str(dest_path)] = tuple(sources)
                else:
                    for src in sources:
                        self.copies[str(dest_path / PurePosixPath(src).name)] = (src,)

    def source_of(self, destination: str) -> Path:
        assert destination in self.copies, f"{destination} is not copied into the image"
        (source,) = self.copies[destination]
        return self.context / source


@pytest.fixture(scope="module")
def dockerfile(site) -> Dockerfile:
    context, path = dockerfile_path(site, "dagster-code")
    assert path.is_file(), f"build.dockerfile {path} does not exist"
    return Dockerfile(path, context)


def load_dagster_instance_config() -> dict[str, Any]:
    from dagster._core.instance.config import dagster_instance_config

    config, custom_instance_class = dagster_instance_config(str(DOCKER_DIR), "dagster.yaml")
    assert custom_instance_class is None
    return dict(config)


def rehydrate(config: Mapping[str, Any], key: str) -> Any:
    from dagster._serdes.config_class import ConfigurableClassData

    section = config[key]
    return ConfigurableClassData(
        section["module"], section["class"], yaml.safe_dump(section.get("config") or {})
    ).rehydrate()


# --- services -------------------------------------------------------------------------------


def test_every_service_of_the_stack_is_defined(compose):
    missing = set(REQUIRED_SERVICES) - set(compose["services"])
    assert not missing, f"missing services: {sorted(missing)}"
    assert compose["services"]["warehouse"]["image"].startswith("postgres:16")
    assert compose["services"]["erp"]["image"].startswith("mariadb:11")
    for name in DAGSTER_SERVICES:
        assert "build" in compose["services"][name], f"{name} must be built from the project Dockerfile"
    images = {compose["services"][name]["image"] for name in DAGSTER_SERVICES}
    assert len(images) == 1, f"the three Dagster services must run one image, got {images}"


def test_dagster_services_share_the_x_factory_env_anchor():
    """At the YAML level: each Dagster service's environment *is* the x-factory-env node (directly,
    through a merged service template, or merged into a longer environment)."""
    root = yaml.compose(COMPOSE_FILE.read_text())
    top = {k.value: v for k, v in root.value}
    anchor = top.get("x-factory-env")
    assert isinstance(anchor, yaml.MappingNode), "x-factory-env must be a mapping"
    services = {k.value: v for k, v in top["services"].value}

    def merged(node: yaml.Node) -> list[yaml.Node]:
        return node.value if isinstance(node, yaml.SequenceNode) else [node]

    def environment_node(service: yaml.MappingNode) -> yaml.Node | None:
        for key, value in service.value:
            if key.value == "environment":
                return value
        for key, value in service.value:
            if key.value == "<<":
                for template in merged(value):
                    found = environment_node(template)
                    if found is not None:
                        return found
        return None

    for name in DAGSTER_SERVICES:
        env = environment_node(services[name])
        assert env is not None, f"{name} has no environment"
        uses_anchor = env is anchor or any(
            key.value == "<<" and anchor in merged(value)
            for key, value in (env.value if isinstance(env, yaml.MappingNode) else [])
        )
        assert uses_anchor, f"{name} does not take its environment from the x-factory-env anchor"


def test_dagster_services_get_every_configuration_variable(compose, site):
    assert set(REQUIRED_ENV) <= set(compose["x-factory-env"])
    for name in DAGSTER_SERVICES:
        env = env_of(site, name)
        missing = set(REQUIRED_ENV) - set(env)
        assert not missing, f"{name} lacks {sorted(missing)}"
        assert env["DO_NOT_TRACK"] == "1"
        assert env["FACTORY_PII_KEY"] == SITE_ENV["FACTORY_PII_KEY"]
        assert env["FACTORY_TIMEZONE"] == "Europe/Paris"
        assert env["FACTORY_HOME"].startswith("/")


def test_warehouse_url_reaches_the_warehouse_service_with_its_credentials(site):
    env = env_of(site, "dagster-code")
    wh = env_of(site, "warehouse")
    url = url_parts(env["FACTORY_WAREHOUSE_URL"])
    assert url["scheme"].startswith("postgresql")
    assert url["host"] == "warehouse" and "warehouse" in site["services"]
    assert (url["port"] or 5432) == 5432 in container_ports(site, "warehouse")
    assert url["database"] == wh["POSTGRES_DB"] == "factory"
    assert url["user"] == wh["POSTGRES_USER"]
    assert url["password"] == wh["POSTGRES_PASSWORD"] == SITE_ENV["FACTORY_WAREHOUSE_PASSWORD"]
    sa.create_engine(env["FACTORY_WAREHOUSE_URL"]).dispose()  # the driver is installed


def test_dagster_storage_url_reaches_the_dagster_database_created_at_init(site):
    env = env_of(site, "dagster-code")
    wh = env_of(site, "warehouse")
    url = url_parts(env["FACTORY_DAGSTER_STORAGE_URL"])
    assert url["host"] == "warehouse"
    assert url["user"] == wh["POSTGRES_USER"] and url["password"] == wh["POSTGRES_PASSWORD"]
    assert url["database"] == "dagster"
    # dagster-postgres hands the URL to SQLAlchemy: the dialect's driver must be installed.
    sa.create_engine(env["FACTORY_DAGSTER_STORAGE_URL"]).dispose()

    init = [
        (src, dst)
        for src, dst in volume_mounts(site, "warehouse")
        if dst.startswith("/docker-entrypoint-initdb.d/")
    ]
    assert len(init) == 1, "the warehouse must mount its init script"
    script = (COMPOSE_FILE.parent / init[0][0]).resolve()
    assert script == DOCKER_DIR / "warehouse-init.sql" and script.is_file()
    sql = script.read_text()
    assert re.search(rf"CREATE DATABASE {url['database']}\b", sql, re.I)
    assert re.search(r"CREATE ROLE bi_reader\b[^;]*\bNOLOGIN\b", sql, re.I)
    assert re.search(r"GRANT USAGE ON SCHEMA marts TO bi_reader", sql, re.I)
    assert re.search(
        r"ALTER DEFAULT PRIVILEGES IN SCHEMA marts GRANT SELECT ON TABLES TO bi_reader", sql, re.I
    )
    assert not re.search(r"GRANT[^;]*\b(raw|staging|intermediate)\b[^;]*bi_reader", sql, re.I)


def test_erp_url_reaches_the_erp_service_with_pymysql(site):
    env = env_of(site, "dagster-code")
    erp = env_of(site, "erp")
    url = url_parts(env["FACTORY_ERP_URL"])
    assert url["scheme"] == "mysql+pymysql"
    assert url["host"] == "erp"
    assert (url["port"] or 3306) == 3306
    assert url["database"] == erp["MARIADB_DATABASE"]
    assert url["user"] == erp["MARIADB_USER"]
    assert url["password"] == erp["MARIADB_PASSWORD"] == SITE_ENV["FACTORY_ERP_PASSWORD"]
    sa.create_engine(env["FACTORY_ERP_URL"]).dispose()  # pymysql is installed


def test_landing_zone_is_the_sftp_service_with_key_and_pinned_host_key(compose, site):
    env = env_of(site, "dagster-code")
    url = url_parts(env["FACTORY_LANDING_URL"])
    assert url["scheme"] == "sftp" and url["host"] == "sftp"
    assert (url["port"] or 22) == 22

    # atmoz/sftp user spec: user:password:uid:gid:dir -> chroot /home/<user>, landing /<dir>
    (spec,) = command_of(site, "sftp")
    user, password, _uid, _gid, directory = spec.split(":")[:5]
    assert password == "", "the SFTP account must not have a password written in the compose file"
    assert url["user"] == user
    assert url["path"].rstrip("/") == f"/{directory}"
    targets = {dst: src for src, dst in volume_mounts(site, "sftp")}
    assert targets.get(f"/home/{user}/{directory}") in compose["volumes"], "landing zone must be a volume"

    secrets = compose["secrets"]
    code_secrets = site["services"]["dagster-code"].get("secrets", [])
    code_secrets = [s["source"] if isinstance(s, Mapping) else s for s in code_secrets]
    for variable in ("FACTORY_SFTP_KEY_FILE", "FACTORY_SFTP_KNOWN_HOSTS"):
        path = PurePosixPath(env[variable])
        assert path.parent == PurePosixPath("/run/secrets"), f"{variable} must be a mounted secret"
        assert path.name in code_secrets and "file" in secrets[path.name]

    key_file = PurePosixPath(secrets[PurePosixPath(env["FACTORY_SFTP_KEY_FILE"]).name]["file"])
    authorized = [src for dst, src in targets.items() if dst.startswith(f"/home/{user}/.ssh/keys/")]
    assert [PurePosixPath(p) for p in authorized] == [key_file.with_name(key_file.name + ".pub")]
    assert "/etc/ssh/ssh_host_ed25519_key" in targets, "the SFTP host key must be fixed, not regenerated"


def test_webserver_and_daemon_workspace_points_at_the_code_server(site, dockerfile):
    from dagster._core.workspace.config_schema import process_workspace_config

    code_cmd = command_of(site, "dagster-code")
    assert code_cmd[:3] == ["dagster", "code-server", "start"]
    assert option(code_cmd, "-h", "--host") == "0.0.0.0"
    code_port = int(option(code_cmd, "-p", "--port"))
    tool = pyproject()["tool"]["dagster"]
    assert option(code_cmd, "-m", "--module-name") == tool["module_name"] == "factory_assets.definitions"
    # the code runs from the source tree, next to dbt_project/
    app_dir = option(code_cmd, "-d", "--working-directory")
    assert dockerfile.source_of(f"{app_dir}/dbt_project") == dockerfile.context / "dbt_project"

    for name, program in (("dagster-webserver", "dagster-webserver"), ("dagster-daemon", "dagster-daemon")):
        cmd = command_of(site, name)
        assert cmd[0] == program
        workspace_file = dockerfile.source_of(option(cmd, "-w", "--workspace"))
        assert workspace_file == DOCKER_DIR / "workspace.docker.yaml" and workspace_file.is_file()
        result = process_workspace_config(yaml.safe_load(workspace_file.read_text()))
        assert result.success, result.errors
        (target,) = result.value["load_from"]
        grpc = target["grpc_server"]
        assert grpc["host"] == "dagster-code" and grpc["host"] in site["services"]
        assert grpc["port"] == code_port
        assert grpc["location_name"] == option(code_cmd, "--location-name") == tool["code_location_name"]


def test_webserver_publishes_the_port_it_listens_on(site):
    cmd = command_of(site, "dagster-webserver")
    assert option(cmd, "-h", "--host") == "0.0.0.0"
    port = int(option(cmd, "-p", "--port"))
    assert port == 3000
    assert container_ports(site, "dagster-webserver") == {port}
    assert not container_ports(site, "dagster-code"), "the code server is internal only"


def test_dagster_services_wait_for_a_healthy_warehouse(site):
    for name in DAGSTER_SERVICES:
        depends = site["services"][name].get("depends_on")
        assert isinstance(depends, Mapping), f"{name}: depends_on must use the long form with conditions"
        assert depends.get("warehouse", {}).get("condition") == "service_healthy", name


def test_healthchecks_and_restart_policies(site):
    warehouse_check = site["services"]["warehouse"]["healthcheck"]["test"]
    assert "pg_isready" in " ".join(warehouse_check)
    erp_check = site["services"]["erp"]["healthcheck"]["test"]
    assert "healthcheck.sh" in " ".join(erp_check)
    for name, service in site["services"].items():
        assert service.get("restart") in RESTART_POLICIES, f"{name} has no restart policy"
        if "healthcheck" in service:
            assert service["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL"), name


# --- image ----------------------------------------------------------------------------------


def test_dockerfile_installs_the_project_and_parses_dbt(site, dockerfile):
    assert dockerfile.base == "python:3.11-slim"
    assert any(re.search(r"\bpip install \.(\s|$)", run) for run in dockerfile.runs)

    (parse,) = [run for run in dockerfile.runs if "dbt parse" in run]
    from resources.settings import dbt_env

    expected = set(dbt_env("postgresql://u:p@h:5432/d"))  # the variables profiles.yml reads
    profiles = ROOT / "dbt_project" / "profiles.yml"
    if profiles.exists():
        expected |= set(re.findall(r"env_var\(\s*['\"](FACTORY_DBT_[A-Z_]+)['\"]", profiles.read_text()))
    set_in_run = set(re.findall(r"\b([A-Z_]+)=\S+", parse))
    assert expected <= set_in_run, f"dbt parse lacks {sorted(expected - set_in_run)}"
    assert "DO_NOT_TRACK=1" in parse
    assert re.search(r"\bfactory-dbt parse\b", parse)  # the platform's dbt command (factory_assets/dbt_cli.py)
    assert re.search(r"--project-dir\s+\S+", parse) or parse.lstrip().startswith("cd dbt_project")


def test_build_context_holds_every_copied_file(dockerfile):
    """A missing COPY source fails ``docker compose build`` (README.md too: pyproject.toml names it
    as the readme, so ``pip install .`` cannot build the project's metadata without it)."""
    sources = {s for sources in dockerfile.copies.values() for s in sources}
    assert {"pyproject.toml", "docker/dagster.yaml", "docker/workspace.docker.yaml"} <= sources
    readme = pyproject()["project"].get("readme")
    if isinstance(readme, str):
        assert readme in sources, "the readme named in pyproject.toml must be copied before pip install"
    missing = sorted(s for s in sources if not (dockerfile.context / s).exists())
    assert not missing, f"COPY sources missing from the build context: {missing}"


def test_image_ships_the_instance_config_at_dagster_home(site, dockerfile):
    dagster_home = env_of(site, "dagster-code")["DAGSTER_HOME"]
    assert dockerfile.env["DAGSTER_HOME"] == dagster_home
    assert dockerfile.env.get("DO_NOT_TRACK") == "1"
    assert dockerfile.source_of(f"{dagster_home}/dagster.yaml") == DOCKER_DIR / "dagster.yaml"
    assert not any(SECRET_NAME.search(key) for key in dockerfile.env), "no secret baked into the image"


# --- dagster instance -----------------------------------------------------------------------


def test_dagster_yaml_is_valid_and_stores_runs_in_postgres(monkeypatch, site):
    from dagster._config import process_config
    from dagster._core.storage.config import pg_config
    from dagster_postgres.utils import pg_url_from_config

    config = load_dagster_instance_config()  # validated against dagster's instance schema
    assert config["telemetry"] == {"enabled": False}

    postgres = config["storage"]["postgres"]
    assert postgres["postgres_url"] == {"env": "FACTORY_DAGSTER_STORAGE_URL"}
    storage_url = env_of(site, "dagster-code")["FACTORY_DAGSTER_STORAGE_URL"]
    monkeypatch.setenv("FACTORY_DAGSTER_STORAGE_URL", storage_url)
    processed = process_config(pg_config(), postgres)
    assert processed.success, processed.errors
    assert pg_url_from_config(processed.value) == storage_url

    from dagster import DefaultRunLauncher

    assert isinstance(rehydrate(config, "run_launcher"), DefaultRunLauncher)


def test_run_queue_limits_match_the_design():
    from dagster import QueuedRunCoordinator

    coordinator = rehydrate(load_dagster_instance_config(), "run_coordinator")
    assert isinstance(coordinator, QueuedRunCoordinator)
    queue = coordinator.get_run_queue_config()
    assert queue.max_concurrent_runs == 2
    limits = {limit["key"]: limit for limit in queue.tag_concurrency_limits}
    assert limits["factory/dbt"]["limit"] == 1 and "value" not in limits["factory/dbt"]
    assert limits["factory/source"]["limit"] == 1
    assert limits["factory/source"]["value"] == {"applyLimitPerUniqueValue": True}


def test_run_queue_limits_behave_as_intended():
    """Dagster's own tag counter: one dbt run at a time, one run per source, sources in parallel."""
    from dagster._core.storage.dagster_run import DagsterRun
    from dagster._utils.tags import TagConcurrencyLimitsCounter

    queue = rehydrate(load_dagster_instance_config(), "run_coordinator").get_run_queue_config()

    def blocked(running: list[dict[str, str]], candidate: dict[str, str]) -> bool:
        in_progress = [DagsterRun(job_name="job", tags=tags) for tags in running]
        counter = TagConcurrencyLimitsCounter(list(queue.tag_concurrency_limits), in_progress)
        return counter.is_blocked(DagsterRun(job_name="job", tags=candidate))

    dbt = {"factory/dbt": "build"}
    assert blocked([dbt], dbt)
    assert not blocked([], dbt)
    assert blocked([{"factory/source": "erp"}], {"factory/source": "erp"})
    assert not blocked([{"factory/source": "erp"}], {"factory/source": "plant_db"})
    assert not blocked([{"factory/source": "erp"}], dbt)


def test_run_artifacts_and_compute_logs_are_on_a_volume_the_ui_can_read(site):
    """Runs execute in dagster-code; the webserver shows their logs: both must see the same files."""
    config = load_dagster_instance_config()
    for key in ("local_artifact_storage", "compute_logs"):
        base_dir = PurePosixPath(config[key]["config"]["base_dir"])
        rehydrate(config, key)  # module, class and config are valid
        for name in ("dagster-code", "dagster-webserver"):
            shared = [
                src
                for src, dst in volume_mounts(site, name)
                if src in site["volumes"] and base_dir.is_relative_to(dst)
            ]
            assert shared, f"{key} base_dir {base_dir} is not on a named volume of {name}"


# --- secrets --------------------------------------------------------------------------------


def _environment_items(compose: Mapping[str, Any]) -> Iterator[tuple[str, str, str]]:
    yield from (("x-factory-env", k, str(v)) for k, v in compose["x-factory-env"].items())
    for name, service in compose["services"].items():
        env = service.get("environment") or {}
        if isinstance(env, list):
            env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
        yield from ((name, k, "" if v is None else str(v)) for k, v in env.items())


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, Mapping):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def test_no_secret_literal_in_the_compose_file(compose):
    for where, key, value in _environment_items(compose):
        if SECRET_NAME.search(key) and key not in NOT_A_SECRET:
            assert VARIABLE_REF.fullmatch(value), f"{where}: {key} must come from a ${{...}} variable"
    credentials_in_urls = 0
    for text in _strings(compose):
        # ${...} references may hold ':' and spaces: mask each one as a single opaque token first
        masked = VARIABLE_REF.sub("\x00", text)
        for match in re.finditer(r"://[^:/@\s]+:([^@\s]*)@", masked):
            credentials_in_urls += 1
            assert match[1] == "\x00", f"password written in a URL: {text}"
    assert credentials_in_urls >= 3  # warehouse, dagster storage, ERP
    for value in SITE_ENV.values():
        assert value not in COMPOSE_FILE.read_text()


@pytest.mark.parametrize("variable", sorted(SITE_ENV))
def test_required_secrets_must_be_set_in_dotenv(compose, variable):
    env = {k: v for k, v in SITE_ENV.items() if k != variable}
    with pytest.raises(MissingVariableError, match=variable):
        resolve(compose, env)
    with pytest.raises(MissingVariableError, match=variable):
        resolve(compose, {**env, variable: ""})  # `:?` also refuses an empty value


# --- HTTP gateway ---------------------------------------------------------------------------


def test_gateway_runs_the_image_publishes_its_port_and_reaches_its_peers(compose, site, dockerfile):
    gateway = site["services"]["gateway"]
    assert gateway["image"] == site["services"]["dagster-code"]["image"] and "build" in gateway
    assert dockerfile.source_of("/opt/dagster/app/gateway") == dockerfile.context / "gateway"
    cmd = command_of(site, "gateway")
    assert cmd[:3] == ["python", "-m", "gateway"] and option(cmd, "--host") == "0.0.0.0"
    port = int(option(cmd, "--port"))
    assert container_ports(site, "gateway") == {port}
    assert gateway["depends_on"]["warehouse"]["condition"] == "service_healthy"
    assert "sftp" in gateway["depends_on"]
    assert str(port) in " ".join(gateway["healthcheck"]["test"])

    env = env_of(site, "gateway")
    code = env_of(site, "dagster-code")
    assert env["FACTORY_GATEWAY_API_KEY"] == SITE_ENV["FACTORY_GATEWAY_API_KEY"]
    # it writes where the sensors look, with the same key and pinned host key
    assert env["FACTORY_LANDING_URL"] == code["FACTORY_LANDING_URL"]
    for variable in ("FACTORY_SFTP_KEY_FILE", "FACTORY_SFTP_KNOWN_HOSTS"):
        assert env[variable] == code[variable]
        assert PurePosixPath(env[variable]).name in gateway["secrets"]
    # it reads the warehouse as bi_reader, with the password the platform gives that role
    read = url_parts(env["FACTORY_GATEWAY_READ_URL"])
    assert (read["user"], read["host"], read["database"]) == ("bi_reader", "warehouse", "factory")
    assert read["password"] == code["FACTORY_BI_READER_PASSWORD"] == SITE_ENV["FACTORY_BI_READER_PASSWORD"]
    # least privilege: neither the warehouse owner's URL nor the PII key
    assert "FACTORY_WAREHOUSE_URL" not in env and "FACTORY_PII_KEY" not in env
    assert "FACTORY_GATEWAY_API_KEY" not in compose["x-factory-env"]


# --- Metabase (BI, docs/bi.md) ----------------------------------------------------------------


def host_ports(site: Mapping[str, Any], service: str) -> set[int]:
    ports = set()
    for spec in site["services"][service].get("ports", []):
        if isinstance(spec, Mapping):
            ports.add(int(spec["published"]))
        else:
            parts = str(spec).split("/")[0].split(":")
            ports.add(int(parts[-2] if len(parts) > 1 else parts[-1]))
    return ports


def test_metabase_runs_the_official_image_beside_the_stack(compose, site):
    metabase = site["services"]["metabase"]
    assert compose["services"]["metabase"]["image"].split("${")[-1].split(":-")[-1].startswith("metabase/metabase:")
    assert metabase["image"].startswith("metabase/metabase:")
    assert "build" not in metabase
    assert metabase["depends_on"]["warehouse"]["condition"] == "service_healthy"
    assert container_ports(site, "metabase") == {3000}
    published = {name: host_ports(site, name) for name in site["services"]}
    assert published["metabase"] == {3001}
    clashes = [(a, b) for a in published for b in published if a < b and published[a] & published[b]]
    assert not clashes, f"two services publish the same host port: {clashes}"
    assert "/api/health" in " ".join(metabase["healthcheck"]["test"])


def test_metabase_keeps_its_own_application_database_on_a_volume(site):
    env = env_of(site, "metabase")
    assert env["MB_DB_TYPE"] == "h2"
    data = PurePosixPath(env["MB_DB_FILE"]).parent
    mounts = {dst: src for src, dst in volume_mounts(site, "metabase")}
    assert str(data) in mounts and mounts[str(data)] in site["volumes"], "the H2 file must be on a named volume"
    assert env["MB_ENCRYPTION_SECRET_KEY"] == SITE_ENV["FACTORY_METABASE_ENCRYPTION_KEY"]
    assert env["MB_ANON_TRACKING_ENABLED"] == "false"  # air-gapped sites (DESIGN.md §3)


def test_metabase_never_gets_the_warehouse_owner_and_reads_as_bi_reader(compose, site):
    """Least privilege: no owner password, no PII key, no platform URL in the Metabase service; the
    warehouse connection documented for its admin is bi_reader on the `marts` schema."""
    raw = yaml.safe_dump(compose["services"]["metabase"])
    for variable in ("FACTORY_WAREHOUSE_PASSWORD", "FACTORY_WAREHOUSE_USER", "FACTORY_PII_KEY", "POSTGRES_PASSWORD"):
        assert variable not in raw, f"metabase must not receive {variable}"
    resolved = " ".join(_strings(site["services"]["metabase"]))
    assert SITE_ENV["FACTORY_WAREHOUSE_PASSWORD"] not in resolved and SITE_ENV["FACTORY_PII_KEY"] not in resolved
    guide = (ROOT / "docs" / "bi.md").read_text()
    section = guide[guide.index("## Metabase") :]
    section = section[: section.index("\n## ", 4)] if "\n## " in section[4:] else section
    for fact in ("`warehouse`", "`5432`", "`factory`", "`bi_reader`", "`marts`", "FACTORY_BI_READER_PASSWORD"):
        assert fact in section, f"docs/bi.md's Metabase section must name {fact}"
