"""Thumbnail loading on a thread pool: cache or decode off the GUI thread, QImages back by path."""

from __future__ import annotations

import heapq
import logging
import threading
from collections.abc import Callable, Iterable
from enum import Enum
from functools import partial
from pathlib import Path

from PIL import Image
from PySide6.QtCore import QObject, QThread, QThreadPool, QTimer, Signal, Slot
from PySide6.QtGui import QImage

from gallery_desktop.core.errors import ThumbnailError
from gallery_desktop.core.paths import OUTSIDE_REASON, lies_inside, real_root
from gallery_desktop.core.records import FilePath
from gallery_desktop.core.thumbcache import ThumbnailCache, cache_key
from gallery_desktop.core.thumbnails import decode_reduced
from gallery_desktop.qt.qimage_convert import (
    display_format,
    qimage_to_pil,
    scaled_thumbnail,
)

log = logging.getLogger(__name__)

# How long shutdown() waits for running decodes (one takes far less), and then for the
# cache's pending writes: those are worth keeping for the next start, but a shutdown on
# the GUI thread (a new thumbnail size) must not hang on a slow disk.
SHUTDOWN_WAIT_MS = 5000
SHUTDOWN_FLUSH_MS = 1000
# How often a retired loader looks whether its last decode is done (then it goes).
RETIRE_POLL_MS = 100

# While workers keep producing, finished thumbnails wait up to this long for the GUI
# thread instead of waking it one by one: every wake-up costs the GUI thread CPU and the
# workers GIL hand-overs (96 JPEG thumbnails at 256 px: ~85 wake-ups before, ~14 now,
# and the burst ~7 % shorter). About one frame at 60 Hz, so a thumbnail shows no later
# than the next repaint would show it. The first result after a pause, and the one after
# which nothing is left to decode, wake it at once.
DRAIN_MS = 16

# A finished job: (path, generation, the thumbnail or None, the failure reason).
_Result = tuple[FilePath, int, QImage | None, str]


class _Wake(Enum):
    """How the GUI thread will next come for delivered results."""

    NONE = 0  # not at all: the next result must wake it
    SIGNAL = 1  # a wake-up signal is queued
    TIMER = 2  # its drain timer is running


