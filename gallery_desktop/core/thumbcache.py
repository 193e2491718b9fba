"""Thumbnail cache: encoded thumbnails on disk keyed by source identity, plus an LRU in memory."""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import sys
import tempfile
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from gallery_desktop.core.fsutil import TEMP_SUFFIX, replace, temp_prefix
from gallery_desktop.core.records import FilePath

log = logging.getLogger(__name__)

JPEG_QUALITY = 85
# Level 1 is ~3x faster than the default and barely larger; this is a cache, not an archive.
PNG_COMPRESS_LEVEL = 1

# Memory that entries waiting for the writer thread may hold (encoded ones ~25 KB, images
# not yet encoded ~600 KB at 384 px: about a hundred screenfuls' worth of deferred work).
# Beyond it, put() and put_later() do the work themselves.
WRITE_QUEUE_MAX_BYTES = 64 * 1024 * 1024
_WRITER_IDLE_S = 2.0
# Encoded thumbnails kept in memory, at most (on top of the model's pixmaps): ~700 JPEG
# entries at 256 px, where 2,048 transparent PNGs at 1024 px would be ~5 GB.
MEMORY_BYTES = 64 * 1024 * 1024
# Nice value of the writer thread: it gets the CPU that decoding leaves over.
WRITER_NICE = 10
_STALE_TEMP_S = 60.0

_JPEG_START, _JPEG_END = b"\xff\xd8", b"\xff\xd9"
_PNG_START = b"\x89PNG\r\n\x1a\n"
_PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"
# The two kinds of entry file (see encode_thumbnail); thumbprune goes by them too.
ENTRY_SUFFIXES = (".jpg", ".png")


def cache_key(path: FilePath, edge: int) -> str | None:
    """The cache key of ``path`` at ``edge``, or None when the file cannot be stat'ed.

    The key covers the absolute path, ``st_mtime_ns``, ``st_size`` and ``edge``, so a
    changed source has a new key: a stale entry is simply never looked up again.

    The path is made absolute, not resolved: the scanner hands out paths with the symlinks
    of their folders followed (a file that is itself a link keeps its own name), and
    resolving again costs an ``lstat`` per path component on every thumbnail (a key took
    ~50 us that way, ~7 us now). Two spellings of one file through a symlink get two
    entries; staleness still follows the file itself.

    Args:
        path: The source image.
        edge: The thumbnail's longest side.

    Returns:
        A 40-character hex digest, or None.
    """
    try:
        st = os.stat(path)
        absolute = os.fsencode(os.path.abspath(path))
    except (OSError, ValueError):  # ValueError: a NUL in the path
        return None
    ident = absolute + f"\0{st.st_mtime_ns}\0{st.st_size}\0{edge}".encode()
    return hashlib.sha1(ident, usedforsecurity=False).hexdigest()


def encode_thumbnail(image: Image.Image) -> bytes:
    """Encode a thumbnail for the cache: PNG when it has transparency, JPEG otherwise.

    Args:
        image: Any Pillow image (other modes are converted to RGB or RGBA).

    Returns:
        The encoded bytes.
    """
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
    buf = io.BytesIO()
    if has_alpha:
        rgba = image if image.mode == "RGBA" else image.convert("RGBA")
        rgba.save(buf, "PNG", compress_level=PNG_COMPRESS_LEVEL)
    else:
        rgb = image if image.mode == "RGB" else image.convert("RGB")
        rgb.save(buf, "JPEG", quality=JPEG_QUALITY)
    return buf.getvalue()


def looks_complete(data: bytes) -> bool:
    """Cheap integrity check of a cache entry: a whole JPEG or PNG, start to end marker.

    Catches truncated, empty and foreign files without decoding them.

    Args:
        data: The bytes of a cache file.

    Returns:
        True when ``data`` starts and ends like a complete JPEG or PNG.
    """
    if data.startswith(_JPEG_START):
        return data.endswith(_JPEG_END)
    return data.startswith(_PNG_START) and data.endswith(_PNG_END)


