"""DataWatcher with a real watchdog observer on real folders: runs, images, favorites, traps."""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from watchdog.observers import Observer, inotify_c

from gallery_desktop.core.fsutil import write_atomic
from gallery_desktop.core.watcher import DataWatcher, WatchEvent
from tests.factories import make_image, make_run

TIMEOUT_S = 10.0
RUN_A = "2025-11-26T06-54-47-200Z"
RUN_B = "2025-11-27T08-00-00-000Z"


class Events:
    """Thread-safe collector of WatchEvents with a blocking wait."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.items: list[WatchEvent] = []
        self.threads: set[str] = set()

    def __call__(self, event: WatchEvent) -> None:
        with self._cond:
            self.items.append(event)
            self.threads.add(threading.current_thread().name)
            self._cond.notify_all()

    def wait_for(self, pred: Callable[[WatchEvent], bool], timeout: float = TIMEOUT_S) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: any(pred(e) for e in self.items), timeout)

    def snapshot(self) -> list[WatchEvent]:
        with self._cond:
            return list(self.items)

    def clear(self) -> None:
        with self._cond:
            self.items.clear()


@pytest.fixture
def watch(tmp_path: Path) -> Iterator[Callable[..., tuple[DataWatcher, Events]]]:
    watchers: list[DataWatcher] = []

    def start(data_dir: Path | None = None, **kwargs: object) -> tuple[DataWatcher, Events]:
        events = Events()
        watcher = DataWatcher(data_dir or tmp_path / "data", events, **kwargs)  # type: ignore[arg-type]
        watcher.start()
        assert watcher.wait_armed(10)
        watchers.append(watcher)
        return watcher, events

    yield start
    for watcher in watchers:
        watcher.stop()


def is_run(run_id: str, name: str | None = None) -> Callable[[WatchEvent], bool]:
    return lambda e: e.kind == "run" and e.run_id == run_id and (
        name is None or e.path.name == name)


def marker(data_dir: Path, events: Events, name: str = "marker.png") -> list[WatchEvent]:
    """Create a marker file and return the events that came before its own."""
    path = data_dir / "runs" / "zz-marker" / name
    make_image(path)
    assert events.wait_for(lambda e: e.kind == "image" and e.path == path)
    items = events.snapshot()
    first = next(i for i, e in enumerate(items) if e.path == path or e.run_id == "zz-marker")
    return items[:first]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    (tmp_path / "data" / "runs").mkdir(parents=True)
    return tmp_path / "data"


def test_new_run_folder_and_meta_written_in_pieces(data: Path, watch) -> None:
    watcher, events = watch(data)
    assert not watcher.polling
    run_dir = data / "runs" / RUN_A
    run_dir.mkdir()
    assert events.wait_for(is_run(RUN_A))
    meta = run_dir / "meta.json"
    with meta.open("w") as f:
        f.write('{"status": "PROMPTS", ')
        f.flush()
        assert events.wait_for(is_run(RUN_A, "meta.json"))
        events.clear()
        f.write('"posts": []}')
    assert events.wait_for(is_run(RUN_A, "meta.json"))  # the second piece is reported too
    assert all(e.path.is_relative_to(data) for e in events.snapshot())
    assert events.threads and "MainThread" not in events.threads


def test_deleted_and_renamed_runs(data: Path, watch) -> None:
    make_run(data, RUN_A)
    make_run(data, "2025-01-01T00-00-00-000Z")
    _, events = watch(data)
    shutil.rmtree(data / "runs" / RUN_A)
    assert events.wait_for(lambda e: e.kind == "run" and e.run_id == RUN_A
                           and e.path == data / "runs" / RUN_A)
    os.rename(data / "runs" / "2025-01-01T00-00-00-000Z", data / "runs" / RUN_B)
    assert events.wait_for(is_run("2025-01-01T00-00-00-000Z"))
    assert events.wait_for(is_run(RUN_B))


def test_image_replaced_atomically_reports_run_and_image(data: Path, watch) -> None:
    run_dir = make_run(data, RUN_A)
    _, events = watch(data)
    tmp = run_dir / ".slide-1.png.partial"
    make_image(tmp, color="#00ff00", fmt="PNG")
    events.clear()
    os.replace(tmp, run_dir / "slide-1.png")  # arrives as a move: dest_path matters
    target = run_dir / "slide-1.png"
    assert events.wait_for(lambda e: e.kind == "image" and e.path == target
                           and e.run_id == RUN_A)
    assert events.wait_for(lambda e: e.kind == "run" and e.path == target)


def test_image_outside_the_runs_folder(data: Path, watch) -> None:
    _, events = watch(data)
    path = make_image(data / "images" / "cover.jpg")
    assert events.wait_for(lambda e: e.kind == "image" and e.path == path and e.run_id is None)


def test_favorites_replaced_atomically_without_temp_or_lock_noise(data: Path, watch) -> None:
    fav = data / "gallery-favorites.json"
    _, events = watch(data)
    write_atomic(fav, b'{"favorites": {"img_a": true}, "usageCounts": {}}')
    (data / ".gallery-favorites.json.desktop.lock").touch()
    (data / "gallery-favorites.corrupt-20250101T000000Z.json").write_text("{")
    assert events.wait_for(lambda e: e.kind == "favorites")
    before = marker(data, events)
    assert before, "the favorites change must come before the marker"
    assert {(e.kind, e.path) for e in before} == {("favorites", fav)}


def test_favorites_written_in_place(data: Path, watch) -> None:
    fav = data / "gallery-favorites.json"
    fav.write_text("{}")
    _, events = watch(data)
    with fav.open("r+") as f:  # the web server writes in place, not atomically
        f.write('{"favorites": {}}')
    assert events.wait_for(lambda e: e.kind == "favorites" and e.path == fav)


def test_reading_files_is_not_a_change(data: Path, watch) -> None:
    run_dir = make_run(data, RUN_A)
    _, events = watch(data)
    for path in run_dir.iterdir():
        path.read_bytes()
    assert marker(data, events) == []


def test_data_folder_deleted_and_recreated_keeps_reporting(data: Path, watch) -> None:
    make_run(data, RUN_A)
    watcher, events = watch(data)
    shutil.rmtree(data)
    assert events.wait_for(lambda e: e.kind == "data_dir" and e.path == data)
    events.clear()
    (data / "runs").mkdir(parents=True)
    assert events.wait_for(lambda e: e.kind == "data_dir")
    events.clear()
    make_run(data, RUN_B)
    assert events.wait_for(is_run(RUN_B, "meta.json"))
    assert not watcher.polling


def test_data_folder_replaced_by_rename(tmp_path: Path, data: Path, watch) -> None:
    make_run(data, RUN_A)
    fresh = tmp_path / "data.new"
    (fresh / "runs").mkdir(parents=True)
    _, events = watch(data)
    os.rename(data, tmp_path / "data.old")
    os.rename(fresh, data)
    assert events.wait_for(lambda e: e.kind == "data_dir" and e.path == data)
    events.clear()
    make_run(data, RUN_B)
    # Either the new folder was watched already and the run shows, or the watch came after
    # it and says so with a "data_dir" event (the consumer then scans the folder again).
    assert events.wait_for(lambda e: is_run(RUN_B, "meta.json")(e)
                           or (e.kind == "data_dir" and e.path == data))
    # The old folder lives on elsewhere; changes there are no business of ours.
    make_run(tmp_path / "data.old", "2030-01-01T00-00-00-000Z")
    before = marker(data, events)
    assert all(e.path.is_relative_to(data) for e in before)


def test_data_folder_that_does_not_exist_yet(tmp_path: Path, watch) -> None:
    data = tmp_path / "later" / "data"
    _, events = watch(data)
    (data / "runs").mkdir(parents=True)
    assert events.wait_for(lambda e: e.kind == "data_dir" and e.path == data)
    make_run(data, RUN_A)
    assert events.wait_for(is_run(RUN_A, "meta.json"))


def test_watch_limit_falls_back_to_polling(data: Path, watch,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    # A real inotify limit cannot be reached safely in a test: inject the error the
    # kernel gives (ENOSPC from inotify_add_watch) where watchdog would raise it.
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "inotify watch limit reached")

    monkeypatch.setattr(Observer, "schedule", refuse)
    watcher, events = watch(data, poll_interval_s=0.2)
    assert watcher.polling
    make_run(data, RUN_A)
    assert events.wait_for(is_run(RUN_A, "meta.json"))
    fav = data / "gallery-favorites.json"
    write_atomic(fav, b"{}")
    assert events.wait_for(lambda e: e.kind == "favorites" and e.path == fav)
    shutil.rmtree(data)
    assert events.wait_for(lambda e: e.kind == "data_dir")
    events.clear()
    (data / "runs").mkdir(parents=True)
    # What appeared before the re-armed watch saw it is covered by this event (rescan).
    assert events.wait_for(lambda e: e.kind == "data_dir")
    make_run(data, RUN_B)
    assert events.wait_for(is_run(RUN_B, "meta.json"))


def test_start_returns_at_once_and_the_watches_are_set_up_on_its_thread(
        data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # inotify's set-up of a big tree takes a while: stand in for it with a gate.
    gate = threading.Event()
    schedulers: list[threading.Thread] = []
    real_schedule = Observer.schedule

    def slow_schedule(self: Observer, *args: object, **kwargs: object) -> object:
        schedulers.append(threading.current_thread())
        assert gate.wait(10)
        return real_schedule(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Observer, "schedule", slow_schedule)
    events = Events()
    armed: list[threading.Thread] = []
    watcher = DataWatcher(data, events, on_armed=lambda: armed.append(threading.current_thread()))
    try:
        watcher.start()  # returns while the set-up is held up
        assert not watcher.wait_armed(0.2)
        assert armed == []
        gate.set()
        assert watcher.wait_armed(10)
        assert armed and armed[0] is not threading.current_thread()
        assert threading.current_thread() not in schedulers
        make_run(data, RUN_A)
        assert events.wait_for(is_run(RUN_A))
    finally:
        gate.set()
        watcher.stop()
    assert len(armed) == 1


def test_a_watcher_stopped_at_once_leaves_no_thread(data: Path) -> None:
    for _ in range(20):  # stop() lands before, during or after the set-up
        before = set(threading.enumerate())
        armed: list[bool] = []
        watcher = DataWatcher(data, Events(), on_armed=lambda a=armed: a.append(True))
        watcher.start()
        watcher.stop()
        assert not [t for t in set(threading.enumerate()) - before if t.is_alive()]
        assert len(armed) <= 1


def test_a_symlinked_favorites_file_is_watched_where_it_points(tmp_path: Path, data: Path,
                                                               watch) -> None:
    synced = tmp_path / "synced"
    synced.mkdir()
    target = synced / "gallery-favorites.json"
    target.write_bytes(b"{}")
    link = data / "gallery-favorites.json"
    link.symlink_to(target)
    _, events = watch(data)

    def favorites() -> bool:
        return events.wait_for(lambda e: e.kind == "favorites" and e.path == link)

    with open(link, "w", encoding="utf-8") as f:  # the web server: in place, through the link
        f.write('{"favorites": {"img_a": true}}')
    assert favorites()
    events.clear()
    write_atomic(link, b'{"favorites": {}}')  # ours: the target is replaced by a rename
    assert favorites()
    events.clear()
    # The link pointed at another file: that one is watched from then on.
    elsewhere = tmp_path / "elsewhere" / "gallery-favorites.json"
    elsewhere.parent.mkdir()
    elsewhere.write_bytes(b"{}")
    link.unlink()
    link.symlink_to(elsewhere)
    assert favorites()  # the link itself changed
    # The new target's folder is watched once the watcher's thread has looked again:
    # write until a write is seen (the first may come before that).
    for _ in range(50):
        events.clear()
        elsewhere.write_bytes(b'{"favorites": {"img_b": true}}')
        if events.wait_for(lambda e: e.kind == "favorites", timeout=0.2):
            break
    else:
        pytest.fail("writes to the file the link now names are not seen")


def test_a_run_folder_linked_from_runs_reports_under_its_run_id(data: Path, watch) -> None:
    archived = data / "archive" / RUN_A
    archived.mkdir(parents=True)
    (data / "runs" / RUN_A).symlink_to(archived, target_is_directory=True)
    _, events = watch(data)
    (data / "runs" / RUN_A / "meta.json").write_text("{}", encoding="utf-8")  # through it
    assert events.wait_for(lambda e: e.kind == "run" and e.run_id == RUN_A
                           and e.path == archived / "meta.json")
    # A link made while watching is found too (once the watcher has looked again).
    other = data / "archive" / RUN_B
    other.mkdir()
    (data / "runs" / RUN_B).symlink_to(other, target_is_directory=True)
    for _ in range(50):
        events.clear()
        make_image(other / "slide-1.png")
        if events.wait_for(lambda e: e.kind == "image" and e.run_id == RUN_B, timeout=0.2):
            break
    else:
        pytest.fail("changes in a run folder linked while watching are not reported")


def test_the_watch_limit_reached_while_watching_falls_back_to_polling(
        data: Path, watch, monkeypatch: pytest.MonkeyPatch) -> None:
    # The kernel's limit cannot be reached safely in a test: once ``full`` is set, every
    # inotify_add_watch fails as the kernel then would (watchdog swallows that error for
    # folders below the one it watches, so nothing else would notice).
    real_add = inotify_c.inotify_add_watch
    full = threading.Event()

    def limited(fd: int, path: bytes, mask: int) -> int:
        if full.is_set():
            ctypes.set_errno(errno.ENOSPC)
            return -1
        return real_add(fd, path, mask)

    monkeypatch.setattr(inotify_c, "inotify_add_watch", limited)
    watcher, events = watch(data, poll_interval_s=0.2)
    assert not watcher.polling
    full.set()
    new_dir = data / "runs" / RUN_B
    new_dir.mkdir()  # the studio makes the folder first ...
    assert events.wait_for(is_run(RUN_B))
    assert events.wait_for(lambda e: e.kind == "data_dir")  # look again: a rescan
    assert watcher.polling
    (new_dir / "meta.json").write_text('{"posts": []}', encoding="utf-8")  # ... then meta
    assert events.wait_for(is_run(RUN_B, "meta.json"))


def test_stop_is_idempotent_and_silences(data: Path) -> None:
    events = Events()
    watcher = DataWatcher(data, events)
    before = set(threading.enumerate())
    watcher.start()
    assert watcher.wait_armed(10)
    make_run(data, RUN_A)
    assert events.wait_for(is_run(RUN_A))
    watcher.stop()
    watcher.stop()
    assert not [t for t in set(threading.enumerate()) - before if t.is_alive()]
    events.clear()
    make_run(data, RUN_B)
    assert marker_free_wait(events)


def marker_free_wait(events: Events) -> bool:
    """After stop nothing may arrive: give a stray event a (bounded) chance to show."""
    return not events.wait_for(lambda e: True, timeout=0.5)


@pytest.mark.parametrize(("rel", "is_dir", "expected"), [
    ("gallery-favorites.json", False, [("favorites", None)]),
    (".gallery-favorites.json.abc123.tmp", False, []),
    (".gallery-favorites.json.desktop.lock", False, []),
    ("gallery-favorites.json.lock", True, []),
    ("gallery-favorites.json.lock/x", False, []),
    ("runs", True, [("data_dir", None)]),
    (f"runs/{RUN_A}", True, [("run", RUN_A)]),
    (f"runs/{RUN_A}/meta.json", False, [("run", RUN_A)]),
    (f"runs/{RUN_A}/slide-1.PNG", False, [("run", RUN_A), ("image", RUN_A)]),
    (f"runs/{RUN_A}/sub/slide-1.webp", False, [("run", RUN_A), ("image", RUN_A)]),
    (f"runs/{RUN_A}/odd.png", True, [("run", RUN_A)]),
    ("runs/.DS_Store", False, []),
    ("images/cover.jpeg", False, [("image", None)]),
    ("notes.txt", False, []),
])
def test_classify(tmp_path: Path, rel: str, is_dir: bool,
                  expected: list[tuple[str, str | None]]) -> None:
    watcher = DataWatcher(tmp_path, lambda e: None)
    got = watcher.classify(tmp_path / rel, is_directory=is_dir)
    assert [(e.kind, e.run_id) for e in got] == expected
    assert all(e.path == tmp_path / rel for e in got)
    assert watcher.classify(tmp_path.parent / "elsewhere.png") == []


def test_symlinked_data_folder_is_watched_where_it_points(tmp_path: Path, data: Path,
                                                          watch) -> None:
    link = tmp_path / "link-to-data"
    link.symlink_to(data, target_is_directory=True)
    watcher, events = watch(link)
    assert watcher.data_dir == data
    make_run(data, RUN_A)
    assert events.wait_for(lambda e: e.kind == "run" and e.path == data / "runs" / RUN_A
                           / "meta.json")


def test_watchdogs_warning_about_a_renamed_folder_s_callback_is_not_shown() -> None:
    """watchdog warns that it "will overwrite" a callback with itself when a folder renamed
    inside the watched tree keeps its inotify watch; the app keeps that out of its log."""
    code = ("import warnings, gallery_desktop.core.watcher\n"
            "warnings.warn(\"Callback with id '1' already exists for watch <w>. It will be "
            "Overwritten.\", RuntimeWarning)\n"
            "warnings.warn('another warning', RuntimeWarning)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, timeout=60, cwd=Path(__file__).resolve().parents[2])
    assert "already exists" not in result.stderr
    assert "another warning" in result.stderr