class _JobQueue:
    """The paths waiting for a worker, in priority order, shared with the pool threads.

    Also counts workers, so that a request starts one only when fewer than the limit
    are running, and the generation of each path, so that results decoded from a file
    that has since been replaced can be recognised and dropped.

    ``on_busy(True)`` is called when the first worker starts and ``on_busy(False)`` when
    the last one retires (under the queue's lock, so the calls strictly alternate).
    """

    def __init__(self, max_workers: int,
                 on_busy: Callable[[bool], None] | None = None) -> None:
        self._lock = threading.Lock()
        self._on_busy = on_busy
        self._heap: list[tuple[int, int, FilePath]] = []  # (-priority, seq, path), lazily pruned
        self._queued: dict[FilePath, tuple[int, int]] = {}  # path -> its live (-priority, seq)
        self._seq = 0
        self._gens: dict[FilePath, int] = {}
        self._running: dict[FilePath, int] = {}  # path -> generation of its newest running job
        self._in_flight = 0
        self._delivered: list[_Result] = []  # finished, not yet taken by the GUI thread
        self._wake = _Wake.NONE
        self._workers = 0
        self._max_workers = max(1, max_workers)
        self._closed = False
        # Files must lie inside this folder (see ``lies_inside``); read by the workers.
        self.root: str | None = None

    def push(self, path: FilePath, priority: int) -> bool:
        """Queue ``path`` unless it is queued or being decoded already.

        Returns:
            True when the caller should start one more worker.
        """
        with self._lock:
            if self._closed:
                return False
            gen = self._gens.get(path, 0)
            if self._running.get(path) == gen and path not in self._queued:
                return False  # its current version is being decoded: the result will come
            live = self._queued.get(path)
            if live is not None and -live[0] >= priority:
                return False
            # New, or asked again with a higher priority: (re-)file it; an old entry goes stale.
            self._seq += 1
            entry = (-priority, self._seq)
            self._queued[path] = entry
            heapq.heappush(self._heap, (*entry, path))
            if self._workers < self._max_workers:
                self._workers += 1
                if self._workers == 1 and self._on_busy is not None:
                    self._on_busy(True)
                return True
            return False

    def take(self) -> tuple[FilePath, int] | None:
        """The next path and its generation; None retires the calling worker."""
        with self._lock:
            while self._heap and not self._closed:
                neg_prio, seq, path = heapq.heappop(self._heap)
                if self._queued.get(path) != (neg_prio, seq):
                    continue  # superseded or dropped
                del self._queued[path]
                gen = self._gens.get(path, 0)
                self._running[path] = gen
                self._in_flight += 1
                return path, gen
            self._workers -= 1
            if self._workers == 0 and self._on_busy is not None:
                self._on_busy(False)
            return None

    def deliver(self, result: _Result) -> bool:
        """Leave a finished job's result for the GUI thread's next ``take_delivered``.

        Returns:
            True when the caller must wake the GUI thread: no wake-up is on its way, or
            only the drain timer while nothing is left to decode (the end of a burst is
            not held back by it).
        """
        with self._lock:
            self._delivered.append(result)
            if self._wake is _Wake.SIGNAL or (self._wake is _Wake.TIMER and self._queued):
                return False
            self._wake = _Wake.SIGNAL
            return True

    def take_delivered(self) -> tuple[list[_Result], bool]:
        """Every result delivered so far, oldest first (each then needs ``finish``).

        Returns:
            The results, and whether the caller must come back when its drain timer
            runs out: while workers keep producing, results collect until then.
        """
        with self._lock:
            delivered, self._delivered = self._delivered, []
            self._wake = _Wake.TIMER if delivered and self._workers else _Wake.NONE
            return delivered, self._wake is _Wake.TIMER

    def finish(self, path: FilePath, gen: int) -> bool:
        """Book a finished job; True when its result is still current."""
        with self._lock:
            self._in_flight -= 1
            if self._running.get(path) == gen:
                del self._running[path]
            return not self._closed and self._gens.get(path, 0) == gen

    def retain(self, wanted: Iterable[FilePath]) -> int:
        """Keep only the queued paths in ``wanted``, moved ahead of anything queued later.

        Returns:
            How many queued paths were dropped.
        """
        with self._lock:
            order: dict[FilePath, int] = {}
            for path in wanted:
                order.setdefault(path, len(order))
            kept = [(entry[0], order[path], path) for path, entry in self._queued.items()
                    if path in order]
            dropped = len(self._queued) - len(kept)
            # Negative sequence numbers sort before every later request of equal priority.
            base = -len(order) - 1
            self._heap = [(neg_prio, base + idx, path) for neg_prio, idx, path in kept]
            heapq.heapify(self._heap)
            self._queued = {path: (neg_prio, seq) for neg_prio, seq, path in self._heap}
            return dropped

    def invalidate(self, path: FilePath) -> None:
        """Make any result already being decoded for ``path`` stale."""
        with self._lock:
            self._gens[path] = self._gens.get(path, 0) + 1

    def close(self) -> None:
        """Drop everything queued and refuse new work."""
        with self._lock:
            self._closed = True
            self._heap.clear()
            self._queued.clear()

    def pending(self) -> int:
        """Queued plus taken-but-not-yet-delivered jobs."""
        with self._lock:
            return 0 if self._closed else len(self._queued) + self._in_flight


def _hold_cache_writes(cache: ThumbnailCache, busy: bool) -> None:
    """Hold the cache's writer while decoding, release it when the queue runs dry."""
    if busy:
        cache.hold_writes()
    else:
        cache.release_writes()


class _LoaderSignals(QObject):
    """Wakes the GUI thread for delivered results; owned by the loader, not a job.

    The results themselves wait in the job queue: one wake-up without arguments serves
    every result delivered until the GUI thread gets to it, and while workers keep
    producing the loader's drain timer collects them (see ``DRAIN_MS``).
    """

    delivered = Signal()


