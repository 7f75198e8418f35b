"""Landing zones: one interface, two implementations (local folder, SFTP).

The same layout (DESIGN.md §5) is used on both; paths are POSIX paths relative to the zone's
root, e.g. ``machine_logs/DEM12/20241105.LOG``. Sensors only *list* (path, size, mtime);
ingestion assets *read* and archive. Nothing here hashes: hashing is the asset's job.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Protocol
from urllib.parse import unquote, urlsplit

from dagster import ConfigurableResource
from pydantic import Field


class LandingZoneError(RuntimeError):
    """The landing zone cannot be reached or read (connection, auth, host key, missing root)."""


@dataclass(frozen=True, order=True)
class FileEntry:
    path: str  # relative POSIX path below the zone root
    size: int
    mtime: float  # seconds since the epoch (whole seconds on SFTP)


class LandingZone(Protocol):
    url: str

    def list_files(self, prefix: str) -> list[FileEntry]:
        """Every regular file below ``prefix`` (recursive), sorted by path."""

    def read_bytes(self, path: str) -> bytes: ...

    def write_bytes(self, path: str, data: bytes) -> None:
        """Write atomically (temporary name, then rename), creating parent folders."""

    def exists(self, path: str) -> bool: ...

    def remove(self, path: str) -> None: ...

    def close(self) -> None: ...


def clean_relative(path: str) -> str:
    """Reject absolute paths and ``..`` so a file name can never escape the zone root."""
    p = PurePosixPath(path)
    if p.is_absolute() or ".." in p.parts or not p.parts:
        raise ValueError(f"invalid landing-zone path: {path!r}")
    return p.as_posix()


class LocalLandingZone:
    """A folder on the local file system (``file:///abs/path``)."""

    def __init__(self, root: Path, *, create: bool = True):
        self.root = Path(root)
        self.url = self.root.as_uri()
        if create:
            self.root.mkdir(parents=True, exist_ok=True)
        elif not self.root.is_dir():
            raise LandingZoneError(f"landing folder {self.root} does not exist")

    def _abs(self, path: str) -> Path:
        return self.root / clean_relative(path)

    def list_files(self, prefix: str) -> list[FileEntry]:
        base = self.root / clean_relative(prefix) if prefix else self.root
        out: list[FileEntry] = []
        if not base.is_dir():
            return out
        root_len = len(str(self.root)) + 1
        for dirpath, _dirs, files in os.walk(base):
            for name in files:
                full = os.path.join(dirpath, name)
                try:
                    st = os.stat(full)
                except FileNotFoundError:  # removed between walk and stat
                    continue
                out.append(FileEntry(full[root_len:].replace(os.sep, "/"), st.st_size, st.st_mtime))
        out.sort()
        return out

    def read_bytes(self, path: str) -> bytes:
        return self._abs(path).read_bytes()

    def write_bytes(self, path: str, data: bytes) -> None:
        target = self._abs(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def exists(self, path: str) -> bool:
        return self._abs(path).exists()

    def remove(self, path: str) -> None:
        self._abs(path).unlink(missing_ok=True)

    def close(self) -> None:
        pass


def open_landing_zone(
    url: str,
    *,
    key_file: str | None = None,
    password: str | None = None,
    known_hosts: str | None = None,
    timeout_s: float = 10.0,
) -> LandingZone:
    """Open a landing zone from its URL (``file:///…`` or ``sftp://user@host:port/path``)."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        return LocalLandingZone(Path(unquote(parts.path)))
    if parts.scheme == "sftp":
        from resources.sftp import SftpLandingZone

        return SftpLandingZone.connect(
            url, key_file=key_file, password=password, known_hosts=known_hosts, timeout_s=timeout_s
        )
    raise ValueError(f"unsupported landing-zone URL scheme {parts.scheme!r} (use file:// or sftp://)")


@contextlib.contextmanager
def landing_zone(url: str, **kwargs) -> Iterator[LandingZone]:
    zone = open_landing_zone(url, **kwargs)
    try:
        yield zone
    finally:
        zone.close()


class LandingZoneResource(ConfigurableResource):
    """A landing zone or archive, from ``FACTORY_LANDING_URL`` / ``FACTORY_ARCHIVE_URL``.

    ``url`` unset = the local default below ``FACTORY_HOME`` for the given ``role``. SFTP
    credentials come from ``FACTORY_SFTP_*`` (injected as ``EnvVar`` so they never show in the UI).
    """

    role: str = Field(default="landing", description="'landing' or 'archive': picks the default URL")
    url: str | None = Field(default=None, description="file:///abs/path or sftp://user@host:port/path")
    sftp_key_file: str | None = None
    sftp_password: str | None = None
    sftp_known_hosts: str | None = None
    timeout_s: float = 10.0

    def resolved_url(self) -> str:
        from factory_assets import settings

        if self.url:
            return self.url
        return settings.archive_url() if self.role == "archive" else settings.landing_url()

    @contextlib.contextmanager
    def open(self) -> Iterator[LandingZone]:
        with landing_zone(
            self.resolved_url(),
            key_file=self.sftp_key_file,
            password=self.sftp_password,
            known_hosts=self.sftp_known_hosts,
            timeout_s=self.timeout_s,
        ) as zone:
            yield zone
