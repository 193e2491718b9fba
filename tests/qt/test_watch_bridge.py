"""WatchBridge with a real watcher: events reach the GUI thread, bursts coalesce, restarts."""

from __future__ import annotations

import errno
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, Qt, QThread
from pytestqt.qtbot import QtBot
from watchdog.observers import Observer

from gallery_desktop.core.fsutil import write_atomic
from gallery_desktop.core.watcher import WatchEvent
from gallery_desktop.qt.watch_bridge import WatchBridge
from tests.factories import make_image, make_run

RUN_A = "2025-11-26T06-54-47-200Z"
RUN_B = "2025-11-27T08-00-00-000Z"
WAIT_MS = 10_000


class Emits:
    """Records the bridge's signals and the thread each arrived on."""

    def __init__(self, bridge: WatchBridge) -> None:
        self.runs: list[set[str]] = []
        self.images: list[set[Path]] = []
        self.favorites = 0
        self.data_dir = 0
        self.threads: set[QThread] = set()
        bridge.runs_changed.connect(lambda s: self._add(self.runs, s))
        bridge.images_changed.connect(lambda s: self._add(self.images, s))
        bridge.favorites_changed.connect(self._on_favorites)
        bridge.data_dir_changed.connect(self._on_data_dir)

    def _add(self, target: list, value: object) -> None:
        self.threads.add(QThread.currentThread())
        target.append(value)

    def _on_favorites(self) -> None:
        self.threads.add(QThread.currentThread())
        self.favorites += 1

    def _on_data_dir(self) -> None:
        self.threads.add(QThread.currentThread())
        self.data_dir += 1

    def all_runs(self) -> set[str]:
        return set().union(*self.runs) if self.runs else set()


class ThreadSideSpy:
    """Sees each event on the watcher's thread, before it is queued to the GUI thread."""

    def __init__(self, bridge: WatchBridge) -> None:
        self._cond = threading.Condition()
        self._seen: list[WatchEvent] = []
        bridge._relay.arrived.connect(self._on_arrived, Qt.ConnectionType.DirectConnection)

    def _on_arrived(self, _generation: int, event: WatchEvent) -> None:
        with self._cond:
            self._seen.append(event)
            self._cond.notify_all()

    def wait_for(self, pred: Callable[[WatchEvent], bool], timeout: float = 10.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: any(pred(e) for e in self._seen), timeout)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    (tmp_path / "data" / "runs").mkdir(parents=True)
    return tmp_path / "data"


def start_armed(qtbot: QtBot, bridge: WatchBridge, folder: Path) -> None:
    """Start watching and wait for the watches: what changes before them is not seen."""
    with qtbot.waitSignal(bridge.armed, timeout=WAIT_MS):
        bridge.start(folder)


@pytest.fixture
def bridge(qtbot: QtBot) -> Iterator[WatchBridge]:
    b = WatchBridge(debounce_ms=200)
    yield b
    assert b.shutdown()


def test_burst_is_coalesced_into_one_emit_on_the_gui_thread(qtbot: QtBot, data: Path,
                                                            bridge: WatchBridge) -> None:
    start_armed(qtbot, bridge, data)
    assert not bridge.polling
    spy = ThreadSideSpy(bridge)
    emits = Emits(bridge)
    # The burst happens while the GUI thread runs no event loop: every event is queued
    # to it (the spy sees the last one leave the watcher's thread) before any is handled.
    for i in range(10):
        make_run(data, RUN_A, posts=[{"index": i, "finalImageUrl":
                                      f"/data/runs/{RUN_A}/slide-{i}.png"}])
    make_run(data, RUN_B)
    # A folder creation is a single event, and inotify keeps order: once the spy has
    # seen it, every event of the burst has been queued.
    (data / "runs" / "zz-marker").mkdir()
    assert spy.wait_for(lambda e: e.run_id == "zz-marker")
    with qtbot.waitSignal(bridge.runs_changed, timeout=WAIT_MS):
        pass
    qtbot.wait(400)  # two debounce periods: a second emit would show up here
    assert emits.runs == [{RUN_A, RUN_B, "zz-marker"}]
    assert len(emits.images) == 1
    assert {p.name for p in emits.images[0]} >= {f"slide-{i}.png" for i in range(10)}
    assert emits.threads == {QCoreApplication.instance().thread()}


