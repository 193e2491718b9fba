"""A cache of parsed runs keyed by meta.json's (mtime_ns, size), so warm scans skip parsing."""

from __future__ import annotations

import logging
import marshal
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from gallery_desktop.core.fsutil import write_atomic
from gallery_desktop.core.paths import make_child
from gallery_desktop.core.records import GalleryImage, ImageSource, RunResult, SkippedItem
from gallery_desktop.core.runs import gc_paused

log = logging.getLogger(__name__)

FORMAT_VERSION = 5  # 5: ids and composition follow JavaScript where the web studio does
_FIELDS = GalleryImage._fields
# marshal's format follows the Python version, and a new record field changes the tuples:
# either makes an old file unreadable, so both are part of the header and a mismatch means
# "start empty".
_HEADER = ("gallery-desktop run index", FORMAT_VERSION, tuple(sys.version_info[:2]), _FIELDS)
_PATH_AT = _FIELDS.index("image_path")
_SOURCE_AT = _FIELDS.index("source")
_SOURCES = {s.value: s for s in ImageSource}
_NOT_NAMES = ("", ".", "..")

# (mtime_ns, size, result, whether some image was missing when stored). Entries loaded from
# the file hold their run's marshal bytes (and None) until first looked up, so a warm start
# shows its first runs without waiting for every record to be built. Bytes, not tuples:
# loading the file then makes one object per run instead of a few dozen, none of them
# tracked by the cyclic collector (whose passes over them cost as much as the load).
_Entry = tuple[int, int, RunResult | bytes, bool | None]
# Loaded entries are built this many at a time, with the cyclic collector paused: one by one,
# its passes over the growing heap would add half again to the cost.
_BUILD_CHUNK = 256


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


def _has_missing(result: RunResult) -> bool:
    return any(image.source is ImageSource.MISSING for image in result.images)


class RunIndex:
    """Parsed runs remembered by run folder and meta.json's (mtime_ns, size).

    The file lives in the user's cache folder and is ours alone: it is written with marshal
    (plain tuples, bytes and strings only, so loading it can't run code; each run's part
    is marshalled on its own) and thrown away whenever it can't be read. ``load`` only
    reads it; the records of a run are built when it is first looked up, together with
    the next few hundred in the file's order (a damaged entry is dropped then, so that
    run is read again). Not thread-safe: use one index from one thread at a time.
    """

    def __init__(self, cache_file: Path) -> None:
        self.cache_file = cache_file
        self._entries: dict[str, _Entry] = {}
        self._dirty = False
        self._parents: dict[str, Path] = {}  # folders of run folders (one: <data>/runs)
        # Keys of loaded entries not built yet, in the file's order (the order of the scan
        # that saved it, which the next scan follows), and how far building has got.
        self._unbuilt: list[str] = []
        self._built_to = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def dirty(self) -> bool:
        """Whether the index changed since it was loaded or saved."""
        return self._dirty

    def load(self) -> None:
        """Read the cache file; a missing, corrupt or old-version file leaves the index empty."""
        self._entries = {}
        self._dirty = False
        self._unbuilt, self._built_to = [], 0
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
                header, rows = marshal.loads(data)
                if header != _HEADER:
                    log.info("run index %s is from another version: starting afresh",
                             self.cache_file)
                    return
                entries: dict[str, _Entry] = {}
                for key, mtime_ns, size, payload in rows:
                    if not (key.__class__ is str and mtime_ns.__class__ is int
                            and size.__class__ is int and payload.__class__ is bytes):
                        raise ValueError(f"an entry of the wrong shape for {key!r}")
                    entries[key] = (mtime_ns, size, payload, None)
        except Exception as err:  # any damage to a cache file means "rebuild"
            log.warning("run index %s is damaged (%s: %s): starting afresh",
                        self.cache_file, type(err).__name__, err)
            return
        self._entries = entries
        self._unbuilt = list(entries)
        log.debug("loaded %d runs from the run index %s", len(entries), self.cache_file)

    def lookup(self, run_dir: Path, mtime_ns: int, size: int) -> RunResult | None:
        """The stored result for a run whose meta.json still has this mtime and size.

        Args:
            run_dir: The run folder, as the scan names it (``<data>/runs/<runId>``).
            mtime_ns: meta.json's ``st_mtime_ns`` now.
            size: meta.json's ``st_size`` now.

        Returns:
            The result stored for the same (mtime_ns, size), else None.
        """
        hit = self.hit(str(run_dir), mtime_ns, size)
        return None if hit is None else hit[0]

    def hit(self, key: str, mtime_ns: int, size: int) -> tuple[RunResult, bool] | None:
        """``lookup`` by the run folder's path string; also says if an image was missing."""
        entry = self._entries.get(key)
        if entry is None or entry[0] != mtime_ns or entry[1] != size:
            return None
        if not isinstance(entry[2], RunResult):
            self._build(key)
            entry = self._entries.get(key)
            if entry is None:
                return None
        result = entry[2]
        assert isinstance(result, RunResult)
        return result, bool(entry[3])

    def _build(self, key: str) -> None:
        """Build the records of ``key`` and of the next loaded entries a scan will ask for."""
        start = self._built_to
        self._built_to = min(start + _BUILD_CHUNK, len(self._unbuilt))
        with gc_paused():
            for k in (key, *self._unbuilt[start:self._built_to]):
                entry = self._entries.get(k)
                if entry is None or isinstance(entry[2], RunResult):
                    continue
                payload = entry[2]
                try:
                    result = _decode(k, marshal.loads(payload), self._run_dir(k))
                except Exception as err:  # a damaged entry: the run is read again instead
                    log.warning("run index entry for %s is damaged (%s: %s): reading the run "
                                "again", k, type(err).__name__, err)
                    del self._entries[k]
                    self._dirty = True
                    continue
                self._entries[k] = (entry[0], entry[1], result, _has_missing(result))

    def _run_dir(self, key: str) -> Path:
        """``key`` as a Path, built from its parent's (parsing a whole path is slower)."""
        parent, _, name = key.rpartition(os.sep)
        if not parent or name in _NOT_NAMES:
            return Path(key)
        folder = self._parents.get(parent)
        if folder is None:
            folder = self._parents[parent] = Path(parent)
        return make_child(folder, name)

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
        """``store`` by the run folder's path string."""
        self._entries[key] = (mtime_ns, size, result, _has_missing(result))
        self._dirty = True

    def prune(self, keep: Iterable[Path]) -> None:
        """Forget every run folder not in ``keep``.

        Args:
            keep: The run folders that still exist.
        """
        self.retain(str(p) for p in keep)

    def retain(self, keys: Iterable[str]) -> None:
        """``prune`` by the run folders' path strings."""
        gone = self._entries.keys() - set(keys)
        for key in gone:
            del self._entries[key]
        if gone:
            self._dirty = True

    def save(self) -> None:
        """Write the index atomically when it changed; a failure is logged (it is only a cache)."""
        if not self._dirty:
            return
        try:
            rows = [(key, mtime_ns, size, marshal.dumps(_encode(key, result))
                     if isinstance(result, RunResult) else result)
                    for key, (mtime_ns, size, result, _) in self._entries.items()]
            data = marshal.dumps((_HEADER, rows))
            self.cache_file.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self.cache_file, data)
        except (OSError, ValueError) as err:
            log.warning("cannot save the run index %s: %s", self.cache_file, err)
            return
        self._dirty = False
