"""Make sure the servers the test suite needs are there and running; say exactly how otherwise.

Run by ``make test`` before pytest (``python -m tests.services``). The suite talks to real
components (DESIGN.md §10): PostgreSQL (``FACTORY_TEST_PG_URL``), MariaDB/MySQL
(``FACTORY_TEST_MYSQL_URL``) and OpenSSH's ``sshd`` (started by the tests themselves on a free
loopback port).

For each missing piece, in this order:

1. installed but stopped (the usual state after a reboot of a dev box or a fresh container):
   start it;
2. not installed, and this machine can install packages itself (root, or password-less sudo,
   and ``apt-get``): install it with apt-get, then start it;
3. otherwise: print the exact commands to run, and fail.

Servers given by URL (``FACTORY_TEST_PG_URL`` / ``FACTORY_TEST_MYSQL_URL`` pointing elsewhere
than 127.0.0.1) are only checked, never installed.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import time

PG_URL = os.environ.get("FACTORY_TEST_PG_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
MYSQL_URL = os.environ.get("FACTORY_TEST_MYSQL_URL") or "mysql+pymysql://root@127.0.0.1:3306/"

HOW = {
    "postgresql": (
        "PostgreSQL is not reachable at {url}.\n"
        "  Debian/Ubuntu: sudo apt-get install -y postgresql && sudo pg_ctlcluster $(ls /etc/postgresql) main start\n"
        "  then allow trust (or set a password in FACTORY_TEST_PG_URL) for 127.0.0.1 in pg_hba.conf,\n"
        "  or point FACTORY_TEST_PG_URL at any PostgreSQL >= 14 where the user may CREATE DATABASE."
    ),
    "mariadb": (
        "MariaDB/MySQL is not reachable at {url}.\n"
        "  Debian/Ubuntu: sudo apt-get install -y mariadb-server && sudo service mariadb start\n"
        "  (root with an empty password on 127.0.0.1:3306), or set FACTORY_TEST_MYSQL_URL."
    ),
    "sshd": "OpenSSH server is missing (the SFTP tests start a real sshd): sudo apt-get install -y openssh-server",
}


def _say(msg: str) -> None:
    print(f"test services: {msg}", flush=True)


def _port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _wait_port(port: int, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _port_open(port):
            return True
        time.sleep(0.5)
    return False


def _sudo() -> list[str] | None:
    """The prefix that runs a command as root here ([] as root, ["sudo", "-n"]), or None."""
    if os.geteuid() == 0:
        return []
    if shutil.which("sudo") and subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0:
        return ["sudo", "-n"]
    return None


def _can_install() -> bool:
    return _sudo() is not None and shutil.which("apt-get") is not None


_apt_updated = False


def _apt_install(*packages: str) -> bool:
    global _apt_updated
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    root = _sudo() or []
    if not _apt_updated:
        subprocess.run([*root, "apt-get", "update", "-qq"], env=env, capture_output=True)
        _apt_updated = True
    _say(f"installing {' '.join(packages)} with apt-get ...")
    res = subprocess.run(
        [*root, "apt-get", "install", "-y", "-qq", *packages], env=env, capture_output=True, text=True
    )
    if res.returncode != 0:
        _say(f"apt-get install {' '.join(packages)} failed:\n{res.stderr[-2000:]}")
    return res.returncode == 0


def _run_root(*cmd: str) -> bool:
    root = _sudo()
    if root is None:
        return False
    return subprocess.run([*root, *cmd], capture_output=True).returncode == 0


def _local(url: str) -> bool:
    return "127.0.0.1" in url or "localhost" in url


# ------------------------------------------------------------------ checks


def check_postgres() -> str | None:
    import psycopg

    try:
        with psycopg.connect(PG_URL, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure means "not usable"
        return HOW["postgresql"].format(url=PG_URL) + f"\n  ({str(exc).strip()})"
    return None


def check_mariadb() -> str | None:
    import pymysql
    from sqlalchemy.engine import make_url

    u = make_url(MYSQL_URL)
    try:
        conn = pymysql.connect(
            host=u.host or "127.0.0.1",
            port=u.port or 3306,
            user=u.username or "root",
            password=u.password or "",
            connect_timeout=5,
        )
        conn.close()
    except Exception as exc:  # noqa: BLE001
        return HOW["mariadb"].format(url=MYSQL_URL) + f"\n  ({exc})"
    return None


def check_sshd() -> str | None:
    if shutil.which("sshd") or os.path.exists("/usr/sbin/sshd"):
        return None
    return HOW["sshd"]


# ------------------------------------------------------------------ ensure


def ensure_sshd() -> None:
    if check_sshd() is None or not _can_install():
        return
    _apt_install("openssh-server", "openssh-client")


def ensure_postgres() -> None:
    if not _local(PG_URL) or _port_open(5432) or _sudo() is None:
        return
    clusters = sorted(glob.glob("/etc/postgresql/*/main"))
    if not clusters and shutil.which("apt-get"):
        if not _apt_install("postgresql"):
            return
        clusters = sorted(glob.glob("/etc/postgresql/*/main"))
        for c in clusters:  # the tests use trust auth on 127.0.0.1 (a throw-away test server)
            hba = f"{c}/pg_hba.conf"
            _run_root("sed", "-i", "-E", r"s/^(host\s+all\s+all\s+127\.0\.0\.1\/32\s+)\S+/\1trust/", hba)
    for c in clusters:
        version = c.split("/")[3]
        _say(f"starting PostgreSQL {version} ...")
        _run_root("pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start")
    _wait_port(5432)


def ensure_mariadb() -> None:
    if not _local(MYSQL_URL) or _port_open(3306) or _sudo() is None:
        return
    daemon = shutil.which("mariadbd") or (
        "/usr/sbin/mariadbd" if os.path.exists("/usr/sbin/mariadbd") else None
    )
    fresh = False
    if daemon is None and shutil.which("apt-get"):
        if not _apt_install("mariadb-server"):
            return
        daemon, fresh = "/usr/sbin/mariadbd", True
    if daemon is None:
        return
    _say("starting MariaDB ...")
    _run_root("mkdir", "-p", "/run/mysqld")
    _run_root("chown", "mysql:mysql", "/run/mysqld")
    _run_root(
        "start-stop-daemon", "--start", "--oknodo", "--background", "--exec", daemon, "--", "--user=mysql"
    )
    if _wait_port(3306) and fresh:
        _run_root(
            "mariadb",
            "-e",
            "ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD('') "
            "OR unix_socket; FLUSH PRIVILEGES;",
        )


def ensure_all() -> None:
    ensure_sshd()
    ensure_postgres()
    ensure_mariadb()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--check-only" not in argv:
        ensure_all()
    problems = [p for p in (check_postgres(), check_mariadb(), check_sshd()) if p]
    for p in problems:
        print(f"missing test service:\n  {p}\n", file=sys.stderr)
    if problems and not _can_install():
        print(
            "(make test installs and starts these itself when run as root or with password-less sudo "
            "on Debian/Ubuntu)",
            file=sys.stderr,
        )
    if not problems:
        _say("PostgreSQL, MariaDB and sshd available")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