def _work(queue: _JobQueue, signals: _LoaderSignals, cache: ThumbnailCache | None,
          edge: int) -> None:
    """A pool thread's loop: take paths until the queue runs dry, answer each exactly once."""
    while (job := queue.take()) is not None:
        path, gen = job
        key = cache_key(path, edge) if cache is not None else None
        to_cache: Callable[[], Image.Image] | None = None
        try:
            image, to_cache, reason = _produce(path, cache, key, edge, queue.root)
        except Exception:
            log.exception("thumbnail worker failed on %s", path)
            image, reason = None, "internal error while loading the thumbnail"
        if queue.deliver((path, gen, image, reason)):
            try:
                signals.delivered.emit()
            except RuntimeError as err:  # the loader was deleted without shutdown()
                log.debug("thumbnail result for %s dropped: %s", path, err)
                return
        # After delivering, and deferred to the cache's writer, which waits until the queue
        # is empty: encoding the entry is not what the user waits for.
        if to_cache is not None and image is not None and cache is not None and key is not None:
            try:
                cache.put_later(path, edge, to_cache, key=key)
            except Exception:
                log.exception("cannot cache the thumbnail of %s", path)


def _produce(path: FilePath, cache: ThumbnailCache | None, key: str | None, edge: int,
             root: str | None = None
             ) -> tuple[QImage | None, Callable[[], Image.Image] | None, str]:
    """One path's answer: (image, what makes its cache entry when it was decoded afresh,
    failure reason).

    The cache entry is made later from the QImage, which stays alive anyway (the GUI
    shows it as a pixmap sharing its pixels). Holding the decoded Pillow image instead
    would keep its buffer from being reused by the next decode: a fresh 256 KB for every
    thumbnail at 256 px, whose page faults cost more than converting back on the writer.

    ``key`` is taken before decoding: if the file is replaced meanwhile, the old pixels
    go under the old key and can never be served for the new file.
    """
    if not lies_inside(path, root):
        log.warning("no thumbnail for %s: %s", path, OUTSIDE_REASON)
        return None, None, OUTSIDE_REASON
    if cache is not None and key is not None:
        data = cache.get(path, edge, key=key)
        if data is not None:
            cached = QImage.fromData(data)
            if not cached.isNull():
                return display_format(cached), None, ""
            log.info("cached thumbnail of %s does not decode; rebuilding it", path)
            cache.discard(path, edge, key=key)
    try:
        reduced, size = decode_reduced(path, edge)
    except ThumbnailError as err:
        log.info("no thumbnail for %s: %s", path, err)
        return None, None, str(err)
    image = scaled_thumbnail(reduced, size)
    return image, partial(qimage_to_pil, image), ""


