"""SFTP landing zone (``sftp://user@host:port/abs/root``) on top of paramiko.

Security rules (DESIGN.md §5):

* The server's host key is *always* checked against a known_hosts file: the ``known_hosts``
  argument, else ``$FACTORY_SFTP_KNOWN_HOSTS``, else ``~/.ssh/known_hosts``. Unknown hosts are
  rejected (never auto-added); system-wide host keys are not consulted.
* Authentication uses an explicit private key file and/or a password; the SSH agent and
  ``~/.ssh/id_*`` are never probed.
* Every connection-level failure becomes a :class:`LandingZoneError` whose message names
  ``host:port``, the step that failed (connect, banner, key exchange, auth, sftp, list, read,
  write) and the timeout, and never contains the password. Plain file errors (a missing file,
  permission denied) surface as ``OSError`` like on the local zone.
* Files stream: :meth:`SftpLandingZone.open_read` returns a reader that pipelines a bounded
  window of read requests, so memory does not grow with the file. Only regular files are opened
  (``lstat`` before, ``fstat`` of the handle after opening).
"""

from __future__ import annotations

import contextlib
import getpass
import io
import os
import posixpath
import socket
import stat
from collections.abc import Iterator
from urllib.parse import unquote, urlsplit, urlunsplit

import paramiko
from paramiko.hostkeys import InvalidHostKey

from resources.local_zone import kind_of_mode
from resources.zone import REGULAR, UNLISTABLE, FileEntry, LandingZoneError, NotARegularFile, clean_relative

KEEPALIVE_S = 30
READ_WINDOW = 64  # read requests of 32 KiB kept in flight by a reader: 2 MiB, whatever the file size
ENV_KNOWN_HOSTS = "FACTORY_SFTP_KNOWN_HOSTS"


class _RejectAndRemember(paramiko.RejectPolicy):
    """``RejectPolicy`` that remembers the offered key so the error can show its fingerprint."""

    def __init__(self) -> None:
        self.offered: paramiko.PKey | None = None

    def missing_host_key(self, client, hostname, key):
        self.offered = key
        super().missing_host_key(client, hostname, key)


def _describe_key(key: paramiko.PKey | None) -> str:
    if key is None:
        return "an unknown key"
    return f"{key.get_name()} {key.fingerprint}"


