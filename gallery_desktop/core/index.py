"""A cache of parsed runs keyed by meta.json's (mtime_ns, size), so warm scans skip parsing."""

from __future__ import annotations

import logging
import marshal
import os
import sys
import time
import zlib
from collections.abc import Iterable
from operator import itemgetter
from pathlib import Path
from typing import Any

from gallery_desktop.core.fsutil import write_atomic
from gallery_desktop.core.records import (
    GalleryImage,
    ImageSource,
    Run,
    RunResult,
    RunRows,
    SkippedItem,
)
from gallery_desktop.core.runs import gc_paused

log = logging.getLogger(__name__)

# 9: each run's texts and records have a CRC-32 of their own; 10, 11: search texts without
# accents (11: also those written decomposed, and compatibility capitals); 12: an image file
# that was not there is no longer stored as missing (a scan does not look at image files);
# 13: rows no longer say whether one was
FORMAT_VERSION = 13
_FIELDS = GalleryImage._fields
# marshal's format follows the Python version, and a new record field changes the tuples:
# either makes an old file unreadable, so both are part of the header and a mismatch means
# "start empty".
_HEADER = ("gallery-desktop run index", FORMAT_VERSION, tuple(sys.version_info[:2]), _FIELDS)
_PATH_AT = _FIELDS.index("image_path")
_SOURCE_AT = _FIELDS.index("source")
_SOURCES = {s.value: s for s in ImageSource}
_NOT_NAMES = ("", ".", "..")

# The file: a signature line, the table's length (8 bytes, little-endian) and CRC-32 (4
# bytes), the table (marshal: the header, the blob's length and one row per run), then the
# blob (each run's search texts and records, marshalled on their own, back to back). A row:
# (key, mtime_ns, size, created_ts, ids, post orders, skipped (path, reason) pairs,
# whether meta.json was caught mid-write, where in the blob its texts start, its records
# start and they end, and the CRC-32 of its texts and of its records). What the grid needs
# to place and filter the run's rows is plain data in the row; loading makes no object for
# the texts and records (the blob stays the file's bytes) until they are asked for, and
# their checksums are checked then.
_Row = tuple[str, int, int, float, tuple[str, ...], tuple[int, ...],
             tuple[tuple[str, str], ...], bool, int, int, int, int, int]
# The file starts with this line, so a file of another format (or none of ours) is told
# apart from a damaged one before anything else is read.
_SIGNATURE = f"gallery-desktop run index {FORMAT_VERSION}\n".encode()
_LENGTH_BYTES = 8
_CRC_BYTES = 4
_PREFIX = len(_SIGNATURE) + _LENGTH_BYTES + _CRC_BYTES
# (mtime_ns, size, what a hit gives): a run stored by this process, or one loaded from the
# file once it was hit (its RunRows, the same object on every later hit, so a re-scan sees
# an unchanged run as the very same one).
_Entry = tuple[int, int, RunResult | RunRows]
# File times come from a clock that ticks every few milliseconds (FAT's every 2 s, and a
# network file system's clock may be off by some): a meta.json modified within this long
# of being stored may be rewritten under the same mtime. Such an entry is kept under _RACY,
# which matches no stat. (One dated further ahead is trusted: a rewrite now gets another.)
RACY_NS = 3_000_000_000
_RACY = -1


def _encode(key: str, result: RunResult) -> tuple[Any, ...]:
    """A run as plain tuples that marshal can write.

    An image file directly in the run folder (nearly all of them) is stored by its name
    alone, which keeps the file (and the strings it loads into) smaller.
    """
    images = []
    for image in result.images:
        values: list[Any] = list(image)
        path = image.image_path
        if path is not None:
            folder, _, name = path.rpartition(os.sep)
            values[_PATH_AT] = name if folder == key and name not in _NOT_NAMES else path
        values[_SOURCE_AT] = image.source.value
        images.append(tuple(values))
    return (result.run_id, tuple(images), tuple((s.path, s.reason) for s in result.skipped),
            result.incomplete)


