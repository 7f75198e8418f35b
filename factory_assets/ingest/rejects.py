"""The shared reject table ``raw.ingest_rejects``: every rejected line or record of every file kind.

A loader adds one row per rejected item (line number or record number, reason code, detail, raw
text, the day the data belongs to). Rows wait in a :class:`~factory_assets.ingest.streams.RowSpool`
(bounded memory) and are written by the shared mechanism in the version's transaction, after the
loader's own COPY, so ``marts.data_quality_daily`` counts a new file kind with no SQL change.
"""

from __future__ import annotations

from datetime import date

import psycopg

from factory_assets.ingest.copy import copy_rows
from factory_assets.ingest.streams import RowSpool

TABLE = "raw.ingest_rejects"
COLUMNS = ("file_version_id", "source", "item_no", "reason", "detail", "raw_text", "data_date")
MAX_RAW_TEXT = 500  # characters of the rejected text kept as evidence
MAX_DETAIL = 500


class RejectSink:
    """Collects the rejects of one file version."""

    def __init__(self, file_version_id: int, source: str):
        self.file_version_id = file_version_id
        self.source = source
        self._rows = RowSpool()

    def add(
        self,
        item_no: int,
        reason: str,
        detail: str | None = None,
        raw_text: str | None = None,
        data_date: date | None = None,
    ) -> None:
        if raw_text is not None:
            raw_text = raw_text[:MAX_RAW_TEXT].replace("\x00", "")
        if detail is not None:
            detail = detail[:MAX_DETAIL].replace("\x00", "")
        self._rows.append((item_no, reason, detail, raw_text, data_date))

    @property
    def count(self) -> int:
        return self._rows.count

    def flush(self, cur: psycopg.Cursor) -> int:
        """Write the collected rows (inside the caller's transaction); returns how many."""
        if not self._rows.count:
            return 0
        head = (self.file_version_id, self.source)
        return copy_rows(cur, TABLE, COLUMNS, (head + r for r in self._rows))

    def close(self) -> None:
        self._rows.close()


def delete_rejects(cur: psycopg.Cursor, file_version_id: int) -> None:
    cur.execute("DELETE FROM raw.ingest_rejects WHERE file_version_id = %s", (file_version_id,))