def test_favorites_images_and_runs_each_get_their_signal(qtbot: QtBot, data: Path,
                                                         bridge: WatchBridge) -> None:
    run_dir = make_run(data, RUN_A)
    start_armed(qtbot, bridge, data)
    emits = Emits(bridge)
    with qtbot.waitSignal(bridge.favorites_changed, timeout=WAIT_MS):
        write_atomic(data / "gallery-favorites.json", b'{"favorites": {}}')
    tmp = make_image(run_dir / ".slide-1.partial.png", color="#00ff00")
    with qtbot.waitSignal(bridge.images_changed, timeout=WAIT_MS) as blocker:
        tmp.replace(run_dir / "slide-1.png")
    assert run_dir / "slide-1.png" in blocker.args[0]
    qtbot.waitUntil(lambda: RUN_A in emits.all_runs(), timeout=WAIT_MS)
    assert emits.data_dir == 0


def test_data_folder_deleted_and_recreated(qtbot: QtBot, data: Path,
                                           bridge: WatchBridge) -> None:
    make_run(data, RUN_A)
    start_armed(qtbot, bridge, data)
    with qtbot.waitSignal(bridge.data_dir_changed, timeout=WAIT_MS):
        shutil.rmtree(data)
    with qtbot.waitSignal(bridge.data_dir_changed, timeout=WAIT_MS):
        (data / "runs").mkdir(parents=True)
    with qtbot.waitSignal(bridge.runs_changed, timeout=WAIT_MS,
                          check_params_cb=lambda runs: RUN_B in runs):
        make_run(data, RUN_B)


def test_restart_on_another_folder_forgets_the_first(qtbot: QtBot, tmp_path: Path,
                                                     bridge: WatchBridge) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    (first / "runs").mkdir(parents=True)
    (second / "runs").mkdir(parents=True)
    bridge.start(first)
    start_armed(qtbot, bridge, second)
    assert bridge.data_dir == second
    emits = Emits(bridge)
    make_run(first, RUN_A)
    with qtbot.waitSignal(bridge.runs_changed, timeout=WAIT_MS):
        make_run(second, RUN_B)
    qtbot.wait(400)
    assert emits.all_runs() == {RUN_B}


def test_stop_silences(qtbot: QtBot, data: Path, bridge: WatchBridge) -> None:
    start_armed(qtbot, bridge, data)
    spy = ThreadSideSpy(bridge)
    emits = Emits(bridge)
    make_run(data, RUN_A)
    assert spy.wait_for(lambda e: e.run_id == RUN_A)
    bridge.stop()  # the queued events of that watcher must not come out
    bridge.stop()
    make_run(data, RUN_B)
    qtbot.wait(400)
    assert emits.runs == [] and emits.images == []
    assert bridge.data_dir is None and not bridge.polling


def test_polling_fall_back_is_reported(qtbot: QtBot, data: Path, bridge: WatchBridge,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "inotify watch limit reached")

    monkeypatch.setattr(Observer, "schedule", refuse)
    start_armed(qtbot, bridge, data)
    assert bridge.polling
    with qtbot.waitSignal(bridge.runs_changed, timeout=WAIT_MS,
                          check_params_cb=lambda runs: RUN_A in runs):
        make_run(data, RUN_A)


def test_a_new_folder_does_not_wait_for_the_old_watcher_to_stop(
        qtbot: QtBot, tmp_path: Path, bridge: WatchBridge,
        monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    (first / "runs").mkdir(parents=True)
    (second / "runs").mkdir(parents=True)
    gate = threading.Event()
    real_schedule = Observer.schedule

    def slow_schedule(self: Observer, handler: object, path: str, **kwargs: object) -> object:
        if Path(path) == first:  # setting up a big library's watches takes a while
            assert gate.wait(10)
        return real_schedule(self, handler, path, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Observer, "schedule", slow_schedule)
    valve = threading.Timer(3.0, gate.set)  # should stopping wait after all
    valve.start()
    try:
        bridge.start(first)
        start_armed(qtbot, bridge, second)  # stops the first watcher, mid-set-up
        assert not gate.is_set()  # returned without waiting for it
        with qtbot.waitSignal(bridge.runs_changed, timeout=WAIT_MS):
            make_run(second, RUN_B)
    finally:
        valve.cancel()
        gate.set()
    assert bridge.shutdown()  # the old watcher's threads are joined there
