"""SftpLandingZone against a real OpenSSH sshd (fixtures in tests/sftp_fixtures.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from resources.landing import FileEntry, LandingZoneError, open_landing_zone
from resources.sftp import SftpLandingZone


def read_all(zone, path: str) -> bytes:
    with zone.open_read(path) as f:
        return f.read()


pytestmark = pytest.mark.sftp


def _connect(server, url: str | None = None, **kw) -> SftpLandingZone:
    kw.setdefault("key_file", str(server.client_key))
    kw.setdefault("known_hosts", str(server.known_hosts))
    return SftpLandingZone.connect(url or server.url, **kw)


def _other_ed25519_key(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True, capture_output=True
    )
    return path


def _zone_folder(zone: SftpLandingZone) -> Path:
    return Path(zone.root)  # the server is local: its root is a folder we can inspect directly


# ---------------------------------------------------------------- file operations


def test_round_trip_nested_and_binary(sftp_zone):
    zone = sftp_zone
    payloads = {
        "top.txt": b"hello\n",
        "machine_logs/DEM12/20241105.LOG": b"line 1\r\nline 2\r\n",
        "a/b/c/d/nul.bin": b"\x00\x01\x00\xff" * 1000 + b"\x00",
        "a/empty.bin": b"",
    }
    for path, data in payloads.items():
        zone.write_bytes(path, data)

    entries = zone.list_files("")
    assert [e.path for e in entries] == sorted(payloads)
    assert all(isinstance(e, FileEntry) for e in entries)
    for e in entries:
        assert e.size == len(payloads[e.path])
        assert read_all(zone, e.path) == payloads[e.path]
        assert zone.exists(e.path)
    assert [e.path for e in zone.list_files("a")] == ["a/b/c/d/nul.bin", "a/empty.bin"]
    assert [e.path for e in zone.list_files("a/b/")] == ["a/b/c/d/nul.bin"]
    assert zone.exists("a/b")  # folders exist too
    assert not zone.exists("a/nope.bin")

    # no temporary files left behind
    leftovers = [p for p in _zone_folder(zone).rglob("*") if p.name.endswith(".part")]
    assert leftovers == []

    zone.remove("a/b/c/d/nul.bin")
    assert not zone.exists("a/b/c/d/nul.bin")
    zone.remove("a/b/c/d/nul.bin")  # removing a missing file is not an error
    assert [e.path for e in zone.list_files("")] == [
        "a/empty.bin",
        "machine_logs/DEM12/20241105.LOG",
        "top.txt",
    ]
    with pytest.raises(FileNotFoundError):
        read_all(zone, "a/b/c/d/nul.bin")


def test_overwrite_is_atomic_replacement(sftp_zone):
    zone = sftp_zone
    zone.write_bytes("x/f.dat", b"first version, longer")
    zone.write_bytes("x/f.dat", b"second")
    assert read_all(zone, "x/f.dat") == b"second"
    assert [e.path for e in zone.list_files("x")] == ["x/f.dat"]
    assert sorted(p.name for p in (_zone_folder(zone) / "x").iterdir()) == ["f.dat"]


def test_large_file_round_trip(sftp_zone):
    data = os.urandom(3 * 1024 * 1024 + 17)
    sftp_zone.write_bytes("big/blob.bin", data)
    assert read_all(sftp_zone, "big/blob.bin") == data
    assert sftp_zone.list_files("big")[0].size == len(data)


def test_list_files_matches_server_stat(sftp_zone):
    zone = sftp_zone
    zone.write_bytes("logs/m1/a.log", b"a" * 10)
    zone.write_bytes("logs/m2/b.log", b"b" * 2000)
    zone.write_bytes("other/c.csv", b"c,d\n")
    folder = _zone_folder(zone)
    os.utime(folder / "logs/m1/a.log", (1_700_000_000, 1_700_000_000))
    # things that are not regular files are skipped
    (folder / "logs/m2/empty_dir").mkdir()
    os.symlink(folder / "other/c.csv", folder / "logs/link.csv")
    os.mkfifo(folder / "logs/fifo")

    entries = zone.list_files("logs")
    assert [e.path for e in entries] == ["logs/m1/a.log", "logs/m2/b.log"]
    for e in entries:
        st = os.stat(folder / e.path)
        assert e.size == st.st_size
        assert e.mtime == float(int(st.st_mtime))  # SFTP v3: whole seconds
        assert isinstance(e.mtime, float)
    assert entries[0].mtime == 1_700_000_000.0

    assert zone.list_files("missing") == []
    assert zone.list_files("logs/missing/deeper") == []
    assert zone.list_files("other/c.csv") == []  # a file is not a folder
    assert [e.path for e in zone.list_files("")] == ["logs/m1/a.log", "logs/m2/b.log", "other/c.csv"]


def test_list_many_files_quickly(sftp_zone):
    folder = _zone_folder(sftp_zone)
    expected = []
    for d in range(50):
        sub = folder / "many" / f"d{d:02}"
        sub.mkdir(parents=True)
        for f in range(200):
            (sub / f"f{f:03}.log").write_bytes(b"x")
            expected.append(f"many/d{d:02}/f{f:03}.log")
    t0 = time.monotonic()
    entries = sftp_zone.list_files("many")
    elapsed = time.monotonic() - t0
    assert [e.path for e in entries] == expected  # 10,000 files, sorted
    assert elapsed < 10, f"listing 10,000 files took {elapsed:.1f} s"


def test_path_traversal_is_rejected(sftp_zone):
    for bad in ("../x", "a/../../x", "/etc/passwd", ""):
        with pytest.raises(ValueError):
            read_all(sftp_zone, bad)
        with pytest.raises(ValueError):
            sftp_zone.write_bytes(bad, b"x")
        with pytest.raises(ValueError):
            sftp_zone.exists(bad)
        with pytest.raises(ValueError):
            sftp_zone.remove(bad)
    with pytest.raises(ValueError):
        sftp_zone.list_files("../")
    assert not (_zone_folder(sftp_zone).parent / "x").exists()


# ---------------------------------------------------------------- connecting / auth


def test_key_auth_and_open_landing_zone_dispatch(sshd_server):
    zone = open_landing_zone(
        sshd_server.url, key_file=str(sshd_server.client_key), known_hosts=str(sshd_server.known_hosts)
    )
    try:
        assert isinstance(zone, SftpLandingZone)
        assert zone.url == sshd_server.url
        assert zone.root == str(sshd_server.root)
        zone.list_files("")
    finally:
        zone.close()
    zone.close()  # idempotent


def test_known_hosts_from_environment(sshd_server, monkeypatch):
    monkeypatch.setenv("FACTORY_SFTP_KNOWN_HOSTS", str(sshd_server.known_hosts))
    with SftpLandingZone.connect(sshd_server.url, key_file=str(sshd_server.client_key)) as zone:
        zone.write_bytes("env/ok.txt", b"ok")
        assert zone.exists("env/ok.txt")
        zone.remove("env/ok.txt")


def test_password_auth(sshd_server, sftp_password_user):
    user, password, root = sftp_password_user
    url = sshd_server.url_for(root, user=user)
    with SftpLandingZone.connect(url, password=password, known_hosts=str(sshd_server.known_hosts)) as zone:
        zone.write_bytes("in/p.txt", b"by password")
        assert read_all(zone, "in/p.txt") == b"by password"
        assert [e.path for e in zone.list_files("")] == ["in/p.txt"]
    # written as that user, not as root
    assert (root / "in/p.txt").stat().st_uid == root.stat().st_uid != 0


def test_wrong_password_is_refused_without_leaking_it(sshd_server, sftp_password_user):
    user, password, root = sftp_password_user
    wrong = password + "Wrong!"
    with pytest.raises(LandingZoneError) as info:
        SftpLandingZone.connect(
            sshd_server.url_for(root, user=user), password=wrong, known_hosts=str(sshd_server.known_hosts)
        )
    msg = str(info.value)
    assert "authentication failed" in msg
    assert f"{user}@127.0.0.1:{sshd_server.port}" in msg
    assert wrong not in msg and password not in msg
    assert info.value.__cause__ is None  # the paramiko exception is not chained into tracebacks


def test_wrong_key_is_refused(sshd_server, tmp_path):
    other = _other_ed25519_key(tmp_path, "not_authorized")
    with pytest.raises(LandingZoneError) as info:
        _connect(sshd_server, key_file=str(other))
    msg = str(info.value)
    assert "authentication failed" in msg and f"127.0.0.1:{sshd_server.port}" in msg
    assert str(other) in msg


def test_missing_key_file(sshd_server, tmp_path):
    with pytest.raises(LandingZoneError, match="does not exist"):
        _connect(sshd_server, key_file=str(tmp_path / "nope"))


def test_missing_root_folder(sshd_server):
    url = sshd_server.url_for(sshd_server.root / "does" / "not" / "exist")
    with pytest.raises(LandingZoneError) as info:
        _connect(sshd_server, url)
    assert "does not exist" in str(info.value) and f"127.0.0.1:{sshd_server.port}" in str(info.value)


# ---------------------------------------------------------------- host keys


def test_wrong_host_key_is_refused(sshd_server, tmp_path):
    impostor = _other_ed25519_key(tmp_path, "impostor")
    pub = " ".join((tmp_path / "impostor.pub").read_text().split()[:2])
    kh = tmp_path / "known_hosts"
    kh.write_text(f"[127.0.0.1]:{sshd_server.port} {pub}\n")
    assert impostor.exists()
    with pytest.raises(LandingZoneError) as info:
        _connect(sshd_server, known_hosts=str(kh))
    msg = str(info.value)
    assert "does not match" in msg
    assert "known_hosts" in msg and str(kh) in msg
    assert f"[127.0.0.1]:{sshd_server.port}" in msg
    assert sshd_server.host_key_fingerprint in msg  # what the server offered


def test_unknown_host_is_refused(sshd_server, tmp_path):
    kh = tmp_path / "known_hosts"
    kh.write_text("")
    with pytest.raises(LandingZoneError) as info:
        _connect(sshd_server, known_hosts=str(kh))
    msg = str(info.value)
    assert f"[127.0.0.1]:{sshd_server.port} is not in known_hosts file {kh}" in msg
    assert f"ssh-keyscan -p {sshd_server.port} 127.0.0.1 >> {kh}" in msg
    assert sshd_server.host_key_fingerprint in msg
    # nothing was added to the file
    assert kh.read_text() == ""


def test_host_key_for_other_port_does_not_count(sshd_server, tmp_path):
    kh = tmp_path / "known_hosts"
    kh.write_text(f"127.0.0.1 {sshd_server.host_public_key}\n")  # i.e. port 22 only
    with pytest.raises(LandingZoneError, match="is not in known_hosts"):
        _connect(sshd_server, known_hosts=str(kh))


def test_hashed_known_hosts_entry_works(sshd_server, tmp_path):
    kh = tmp_path / "known_hosts"
    kh.write_text(sshd_server.known_hosts.read_text())
    subprocess.run(["ssh-keygen", "-H", "-f", str(kh)], check=True, capture_output=True)
    assert kh.read_text().startswith("|1|")
    with _connect(sshd_server, known_hosts=str(kh)) as zone:
        zone.list_files("")


def test_missing_known_hosts_file(sshd_server, tmp_path):
    kh = tmp_path / "absent_known_hosts"
    with pytest.raises(LandingZoneError) as info:
        _connect(sshd_server, known_hosts=str(kh))
    assert str(kh) in str(info.value) and "ssh-keyscan" in str(info.value)


def test_malformed_known_hosts_file(sshd_server, tmp_path):
    kh = tmp_path / "known_hosts"
    kh.write_text(f"[127.0.0.1]:{sshd_server.port} ssh-ed25519 not-base64!\n")
    with pytest.raises(LandingZoneError, match="invalid line"):
        _connect(sshd_server, known_hosts=str(kh))


# ---------------------------------------------------------------- unreachable servers


def _unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_connection_refused_is_quick_and_clear(sshd_server):
    port = _unused_port()
    url = f"sftp://{sshd_server.user}@127.0.0.1:{port}/tmp"
    t0 = time.monotonic()
    with pytest.raises(LandingZoneError) as info:
        _connect(sshd_server, url, timeout_s=5)
    assert time.monotonic() - t0 < 5
    assert f"127.0.0.1:{port}" in str(info.value)


def test_silent_server_times_out(sshd_server):
    """A port that accepts TCP but never speaks SSH: bounded by timeout_s."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        accepted: list[socket.socket] = []
        stop = threading.Event()

        def accept() -> None:
            listener.settimeout(5)
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                pass
            stop.wait(5)

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        t0 = time.monotonic()
        try:
            with pytest.raises(LandingZoneError) as info:
                _connect(sshd_server, f"sftp://{sshd_server.user}@127.0.0.1:{port}/tmp", timeout_s=1.0)
        finally:
            stop.set()
            thread.join(5)
            for conn in accepted:
                conn.close()
        assert time.monotonic() - t0 < 4
        assert f"127.0.0.1:{port}" in str(info.value)
