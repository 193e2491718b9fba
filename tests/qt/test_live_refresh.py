"""Live refresh with a real watchdog observer: changes on disk reach the model as row
inserts, removals and dataChanged, never a reset, and the selection stays."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt
from PySide6.QtGui import QColor, QPixmap
from watchdog.observers import Observer

from gallery_desktop.qt.controller import GalleryController
from gallery_desktop.qt.main_window import MainWindow
from gallery_desktop.qt.roles import ImageRole, ThumbState
from gallery_desktop.qt.settings import AppSettings
from gallery_desktop.qt.watch_bridge import WatchBridge
from tests.factories import make_image, make_run
from tests.qt.test_controller import add_run, image_id, open_and_wait, run_id

LIVE_TIMEOUT_MS = 10_000


@dataclass
class Live:
    controller: GalleryController
    data: Path
    events: list[str] = field(default_factory=list)

    def proxy_row(self, image: str) -> int:
        proxy = self.controller.proxy
        return proxy.map_from_model(self.controller.model.index_of(image)).row()


@pytest.fixture
def live(qtbot, tmp_path: Path) -> Iterator[Live]:
    data = tmp_path / "data"
    for n in range(4):
        add_run(data, n, posts=2)
    controller = GalleryController(tmp_path / "cache", watch_debounce_ms=50)
    open_and_wait(qtbot, controller, data)
    state = Live(controller, data)
    model = controller.model
    model.modelReset.connect(lambda: state.events.append("reset"))
    model.rowsInserted.connect(lambda *_: state.events.append("inserted"))
    model.rowsRemoved.connect(lambda *_: state.events.append("removed"))
    model.dataChanged.connect(lambda *_: state.events.append("changed"))
    yield state
    controller.shutdown()
    assert "reset" not in state.events  # never a reset after the first fill


def test_a_new_run_appears(qtbot, live: Live) -> None:
    add_run(live.data, 10, posts=2)
    qtbot.waitUntil(lambda: live.controller.model.row_of(image_id(10, 2)) == 1,
                    timeout=LIVE_TIMEOUT_MS)
    assert live.controller.model.row_of(image_id(10, 1)) == 0
    assert "inserted" in live.events


def test_a_run_written_while_the_watches_are_set_up_still_appears(
        qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Setting up inotify for a big library takes a while, off the GUI thread: hold it back.
    gate = threading.Event()
    real_schedule = Observer.schedule

    def slow_schedule(self: Observer, *args: object, **kwargs: object) -> object:
        gate.wait(10)
        return real_schedule(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Observer, "schedule", slow_schedule)
    data = tmp_path / "data"
    add_run(data, 0, posts=1)
    controller = GalleryController(tmp_path / "cache", watch_debounce_ms=50)
    try:
        open_and_wait(qtbot, controller, data)  # the GUI thread did not wait for the watches
        add_run(data, 1, posts=1)  # seen by no watch
        assert controller.model.row_of(image_id(1, 1)) == -1
        gate.set()
        # Once the watches are in place, the folder is looked at again.
        qtbot.waitUntil(lambda: controller.model.row_of(image_id(1, 1)) == 0,
                        timeout=LIVE_TIMEOUT_MS)
    finally:
        gate.set()
        controller.shutdown()


def test_a_run_whose_meta_json_comes_later_and_in_pieces(qtbot, live: Live) -> None:
    rid = run_id(11)
    run_dir = live.data / "runs" / rid
    run_dir.mkdir(parents=True)
    make_image(run_dir / "slide-1.png")
    body = json.dumps({"createdAt": "2025-11-01T11:00:00.000Z", "posts": [
        {"index": 1, "finalImageUrl": f"/data/runs/{rid}/slide-1.png"}]}).encode()
    with open(run_dir / "meta.json", "wb") as f:  # the way a streaming writer does it
        f.write(body[:20])
        f.flush()
        f.write(body[20:])
    qtbot.waitUntil(lambda: live.controller.model.row_of(image_id(11)) >= 0,
                    timeout=LIVE_TIMEOUT_MS)


def test_a_deleted_run_disappears(qtbot, live: Live) -> None:
    shutil.rmtree(live.data / "runs" / run_id(2))
    qtbot.waitUntil(lambda: live.controller.model.row_of(image_id(2, 1)) == -1
                    and live.controller.model.row_of(image_id(2, 2)) == -1,
                    timeout=LIVE_TIMEOUT_MS)
    assert live.controller.model.rowCount() == 6
    assert "removed" in live.events


def test_a_renamed_run_moves(qtbot, live: Live) -> None:
    os.rename(live.data / "runs" / run_id(1), live.data / "runs" / run_id(12))
    qtbot.waitUntil(lambda: live.controller.model.row_of(image_id(1)) == -1
                    and live.controller.model.row_of(image_id(12)) >= 0,
                    timeout=LIVE_TIMEOUT_MS)


def test_a_growing_meta_json_adds_posts(qtbot, live: Live) -> None:
    rid = run_id(3)
    make_image(live.data / "runs" / rid / "slide-3.png", color="#27ae60")
    meta_path = live.data / "runs" / rid / "meta.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta["posts"].append({"index": 3, "text": "A third slide",
                          "finalImageUrl": f"/data/runs/{rid}/slide-3.png"})
    meta_path.write_text(json.dumps(meta, indent=2), encoding="utf-8")
    model = live.controller.model
    qtbot.waitUntil(lambda: model.row_of(image_id(3, 3)) == 2, timeout=LIVE_TIMEOUT_MS)
    assert model.index(2).data() == "A third slide"


def test_a_changed_caption_updates_the_row_in_place(qtbot, live: Live) -> None:
    rid = run_id(0)
    meta_path = live.data / "runs" / rid / "meta.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta["posts"][0]["text"] = "Rewritten caption"
    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    model = live.controller.model
    row = model.row_of(image_id(0))
    qtbot.waitUntil(lambda: model.index(row).data() == "Rewritten caption",
                    timeout=LIVE_TIMEOUT_MS)
    assert "inserted" not in live.events and "removed" not in live.events


def test_favorites_changed_by_another_process_update_hearts(qtbot, live: Live) -> None:
    path = live.data / "gallery-favorites.json"
    # The web server's way: read, modify, write in place (no lock, no rename).
    code = ("import json, sys; p = sys.argv[1]; "
            "doc = {'favorites': {sys.argv[2]: True}, 'usageCounts': {sys.argv[3]: 7}}; "
            "open(p, 'w', encoding='utf-8').write(json.dumps(doc, indent=2))")
    subprocess.run([sys.executable, "-c", code, str(path), image_id(2), image_id(0, 2)],
                   check=True)
    model = live.controller.model
    qtbot.waitUntil(lambda: model.is_favorite(image_id(2))
                    and model.usage_count(image_id(0, 2)) == 7, timeout=LIVE_TIMEOUT_MS)
    counts: list[tuple[int, int]] = []
    live.controller.counts_changed.connect(lambda n, f: counts.append((n, f)))
    subprocess.run([sys.executable, "-c", code, str(path), image_id(3), image_id(0, 2)],
                   check=True)
    qtbot.waitUntil(lambda: model.is_favorite(image_id(3))
                    and not model.is_favorite(image_id(2)), timeout=LIVE_TIMEOUT_MS)
    assert "changed" in live.events


def test_a_symlinked_favorites_file_changed_by_the_web_studio_updates_hearts(
        qtbot, tmp_path: Path) -> None:
    data = tmp_path / "data"
    for n in range(3):
        add_run(data, n)
    synced = tmp_path / "synced"
    synced.mkdir()
    target = synced / "gallery-favorites.json"
    target.write_text(json.dumps({"favorites": {}, "usageCounts": {}}), encoding="utf-8")
    (data / "gallery-favorites.json").symlink_to(target)
    controller = GalleryController(tmp_path / "cache", watch_debounce_ms=50)
    try:
        open_and_wait(qtbot, controller, data)
        assert controller._watch.wait_armed(10)
        assert not controller.model.is_favorite(image_id(1))
        # The web server's fs.writeFile: in place, through the link.
        with open(data / "gallery-favorites.json", "w", encoding="utf-8") as f:
            f.write(json.dumps({"favorites": {image_id(1): True}, "usageCounts": {}}))
        qtbot.waitUntil(lambda: controller.model.is_favorite(image_id(1)),
                        timeout=LIVE_TIMEOUT_MS)
    finally:
        controller.shutdown()


def test_a_run_folder_reached_through_a_link_updates_live(qtbot, tmp_path: Path) -> None:
    data = tmp_path / "data"
    add_run(data, 0)
    rid = "2025-11-05T00-00-00-000Z"
    real = data / "archive" / rid
    make_image(real / "slide-1.png")
    make_image(real / "slide-2.png")
    meta = {"createdAt": "2025-11-05T00:00:00.000Z", "posts": [
        {"index": 1, "text": "one", "finalImageUrl": f"/data/runs/{rid}/slide-1.png"}]}
    (real / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    (data / "runs" / rid).symlink_to(real, target_is_directory=True)
    controller = GalleryController(tmp_path / "cache", watch_debounce_ms=50)
    try:
        open_and_wait(qtbot, controller, data)
        assert controller._watch.wait_armed(10)
        assert controller.model.row_of(f"img_{rid}_slide-1") >= 0
        meta["posts"].append({"index": 2, "text": "two",
                              "finalImageUrl": f"/data/runs/{rid}/slide-2.png"})
        (data / "runs" / rid / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
        qtbot.waitUntil(lambda: controller.model.row_of(f"img_{rid}_slide-2") >= 0,
                        timeout=LIVE_TIMEOUT_MS)
    finally:
        controller.shutdown()


def test_a_replaced_image_refreshes_its_thumbnail(qtbot, live: Live) -> None:
    controller = live.controller
    row = live.proxy_row(image_id(3))
    controller.set_visible_rows([row])
    index = controller.proxy.index(row, 0)
    qtbot.waitUntil(lambda: index.data(ImageRole.THUMB_STATE) == ThumbState.READY,
                    timeout=LIVE_TIMEOUT_MS)
    assert thumbnail_color(index).red() > 150
    replace_with_blue(live.data / "runs" / run_id(3) / "slide-1.png")
    qtbot.waitUntil(lambda: thumbnail_color(index).blue() > 150, timeout=LIVE_TIMEOUT_MS)


def thumbnail_color(index: QModelIndex) -> QColor:
    """The colour near the middle of a row's thumbnail (black while it has none)."""
    pixmap = index.data(Qt.ItemDataRole.DecorationRole)
    if not isinstance(pixmap, QPixmap):
        return QColor("black")
    image = pixmap.toImage()
    return image.pixelColor(image.width() * 3 // 4, image.height() * 3 // 4)


def replace_with_blue(target: Path) -> None:
    """Replace an image with a blue one, atomically, as editors and the studio do."""
    os.replace(make_image(target.with_name("incoming.png"), color="#2980b9"), target)


def test_a_shown_row_that_now_names_another_file_gets_its_thumbnail(qtbot, tmp_path) -> None:
    # The studio writes the final image, then points the post at it instead of the raw one.
    data = tmp_path / "data"
    rid = run_id(0)
    run_dir = make_run(data, rid, [{"index": 1, "imagePrompt": "p",
                                    "rawImageUrl": f"/data/runs/{rid}/raw-1.png"}])
    make_image(run_dir / "final-1.png", color="#2980b9")
    controller = GalleryController(tmp_path / "cache", watch_debounce_ms=50)
    window = MainWindow(controller, AppSettings.from_file(tmp_path / "settings.ini"))
    qtbot.addWidget(window)
    window.resize(900, 600)
    window.show()
    qtbot.waitExposed(window)
    try:
        with qtbot.waitSignal(controller.scan_finished, timeout=LIVE_TIMEOUT_MS):
            window.open_data_dir(data)
        index = window.view.model().index(0, 0)
        qtbot.waitUntil(lambda: index.data(ImageRole.THUMB_STATE) == ThumbState.READY,
                        timeout=LIVE_TIMEOUT_MS)  # raw-1.png's thumbnail
        # Settled: no thumbnail-size change (it would ask for every shown row again) and
        # no visible-rows report is pending.
        qtbot.waitUntil(lambda: controller.is_idle() and not window._size_timer.isActive()
                        and not window.view.has_pending_visible_rows(), timeout=LIVE_TIMEOUT_MS)
        qtbot.waitUntil(lambda: index.data(ImageRole.THUMB_STATE) == ThumbState.READY,
                        timeout=LIVE_TIMEOUT_MS)
        meta = json.loads((run_dir / "meta.json").read_text(encoding="utf-8"))
        meta["posts"][0]["finalImageUrl"] = f"/data/runs/{rid}/final-1.png"
        (run_dir / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
        final = str((run_dir / "final-1.png").resolve())
        qtbot.waitUntil(lambda: index.data(ImageRole.IMAGE_PATH) == final,
                        timeout=LIVE_TIMEOUT_MS)
        qtbot.waitUntil(lambda: index.data(ImageRole.THUMB_STATE) == ThumbState.READY,
                        timeout=LIVE_TIMEOUT_MS)
    finally:
        window.close()
        controller.shutdown()


def test_the_periodic_rescan_catches_an_image_replaced_while_events_were_lost(
        qtbot, tmp_path: Path) -> None:
    data = tmp_path / "data"
    for n in range(3):
        add_run(data, n)
    controller = GalleryController(tmp_path / "cache", rescan_interval_ms=300,
                                   watch_debounce_ms=50)
    try:
        open_and_wait(qtbot, controller, data)
        model = controller.model
        row = model.row_of(image_id(1))
        controller.set_visible_rows([controller.proxy.map_from_model(model.index(row)).row()])
        qtbot.waitUntil(lambda: model.index(row).data(ImageRole.THUMB_STATE)
                        == ThumbState.READY, timeout=LIVE_TIMEOUT_MS)
        # inotify's queue overflows without a word: stand in for it by not watching at all.
        controller._watch.stop()
        replace_with_blue(data / "runs" / run_id(1) / "slide-1.png")
        qtbot.waitUntil(lambda: thumbnail_color(model.index(row)).blue() > 150,
                        timeout=LIVE_TIMEOUT_MS)
    finally:
        controller.shutdown()


def missing_then_written(qtbot, controller: GalleryController, data: Path) -> tuple[Path, int]:
    """Open ``data`` with run 1's image not written yet; its row shown, and so "missing"."""
    for n in range(3):
        add_run(data, n)
    (data / "runs" / run_id(1) / "slide-1.png").unlink()  # meta.json names it already
    open_and_wait(qtbot, controller, data)
    row = controller.proxy.map_from_model(controller.model.index_of(image_id(1))).row()
    controller.set_visible_rows([row])
    qtbot.waitUntil(lambda: controller.proxy.index(row, 0).data(ImageRole.THUMB_STATE)
                    == ThumbState.MISSING, timeout=LIVE_TIMEOUT_MS)
    return data / "runs" / run_id(1) / "slide-1.png", row


def test_an_image_written_after_its_run_shows(qtbot, tmp_path: Path) -> None:
    controller = GalleryController(tmp_path / "cache", watch_debounce_ms=50)
    try:
        path, row = missing_then_written(qtbot, controller, tmp_path / "data")
        assert controller._watch.wait_armed(10)
        make_image(path, color="#2980b9")
        index = controller.proxy.index(row, 0)
        qtbot.waitUntil(lambda: thumbnail_color(index).blue() > 150, timeout=LIVE_TIMEOUT_MS)
        assert index.data(ImageRole.THUMB_STATE) == ThumbState.READY
    finally:
        controller.shutdown()


def test_the_periodic_rescan_catches_an_image_written_while_events_were_lost(
        qtbot, tmp_path: Path) -> None:
    controller = GalleryController(tmp_path / "cache", rescan_interval_ms=300,
                                   watch_debounce_ms=50)
    try:
        path, row = missing_then_written(qtbot, controller, tmp_path / "data")
        controller._watch.stop()  # as a silent queue overflow would
        said: list[set[str]] = []
        controller.image_files_changed.connect(said.append)  # an open viewer shows it then
        make_image(path, color="#2980b9")
        index = controller.proxy.index(row, 0)
        qtbot.waitUntil(lambda: thumbnail_color(index).blue() > 150, timeout=LIVE_TIMEOUT_MS)
        assert said == [{str(path)}]
    finally:
        controller.shutdown()


def test_selection_and_order_survive_live_changes(qtbot, live: Live) -> None:
    controller = live.controller
    proxy = controller.proxy
    selection = QItemSelectionModel(proxy)
    selection.select(proxy.index(live.proxy_row(image_id(1, 2)), 0),
                     QItemSelectionModel.SelectionFlag.ClearAndSelect)
    selection.setCurrentIndex(proxy.index(live.proxy_row(image_id(1, 2)), 0),
                              QItemSelectionModel.SelectionFlag.NoUpdate)
    add_run(live.data, 20)
    shutil.rmtree(live.data / "runs" / run_id(3))
    qtbot.waitUntil(lambda: controller.model.row_of(image_id(20)) == 0
                    and controller.model.row_of(image_id(3)) == -1, timeout=LIVE_TIMEOUT_MS)
    chosen = [i.data(ImageRole.IMAGE_ID) for i in selection.selectedIndexes()]
    assert chosen == [image_id(1, 2)]
    assert selection.currentIndex().data(ImageRole.IMAGE_ID) == image_id(1, 2)


def test_the_data_folder_deleted_and_recreated(qtbot, live: Live) -> None:
    shutil.rmtree(live.data)
    controller = live.controller
    model = controller.model
    qtbot.waitUntil(lambda: model.rowCount() == 0, timeout=LIVE_TIMEOUT_MS)
    qtbot.waitUntil(lambda: controller.folder_problem() == "the data folder is not there",
                    timeout=LIVE_TIMEOUT_MS)
    add_run(live.data, 30)
    qtbot.waitUntil(lambda: model.row_of(image_id(30)) == 0, timeout=LIVE_TIMEOUT_MS)
    qtbot.waitUntil(lambda: controller.folder_problem() is None, timeout=LIVE_TIMEOUT_MS)


def test_watching_starts_when_the_first_scan_is_done_and_misses_nothing(
        qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    for n in range(40):
        add_run(data, n)
    controller = GalleryController(tmp_path / "cache", watch_debounce_ms=50)
    rows_when_watching: list[int] = []
    real_start = WatchBridge.start

    def start(self: WatchBridge, data_dir: Path) -> None:
        rows_when_watching.append(controller.model.rowCount())
        # A run written after the scan listed the runs folder, before the watches exist.
        add_run(data, 90)
        real_start(self, data_dir)

    monkeypatch.setattr(WatchBridge, "start", start)
    try:
        open_and_wait(qtbot, controller, data)
        assert rows_when_watching == [40]  # the whole first scan was in, watching after it
        assert controller._watch.wait_armed(10)
        # The quiet re-scan after arming finds what came meanwhile.
        qtbot.waitUntil(lambda: controller.model.row_of(image_id(90)) >= 0,
                        timeout=LIVE_TIMEOUT_MS)
        controller.rescan()  # a later scan does not start watching again
        qtbot.waitUntil(controller.is_idle, timeout=LIVE_TIMEOUT_MS)
        assert rows_when_watching == [40]
    finally:
        controller.shutdown()


def test_an_image_replaced_before_the_watches_are_armed_gets_its_new_thumbnail(
        qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    for n in range(3):
        add_run(data, n)
    held: list[tuple[WatchBridge, Path]] = []
    real_start = WatchBridge.start
    monkeypatch.setattr(WatchBridge, "start", lambda self, d: held.append((self, d)))
    controller = GalleryController(tmp_path / "cache", watch_debounce_ms=50)
    try:
        open_and_wait(qtbot, controller, data)
        assert len(held) == 1  # the first scan is done: the watches would be set up now
        row = controller.proxy.map_from_model(controller.model.index_of(image_id(1))).row()
        controller.set_visible_rows([row])
        index = controller.proxy.index(row, 0)
        qtbot.waitUntil(lambda: index.data(ImageRole.THUMB_STATE) == ThumbState.READY,
                        timeout=LIVE_TIMEOUT_MS)
        assert thumbnail_color(index).red() > 150
        replace_with_blue(data / "runs" / run_id(1) / "slide-1.png")
        real_start(*held[0])  # armed only now: nothing reported the replacement
        assert controller._watch.wait_armed(10)
        qtbot.waitUntil(lambda: thumbnail_color(index).blue() > 150, timeout=LIVE_TIMEOUT_MS)
    finally:
        controller.shutdown()
