"""What every landing zone (and archive) offers, whatever its storage: the contract of DESIGN.md §5.

Paths are POSIX paths relative to the zone's root, e.g. ``machine_logs/DEM12/20241105.LOG``.

* Sensors only **list** (:meth:`LandingZone.list_entries`: path, size, mtime, kind), never read.
* Ingestion **opens a stream** (:meth:`LandingZone.open_read`) and reads it once, in chunks, so
  memory never grows with the size of a file. Only regular files inside the root are ever
  opened: a symbolic link, a FIFO, a device or a folder raises :class:`NotARegularFile`, checked
  on the opened handle (``fstat``), not only on the listing, because a hostile or careless writer
  can swap an entry between listing and reading.
* Writes are atomic (temporary name, then rename) so a reader never sees half a file.

This module is the bottom of the ``resources`` package: it imports nothing from the project.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import BinaryIO, Protocol

# Entry kinds of a listing. Only "file" is ever opened.
REGULAR = "file"
DIRECTORY = "dir"
SYMLINK = "symlink"
FIFO = "fifo"
OTHER = "other"  # socket, device, or anything else that is not a regular file
UNLISTABLE = "unlistable"  # a folder whose content cannot be listed (permissions)

COPY_CHUNK = 1 << 20  # bytes per read when streaming a file


class LandingZoneError(RuntimeError):
    """The zone cannot be reached or read (connection, auth, host key, timeout, missing root).

    Messages name the host (or folder), the step that failed and the timeout, never a secret.
    """


class NotARegularFile(OSError):
    """The path is a symbolic link, FIFO, device or folder: never opened (``not_a_regular_file``)."""

    def __init__(self, path: str, what: str):
        super().__init__(f"{path} is not a regular file inside the landing root ({what})")
        self.path = path
        self.what = what


@dataclass(frozen=True, order=True)
class FileEntry:
    path: str  # relative POSIX path below the zone root
    size: int
    mtime: float  # seconds since the epoch (whole seconds on SFTP)
    kind: str = REGULAR

    @property
    def is_regular(self) -> bool:
        return self.kind == REGULAR


class LandingZone(Protocol):
    url: str  # never contains a secret

    def list_entries(self, prefix: str) -> list[FileEntry]:
        """Every entry below ``prefix`` (recursive, symbolic links not followed), sorted by path.

        Regular files, and also folders, links, FIFOs, ... (``kind``) so that callers can explain
        them; a listing never fails because of one odd entry (a link loop, an unreadable folder).
        """

    def list_files(self, prefix: str) -> list[FileEntry]:
        """The regular files of :meth:`list_entries`."""

    def open_read(self, path: str) -> BinaryIO:
        """A binary stream of a regular file (context manager); :class:`NotARegularFile` otherwise."""

    def write_stream(self, path: str, chunks: Iterator[bytes]) -> None:
        """Write atomically (temporary name, then rename), creating parent folders."""

    def write_bytes(self, path: str, data: bytes) -> None: ...

    def exists(self, path: str) -> bool: ...

    def remove(self, path: str) -> None: ...

    def close(self) -> None: ...


def clean_relative(path: str) -> str:
    """Reject absolute paths and ``..`` so a file name can never escape the zone root."""
    p = PurePosixPath(path)
    if p.is_absolute() or ".." in p.parts or not p.parts:
        raise ValueError(f"invalid landing-zone path: {path!r}")
    return p.as_posix()


def iter_chunks(stream: BinaryIO, size: int = COPY_CHUNK) -> Iterator[bytes]:
    """Read ``stream`` to its end in chunks of at most ``size`` bytes."""
    while True:
        chunk = stream.read(size)
        if not chunk:
            return
        yield chunk