class ThumbnailCache:
    """Encoded thumbnails under ``cache_dir/<2 hex>/<key>.jpg|.png`` plus an LRU in memory.

    Safe to call from several threads: the memory part is guarded by a lock and disk
    writes are atomic, so two threads caching the same thumbnail both succeed.

    By default disk writes happen behind the caller's back, on one writer thread.
    ``put_later`` defers the encoding too, and that thread runs at a lower CPU priority
    where the OS allows. While anyone holds ``hold_writes`` (the loader does while it has
    decodes queued), the writer waits altogether, so that filling the cache never takes
    CPU from thumbnails on screen. ``flush()`` lifts the hold while it waits for all of it.

    Entries are written atomically (temp file and rename) but not fsync'ed: an entry lost
    or cut short by a power failure is caught by ``looks_complete`` when read, and rebuilt.
    """

    def __init__(self, cache_dir: Path, memory_items: int = 2048, *,
                 memory_bytes: int = MEMORY_BYTES, write_behind: bool = True) -> None:
        """Create a cache rooted at ``cache_dir`` (made on first write).

        Args:
            cache_dir: Folder for the cache files.
            memory_items: How many encoded thumbnails to keep in memory (>= 0).
            memory_bytes: And how many bytes of them at most: entries at a large edge
                (a transparent PNG at 1024 px is ~3 MB) would otherwise add up to gigabytes.
            write_behind: Write disk entries on a background thread (True) or in ``put``.
        """
        self._dir = cache_dir
        self._dir_str = os.fspath(cache_dir)
        self._memory_items = max(0, memory_items)
        self._memory_budget = max(0, memory_bytes)
        self._memory: OrderedDict[str, bytes] = OrderedDict()
        self._memory_used = 0
        self._lock = threading.Lock()
        self._write_behind = write_behind
        self._writes: deque[tuple[str, bytes | Callable[[], Image.Image], int]] = deque()
        self._queued_bytes = 0
        self._writes_cond = threading.Condition()
        self._unwritten = 0  # queued or being written
        self._writer_alive = False
        self._holds = 0  # hold_writes() calls not yet released
        self._flushing = 0  # flush() calls waiting: they override the holds
        self._swept = False  # stale temp files removed (once, before the first write)

    @property
    def cache_dir(self) -> Path:
        """The folder the cache files live in."""
        return self._dir

    def file_for(self, key: str, suffix: str = ".jpg") -> Path:
        """The cache file of ``key`` with ``suffix`` (``.jpg`` or ``.png``)."""
        return self._dir / key[:2] / f"{key}{suffix}"

    def get(self, path: FilePath, edge: int, *, key: str | None = None) -> bytes | None:
        """The encoded thumbnail of ``path`` at ``edge``, or None on a miss.

        A corrupt or truncated entry is a miss (the next ``put`` replaces it); an entry
        for an older version of the file is never found, as its key differs.

        Args:
            path: The source image.
            edge: The thumbnail's longest side.
            key: The key from ``cache_key``, when the caller took it before decoding.

        Returns:
            JPEG or PNG bytes, or None.
        """
        if key is None:
            key = cache_key(path, edge)
            if key is None:
                return None
        with self._lock:
            data = self._memory.get(key)
            if data is not None:
                self._memory.move_to_end(key)
                return data
        # Plain strings and os.open: on a cold cache both opens fail, for every thumbnail.
        base = os.path.join(self._dir_str, key[:2], key)
        for suffix in ENTRY_SUFFIXES:
            data = _read_if_present(base + suffix)
            if data is None:
                continue
            if looks_complete(data):
                self._remember(key, data)
                return data
            log.info("ignoring corrupt thumbnail cache entry %s%s", base, suffix)
        return None

    def put(self, path: FilePath, edge: int, image: Image.Image, *,
            key: str | None = None) -> bytes:
        """Encode ``image`` as the thumbnail of ``path`` at ``edge`` and store it.

        The entry is in memory at once and on disk after the write (see ``flush``). A
        failing disk write (full disk, read-only cache) is logged, not raised.

        Args:
            path: The source image.
            edge: The thumbnail's longest side.
            image: The thumbnail.
            key: The key from ``cache_key`` taken *before* decoding, so that a file
                replaced while it was being decoded cannot file its old pixels under
                the new version's key. Computed now when omitted.

        Returns:
            The encoded bytes (JPEG, or PNG when the image has transparency).
        """
        data = encode_thumbnail(image)
        if key is None:
            key = cache_key(path, edge)
            if key is None:
                return data
        self._remember(key, data)
        if not (self._write_behind and self._queue_write(key, data, len(data))):
            self._write(key, data)
        return data

    def put_later(self, path: FilePath, edge: int, make_image: Callable[[], Image.Image], *,
                  key: str | None = None) -> None:
        """Cache a thumbnail without paying for it now.

        ``make_image`` is called, and its result encoded and written, on the writer
        thread; until then the entry is not found. Without write-behind, or when the
        writer's queue is full, all of that happens here and now.

        Args:
            path: The source image.
            edge: The thumbnail's longest side.
            make_image: Returns the thumbnail (e.g. converts one the caller holds).
            key: As for ``put``.
        """
        if key is None:
            key = cache_key(path, edge)
            if key is None:
                return
        # Sized as the RGBA pixels such a thumbnail holds until it is encoded.
        if self._write_behind and self._queue_write(key, make_image, 4 * edge * edge):
            return
        data = encode_thumbnail(make_image())
        self._remember(key, data)
        self._write(key, data)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every entry ``put`` so far is on disk (or failed and was logged).

        Args:
            timeout: Seconds to wait at most; None waits as long as it takes.

        Returns:
            True when nothing is left to write.
        """
        with self._writes_cond:
            self._flushing += 1
            self._wake_writer()
            try:
                return self._writes_cond.wait_for(lambda: self._unwritten == 0, timeout)
            finally:
                self._flushing -= 1

    def hold_writes(self) -> None:
        """Make the writer thread wait until the matching ``release_writes``.

        Holds nest. Entries keep queuing meanwhile (up to ``WRITE_QUEUE_MAX_BYTES``,
        beyond which ``put`` and ``put_later`` do their own work as always).
        """
        with self._writes_cond:
            self._holds += 1

    def release_writes(self) -> None:
        """Undo one ``hold_writes``; the writer resumes when none is left."""
        with self._writes_cond:
            self._holds = max(0, self._holds - 1)
            if self._holds == 0:
                self._wake_writer()

    def _writes_held(self) -> bool:
        """Whether the writer must wait (call with ``_writes_cond`` held)."""
        return self._holds > 0 and self._flushing == 0

    def discard(self, path: FilePath, edge: int, *, key: str | None = None) -> None:
        """Forget the entry of ``path`` at ``edge`` (e.g. its bytes would not decode).

        Args:
            path: The source image.
            edge: The thumbnail's longest side.
            key: The key from ``cache_key``, when known.
        """
        if key is None:
            key = cache_key(path, edge)
            if key is None:
                return
        with self._lock:
            self._forget_locked(key)
        for suffix in ENTRY_SUFFIXES:
            try:
                self.file_for(key, suffix).unlink(missing_ok=True)
            except OSError as err:
                log.warning("cannot remove thumbnail cache entry for %s: %s", path, err)

    def memory_len(self) -> int:
        """How many thumbnails the in-memory part holds."""
        with self._lock:
            return len(self._memory)

    def memory_size(self) -> int:
        """How many bytes of encoded thumbnails the in-memory part holds."""
        with self._lock:
            return self._memory_used

    def _write(self, key: str, data: bytes) -> None:
        """Write one entry to disk, atomically; failures are logged."""
        suffix = ".png" if data.startswith(_PNG_START) else ".jpg"
        file = self.file_for(key, suffix)
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
            _write_unsynced(file, data)
        except OSError as err:
            log.warning("cannot write thumbnail cache entry %s: %s", file, err)
            return
        # An entry of the other format under the same key (the image gained or lost
        # transparency at the same mtime and size) would shadow this one in get().
        other = self.file_for(key, ".jpg" if suffix == ".png" else ".png")
        with contextlib.suppress(OSError):
            other.unlink(missing_ok=True)

    def _queue_write(self, key: str, data: bytes | Callable[[], Image.Image],
                     size: int) -> bool:
        """Hand an entry (bytes, or what makes the image) to the writer thread.

        Returns:
            False when the writer's queue is full: the caller must do the work itself.
        """
        with self._writes_cond:
            if self._writes and self._queued_bytes + size > WRITE_QUEUE_MAX_BYTES:
                return False  # back-pressure: the caller does this one itself
            self._writes.append((key, data, size))
            self._queued_bytes += size
            self._unwritten += 1
            # While held, the writer has nothing to do: waking it (or starting it) for each
            # entry would only take the GIL from the decoders. Lifting the hold wakes it.
            if not self._writes_held():
                self._wake_writer()
        return True

    def _wake_writer(self) -> None:
        """Wake the writer thread, or start one (call with ``_writes_cond`` held)."""
        if self._writer_alive:
            self._writes_cond.notify_all()
        elif self._writes:
            self._writer_alive = True
            threading.Thread(target=self._writer_loop, name="thumbcache-writer",
                             daemon=True).start()

    def _writer_loop(self) -> None:
        """Write queued entries; the thread ends after a while without work."""
        _lower_this_threads_priority()
        while True:
            with self._writes_cond:
                while self._writes and self._writes_held():
                    # No idle timeout while held: the writer is needed once released.
                    self._writes_cond.wait()
                while not self._writes:
                    self._writes_cond.wait(timeout=_WRITER_IDLE_S)
                    if not self._writes:
                        self._writer_alive = False
                        return
                if self._writes_held():
                    continue
                key, item, size = self._writes.popleft()
                self._queued_bytes -= size
                sweep, self._swept = not self._swept, True
            if sweep:  # once, and only when writing is allowed: it lists the whole cache
                self._remove_stale_temp_files()
            try:
                if isinstance(item, bytes):
                    data = item
                else:
                    data = encode_thumbnail(item())
                    self._remember(key, data)
                self._write(key, data)
            except Exception:  # a writer that dies would leave flush() waiting forever
                log.exception("thumbnail cache writer failed")
            finally:
                with self._writes_cond:
                    self._unwritten -= 1
                    self._writes_cond.notify_all()

    def _remove_stale_temp_files(self) -> None:
        """Delete temp files of writes cut short by an exit or a crash (older than a minute)."""
        now = time.time()
        try:
            folders = [d for d in self._dir.iterdir() if d.is_dir()]
        except OSError:
            return
        for folder in folders:
            try:
                temps = list(folder.glob(f".*{TEMP_SUFFIX}"))
            except OSError:
                continue
            for temp in temps:
                with contextlib.suppress(OSError):
                    if now - temp.stat().st_mtime > _STALE_TEMP_S:
                        temp.unlink()

    def _forget_locked(self, key: str) -> None:
        """Drop ``key`` from the in-memory part (call with ``_lock`` held)."""
        dropped = self._memory.pop(key, None)
        if dropped is not None:
            self._memory_used -= len(dropped)

    def _remember(self, key: str, data: bytes) -> None:
        """Keep ``data`` in the in-memory LRU, evicting the least recently used."""
        if self._memory_items == 0 or len(data) > self._memory_budget:
            return
        with self._lock:
            self._forget_locked(key)
            self._memory[key] = data
            self._memory_used += len(data)
            while (len(self._memory) > self._memory_items
                   or self._memory_used > self._memory_budget):
                self._memory_used -= len(self._memory.popitem(last=False)[1])


def _read_if_present(file: str) -> bytes | None:
    """The bytes of ``file``, or None when it cannot be opened or read."""
    try:
        fd = os.open(file, os.O_RDONLY)
    except OSError:
        return None
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
    except OSError:  # e.g. a folder where an entry should be
        return None
    finally:
        os.close(fd)
    return b"".join(chunks)


def _write_unsynced(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temp file and a rename, without fsync.

    Readers see a whole entry or none. Unlike ``fsutil.write_atomic`` nothing is forced
    to disk: an fsync per thumbnail costs milliseconds of disk time for data that can be
    rebuilt, and ``looks_complete`` rejects whatever a power failure may leave behind.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=temp_prefix(path), suffix=TEMP_SUFFIX)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _lower_this_threads_priority() -> None:
    """Raise the calling thread's nice value to WRITER_NICE (Linux: one thread only)."""
    if sys.platform != "linux":
        return
    tid = threading.get_native_id()
    try:
        current = os.getpriority(os.PRIO_PROCESS, tid)
        if current < WRITER_NICE:
            os.setpriority(os.PRIO_PROCESS, tid, WRITER_NICE)
    except OSError as err:  # not allowed here: run at normal priority
        log.debug("cannot lower the cache writer's priority: %s", err)
