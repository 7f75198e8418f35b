"""A landing-zone file kind is a declaration (DESIGN.md §2).

A :class:`FileKind` says only what is particular to the kind: its source name and landing prefix,
how a path maps to a partition and to the data it carries (or why the name is refused), its
loader, how a new version of a file replaces the previous one, its settle time, files per run and
size limits. Everything else — ledger, hashing, archive, streaming, sensor, retries, shared
rejects, row conservation, data-quality accounting — comes from the shared mechanism in this
package, built by :func:`factory_assets.ingest.factory.file_kind_definitions`.

Nothing here reads the environment at import time: limits given as ``None`` fall back to the
environment when a run or a tick needs them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, Literal

import psycopg

from resources import settings

if TYPE_CHECKING:  # pragma: no cover
    import dagster as dg

    from factory_assets.ingest.rejects import RejectSink


class BadName(ValueError):
    """A path the kind refuses to take; the message is the quarantine reason."""


class Quarantine(Exception):
    """Raised by a loader: the whole version is unusable (reason in the message).

    ``counts`` may carry (rows_in, rows_rejected) so the ledger still accounts for the rows.
    """

    def __init__(self, reason: str, counts: tuple[int, int] | None = None):
        super().__init__(reason)
        self.counts = counts


@dataclass(frozen=True)
class Classified:
    """What a path means to its kind."""

    partition_key: str | None  # date partition of a partitioned kind, else None
    logical_key: str  # what the data is about; at most one loaded version per key


@dataclass(frozen=True)
class Version:
    """One file version (path, sha256) being loaded, with its ledger row id."""

    ledger_id: int
    source: str
    path: str
    sha256: str
    size: int
    mtime: float
    partition_key: str | None = None
    logical_key: str | None = None


@dataclass(frozen=True)
class LoadCounts:
    """Row accounting of one version: ``rows_in = loaded + rejected + skipped + duplicate``."""

    rows_in: int
    rows_loaded: int
    rows_rejected: int
    rows_skipped: int = 0  # e.g. blank lines, a header line
    rows_duplicate: int = 0  # records sent again: loaded once

    @property
    def conserved(self) -> bool:
        return self.rows_in == self.rows_loaded + self.rows_rejected + self.rows_skipped + self.rows_duplicate


@dataclass
class LoadContext:
    """Everything a loader gets. It runs inside the version's ledger transaction."""

    cur: psycopg.Cursor
    version: Version
    stream: BinaryIO  # the version's bytes (a local spool), positioned at 0, read once
    replaces: int | None  # ledger id of the version this one supersedes (same logical key)
    rejects: RejectSink  # shared reject table: add one row per rejected line or record
    kind: FileKind


Loader = Callable[[LoadContext], LoadCounts]
ReplacePolicy = Literal["version", "natural_key"]


def _env_number(name: str) -> float | None:
    value = os.environ.get(name)
    return float(value) if value else None


@dataclass(frozen=True)
class FileKind:
    """Declaration of one kind of landing-zone file."""

    source: str  # ledger source, asset-key prefix and asset group, e.g. "machine_logs"
    prefix: str  # landing-zone folder, e.g. "machine_logs"
    classify: Callable[[str], Classified]  # path -> meaning; raises BadName with the reason
    load: Loader
    tables: tuple[str, ...]  # raw tables written: asset keys [key_prefix, table], raw.<key_prefix>__<table>
    description: str
    # How a new version replaces the one it supersedes (same logical key):
    #   "version":     the rows of every table in ``version_tables`` carry ``file_version_id``;
    #                  the shared mechanism deletes the superseded version's rows before loading;
    #   "natural_key": the loader replaces or upserts rows by their natural key itself.
    replace: ReplacePolicy = "version"
    version_tables: tuple[str, ...] = ()
    # SQL returning (file_version_id, rows present) for the version ids in %(ids)s: the row
    # conservation check compares it with the ledger ("equal"), or checks it never exceeds it
    # ("at_most": rows taken over by a later file with the same natural key).
    present_rows_sql: str | None = None
    present_rule: Literal["equal", "at_most"] = "equal"
    partitions: Callable[[], dg.PartitionsDefinition] | None = None  # built when definitions load
    settle_s: float | None = None  # None: FACTORY_SETTLE_S
    files_per_run: int = 50  # files a sensor-requested run takes at most
    # Files loaded at the same time by one run. More than 1 only for kinds whose files never
    # depend on each other's load order (machine logs: one session per file); a kind whose rule
    # is "first copy wins" or "last file wins" loads in path order, one at a time.
    load_workers: int = 1
    max_file_bytes: int = 2 << 30  # larger files are quarantined whole (file_too_large)
    max_line_bytes: int = 64 << 10  # longer lines are rejected (line_too_long), evidence kept
    code_version: str = "1"  # bump when parsing rules change: loaded versions are re-parsed
    check_name: str = "rows_conserved"
    group_name: str | None = None
    # First part of the asset keys ``[prefix, table]`` and of the raw tables ``raw.<prefix>__<table>``;
    # None = ``source``. Lets two kinds of one domain (logistics visits and customers: two ledger
    # sources, two jobs, two sensors) write ``raw.logistics__visits`` and ``raw.logistics__customers``.
    asset_prefix: str | None = None

    @property
    def group(self) -> str:
        return self.group_name or self.source

    @property
    def key_prefix(self) -> str:
        return self.asset_prefix or self.source

    @property
    def env_prefix(self) -> str:
        return f"FACTORY_{self.source.upper()}"

    def max_bytes(self) -> int:
        """``FACTORY_<SOURCE>_MAX_FILE_MB`` overrides the declared maximum file size."""
        mb = _env_number(f"{self.env_prefix}_MAX_FILE_MB")
        return int(mb * (1 << 20)) if mb else self.max_file_bytes

    def settle_seconds(self) -> float:
        """``FACTORY_<SOURCE>_SETTLE_S``, else the declaration, else ``FACTORY_SETTLE_S`` (60)."""
        own = _env_number(f"{self.env_prefix}_SETTLE_S")
        if own is not None:
            return own
        if self.settle_s is not None:
            return self.settle_s
        return settings.settle_s()

    def raw_table(self, table: str) -> str:
        return f"raw.{self.key_prefix}__{table}"
