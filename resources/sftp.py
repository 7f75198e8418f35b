"""SFTP landing zone (``sftp://user@host:port/abs/root``) on top of paramiko.

Security rules (DESIGN.md §5):

* The server's host key is *always* checked against a known_hosts file: the ``known_hosts``
  argument, else ``$FACTORY_SFTP_KNOWN_HOSTS``, else ``~/.ssh/known_hosts``. Unknown hosts are
  rejected (never auto-added); system-wide host keys are not consulted.
* Authentication uses an explicit private key file and/or a password; the SSH agent and
  ``~/.ssh/id_*`` are never probed.
* Every connection-level failure becomes a :class:`LandingZoneError` whose message names
  ``host:port`` and never contains the password. Plain file errors (a missing file in
  :meth:`read_bytes`, permission denied) surface as ``OSError`` like on the local zone.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import posixpath
import socket
import stat
from collections.abc import Iterator
from urllib.parse import unquote, urlsplit, urlunsplit

import paramiko
from paramiko.hostkeys import InvalidHostKey

from resources.landing import FileEntry, LandingZoneError, clean_relative

KEEPALIVE_S = 30
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
        try:
            client.connect(
                host,
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
                f"SSH authentication failed for {user}@{where} using {how} ({exc}); check the user name, "
                "the key's entry in the server's authorized_keys, or the password"
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
                    f"no SSH server answering at {where} within {timeout_s:g} s ({text}); check host and port"
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
            raise fail(f"SSH server {where} refused the SFTP subsystem for {user}: {exc}") from None

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
        return zone

    # ------------------------------------------------------------------ helpers

    def _abs(self, path: str) -> str:
        return posixpath.join(self.root, clean_relative(path))

    @contextlib.contextmanager
    def _io(self, what: str) -> Iterator[None]:
        """Turn transport-level failures (dropped connection, timeout) into LandingZoneError."""
        try:
            yield
        except (paramiko.SSHException, EOFError, TimeoutError) as exc:
            raise LandingZoneError(
                f"SFTP {what} on {self._where} failed: {type(exc).__name__}: {exc}"
            ) from exc

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

    def list_files(self, prefix: str) -> list[FileEntry]:
        base = self._abs(prefix) if prefix else self.root
        root_len = len(self.root.rstrip("/")) + 1
        out: list[FileEntry] = []
        pending = [base]
        with self._io(f"listing of {base}"):
            while pending:
                folder = pending.pop()
                try:
                    attrs = self._sftp.listdir_attr(folder)
                except FileNotFoundError:  # missing prefix, or removed while walking
                    continue
                except OSError:
                    if folder == base:  # e.g. the prefix is a file: nothing below it
                        with contextlib.suppress(OSError):
                            if not stat.S_ISDIR(self._sftp.stat(folder).st_mode or 0):
                                continue
                    raise
                for a in attrs:
                    mode = a.st_mode or 0
                    full = f"{folder.rstrip('/')}/{a.filename}"
                    if stat.S_ISDIR(mode):
                        pending.append(full)
                    elif stat.S_ISREG(mode):
                        out.append(FileEntry(full[root_len:], int(a.st_size or 0), float(a.st_mtime or 0)))
        out.sort()
        return out

    def read_bytes(self, path: str) -> bytes:
        p = self._abs(path)
        with self._io(f"read of {p}"), self._sftp.open(p, "rb") as f:
            f.prefetch()
            return f.read()

    def write_bytes(self, path: str, data: bytes) -> None:
        target = self._abs(path)
        folder, name = posixpath.split(target)
        tmp = posixpath.join(folder, f".{name}.part")
        with self._io(f"write of {target}"):
            self._makedirs(folder)
            try:
                with self._sftp.open(tmp, "wb") as f:
                    f.set_pipelined(True)
                    f.write(data)
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

    def exists(self, path: str) -> bool:
        p = self._abs(path)
        with self._io(f"stat of {p}"):
            try:
                self._sftp.stat(p)
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