class ThumbnailLoader(QObject):
    """Decodes thumbnails on a QThreadPool (one thread per core) and hands back QImages.

    Requests are deduplicated and served by priority; ``set_wanted`` drops queued work
    for paths that scrolled out of view. Results are keyed by path, never by row. During
    a burst they arrive in batches, at most ``DRAIN_MS`` after they are ready.

    Signals:
        thumbnail_ready(object path, QImage image): the thumbnail of ``path``.
        thumbnail_failed(object path, str reason): ``path`` has no thumbnail, and why.
    """

    thumbnail_ready = Signal(object, QImage)
    thumbnail_failed = Signal(object, str)

    def __init__(self, cache: ThumbnailCache | None, edge: int = 384,
                 parent: QObject | None = None, *, threads: int | None = None) -> None:
        """Create a loader.

        Args:
            cache: Where thumbnails are cached (None: always decode).
            edge: The longest side of the thumbnails, in pixels.
            parent: The QObject parent.
            threads: Worker threads; one per core when None.
        """
        super().__init__(parent)
        self._cache = cache
        self._edge = edge
        count = threads if threads is not None else QThread.idealThreadCount()
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max(1, count))
        # Cache writes wait while decodes are queued: they must not take CPU from
        # thumbnails the user is waiting for (shutdown's flush lifts the hold).
        on_busy = None if cache is None else partial(_hold_cache_writes, cache)
        self._queue = _JobQueue(self._pool.maxThreadCount(), on_busy)
        self._signals = _LoaderSignals(self)
        self._signals.delivered.connect(self._on_delivered)
        self._drain_timer = QTimer(self, singleShot=True, interval=DRAIN_MS)
        self._drain_timer.timeout.connect(self._on_delivered)
        self._shut_down = False

    @property
    def edge(self) -> int:
        """The longest side of the thumbnails this loader makes."""
        return self._edge

    def set_root(self, root: Path | None) -> None:
        """Read only files that lie inside ``root`` once symlinks are followed (None: any)."""
        self._queue.root = real_root(root)

    @property
    def pool(self) -> QThreadPool:
        """The loader's own thread pool."""
        return self._pool

    def request(self, path: FilePath, priority: int = 0) -> None:
        """Ask for the thumbnail of ``path``; the answer is one of the two signals.

        A path already queued or being decoded is not queued twice (a higher priority
        moves it forward). Higher priorities are served first, equal ones in order.

        Args:
            path: The image file.
            priority: Larger is sooner.
        """
        if self._shut_down:
            return
        if self._queue.push(path, priority):
            self._pool.start(partial(_work, self._queue, self._signals, self._cache,
                                     self._edge))

    def set_wanted(self, paths: Iterable[FilePath]) -> None:
        """Declare the paths now visible: other queued requests are dropped unanswered.

        Queued requests for ``paths`` move ahead of everything requested later, in the
        order given. Paths being decoded already still deliver. Dropped paths must be
        requested again if they come back into view.

        Args:
            paths: The visible paths, most important first.
        """
        dropped = self._queue.retain(paths)
        if dropped:
            log.debug("dropped %d queued thumbnail requests", dropped)

    def invalidate(self, path: FilePath) -> None:
        """Forget any result still being decoded for ``path`` (its file was replaced).

        Request it again to get the new thumbnail.

        Args:
            path: The image file.
        """
        self._queue.invalidate(path)

    def shutdown(self) -> None:
        """Cancel queued work; wait (bounded) for running decodes and the cache's writes."""
        if not self._stop_taking_work():
            return
        if not self._pool.waitForDone(SHUTDOWN_WAIT_MS):
            log.warning("thumbnail workers still busy after %d ms", SHUTDOWN_WAIT_MS)
        if self._cache is not None and not self._cache.flush(timeout=SHUTDOWN_FLUSH_MS / 1000):
            log.info("thumbnail cache writes still pending at shutdown; they continue")

    def _stop_taking_work(self) -> bool:
        """Drop queued work and deliver nothing more; False when that was done before."""
        if self._shut_down:
            return False
        self._shut_down = True
        self._queue.close()
        self._drain_timer.stop()
        return True

    def retire(self) -> None:
        """Stop without waiting, then delete this loader once its threads are done.

        Queued work is dropped and running decodes finish unseen; the cache's writes go
        on on its writer thread. For a change of thumbnail size: the GUI thread must not
        wait for a decode in flight, which takes seconds for the largest images allowed.
        """
        if not self._stop_taking_work():
            return
        reaper = QTimer(self, interval=RETIRE_POLL_MS)

        def reap() -> None:
            if self._pool.activeThreadCount() == 0:
                reaper.stop()
                self.deleteLater()

        reaper.timeout.connect(reap)
        reaper.start()
        reap()

    def pending(self) -> int:
        """Requests not answered yet (queued, or decoded but not yet delivered)."""
        return self._queue.pending()

    @Slot()
    def _on_delivered(self) -> None:
        delivered, come_back = self._queue.take_delivered()
        if come_back and not self._shut_down:
            self._drain_timer.start()
        for path, gen, image, reason in delivered:
            # One by one: a receiver may invalidate a later path or shut the loader down.
            if not self._queue.finish(path, gen):
                continue  # stale (file replaced meanwhile) or shut down
            if image is not None:
                self.thumbnail_ready.emit(path, image)
            else:
                self.thumbnail_failed.emit(path, reason)
