"""A landing zone (or archive) in a local folder (``file:///abs/path``).

The folder is shared with whoever drops files, so nothing in it is trusted:

* listing never follows a symbolic link and never fails because of one odd entry (a link loop,
  a FIFO, an unreadable folder): each is reported with its ``kind``;
* :meth:`LocalLandingZone.open_read` walks the path one component at a time from the root with
  ``O_NOFOLLOW`` (a link anywhere on the path is refused, so nothing outside the root is read),
  opens the file with ``O_NONBLOCK`` (opening a FIFO swapped in after the listing returns at
  once instead of hanging) and checks ``fstat`` of the opened handle: only a regular file is
  returned.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from resources.zone import (
    DIRECTORY,
    FIFO,
    OTHER,
    REGULAR,
    SYMLINK,
    UNLISTABLE,
    FileEntry,
    LandingZoneError,
    NotARegularFile,
    clean_relative,
)


def kind_of_mode(mode: int) -> str:
    if stat.S_ISREG(mode):
        return REGULAR
    if stat.S_ISDIR(mode):
        return DIRECTORY
    if stat.S_ISLNK(mode):
        return SYMLINK
    if stat.S_ISFIFO(mode):
        return FIFO
    return OTHER


class LocalLandingZone:
    """A folder on the local file system."""

    def __init__(self, root: Path, *, create: bool = True):
        self.root = Path(root)
        self.url = self.root.as_uri()
        if create:
            self.root.mkdir(parents=True, exist_ok=True)
        elif not self.root.is_dir():
            raise LandingZoneError(f"landing folder {self.root} does not exist")

    def _abs(self, path: str) -> Path:
        return self.root / clean_relative(path)

    # ------------------------------------------------------------------ listing

    def list_entries(self, prefix: str) -> list[FileEntry]:
        rel_base = clean_relative(prefix) if prefix else ""
        base = self.root / rel_base if rel_base else self.root
        try:
            st = base.lstat()
        except FileNotFoundError:
            return []
        if not stat.S_ISDIR(st.st_mode):
            return []  # a missing prefix or a prefix that is not a real folder: nothing below it
        out: list[FileEntry] = []
        pending = [(base, rel_base)]
        while pending:
            folder, rel = pending.pop()
            try:
                with os.scandir(folder) as it:
                    items = list(it)
            except FileNotFoundError:  # removed while walking
                continue
            except OSError:
                if rel:
                    out.append(FileEntry(rel, 0, 0.0, UNLISTABLE))
                continue
            for item in items:
                path = f"{rel}/{item.name}" if rel else item.name
                try:
                    st = item.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                except OSError:
                    out.append(FileEntry(path, 0, 0.0, OTHER))
                    continue
                kind = kind_of_mode(st.st_mode)
                size = st.st_size if kind == REGULAR else 0
                out.append(FileEntry(path, size, st.st_mtime, kind))
                if kind == DIRECTORY:
                    pending.append((item.path, path))
        out.sort()
        return out

    def list_files(self, prefix: str) -> list[FileEntry]:
        return [e for e in self.list_entries(prefix) if e.is_regular]

    # ------------------------------------------------------------------ reading

    def _open_fd(self, path: str) -> int:
        parts = clean_relative(path).split("/")
        try:
            dir_fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as exc:
            raise LandingZoneError(f"landing folder {self.root} cannot be opened: {exc.strerror}") from None
        try:
            for i, name in enumerate(parts[:-1]):
                try:
                    fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd)
                except OSError as exc:
                    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                        where = "/".join(parts[: i + 1])
                        raise NotARegularFile(path, f"{where} is a symbolic link or not a folder") from None
                    raise
                os.close(dir_fd)
                dir_fd = fd
            flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY
            try:
                fd = os.open(parts[-1], flags, dir_fd=dir_fd)
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise NotARegularFile(path, "symbolic link") from None
                if exc.errno in (errno.EISDIR, errno.ENXIO):
                    raise NotARegularFile(path, "folder or device") from None
                raise
        finally:
            os.close(dir_fd)
        try:
            mode = os.fstat(fd).st_mode
            if not stat.S_ISREG(mode):
                raise NotARegularFile(path, kind_of_mode(mode))
            flags = fcntl.fcntl(fd, fcntl.F_GETFL)
            fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~os.O_NONBLOCK)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def open_read(self, path: str) -> BinaryIO:
        return os.fdopen(self._open_fd(path), "rb", buffering=0)

    # ------------------------------------------------------------------ writing

    def write_stream(self, path: str, chunks: Iterator[bytes]) -> None:
        target = self._abs(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as fh:
                for chunk in chunks:
                    fh.write(chunk)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def write_bytes(self, path: str, data: bytes) -> None:
        self.write_stream(path, iter((data,)))

    def exists(self, path: str) -> bool:
        return os.path.lexists(self._abs(path))

    def remove(self, path: str) -> None:
        self._abs(path).unlink(missing_ok=True)

    def close(self) -> None:
        pass