def _decode(key: str, payload: tuple[Any, ...], run_dir: Path) -> RunResult:
    """The inverse of ``_encode``; ``run_dir`` is ``key`` as a Path."""
    run_id, image_rows, skipped_rows, incomplete = payload
    images = []
    new = tuple.__new__
    folder = key + os.sep
    for row in image_rows:
        if len(row) != len(_FIELDS):  # a short row would lack fields: refuse it
            raise ValueError(f"an image of run {run_id!r} has {len(row)} fields")
        values = list(row)
        path = values[_PATH_AT]
        if path is not None:
            if path.__class__ is not str:
                raise ValueError(f"an image path of run {run_id!r} is not text")
            if os.sep not in path and path not in _NOT_NAMES:  # a name (see _encode)
                values[_PATH_AT] = folder + path
        values[_SOURCE_AT] = _SOURCES[values[_SOURCE_AT]]
        images.append(new(GalleryImage, values))
    skipped = tuple(SkippedItem(path, reason) for path, reason in skipped_rows)
    return RunResult(run_id, run_dir, tuple(images), skipped, incomplete is True)


def _row(key: str, mtime_ns: int, size: int, result: RunResult,
         orders_seen: dict[tuple[int, ...], tuple[int, ...]]
         ) -> tuple[tuple[Any, ...], bytes, bytes]:
    """A run's row without its offsets and checksums, and its texts and records as they go
    in the blob (see ``_Row``).

    Equal post orders are given as one tuple (``orders_seen``), which marshal then writes
    once: most runs number their posts alike.
    """
    orders = tuple(image.post_order for image in result.images)
    return ((key, mtime_ns, size, result.created_ts, result.ids,
             orders_seen.setdefault(orders, orders),
             tuple((s.path, s.reason) for s in result.skipped), result.incomplete),
            marshal.dumps(result.search_texts()), marshal.dumps(_encode(key, result)))


class _StoredRun(RunRows):
    """A run loaded from the index file: records and search texts stay marshal bytes until
    asked for."""

    __slots__ = ("_blob", "_key", "_row")

    def __init__(self, key: str, row: _Row, blob: memoryview) -> None:
        # The row is as written (the table's checksum matched): no field is checked again.
        skipped = row[6]
        RunRows.__init__(self, key.rpartition(os.sep)[2], key, row[3], row[4], row[5],
                         tuple(SkippedItem(p, r) for p, r in skipped) if skipped else (),
                         row[7])
        self._key = key
        self._blob = blob
        self._row = row

    def _piece(self, start: int, end: int, crc: int, what: str) -> memoryview:
        """The blob's bytes from ``start`` to ``end``, if they are the ones written."""
        piece = self._blob[start:end]
        if zlib.crc32(piece) != crc:
            raise ValueError(f"its {what} do not match their checksum")
        return piece

    def _make_images(self) -> tuple[GalleryImage, ...] | None:
        row = self._row
        try:
            payload = marshal.loads(self._piece(row[9], row[10], row[12], "records"))
            return _decode(self._key, payload, self.run_dir).images
        except Exception as err:  # RunRows then shows the images as missing
            log.warning("run index entry for %s is damaged (%s: %s)", self._key,
                        type(err).__name__, err)
            return None

    def _make_search_texts(self) -> tuple[str, ...]:
        row = self._row
        try:
            texts = marshal.loads(self._piece(row[8], row[9], row[11], "search texts"))
            if texts.__class__ is tuple and all(t.__class__ is str for t in texts):
                return texts
            raise ValueError("not a tuple of texts")
        except Exception as err:
            log.warning("run index entry for %s has damaged search texts (%s: %s)", self._key,
                        type(err).__name__, err)
            return ()


class OtherFormat(ValueError):
    """The file is not a run index of this format (an older one, or not an index at all)."""


