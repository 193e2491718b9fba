"""Bridge from the DataWatcher's threads to the GUI thread: queued signal, coalescing timer."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QObject, Qt, QTimer, Signal, Slot

from gallery_desktop.core.watcher import DataWatcher, WatchEvent

log = logging.getLogger(__name__)


class _Relay(QObject):
    """Lives on the GUI thread; emitting from a watchdog thread queues the call there."""

    arrived = Signal(int, object)  # (watcher generation, WatchEvent)
    armed = Signal(int)  # (watcher generation)


class WatchBridge(QObject):
    """Runs a DataWatcher and re-emits its events on the GUI thread, debounced.

    The first event after a quiet spell starts a single-shot timer; everything arriving
    until it fires is merged, so a burst costs one emit of each kind, and a steady trickle
    (a meta.json growing) still gets through every ``debounce_ms``.

    Signals:
        runs_changed(object): the set of run ids whose folders changed.
        favorites_changed(): the favorites file changed.
        images_changed(object): the set of image paths that changed (thumbnails).
        data_dir_changed(): the data or runs folder vanished, appeared or was replaced.
        armed(): the watches of the folder last started are in place (they are set up on
            the watcher's thread); changes made before then were not seen.
    """

    runs_changed = Signal(object)
    favorites_changed = Signal()
    images_changed = Signal(object)
    data_dir_changed = Signal()
    armed = Signal()

    def __init__(self, debounce_ms: int = 200, parent: QObject | None = None) -> None:
        """Create an idle bridge; ``start`` begins watching.

        Args:
            debounce_ms: How long events are gathered before they are emitted.
            parent: The QObject parent.
        """
        super().__init__(parent)
        self._watcher: DataWatcher | None = None
        self._stoppers: list[threading.Thread] = []  # stopping old watchers
        self._generation = 0
        self._runs: set[str] = set()
        self._images: set[Path] = set()
        self._favorites = False
        self._data_dir = False
        self._relay = _Relay(self)
        self._relay.arrived.connect(self._on_arrived, Qt.ConnectionType.QueuedConnection)
        self._relay.armed.connect(self._on_armed, Qt.ConnectionType.QueuedConnection)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(max(0, debounce_ms))
        self._timer.timeout.connect(self._flush)
        app = QCoreApplication.instance()
        if app is not None:
            # Join watchdog's threads before Qt objects go away at exit.
            app.aboutToQuit.connect(self.shutdown)

    @property
    def polling(self) -> bool:
        """True when the watcher fell back to polling."""
        return self._watcher is not None and self._watcher.polling

    @property
    def data_dir(self) -> Path | None:
        """The folder being watched, if any."""
        return self._watcher.data_dir if self._watcher is not None else None

    def start(self, data_dir: Path) -> None:
        """Watch ``data_dir`` (restarting if another folder was watched).

        Args:
            data_dir: The data folder; it need not exist yet.
        """
        self.stop()
        self._generation += 1
        generation, relay = self._generation, self._relay

        def forward(event: WatchEvent) -> None:  # on a watchdog thread: no Qt calls but this
            relay.arrived.emit(generation, event)

        def armed() -> None:  # on the watcher's thread, likewise
            relay.armed.emit(generation)

        self._watcher = DataWatcher(data_dir, forward, on_armed=armed)
        self._watcher.start()  # returns at once: the watches are set up on its thread

    def wait_armed(self, timeout: float | None = None) -> bool:
        """Wait (blocking) until the current watcher's watches are in place."""
        return self._watcher is not None and self._watcher.wait_armed(timeout)

    @Slot()
    def stop(self) -> None:
        """Stop watching and drop events not emitted yet; safe to call twice.

        Returns at once: the watcher is stopped and its threads joined on a thread of
        their own (it may be setting up its watches, which takes a while in a big library
        and cannot be cut short). ``shutdown`` waits for that.
        """
        watcher, self._watcher = self._watcher, None
        self._generation += 1  # events already queued from that watcher are now stale
        self._timer.stop()
        self._clear()
        if watcher is not None:
            stopper = threading.Thread(target=watcher.stop, name="data-watcher-stop",
                                       daemon=True)
            stopper.start()
            self._stoppers = [t for t in self._stoppers if t.is_alive()] + [stopper]

    @Slot()
    def shutdown(self, timeout_s: float = 10.0) -> bool:
        """``stop``, then wait (at most ``timeout_s``) until every watcher has stopped.

        Returns:
            True when all stopped in time.
        """
        self.stop()
        deadline = time.monotonic() + timeout_s
        for stopper in self._stoppers:
            stopper.join(max(0.0, deadline - time.monotonic()))
        self._stoppers = [t for t in self._stoppers if t.is_alive()]
        return not self._stoppers

    @Slot(int)
    def _on_armed(self, generation: int) -> None:
        if generation == self._generation:
            self.armed.emit()

    @Slot(int, object)
    def _on_arrived(self, generation: int, event: WatchEvent) -> None:
        if generation != self._generation:
            return
        if event.kind == "run" and event.run_id is not None:
            self._runs.add(event.run_id)
        elif event.kind == "image":
            self._images.add(event.path)
        elif event.kind == "favorites":
            self._favorites = True
        elif event.kind == "data_dir":
            self._data_dir = True
        if not self._timer.isActive():
            self._timer.start()

    @Slot()
    def _flush(self) -> None:
        runs, images = self._runs, self._images
        favorites, data_dir = self._favorites, self._data_dir
        self._clear()
        # The whole-folder signal first: a receiver that rescans everything can then
        # treat the finer ones that follow as already handled.
        if data_dir:
            self.data_dir_changed.emit()
        if favorites:
            self.favorites_changed.emit()
        if runs:
            self.runs_changed.emit(runs)
        if images:
            self.images_changed.emit(images)

    def _clear(self) -> None:
        self._runs = set()
        self._images = set()
        self._favorites = False
        self._data_dir = False
