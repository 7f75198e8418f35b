"""Pytest plugin: a real OpenSSH ``sshd`` on 127.0.0.1 for SFTP landing-zone tests.

Load it from ``tests/conftest.py`` with ``pytest_plugins = ["tests.sftp_fixtures"]`` (or ``-p
tests.sftp_fixtures``). Fixtures:

* ``sshd_server`` (session): an sshd with its own ed25519 host key, a client key authorised for the
  current user, a known_hosts file with the ``[127.0.0.1]:PORT`` entry and a landing root folder.
* ``sftp_password_user`` (session, root only): a throw-away local user with a random password.
* ``sftp_zone`` (function): an ``SftpLandingZone`` (key auth) on a fresh, empty sub-folder.

A missing OpenSSH server fails the tests (CI must install it) unless ``FACTORY_ALLOW_SKIP_SFTP=1``.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import pytest

SSHD_CANDIDATES = ("/usr/sbin/sshd", "/usr/local/sbin/sshd", "/sbin/sshd")
MISSING_MSG = "OpenSSH server missing: apt-get install -y openssh-server"
START_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class SshdServer:
    host: str  # always 127.0.0.1
    port: int
    user: str  # the user running the tests (authorised with client_key)
    client_key: Path  # ed25519 private key, unencrypted
    known_hosts: Path  # one line: "[127.0.0.1]:PORT ssh-ed25519 AAAA..."
    root: Path  # absolute folder served as the landing root (owned by ``user``)
    log: Path  # sshd's own log (-e, LogLevel VERBOSE)
    host_public_key: str  # "ssh-ed25519 AAAA..."
    host_key_fingerprint: str  # "SHA256:..." as printed by ssh-keygen -l
    workdir: Path  # keys, config, pid file

    @property
    def url(self) -> str:
        return f"sftp://{self.user}@{self.host}:{self.port}{self.root.as_posix()}"

    def url_for(self, root: str | os.PathLike[str], user: str | None = None) -> str:
        return f"sftp://{user or self.user}@{self.host}:{self.port}{Path(root).as_posix()}"

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no sshd log)"


class PasswordUser(NamedTuple):
    user: str
    password: str
    root: Path


def _missing(what: str) -> None:
    msg = f"{MISSING_MSG} ({what} not found)"
    if os.environ.get("FACTORY_ALLOW_SKIP_SFTP") == "1":
        pytest.skip(msg)
    pytest.fail(msg, pytrace=False)


def _find_sshd() -> str | None:
    for cand in (shutil.which("sshd"), *SSHD_CANDIDATES):
        if cand and os.access(cand, os.X_OK):
            return cand
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=30, **kw)


def _keygen(ssh_keygen: str, path: Path, comment: str) -> None:
    _run([ssh_keygen, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)])


def _write_config(
    path: Path, *, port: int, workdir: Path, host_key: Path, authorized: Path, extra: list[str]
):
    lines = [
        f"ListenAddress 127.0.0.1:{port}",
        f"HostKey {host_key}",
        f"PidFile {workdir / 'sshd.pid'}",
        f"AuthorizedKeysFile {authorized}",
        "StrictModes no",  # tmp dirs/keys are not laid out the way sshd insists on for ~/.ssh
        "PubkeyAuthentication yes",
        "PasswordAuthentication yes",
        "PermitEmptyPasswords no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",  # sshd (as root) then checks /etc/shadow itself via getspnam()
        "PermitRootLogin yes",
        "UseDNS no",
        "X11Forwarding no",
        "AllowTcpForwarding no",
        "AllowAgentForwarding no",
        "PrintMotd no",
        "MaxStartups 100",
        "MaxAuthTries 10",
        "LoginGraceTime 20",
        "Subsystem sftp internal-sftp",
        "LogLevel VERBOSE",
        *extra,
    ]
    path.write_text("\n".join(lines) + "\n")


def _config_ok(sshd: str, cfg: Path) -> tuple[bool, str]:
    res = subprocess.run([sshd, "-t", "-f", str(cfg)], capture_output=True, text=True, timeout=30)
    return res.returncode == 0, (res.stdout + res.stderr).strip()


def _wait_listening(proc: subprocess.Popen, port: int, deadline: float) -> bool:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.settimeout(2.0)
                if s.recv(64).startswith(b"SSH-"):
                    return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture(scope="session")
def sshd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshdServer]:
    with running_sshd(tmp_path_factory.mktemp("sshd"), tmp_path_factory.mktemp("sftp_root")) as server:
        yield server


@contextlib.contextmanager
def running_sshd(workdir: Path, root: Path) -> Iterator[SshdServer]:
    """A real sshd on a free loopback port, with keys in ``workdir``, serving ``root`` (also used by
    the benchmarks)."""
    sshd = _find_sshd()
    if sshd is None:
        _missing("sshd")
    ssh_keygen = shutil.which("ssh-keygen")
    if ssh_keygen is None:
        _missing("ssh-keygen")
    assert sshd is not None and ssh_keygen is not None

    host_key = workdir / "ssh_host_ed25519_key"
    client_key = workdir / "client_ed25519"
    _keygen(ssh_keygen, host_key, "factory-test-host")
    _keygen(ssh_keygen, client_key, "factory-test-client")
    authorized = workdir / "authorized_keys"
    authorized.write_text(Path(f"{client_key}.pub").read_text())
    host_pub = " ".join(Path(f"{host_key}.pub").read_text().split()[:2])
    fingerprint = _run([ssh_keygen, "-l", "-E", "sha256", "-f", f"{host_key}.pub"]).stdout.split()[1]
    user = pwd.getpwuid(os.getuid()).pw_name

    if os.geteuid() == 0:
        # Privilege-separation directory; missing in fresh containers (normally made by systemd).
        Path("/run/sshd").mkdir(mode=0o755, parents=True, exist_ok=True)
        os.chmod("/run/sshd", 0o755)

    cfg = workdir / "sshd_config"
    log = workdir / "sshd.log"
    # OpenSSH >= 9.8 penalises sources with failed logins; our negative tests would trip it.
    extra = ["PerSourcePenalties no"]
    proc: subprocess.Popen | None = None
    errors: list[str] = []
    for _attempt in range(3):  # the free port may be taken between probing and binding
        port = _free_port()
        _write_config(cfg, port=port, workdir=workdir, host_key=host_key, authorized=authorized, extra=extra)
        ok, out = _config_ok(sshd, cfg)
        if not ok and extra and "PerSourcePenalties" in out:
            extra = []  # older OpenSSH: option unknown (and not needed)
            _write_config(
                cfg, port=port, workdir=workdir, host_key=host_key, authorized=authorized, extra=extra
            )
            ok, out = _config_ok(sshd, cfg)
        if not ok:
            pytest.fail(f"sshd rejected the test configuration {cfg}:\n{out}", pytrace=False)
        with open(log, "ab") as log_fh:
            proc = subprocess.Popen(
                [sshd, "-D", "-e", "-f", str(cfg)],
                stdin=subprocess.DEVNULL,
                stdout=log_fh,
                stderr=subprocess.STDOUT,
            )
        if _wait_listening(proc, port, time.monotonic() + START_TIMEOUT_S):
            break
        _stop(proc)
        errors.append(f"port {port}: exit code {proc.returncode}")
        proc = None
    if proc is None:
        tail = log.read_text(errors="replace")[-4000:] if log.exists() else "(no log)"
        pytest.fail(
            f"sshd did not start listening on 127.0.0.1 within {START_TIMEOUT_S:g} s "
            f"({'; '.join(errors)}); config {cfg}; log:\n{tail}",
            pytrace=False,
        )

    known_hosts = workdir / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{port} {host_pub}\n")
    server = SshdServer(
        host="127.0.0.1",
        port=port,
        user=user,
        client_key=client_key,
        known_hosts=known_hosts,
        root=root.resolve(),
        log=log,
        host_public_key=host_pub,
        host_key_fingerprint=fingerprint,
        workdir=workdir,
    )
    try:
        yield server
    finally:
        _stop(proc)


@pytest.fixture(scope="session")
def sftp_password_user(sshd_server: SshdServer) -> Iterator[PasswordUser]:
    """A local user with a random password whose home is its (own) landing root; deleted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("needs root to create a local user for the password case")
    for tool in ("useradd", "userdel", "chpasswd"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} missing (apt-get install -y passwd)", pytrace=False)
    name = f"factory_sftp_{secrets.token_hex(3)}"
    password = secrets.token_urlsafe(18)
    # Not below tmp_path_factory (mode 0700, root-owned): the user must be able to reach it.
    root = Path(tempfile.mkdtemp(prefix=f"{name}_")).resolve()
    # internal-sftp runs inside sshd, so a nologin shell is fine (sshd only checks it is executable).
    shell = next(s for s in ("/usr/sbin/nologin", "/sbin/nologin", "/bin/sh") if os.access(s, os.X_OK))
    _run(["useradd", "-M", "-d", str(root), "-s", shell, "-c", "factory sftp test user", name])
    try:
        _run(["chpasswd"], input=f"{name}:{password}\n")
        pw = pwd.getpwnam(name)
        os.chown(root, pw.pw_uid, pw.pw_gid)
        os.chmod(root, 0o755)
        yield PasswordUser(name, password, root)
    finally:
        subprocess.run(["userdel", name], capture_output=True, timeout=30)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def sftp_zone(sshd_server: SshdServer) -> Iterator:
    """An SftpLandingZone (key auth) on a fresh, empty folder below ``sshd_server.root``."""
    from resources.sftp import SftpLandingZone

    folder = Path(tempfile.mkdtemp(prefix="zone_", dir=sshd_server.root))
    zone = SftpLandingZone.connect(
        sshd_server.url_for(folder),
        key_file=str(sshd_server.client_key),
        known_hosts=str(sshd_server.known_hosts),
    )
    try:
        yield zone
    finally:
        zone.close()
        with contextlib.suppress(OSError):
            shutil.rmtree(folder)