def split_file(data: bytes) -> tuple[Any, Any, memoryview]:
    """An index file's header, rows and blob (see ``_Row``).

    Raises:
        OtherFormat: the file does not start with this format's signature.
        ValueError: the file is cut short or its table is not the one written (CRC-32).
            The table's rows are then as this module wrote them, so they are not checked
            one by one; the texts and records in the blob are checked when decoded.
    """
    if not data.startswith(_SIGNATURE):
        raise OtherFormat("not this format's signature")
    at = len(_SIGNATURE)
    length = int.from_bytes(data[at:at + _LENGTH_BYTES], "little")
    if len(data) < _PREFIX + length:
        raise ValueError("the file is shorter than its table")
    view = memoryview(data)
    table = view[_PREFIX:_PREFIX + length]
    if zlib.crc32(table) != int.from_bytes(data[at + _LENGTH_BYTES:_PREFIX], "little"):
        raise ValueError("the table's checksum does not match")
    header, blob_length, rows = marshal.loads(table)
    blob = view[_PREFIX + length:]
    if len(blob) != blob_length:
        raise ValueError(f"the blob is {len(blob)} bytes, not {blob_length}")
    return header, rows, blob


def join_file(header: Any, rows: list[Any], pieces: Iterable[bytes | memoryview]) -> bytes:
    """The inverse of ``split_file``: ``pieces`` make the blob."""
    pieces = list(pieces)
    table = marshal.dumps((header, sum(map(len, pieces)), rows))
    return b"".join((_SIGNATURE, len(table).to_bytes(_LENGTH_BYTES, "little"),
                     zlib.crc32(table).to_bytes(_CRC_BYTES, "little"), table, *pieces))


