"""Check that the servers the test suite needs are reachable; say exactly how to get them.

Run by ``make test`` before pytest. The suite talks to real components (DESIGN.md §9):
PostgreSQL (``FACTORY_TEST_PG_URL``), MariaDB/MySQL (``FACTORY_TEST_MYSQL_URL``) and OpenSSH's
``sshd`` (started by the tests themselves on a free loopback port).
"""

from __future__ import annotations

import os
import shutil
import sys

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


def main() -> int:
    problems = [p for p in (check_postgres(), check_mariadb(), check_sshd()) if p]
    for p in problems:
        print(f"missing test service:\n  {p}\n", file=sys.stderr)
    if not problems:
        print("test services: PostgreSQL, MariaDB and sshd available")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
