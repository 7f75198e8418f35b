"""The HTTP gateway over real HTTP on loopback (uvicorn started by the test): keys for both scopes,
the size limit, malformed bodies, atomic writes the sensor can never catch half-written (local
folder and a real OpenSSH SFTP server), an unreachable SFTP landing zone, `python -m gateway`, and
end to end from a POST to marts.operations through the sensor-triggered run."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import dagster as dg
import httpx
import psycopg
import pytest

from factory_assets.ingest.listing import triage
from factory_assets.ingest.migrate import migrate
from factory_assets.operations.definitions import definitions
from factory_assets.operations.kind import OPERATIONS
from factory_assets.resources_config import build_resources
from gateway import deps
from gateway.app import create_app
from gateway.config import GatewayConfigError, GatewaySettings, settings_from_env
from resources.landing import landing_zone
from tests.dbt_harness import rows as dbt_rows
from tests.dbt_harness import run_dbt
from tests.gateway_helpers import INGEST_KEY, READ_KEY, serve
from tests.test_operations_records import cnc, forging

RECORDS = [forging(), cnc()]


def files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.fixture
def landing(tmp_path) -> Path:
    path = tmp_path / "landing"
    path.mkdir()
    return path


def settings_for(landing: Path, **kw) -> GatewaySettings:
    base = dict(
        ingest_key=INGEST_KEY, read_key=READ_KEY, landing_url=landing.as_uri(),
        read_url="host=127.0.0.1 port=1 dbname=none user=bi_reader connect_timeout=1",
    )  # fmt: skip
    return GatewaySettings(**{**base, **kw})


@pytest.fixture
def gateway(landing):
    with (
        serve(create_app(settings_for(landing, max_body_bytes=4096))) as base,
        httpx.Client(base_url=base) as client,
    ):
        yield client


def post(client: httpx.Client, body, key: str | bytes | None = INGEST_KEY, **kw) -> httpx.Response:
    headers = {"Content-Type": "application/json", **({"X-API-KEY": key} if key is not None else {})}
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post("/v1/operations", content=content, headers=headers, **kw)


def test_the_gateway_refuses_to_start_without_an_ingest_key(monkeypatch, tmp_path):
    monkeypatch.delenv("FACTORY_GATEWAY_API_KEY", raising=False)
    with pytest.raises(GatewayConfigError, match="FACTORY_GATEWAY_API_KEY"):
        create_app()
    monkeypatch.setenv("FACTORY_GATEWAY_API_KEY", "")
    with pytest.raises(GatewayConfigError):
        settings_from_env()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACTORY_")}
    env["FACTORY_HOME"] = str(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "gateway"], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2 and "FACTORY_GATEWAY_API_KEY is not set" in proc.stderr


def test_ingest_accepts_a_drop_and_writes_it_once(gateway, landing):
    response = post(gateway, RECORDS)
    assert response.status_code == 202, response.text
    answer = response.json()
    assert answer["records"] == 2 and len(answer["drop_id"]) == 26
    assert answer["path"] == f"operations/gateway/{answer['drop_id']}.json"
    assert files(landing) == [answer["path"]]
    assert json.loads((landing / answer["path"]).read_bytes()) == RECORDS
    second = post(gateway, RECORDS).json()
    assert second["drop_id"] > answer["drop_id"]  # ULIDs sort by arrival


@pytest.mark.parametrize("key", [None, "", "wrong-key", READ_KEY, INGEST_KEY + "x", "é".encode() * 20])
def test_ingest_with_a_missing_or_wrong_key_is_401_and_writes_nothing(gateway, landing, key):
    response = post(gateway, RECORDS, key=key)
    assert response.status_code == 401 and "X-API-KEY" in response.json()["detail"]
    assert files(landing) == []


@pytest.mark.parametrize(
    ("path", "key", "status"),
    [
        ("/v1/next-pieces", None, 401),
        ("/v1/next-pieces", "wrong", 401),
        ("/v1/orders", INGEST_KEY, 401),  # the ingest key does not read
        ("/v1/orders/1", "", 401),
        ("/v1/warehouse-stock", READ_KEY, 503),  # right key: the (unreachable) warehouse answers 503
        ("/v1/oee", READ_KEY, 503),
    ],
)
def test_read_keys(gateway, path, key, status):
    response = gateway.get(path, headers={"X-API-KEY": key} if key is not None else {})
    assert response.status_code == status
    assert set(response.json()) == {"detail"}  # no data, a message


def test_reads_are_refused_when_the_gateway_has_no_read_key(landing):
    with serve(create_app(settings_for(landing, read_key=None))) as base:
        for key in (READ_KEY, INGEST_KEY, None):
            response = httpx.get(base + "/v1/orders", headers={"X-API-KEY": key} if key else {})
            assert response.status_code == 403
            assert "FACTORY_GATEWAY_READ_API_KEY" in response.json()["detail"]


def test_keys_are_compared_in_constant_time(monkeypatch):
    calls = []
    real = deps.hmac.compare_digest
    monkeypatch.setattr(deps.hmac, "compare_digest", lambda a, b: calls.append((a, b)) or real(a, b))
    assert deps.key_matches("abc", "abc") and not deps.key_matches("abd", "abc")
    assert not deps.key_matches("ü", "abc")  # non-ASCII never raises
    assert calls == [(b"abc", b"abc"), (b"abd", b"abc"), ("ü".encode("latin-1"), b"abc")]


def test_a_body_over_the_limit_is_413_whether_or_not_its_length_is_announced(gateway, landing):
    big = json.dumps([forging(codice_operatore=f"OP-{n}") for n in range(30)]).encode()
    assert len(big) > 4096
    assert post(gateway, big).status_code == 413
    # no Content-Length: a streamed (chunked) body is cut off while it is read
    response = gateway.post(
        "/v1/operations",
        content=(big[i : i + 1000] for i in range(0, len(big), 1000)),
        headers={"X-API-KEY": INGEST_KEY, "Content-Type": "application/json"},
    )
    assert response.status_code == 413 and "limit" in response.json()["detail"]
    assert files(landing) == []
    exact = json.dumps([forging()] + [cnc()] * 5).encode()
    exact += b" " * (4096 - len(exact))
    assert post(gateway, exact).status_code == 202


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "not_json"),
        (b"[{", "not_json"),
        (b"not json at all", "not_json"),
        (b'{"id_ordine": 1}', "not_a_json_array"),
        (b"42", "not_a_json_array"),
        (b"[NaN]", "not_json"),
        (b'["\\ud800"]', "not_json"),
    ],
)
def test_a_body_that_is_not_a_json_array_is_400_and_nothing_is_written(gateway, landing, body, message):
    response = post(gateway, body)
    assert response.status_code == 400 and response.json()["detail"].startswith(message)
    assert "nothing was written" in response.json()["detail"]
    assert files(landing) == []


def test_bad_records_are_accepted_and_judged_by_the_loader(gateway, landing):
    response = post(gateway, [{"codice_pezzo": "X"}, "not a record", forging(peso_effettivo="n/d")])
    assert response.status_code == 202 and response.json()["records"] == 3


@pytest.fixture(params=["local", "sftp"])
def zone_url(request, tmp_path):
    if request.param == "local":
        root = tmp_path / "zone"
        root.mkdir()
        yield root.as_uri(), {}
        return
    server = request.getfixturevalue("sshd_server")
    folder = Path(server.root) / f"atomic_{os.getpid()}_{time.monotonic_ns()}"
    folder.mkdir()
    yield server.url_for(folder), {"key_file": str(server.client_key), "known_hosts": str(server.known_hosts)}


def test_the_sensor_never_sees_a_partly_written_drop(zone_url, tmp_path):
    url, auth = zone_url
    settings = settings_for(tmp_path, landing_url=url, sftp_key_file=auth.get("key_file"),
                            sftp_known_hosts=auth.get("known_hosts"))  # fmt: skip
    body = json.dumps([forging(codice_operatore=f"OP-{n}") for n in range(4000)]).encode()  # ~1 MB
    seen: dict[str, bool] = {}
    stop = threading.Event()
    looks = [0]

    errors: list[BaseException] = []

    def watch():
        try:
            with landing_zone(url, **auth) as zone:
                while not stop.is_set():
                    looks[0] += 1
                    for entry, _ in triage(OPERATIONS, zone.list_entries("operations")).takeable:
                        if entry.path not in seen:
                            with zone.open_read(entry.path) as stream:
                                seen[entry.path] = stream.read() == body
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    watcher = threading.Thread(target=watch)
    with serve(create_app(settings)) as base:
        watcher.start()
        with httpx.Client(base_url=base, timeout=60) as client:
            answers = [post(client, body) for _ in range(8)]
        # let the watcher reach the last drops (each ~1 MB read over SFTP): a fixed pause was too
        # short on a loaded machine, and a drop not yet looked at proves nothing either way
        written = {a.json()["path"] for a in answers if a.status_code == 202}
        deadline = time.monotonic() + 30
        while not written <= set(dict(seen)) and not errors and time.monotonic() < deadline:
            time.sleep(0.1)
        stop.set()
        watcher.join(30)
    assert not errors and [a.status_code for a in answers] == [202] * 8
    assert looks[0] > 8
    assert seen == {a.json()["path"]: True for a in answers}  # every takeable file was whole


def test_an_unreachable_sftp_landing_zone_is_503_with_a_clear_message(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    known = tmp_path / "known_hosts"
    known.write_text("")
    settings = settings_for(tmp_path, landing_url=f"sftp://factory@127.0.0.1:{closed}/landing",
                            sftp_known_hosts=str(known), landing_timeout_s=2)  # fmt: skip
    with serve(create_app(settings)) as base, httpx.Client(base_url=base) as client:
        response = post(client, RECORDS)
        assert response.status_code == 503
        detail = response.json()["detail"]
        assert "landing zone is unreachable" in detail and "nothing was written" in detail
        assert f"127.0.0.1:{closed}" in detail and response.headers["Retry-After"] == "30"
        health = client.get("/v1/health", headers={"X-API-KEY": INGEST_KEY})
        assert health.status_code == 503 and health.json()["landing_zone"]["ok"] is False
        assert post(client, RECORDS, key="wrong").status_code == 401  # the key is checked first


def test_python_m_gateway_serves_the_openapi_document(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACTORY_")}
    env.update(FACTORY_HOME=str(tmp_path), FACTORY_GATEWAY_API_KEY=INGEST_KEY, FACTORY_GATEWAY_PORT=str(port),
               FACTORY_LANDING_URL=(tmp_path / "landing").as_uri())  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                document = httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=2).json()
                break
            except httpx.HTTPError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read().decode()
                time.sleep(0.3)
        assert {"/v1/operations", "/v1/health", "/v1/orders", "/v1/next-pieces"} <= set(document["paths"])
        body = document["paths"]["/v1/operations"]["post"]["requestBody"]["content"]["application/json"][
            "schema"
        ]
        assert body["type"] == "array" and body["items"]["required"] == [
            "id_ordine",
            "codice_pezzo",
            "tipo_operazione",
        ]
        schemes = document["components"]["securitySchemes"]
        assert {s["name"] for s in schemes.values()} == {"X-API-KEY"}
    finally:
        proc.terminate()
        proc.wait(15)


def test_end_to_end_from_a_post_to_marts_operations_through_the_sensor(factory_env, tmp_path, monkeypatch):
    monkeypatch.setenv("FACTORY_GATEWAY_API_KEY", INGEST_KEY)
    url = factory_env["warehouse_url"]
    with psycopg.connect(url, autocommit=True) as conn:
        migrate(conn)
    with serve(create_app()) as base, httpx.Client(base_url=base) as client:
        accepted = post(client, [forging(), cnc(), {"tipo_operazione": "cnc"}]).json()
    assert (factory_env["landing"] / accepted["path"]).exists()

    defs = dg.Definitions.merge(definitions(), dg.Definitions(resources=build_resources()))
    instance = dg.DagsterInstance.ephemeral()
    with dg.build_sensor_context(instance=instance, resources=build_resources()) as ctx:
        requests = defs.sensors[0](ctx).run_requests
    assert [r.run_config["ops"]["operations_ingest"]["config"]["paths"] for r in requests] == [
        [accepted["path"]]
    ]
    job = defs.resolve_job_def("operations_ingest_job")
    result = job.execute_in_process(
        run_config=requests[0].run_config, instance=instance, tags=requests[0].tags
    )
    assert result.success

    dbname = url.rsplit("/", 1)[1]
    run_dbt(dbname, tmp_path, "run", select="+path:models/marts/operations/operations.sql")
    ops = dbt_rows(
        dbname, "SELECT order_id, piece_code, operation_type, drop_path FROM marts.operations ORDER BY 3 DESC"
    )
    assert [(o["order_id"], o["piece_code"], o["operation_type"]) for o in ops] == [
        (1001, "FLG-0100", "forgiatura"),
        (1001, "ALB-2040", "cnc"),
    ]
    assert {o["drop_path"] for o in ops} == {accepted["path"]}
    assert dbt_rows(dbname, "SELECT reason FROM raw.ingest_rejects") == [{"reason": "missing_order_id"}]
