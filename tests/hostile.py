"""Hostile landing-zone entries made with the real kernel: links, loops, FIFOs, unreadable files."""

from __future__ import annotations

import contextlib
import glob
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


def _write_only_sysfs_attribute() -> str | None:
    """A sysfs attribute without a read method: opening it for reading fails with EACCES, even
    for root, and it reports a size of 4096 bytes (so it is not skipped as an empty file)."""
    for pattern in (
        "/sys/bus/pci/rescan",
        "/sys/devices/pci*/*/rescan",
        "/sys/class/zram-control/hot_remove",
    ):
        for path in glob.glob(pattern):
            try:
                with open(path, "rb"):
                    pass
            except PermissionError:
                return path
            except OSError:
                continue
    return None


@contextlib.contextmanager
def unreadable_file(path: Path, content: bytes = b"20241105 06:00:00|@StukUitgevoerd: x\n") -> Iterator[Path]:
    """A regular, non-empty file at ``path`` whose reads fail with EACCES.

    As a normal user: a file with mode 000. As root (who reads any mode): a bind mount of a
    write-only sysfs attribute over the file, which the kernel refuses to open for reading.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    if os.geteuid() != 0:
        path.chmod(0)
        try:
            yield path
        finally:
            path.chmod(0o644)
        return
    source = _write_only_sysfs_attribute()
    if source is None:
        pytest.fail("no write-only sysfs attribute to make an unreadable file as root", pytrace=False)
    res = subprocess.run(["mount", "--bind", source, str(path)], capture_output=True, text=True)
    if res.returncode != 0:
        pytest.fail(f"cannot bind-mount {source} (needs CAP_SYS_ADMIN): {res.stderr}", pytrace=False)
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], capture_output=True)
