"""Bounded-memory building blocks for reading landing-zone files (DESIGN.md §2: files stream).

* :func:`spool` reads a file version **once** from its landing zone, hashing it on the way into a
  local spool (memory for small files, a temporary file beyond :data:`SPOOL_MEMORY_BYTES`). The
  archive copy and the loader then read the spool, so the three see exactly the same bytes even
  if the file changes on the server meanwhile, and the landing zone is read only once.
* :func:`iter_line_batches` splits a stream into lines, a batch at a time, with a cap on the line
  length: a longer line is replaced by a :class:`TooLongLine` holding its first bytes.
* :class:`RowSpool` keeps rows that must wait for the end of a file (a COPY of another table is
  in progress on the connection) on disk rather than in memory.
"""

from __future__ import annotations

import hashlib
import pickle
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from resources.zone import COPY_CHUNK, iter_chunks

SPOOL_MEMORY_BYTES = 8 << 20  # files up to 8 MiB stay in memory while they are loaded
EVIDENCE_BYTES = 200  # first bytes kept of a rejected over-long line


class FileTooLarge(Exception):
    """The file is larger than its kind allows; it is quarantined whole, never loaded halfway."""


@dataclass
class Spooled:
    """A file version copied locally: its bytes (``file``, at position 0), sha256 and size."""

    file: BinaryIO
    sha256: str
    size: int

    def rewind(self) -> BinaryIO:
        self.file.seek(0)
        return self.file

    def chunks(self) -> Iterator[bytes]:
        return iter_chunks(self.rewind())

    def close(self) -> None:
        self.file.close()

    def __enter__(self) -> Spooled:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def spool(stream: BinaryIO, max_bytes: int, *, chunk_size: int = COPY_CHUNK) -> Spooled:
    """Copy ``stream`` to a local spool, hashing it; :class:`FileTooLarge` past ``max_bytes``."""
    h = hashlib.sha256()
    out = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES, prefix="factory-spool-")
    size = 0
    try:
        for chunk in iter_chunks(stream, chunk_size):
            size += len(chunk)
            if size > max_bytes:
                raise FileTooLarge(
                    f"file_too_large: more than {max_bytes:,} bytes (the limit of its file kind); "
                    "nothing was loaded"
                )
            h.update(chunk)
            out.write(chunk)
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return Spooled(out, h.hexdigest(), size)


def sha256_of(stream: BinaryIO) -> str:
    h = hashlib.sha256()
    for chunk in iter_chunks(stream):
        h.update(chunk)
    return h.hexdigest()


class TooLongLine(str):
    """Stands for a line longer than the cap: ``str`` value ``""``, ``head`` = its first characters.

    Its string value is empty so that no fast path can mistake it for a valid line; parsers
    test ``type(line) is TooLongLine`` before treating a line as blank.
    """

    head: str
    length: int

    def __new__(cls, head: str, length: int) -> TooLongLine:
        obj = super().__new__(cls, "")
        obj.head = head
        obj.length = length
        return obj


def iter_line_batches(
    stream: BinaryIO,
    *,
    max_line_bytes: int,
    decode: Callable[[bytes], str] = lambda b: b.decode("latin-1"),
    remove_nul: bool = False,
    chunk_size: int = COPY_CHUNK,
) -> Iterator[list[str]]:
    """Lines of ``stream`` (without their ``\\n``), in batches of about ``chunk_size`` bytes.

    A final line without ``\\n`` is a line; a final ``\\n`` does not start an empty one. A line of
    more than ``max_line_bytes`` (NULs removed first when ``remove_nul``) comes out as a
    :class:`TooLongLine`; it is never held in memory whole. ``decode`` turns a block of complete
    lines into text (it must keep ``\\n`` as the line separator: latin-1, or UTF-8 with
    ``errors='replace'``).
    """
    carry = b""  # start of a line continued in the next chunk
    skipping: tuple[bytes, int] | None = None  # (first bytes, length so far) of a too-long line
    for chunk in iter_chunks(stream, chunk_size):
        if remove_nul and b"\x00" in chunk:
            chunk = chunk.replace(b"\x00", b"")
        if skipping is not None:
            cut = chunk.find(b"\n")
            if cut < 0:
                skipping = (skipping[0], skipping[1] + len(chunk))
                continue
            head, length = skipping
            skipping = None
            chunk = chunk[cut + 1 :]
            yield [TooLongLine(decode(head), length + cut)]
        last = chunk.rfind(b"\n")
        if last < 0:
            carry += chunk
            if len(carry) > max_line_bytes:
                skipping = (carry[:EVIDENCE_BYTES], len(carry))
                carry = b""
            continue
        block = carry + chunk[:last]
        carry = chunk[last + 1 :]
        lines = decode(block).split("\n")
        if len(block) > max_line_bytes and max(map(len, lines)) > max_line_bytes:
            lines = [TooLongLine(x[:EVIDENCE_BYTES], len(x)) if len(x) > max_line_bytes else x for x in lines]
        yield lines
        if len(carry) > max_line_bytes:
            skipping = (carry[:EVIDENCE_BYTES], len(carry))
            carry = b""
    if skipping is not None:
        yield [TooLongLine(decode(skipping[0]), skipping[1])]
    elif carry:
        yield [decode(carry)]


class RowSpool:
    """An append-only list of row tuples kept on disk past a small memory budget.

    Rows are pickled in batches into a :class:`tempfile.SpooledTemporaryFile`; iterating reads
    them back in order. Used for the rows that can only be written after a file's main COPY.
    """

    BATCH = 2048

    def __init__(self, memory_bytes: int = 4 << 20):
        self._file = tempfile.SpooledTemporaryFile(max_size=memory_bytes, prefix="factory-rows-")
        self._batch: list[tuple] = []
        self.count = 0

    def append(self, row: tuple) -> None:
        self._batch.append(row)
        self.count += 1
        if len(self._batch) >= self.BATCH:
            self._flush()

    def extend(self, rows: Iterable[tuple]) -> None:
        for row in rows:
            self.append(row)

    def _flush(self) -> None:
        if self._batch:
            pickle.dump(self._batch, self._file, protocol=pickle.HIGHEST_PROTOCOL)
            self._batch = []

    def __iter__(self) -> Iterator[tuple]:
        self._flush()
        self._file.seek(0)
        while True:
            try:
                batch = pickle.load(self._file)
            except EOFError:
                break
            yield from batch
        self._file.seek(0, 2)

    def __len__(self) -> int:
        return self.count

    def close(self) -> None:
        self._file.close()


_DONE = object()


class _Failed:
    def __init__(self, exc: BaseException):
        self.exc = exc


def prefetch(items: Iterable, depth: int = 2) -> Iterator:
    """Iterate ``items`` in a background thread, ``depth`` items ahead of the consumer.

    For pipelines whose two halves release the GIL (a vectorised parser producing blocks while
    the caller writes the previous block to a COPY): both cores work. An exception of the
    producer is raised in the consumer; a consumer that stops early stops the producer.
    """
    import queue
    import threading

    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for item in items:
                if not put(item):
                    break
            else:
                put(_DONE)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            put(_Failed(exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=run, name="factory-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.exc
            yield item
    finally:
        stop.set()
        while True:  # unblock a producer waiting on a full queue
            try:
                q.get_nowait()
            except queue.Empty:
                break
        worker.join()