class SftpLandingZone:
    """A folder on an SFTP server. Open with :meth:`connect`; paths are relative to the root."""

    def __init__(self, client: paramiko.SSHClient, sftp: paramiko.SFTPClient, root: str, url: str):
        self._client = client
        self._sftp = sftp
        self.root = root
        self.url = url  # never contains a password
        self._where = url
        self.timeout_s = 10.0

    # ------------------------------------------------------------------ connect

    @classmethod
    def connect(
        cls,
        url: str,
        *,
        key_file: str | os.PathLike[str] | None = None,
        password: str | None = None,
        known_hosts: str | os.PathLike[str] | None = None,
        timeout_s: float = 10.0,
    ) -> SftpLandingZone:
        parts = urlsplit(url)
        if parts.scheme != "sftp":
            raise LandingZoneError(f"not an sftp:// URL: {parts.scheme}://{parts.hostname or ''}")
        host = parts.hostname
        if not host:
            raise LandingZoneError("sftp URL has no host; expected sftp://user@host:port/abs/path")
        try:
            port = parts.port or 22
        except ValueError as exc:  # port out of range / not a number
            raise LandingZoneError(f"sftp URL for host {host} has an invalid port: {exc}") from None
        where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        user = unquote(parts.username) if parts.username else getpass.getuser()
        if password is None and parts.password is not None:
            password = unquote(parts.password)
        root = unquote(parts.path)
        if not root.startswith("/"):
            raise LandingZoneError(
                f"sftp URL for {where} has no absolute root folder; expected sftp://user@host:port/abs/path"
            )
        root = posixpath.normpath(root)
        if root.startswith("//"):  # normpath keeps a leading double slash
            root = "/" + root.lstrip("/")
        netloc = f"{user}@{where}"
        safe_url = urlunsplit(("sftp", netloc, root, "", ""))

        def fail(msg: str) -> LandingZoneError:
            if password and len(password) >= 4:  # our messages never embed it; belt and braces
                msg = msg.replace(password, "***")
            return LandingZoneError(msg)

        # --- host keys: exactly one known_hosts file, never the system ones, never auto-add
        kh = known_hosts or os.environ.get(ENV_KNOWN_HOSTS) or os.path.expanduser("~/.ssh/known_hosts")
        kh = os.fspath(kh)
        keyscan = f"ssh-keyscan -p {port} {host} >> {kh}"
        client = paramiko.SSHClient()
        try:
            client.load_host_keys(kh)
        except OSError as exc:
            raise fail(
                f"cannot read known_hosts file {kh} ({exc.strerror or exc}) needed to verify the SSH host "
                f"key of {where}; create it with `{keyscan}` after verifying the fingerprint "
                f"(set {ENV_KNOWN_HOSTS} to use another file)"
            ) from None
        except InvalidHostKey as exc:
            raise fail(
                f"known_hosts file {kh} (used to verify {where}) has an invalid line: {str(exc.line)[:120]!r}; "
                "fix or remove it"
            ) from None
        policy = _RejectAndRemember()
        client.set_missing_host_key_policy(policy)

        # --- credentials
        pkey = None
        if key_file is not None:
            try:
                pkey = paramiko.PKey.from_path(os.fspath(key_file), password)
            except FileNotFoundError:
                raise fail(f"SSH key file {key_file} for {user}@{where} does not exist") from None
            except (OSError, ValueError, TypeError, paramiko.SSHException) as exc:
                raise fail(
                    f"cannot load SSH private key {key_file} for {user}@{where} "
                    f"({type(exc).__name__}: {exc}); use an ed25519/rsa/ecdsa key in OpenSSH or PEM format "
                    "(the password, if given, is tried as the key's passphrase)"
                ) from None
        if pkey is None and not password:
            raise fail(f"no credentials for {user}@{where}: pass a key file and/or a password")

        hostkey_name = host if port == 22 else f"[{host}]:{port}"
        sock = _open_socket(host, port, where, timeout_s, fail)
        try:
            client.connect(
                host,
                sock=sock,
                port=port,
                username=user,
                password=password,
                pkey=pkey,
                timeout=timeout_s,
                banner_timeout=timeout_s,
                auth_timeout=timeout_s,
                channel_timeout=timeout_s,
                allow_agent=False,
                look_for_keys=False,
            )
        except paramiko.BadHostKeyException as exc:
            client.close()
            raise fail(
                f"host key for {hostkey_name} does not match known_hosts file {kh}: the server offered "
                f"{_describe_key(exc.key)} but the file has {_describe_key(exc.expected_key)}. This can mean "
                "someone is intercepting the connection. If the server key was changed on purpose, "
                f"verify the new fingerprint, remove the old entry with "
                f"`ssh-keygen -R '{hostkey_name}' -f {kh}` and add it with `{keyscan}`"
            ) from None
        except paramiko.AuthenticationException as exc:
            client.close()
            how = " and ".join(
                x for x in (f"key file {key_file}" if pkey else "", "password" if password else "") if x
            )
            raise fail(
                f"SSH authentication failed for {user}@{where} using {how} (step: auth; {exc}); check the "
                "user name, the key's entry in the server's authorized_keys, or the password"
            ) from None
        except paramiko.SSHException as exc:
            client.close()
            text = str(exc)
            if "not found in known_hosts" in text:
                raise fail(
                    f"host key for {hostkey_name} is not in known_hosts file {kh}; add it with `{keyscan}` "
                    f"after verifying the fingerprint (server offered {_describe_key(policy.offered)})"
                ) from None
            if "banner" in text.lower():
                raise fail(
                    f"no SSH server answering at {where} within {timeout_s:g} s (step: banner; {text}); "
                    "check host and port"
                ) from None
            if (
                "timeout" in text.lower()
                or "timed out" in text.lower()
                or "no existing session" in text.lower()
            ):
                step = "auth" if "auth" in text.lower() else "key exchange"
                raise fail(
                    f"SSH server {where} stopped answering during the {step} (step: {step}; no progress "
                    f"within {timeout_s:g} s; paramiko said {text!r}); check the server's load and logs"
                ) from None
            raise fail(f"SSH connection to {where} failed: {text}") from None
        except socket.gaierror as exc:
            client.close()
            raise fail(f"cannot resolve SSH host {host} ({where}): {exc.strerror or exc}") from None
        except TimeoutError:
            client.close()
            raise fail(
                f"timed out after {timeout_s:g} s connecting to SSH server {where}; "
                "check host, port and firewall"
            ) from None
        except paramiko.ssh_exception.NoValidConnectionsError as exc:
            client.close()
            detail = "; ".join(sorted({str(e.strerror or e) for e in exc.errors.values()}))
            raise fail(
                f"cannot connect to SSH server {where}: {detail or 'connection refused'}; "
                "is sshd running and the port right?"
            ) from None
        except (OSError, EOFError) as exc:
            client.close()
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            raise fail(f"cannot connect to SSH server {where}: {reason}") from None

        transport = client.get_transport()
        try:
            assert transport is not None
            transport.set_keepalive(KEEPALIVE_S)
            sftp = client.open_sftp()
            channel = sftp.get_channel()
            if channel is not None:
                channel.settimeout(timeout_s)
        except (paramiko.SSHException, OSError, EOFError) as exc:
            client.close()
            reason = str(exc) or f"no answer within {timeout_s:g} s"
            raise fail(
                f"SSH server {where} refused the SFTP subsystem for {user} (step: sftp; {reason})"
            ) from None

        try:
            st = sftp.stat(root)
        except FileNotFoundError:
            st = None
        except PermissionError:
            client.close()
            raise fail(
                f"landing root {root} on {where} is not accessible to {user} (permission denied)"
            ) from None
        except (paramiko.SSHException, OSError, EOFError) as exc:
            client.close()
            raise fail(f"cannot stat landing root {root} on {where}: {exc}") from None
        if st is None or not stat.S_ISDIR(st.st_mode or 0):
            client.close()
            raise fail(
                f"landing root folder {root} does not exist on {where} (user {user}); "
                "create it on the server or fix the URL path"
            )
        zone = cls(client, sftp, root, safe_url)
        zone._where = where
        zone.timeout_s = timeout_s
        return zone

    # ------------------------------------------------------------------ helpers

    def _abs(self, path: str) -> str:
        return posixpath.join(self.root, clean_relative(path))

    @contextlib.contextmanager
    def _io(self, what: str, step: str = "read") -> Iterator[None]:
        """Turn transport-level failures (dropped connection, timeout) into LandingZoneError."""
        try:
            yield
        except TimeoutError:
            raise LandingZoneError(
                f"SFTP {what} on {self._where} timed out (step: {step}; the server sent nothing for "
                f"{self.timeout_s:g} s)"
            ) from None
        except (paramiko.SSHException, EOFError, ConnectionError) as exc:
            reason = str(exc) or type(exc).__name__
            raise LandingZoneError(
                f"SFTP {what} on {self._where} failed (step: {step}; connection lost: {reason})"
            ) from None
        except OSError as exc:
            if self._alive():
                raise  # a file-level error (no such file, permission denied): the caller decides
            reason = str(exc) or type(exc).__name__
            raise LandingZoneError(
                f"SFTP {what} on {self._where} failed (step: {step}; connection lost: {reason})"
            ) from None

    def _alive(self) -> bool:
        transport = self._client.get_transport()
        return transport is not None and transport.is_active()

    def _makedirs(self, folder: str) -> None:
        try:
            st = self._sftp.stat(folder)
        except FileNotFoundError:
            pass
        else:
            if not stat.S_ISDIR(st.st_mode or 0):
                raise NotADirectoryError(f"{folder} on {self._where} exists and is not a folder")
            return
        parent = posixpath.dirname(folder)
        if parent and parent != folder:
            self._makedirs(parent)
        try:
            self._sftp.mkdir(folder)
        except OSError:
            # Lost a race with another writer? Fine if the folder is there now.
            try:
                st = self._sftp.stat(folder)
            except OSError:
                st = None
            if st is None or not stat.S_ISDIR(st.st_mode or 0):
                raise

    # ------------------------------------------------------------------ LandingZone

    def list_entries(self, prefix: str) -> list[FileEntry]:
        base = self._abs(prefix) if prefix else self.root
        root_len = len(self.root.rstrip("/")) + 1
        out: list[FileEntry] = []
        pending = [base]
        with self._io(f"listing of {base}", step="list"):
            try:
                st = self._sftp.lstat(base)
            except FileNotFoundError:
                return []
            if not stat.S_ISDIR(st.st_mode or 0):
                return []  # a missing prefix, or a prefix that is a file or a link: nothing below it
            while pending:
                folder = pending.pop()
                try:
                    attrs = self._sftp.listdir_attr(folder)
                except FileNotFoundError:  # removed while walking
                    continue
                except OSError:  # e.g. permission denied: say so, list the rest
                    if folder != base:
                        out.append(FileEntry(folder[root_len:], 0, 0.0, UNLISTABLE))
                    continue
                for a in attrs:
                    # readdir attributes are lstat's: a link is reported as a link, never followed
                    kind = kind_of_mode(a.st_mode or 0)
                    full = f"{folder.rstrip('/')}/{a.filename}"
                    size = int(a.st_size or 0) if kind == REGULAR else 0
                    out.append(FileEntry(full[root_len:], size, float(a.st_mtime or 0), kind))
                    if kind == "dir":
                        pending.append(full)
        out.sort()
        return out

    def list_files(self, prefix: str) -> list[FileEntry]:
        return [e for e in self.list_entries(prefix) if e.is_regular]

    def open_read(self, path: str) -> _SftpReader:
        p = self._abs(path)
        with self._io(f"open of {p}"):
            st = self._sftp.lstat(p)
            if not stat.S_ISREG(st.st_mode or 0):
                raise NotARegularFile(path, kind_of_mode(st.st_mode or 0))
            f = self._sftp.open(p, "rb")
            try:
                st = f.stat()  # the opened handle: an entry swapped after lstat is caught here
                if not stat.S_ISREG(st.st_mode or 0):
                    raise NotARegularFile(path, kind_of_mode(st.st_mode or 0))
            except BaseException:
                f.close()
                raise
        return _SftpReader(self, f, int(st.st_size or 0), p)

    def write_stream(self, path: str, chunks: Iterator[bytes]) -> None:
        target = self._abs(path)
        folder, name = posixpath.split(target)
        tmp = posixpath.join(folder, f".{name}.part")
        with self._io(f"write of {target}", step="write"):
            self._makedirs(folder)
            try:
                with self._sftp.open(tmp, "wb") as f:
                    f.set_pipelined(True)
                    for chunk in chunks:
                        f.write(chunk)
                try:
                    self._sftp.posix_rename(tmp, target)
                except OSError:
                    # Server without posix-rename@openssh.com: plain rename refuses to overwrite.
                    with contextlib.suppress(FileNotFoundError):
                        self._sftp.remove(target)
                    self._sftp.rename(tmp, target)
            except BaseException:
                with contextlib.suppress(Exception):
                    self._sftp.remove(tmp)
                raise

    def write_bytes(self, path: str, data: bytes) -> None:
        self.write_stream(path, iter((data,)))

    def exists(self, path: str) -> bool:
        p = self._abs(path)
        with self._io(f"stat of {p}"):
            try:
                self._sftp.lstat(p)
            except FileNotFoundError:
                return False
            return True

    def remove(self, path: str) -> None:
        p = self._abs(path)
        with self._io(f"remove of {p}"), contextlib.suppress(FileNotFoundError):
            self._sftp.remove(p)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._sftp.close()
        with contextlib.suppress(Exception):
            self._client.close()

    def __enter__(self) -> SftpLandingZone:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SftpLandingZone({self.url!r})"


