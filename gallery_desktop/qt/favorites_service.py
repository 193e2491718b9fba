"""Runs the favorites store's disk work on one worker thread, in order, off the GUI thread."""

from __future__ import annotations

import concurrent.futures
import logging
import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot

from gallery_desktop.core.errors import FavoritesWriteError
from gallery_desktop.core.favorites import FavoritesStore

log = logging.getLogger(__name__)


class FavoritesService(QObject):
    """Loads, writes and reloads one ``FavoritesStore`` on a single worker thread.

    Jobs run strictly in the order they were asked for. Heart writes coalesce: while a
    write for an image waits in the queue, newer requests for it only change the value it
    will write, so a burst of clicks costs at most one write in progress plus one queued,
    and the last click wins. Every signal is emitted on the GUI thread.

    Requests are handed to the worker once control is back in the event loop, not inside
    the call that asked: a heart click returns before the worker thread wakes up and
    competes for the GIL. The hand-over keeps the order of the requests.

    Signals:
        loaded(object favorites, object usage, object problem): after ``load``: a
            frozenset of ids, a dict of counts and the file's problem (str or None).
        reloaded(object favorites, object usage, object problem): after ``reload`` found
            the file changed by someone else (or its problem changed).
        favorite_saved(str image_id, bool value): a heart is on disk.
        favorite_failed(str image_id, bool stored, str message, bool latest): a heart
            write failed; ``stored`` is what the store holds, ``latest`` False when a
            newer request for the image is still pending (so nothing should roll back).
        usage_saved(str image_id, int count): a use was counted.
        usage_failed(str image_id, str message): a use could not be counted.
        idle_changed(bool): True when no job is queued or running.
    """

    loaded = Signal(object, object, object)
    reloaded = Signal(object, object, object)
    favorite_saved = Signal(str, bool)
    favorite_failed = Signal(str, bool, str, bool)
    usage_saved = Signal(str, int)
    usage_failed = Signal(str, str)
    idle_changed = Signal(bool)

    # Worker -> GUI thread (queued: the receiver, self, lives in the GUI thread).
    _w_state = Signal(object, object, object, bool, bool)  # ..., after load, changed
    _w_fav_done = Signal(str, bool, int, object)  # id, value on disk, generation, error
    _w_usage_done = Signal(str, int, object)  # id, count, error
    _w_job_done = Signal()

    def __init__(self, store: FavoritesStore, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._store = store
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="gallery-favorites")
        self._futures: set[concurrent.futures.Future[None]] = set()
        self._lock = threading.Lock()
        self._desired: dict[str, tuple[bool, int]] = {}  # queued writes: id -> (value, gen)
        self._generation: dict[str, int] = {}  # GUI thread: newest request per pending id
        self._reload_queued = False
        self._problem: str | None = None
        self._outstanding = 0
        self._closed = False
        self._handover: list[Callable[[], None]] = []  # asked for, not yet on the worker
        self._handover_timer = QTimer(self)
        self._handover_timer.setSingleShot(True)
        self._handover_timer.setInterval(0)
        self._handover_timer.timeout.connect(self._hand_over)
        self._w_state.connect(self._on_state, Qt.ConnectionType.QueuedConnection)
        self._w_fav_done.connect(self._on_fav_done, Qt.ConnectionType.QueuedConnection)
        self._w_usage_done.connect(self._on_usage_done, Qt.ConnectionType.QueuedConnection)
        self._w_job_done.connect(self._on_job_done, Qt.ConnectionType.QueuedConnection)

    @property
    def store(self) -> FavoritesStore:
        """The store this service writes through."""
        return self._store

    # -- requests (GUI thread) -------------------------------------------------------------

    def load(self) -> None:
        """Read the file (``loaded`` follows)."""
        self._submit(self._do_load)

    def reload(self) -> None:
        """Re-read the file if it changed (``reloaded`` follows only when it did)."""
        with self._lock:
            if self._reload_queued:
                return
            self._reload_queued = True
        self._submit(self._do_reload)

    def set_favorite(self, image_id: str, value: bool) -> None:
        """Persist a heart; coalesces with a write for the same image still waiting."""
        if self._closed:
            log.warning("favorites service is shut down: heart for %s not saved", image_id)
            return
        generation = self._generation.get(image_id, 0) + 1
        self._generation[image_id] = generation
        with self._lock:
            queued = image_id in self._desired
            self._desired[image_id] = (bool(value), generation)
        if not queued:
            self._submit(lambda: self._do_set_favorite(image_id))

    def increment_usage(self, image_id: str) -> None:
        """Count one use of ``image_id`` (``usage_saved`` carries the new count)."""
        self._submit(lambda: self._do_increment(image_id))

    def has_pending(self, image_id: str) -> bool:
        """Whether a heart write for ``image_id`` was asked for and has not finished."""
        return image_id in self._generation

    def pending_ids(self) -> set[str]:
        """The ids with a heart write not finished yet."""
        return set(self._generation)

    def is_idle(self) -> bool:
        """Whether no job is queued or running."""
        return self._outstanding == 0

    def shutdown(self, timeout_s: float = 5.0) -> bool:
        """Finish the queued writes (waiting at most ``timeout_s``) and stop the worker.

        Returns:
            True when every job finished in time.
        """
        if self._closed:
            return True
        self._closed = True
        self._hand_over()
        with self._lock:
            futures = set(self._futures)
        not_done = concurrent.futures.wait(futures, timeout=timeout_s).not_done
        self._executor.shutdown(wait=False, cancel_futures=True)
        if not_done:
            log.warning("%d favorites jobs still running at shutdown", len(not_done))
        return not not_done

    def retire(self) -> None:
        """Stop taking requests, without waiting for the ones taken.

        Queued writes still go to disk and their failures are still reported (delete the
        service once ``is_idle``). For a change of folder: the GUI thread must not wait for
        a write stuck on another process's lock or a slow disk.
        """
        if self._closed:
            return
        self._closed = True
        self._hand_over()
        self._executor.shutdown(wait=False)  # what is queued still runs

    def _submit(self, job: Callable[[], None]) -> None:
        if self._closed:
            log.warning("favorites service is shut down: request ignored")
            return
        self._outstanding += 1
        if self._outstanding == 1:
            self.idle_changed.emit(False)
        self._handover.append(job)
        if not self._handover_timer.isActive():
            self._handover_timer.start()

    def _hand_over(self) -> None:
        """Give the worker every job asked for so far, in order."""
        self._handover_timer.stop()
        jobs, self._handover = self._handover, []
        for job in jobs:
            future = self._executor.submit(self._run, job)
            with self._lock:
                self._futures.add(future)
            future.add_done_callback(self._forget)

    def _forget(self, future: concurrent.futures.Future[None]) -> None:
        with self._lock:  # called on the worker thread
            self._futures.discard(future)

    # -- jobs (worker thread) --------------------------------------------------------------

    def _run(self, job: Callable[[], None]) -> None:
        try:
            job()
        except Exception:  # a bug, not a disk problem: keep the worker serving
            log.exception("favorites job failed")
        finally:
            self._w_job_done.emit()

    def _do_load(self) -> None:
        self._store.load()
        self._emit_state(first=True, changed=True)

    def _do_reload(self) -> None:
        with self._lock:
            self._reload_queued = False
        self._emit_state(first=False, changed=self._store.reload_if_changed())

    def _emit_state(self, *, first: bool, changed: bool) -> None:
        store = self._store
        self._w_state.emit(store.favorites(), store.usage_counts(), store.problem, first,
                           changed)

    def _do_set_favorite(self, image_id: str) -> None:
        with self._lock:
            value, generation = self._desired.pop(image_id)
        try:
            self._store.set_favorite(image_id, value)
        except FavoritesWriteError as err:
            self._w_fav_done.emit(image_id, self._store.is_favorite(image_id), generation, err)
        except Exception as err:
            log.exception("saving the heart of %s failed", image_id)
            self._w_fav_done.emit(image_id, self._store.is_favorite(image_id), generation, err)
        else:
            self._w_fav_done.emit(image_id, value, generation, None)

    def _do_increment(self, image_id: str) -> None:
        try:
            count = self._store.increment_usage(image_id)
        except Exception as err:
            if not isinstance(err, FavoritesWriteError):
                log.exception("counting a use of %s failed", image_id)
            self._w_usage_done.emit(image_id, self._store.get_usage_count(image_id), err)
        else:
            self._w_usage_done.emit(image_id, count, None)

    # -- results (GUI thread) --------------------------------------------------------------

    @Slot(object, object, object, bool, bool)
    def _on_state(self, favorites: frozenset[str], usage: dict[str, int],
                  problem: str | None, first: bool, changed: bool) -> None:
        if first:
            self._problem = problem
            self.loaded.emit(favorites, usage, problem)
        elif changed or problem != self._problem:
            self._problem = problem
            self.reloaded.emit(favorites, usage, problem)

    @Slot(str, bool, int, object)
    def _on_fav_done(self, image_id: str, value: bool, generation: int,
                     error: BaseException | None) -> None:
        latest = self._generation.get(image_id) == generation
        if latest:
            del self._generation[image_id]
        if error is None:
            self.favorite_saved.emit(image_id, value)
        else:
            self.favorite_failed.emit(image_id, value, _message(error), latest)

    @Slot(str, int, object)
    def _on_usage_done(self, image_id: str, count: int, error: BaseException | None) -> None:
        if error is None:
            self.usage_saved.emit(image_id, count)
        else:
            self.usage_failed.emit(image_id, _message(error))

    @Slot()
    def _on_job_done(self) -> None:
        self._outstanding -= 1
        if self._outstanding == 0:
            self.idle_changed.emit(True)


def _message(error: BaseException) -> str:
    """A message for people; the store's errors already name the file and the reason."""
    if isinstance(error, FavoritesWriteError):
        return str(error)
    return f"Could not save favorites: {type(error).__name__}: {error}"