class RunIndex:
    """Parsed runs remembered by run folder and meta.json's (mtime_ns, size).

    The file lives in the user's cache folder and is ours alone: it is written with marshal
    (plain tuples, bytes and strings only, so loading it can't run code) and thrown away
    whenever it can't be read. A run loaded from the file is handed out as a ``RunRows``:
    its ids, orders and search texts at once, its records built from their marshal bytes
    when first asked for (a damaged entry then shows as missing images, and the next scan
    reads the run again). Not thread-safe: use one index from one thread at a time.
    """

    def __init__(self, cache_file: Path) -> None:
        self.cache_file = cache_file
        self._entries: dict[str, _Entry] = {}
        # The file rows of loaded runs not stored anew since (saved again as they are); a
        # row is checked when its run is first hit, so loading makes no object per run.
        self._rows: dict[str, _Row] = {}
        self._blob = memoryview(b"")  # the loaded file's blob, which those rows point into
        self._dirty = False

    def __len__(self) -> int:
        return len(self._entries.keys() | self._rows.keys())

    @property
    def dirty(self) -> bool:
        """Whether the index changed since it was loaded or saved."""
        return self._dirty

    def load(self) -> None:
        """Read the cache file; a missing, corrupt or old-version file leaves the index empty."""
        self._entries = {}
        self._rows = {}
        self._blob = memoryview(b"")
        self._dirty = False
        try:
            data = self.cache_file.read_bytes()
        except FileNotFoundError:
            log.debug("no run index at %s yet", self.cache_file)
            return
        except OSError as err:
            log.warning("cannot read the run index %s: %s", self.cache_file, err)
            return
        try:
            with gc_paused():
                header, rows, blob = split_file(data)
                if header != _HEADER:
                    raise OtherFormat("written by another Python or another record layout")
                loaded = dict(zip(map(itemgetter(0), rows), rows, strict=True))
        except OtherFormat as err:
            log.info("run index %s is of another format (%s): starting afresh",
                     self.cache_file, err)
            return
        except Exception as err:  # any damage to a cache file means "rebuild"
            log.warning("run index %s is damaged (%s: %s): starting afresh",
                        self.cache_file, type(err).__name__, err)
            return
        self._rows = loaded
        self._blob = blob
        log.debug("loaded %d runs from the run index %s", len(loaded), self.cache_file)

    def lookup(self, run_dir: Path, mtime_ns: int, size: int) -> RunResult | None:
        """The stored result for a run whose meta.json still has this mtime and size.

        Args:
            run_dir: The run folder, as the scan names it (``<data>/runs/<runId>``).
            mtime_ns: meta.json's ``st_mtime_ns`` now.
            size: meta.json's ``st_size`` now.

        Returns:
            The result stored for the same (mtime_ns, size) with its records, else None.
        """
        key = str(run_dir)
        run = self.hit(key, mtime_ns, size)
        if run is None:
            return None
        if not isinstance(run, RunRows):
            return run
        result = run.result()
        if run.damaged:  # found out only now, in building the records: not a result
            log.warning("run index entry for %s is damaged: reading the run again", key)
            self._forget(key)
            return None
        return result

    def hit(self, key: str, mtime_ns: int, size: int) -> Run | None:
        """``lookup`` by the run folder's path string, without building records: a run
        loaded from the file comes as a RunRows."""
        entry = self._entries.get(key)
        if entry is None:
            row = self._rows.get(key)
            if row is None:
                return None
            try:
                entry = (row[1], row[2], _StoredRun(key, row, self._blob))
            except Exception as err:  # any damage: the run is read again
                log.warning("run index entry for %s is damaged (%s: %s): reading the run "
                            "again", key, type(err).__name__, err)
                self._forget(key)
                return None
            self._entries[key] = entry
        if entry[0] != mtime_ns or entry[1] != size:
            return None
        value = entry[2]
        if isinstance(value, RunRows) and value.damaged:
            log.warning("run index entry for %s is damaged: reading the run again", key)
            self._forget(key)
            return None
        return value

    def _forget(self, key: str) -> None:
        self._entries.pop(key, None)
        self._rows.pop(key, None)
        self._dirty = True

    def store(self, run_dir: Path, mtime_ns: int, size: int, result: RunResult) -> None:
        """Remember a run's result for meta.json's current (mtime_ns, size).

        Args:
            run_dir: The run folder, as the scan names it.
            mtime_ns: meta.json's ``st_mtime_ns`` when it was read.
            size: meta.json's ``st_size`` when it was read.
            result: What parsing it gave.
        """
        self.put(str(run_dir), mtime_ns, size, result)

    def put(self, key: str, mtime_ns: int, size: int, result: RunResult) -> None:
        """``store`` by the run folder's path string.

        A meta.json modified less than ``RACY_NS`` from now, either way, is kept under an
        mtime no stat gives: a rewrite within the same clock tick and of the same size would
        leave (mtime_ns, size) as they were, so the next scan reads the run again rather
        than trust it (git's "racy clean" entries, handled the same way).
        """
        if abs(time.time_ns() - mtime_ns) < RACY_NS:
            mtime_ns = _RACY
        self._entries[key] = (mtime_ns, size, result)
        self._rows.pop(key, None)
        self._dirty = True

    def prune(self, keep: Iterable[Path]) -> None:
        """Forget every run folder not in ``keep``.

        Args:
            keep: The run folders that still exist.
        """
        self.retain(str(p) for p in keep)

    def retain(self, keys: Iterable[str]) -> None:
        """``prune`` by the run folders' path strings."""
        gone = (self._entries.keys() | self._rows.keys()) - set(keys)
        for key in gone:
            self._forget(key)
        if gone:
            self._dirty = True

    @staticmethod
    def _result(value: RunResult | RunRows) -> RunResult:
        return value if isinstance(value, RunResult) else value.result()

    def save(self) -> None:
        """Write the index atomically when it changed; a failure is logged (it is only a cache)."""
        if not self._dirty:
            return
        try:
            rows: list[_Row] = []
            pieces: list[bytes | memoryview] = []
            at = 0
            for row in self._rows.values():  # as loaded: their piece of the old blob
                start, mid, end = row[8:11]
                pieces.append(self._blob[start:end])
                rows.append((*row[:8], at, at + mid - start, at + end - start, *row[11:]))
                at += end - start
            orders_seen: dict[tuple[int, ...], tuple[int, ...]] = {}
            for key, (mtime_ns, size, value) in self._entries.items():
                if key not in self._rows:
                    head, texts, records = _row(key, mtime_ns, size, self._result(value),
                                                orders_seen)
                    pieces += (texts, records)
                    mid = at + len(texts)
                    rows.append((*head, at, mid, mid + len(records), zlib.crc32(texts),
                                 zlib.crc32(records)))
                    at = mid + len(records)
            self.cache_file.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self.cache_file, join_file(_HEADER, rows, pieces))
        except (OSError, ValueError) as err:
            log.warning("cannot save the run index %s: %s", self.cache_file, err)
            return
        self._dirty = False