class _SftpReader(io.RawIOBase):
    """A read-only binary stream over an open SFTP file.

    Reads are pipelined in windows of :data:`READ_WINDOW` requests (``readv``): fast on a real
    network, and at most one window is buffered, so memory stays bounded for any file size. A
    frozen or dropped connection raises :class:`LandingZoneError` naming the host, the step and
    the timeout.
    """

    def __init__(self, zone: SftpLandingZone, f: paramiko.SFTPFile, size: int, where: str):
        super().__init__()
        self._zone = zone
        self._f = f
        self._size = size  # size when opened; a file that grows is read to its end anyway
        self._pos = 0
        self._buf = memoryview(b"")
        self._where = where

    def readable(self) -> bool:
        return True

    def _fill(self) -> None:
        step = paramiko.SFTPFile.MAX_REQUEST_SIZE
        with self._zone._io(f"read of {self._where}"):
            if self._pos < self._size:
                end = min(self._size, self._pos + READ_WINDOW * step)
                chunks = [(o, min(step, end - o)) for o in range(self._pos, end, step)]
                data = b"".join(self._f.readv(chunks))
            else:  # past the size seen at open: plain reads until the real end
                self._f.seek(self._pos)
                data = self._f.read(step)
        self._pos += len(data)
        self._buf = memoryview(data)

    def readinto(self, b) -> int:
        if not self._buf:
            self._fill()
            if not self._buf:
                return 0
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n

    def close(self) -> None:
        if not self.closed:
            with contextlib.suppress(Exception):
                self._f.close()
        super().close()


