"""What a landing-zone listing means for a file kind: takeable, refused, or not yet.

Shared by the sensor (which decides *when*) and the ingestion asset (which loads), so both see
the same thing. Nothing here reads a file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from factory_assets.ingest.kinds import BadName, Classified, FileKind
from resources import settings
from resources.zone import DIRECTORY, REGULAR, UNLISTABLE, FileEntry


@dataclass
class Triage:
    takeable: list[tuple[FileEntry, Classified]] = field(default_factory=list)
    refused: list[tuple[FileEntry, str]] = field(default_factory=list)  # quarantined with the reason
    not_yet: int = 0  # temporary upload names and empty files: taken once complete
    unlistable: list[str] = field(default_factory=list)  # folders that cannot be listed


def takeable_name(entry: FileEntry) -> bool:
    """Not a temporary upload name and not empty (an empty file is usually one being created)."""
    return entry.size > 0 and not settings.is_temporary_name(entry.path)


def triage(kind: FileKind, entries: list[FileEntry]) -> Triage:
    """Sort a listing of ``kind.prefix`` (see ``LandingZone.list_entries``).

    * a regular file with a name the kind accepts is takeable (with its partition and key);
    * a regular file with a name it refuses is refused (``bad_file_name``);
    * a symbolic link, FIFO, device or socket is refused (``not_a_regular_file``) and never
      opened; so is a folder whose name the kind would take as a file (``20250101.LOG/``);
      other folders are the layout itself;
    * temporary names and empty files wait.
    """
    out = Triage()
    for e in entries:
        if e.kind == UNLISTABLE:
            out.unlistable.append(e.path)
            continue
        if e.kind == DIRECTORY:
            if settings.is_temporary_name(e.path):
                continue
            try:
                kind.classify(e.path)
            except BadName:
                continue
            out.refused.append((e, "not_a_regular_file: a folder named like a file"))
            continue
        if e.kind != REGULAR:
            out.refused.append((e, f"not_a_regular_file: {e.kind}; never opened"))
            continue
        if not takeable_name(e):
            out.not_yet += 1
            continue
        try:
            out.takeable.append((e, kind.classify(e.path)))
        except BadName as exc:
            out.refused.append((e, f"bad_file_name: {exc}"))
    return out