def _open_socket(host: str, port: int, where: str, timeout_s: float, fail) -> socket.socket:
    """TCP connection and first banner bytes, each bounded by ``timeout_s``.

    Done before paramiko takes over so that a firewall that drops packets (step: connect) and a
    port that accepts but never speaks SSH (step: banner) get messages that say so; paramiko
    alone reports the second as "No existing session".
    """
    try:
        sock = socket.create_connection((host, port), timeout=timeout_s)
    except socket.gaierror as exc:
        raise fail(
            f"cannot resolve SSH host {host} ({where}; step: connect): {exc.strerror or exc}"
        ) from None
    except TimeoutError:
        raise fail(
            f"timed out after {timeout_s:g} s connecting to SSH server {where} (step: connect); "
            "check host, port and firewall"
        ) from None
    except OSError as exc:
        raise fail(
            f"cannot connect to SSH server {where} (step: connect): {exc.strerror or exc}; "
            "is sshd running and the port right?"
        ) from None
    try:
        sock.settimeout(timeout_s)
        first = sock.recv(4, socket.MSG_PEEK)
    except TimeoutError:
        sock.close()
        raise fail(
            f"SSH server {where} accepted the connection but sent no SSH banner within {timeout_s:g} s "
            "(step: banner); is this port an SSH server, and is the server overloaded?"
        ) from None
    except OSError as exc:
        sock.close()
        raise fail(
            f"SSH server {where} dropped the connection before its banner (step: banner): {exc}"
        ) from None
    if not first:
        sock.close()
        raise fail(f"SSH server {where} closed the connection before sending its banner (step: banner)")
    return sock
