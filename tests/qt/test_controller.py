"""GalleryController: folder lifecycle, batches, hearts with rollback and undo, usage,
thumbnails for visible rows, problems, counts, idle and shutdown."""

from __future__ import annotations

import functools
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap

from gallery_desktop.core.favorites import FavoritesStore, lock_path_for
from gallery_desktop.core.favorites_disk import WriterLock
from gallery_desktop.core.index import join_file, split_file
from gallery_desktop.core.paths import OUTSIDE_REASON
from gallery_desktop.core.records import ImageSource
from gallery_desktop.qt import controller as controller_module
from gallery_desktop.qt import thumbnails as thumbnails_module
from gallery_desktop.qt.controller import GalleryController, edge_for
from gallery_desktop.qt.roles import ImageRole, ThumbState
from gallery_desktop.qt.scanner import index_file_for
from tests.factories import make_image, make_run, settle


def run_id(n: int) -> str:
    return f"2025-11-{1 + n // 24:02d}T{n % 24:02d}-00-00-000Z"


def add_run(data: Path, n: int, posts: int = 1, color: str = "#c0392b") -> str:
    rid = run_id(n)
    make_run(data, rid, [{"index": i, "text": f"Slide {i} of run {n}",
                          "imagePrompt": f"prompt {n}.{i}",
                          "finalImageUrl": f"/data/runs/{rid}/slide-{i}.png"}
                         for i in range(1, posts + 1)],
             images=False, createdAt=f"2025-11-{1 + n // 24:02d}T{n % 24:02d}:00:00.000Z")
    for i in range(1, posts + 1):
        make_image(data / "runs" / rid / f"slide-{i}.png", color=color)
    return rid


def image_id(n: int, post: int = 1) -> str:
    return f"img_{run_id(n)}_slide-{post}"


def favorites_on_disk(data: Path) -> dict:
    path = data / "gallery-favorites.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


@pytest.fixture
def data(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    for n in range(6):
        add_run(data, n)
    (data / "gallery-favorites.json").write_text(json.dumps(
        {"favorites": {image_id(1): True}, "usageCounts": {image_id(2): 3}}), encoding="utf-8")
    settle(data)
    return data


@pytest.fixture
def controller(qtbot, tmp_path: Path) -> Iterator[GalleryController]:
    controller = GalleryController(tmp_path / "cache")
    yield controller
    controller.shutdown()


def open_and_wait(qtbot, controller: GalleryController, data: Path | None) -> None:
    if data is None:
        controller.open_data_dir(None)
        return
    with qtbot.waitSignal(controller.scan_finished, timeout=20_000):
        controller.open_data_dir(data)
    qtbot.waitUntil(controller.is_idle, timeout=10_000)


def test_open_shows_rows_hearts_and_counts(qtbot, controller, data) -> None:
    dirs: list[object] = []
    counts: list[tuple[int, int]] = []
    controller.data_dir_changed.connect(dirs.append)
    controller.counts_changed.connect(lambda n, f: counts.append((n, f)))
    open_and_wait(qtbot, controller, data)
    model = controller.model
    assert dirs == [data.resolve()] and controller.data_dir() == data.resolve()
    assert [model.record(r).run_id for r in range(model.rowCount())] == [
        run_id(n) for n in range(5, -1, -1)]
    assert model.index(model.row_of(image_id(1))).data(ImageRole.IS_FAVORITE) is True
    assert model.index(model.row_of(image_id(2))).data(ImageRole.USAGE_COUNT) == 3
    assert controller.proxy.bottom_model() is model
    qtbot.waitUntil(lambda: counts[-1] == (6, 1), timeout=5000)


def test_open_none_empties_everything(qtbot, controller, data) -> None:
    open_and_wait(qtbot, controller, data)
    counts: list[tuple[int, int]] = []
    controller.counts_changed.connect(lambda n, f: counts.append((n, f)))
    with qtbot.waitSignal(controller.data_dir_changed) as blocker:
        controller.open_data_dir(None)
    assert blocker.args == [None] and controller.data_dir() is None
    assert controller.model.rowCount() == 0 and counts[-1] == (0, 0)
    assert controller.is_idle()
    controller.rescan()  # nothing to do without a folder
    controller.record_use(image_id(1))


def test_a_big_scan_shows_rows_before_it_finishes(qtbot, controller, tmp_path) -> None:
    data = tmp_path / "big"
    for n in range(60):
        add_run(data, n, posts=5)
    rows_at_insert: list[int] = []
    controller.model.rowsInserted.connect(
        lambda *_: rows_at_insert.append(controller.model.rowCount()))
    started: list[bool] = []
    progress: list[tuple[int, int]] = []
    controller.scan_started.connect(lambda: started.append(True))
    controller.scan_progress.connect(lambda r, i: progress.append((r, i)))
    finished_with: list[int] = []
    controller.scan_finished.connect(lambda _r: finished_with.append(len(rows_at_insert)))
    with qtbot.waitSignal(controller.scan_finished, timeout=30_000) as blocker:
        controller.open_data_dir(data)
    assert started == [True]
    assert finished_with[0] >= 2  # several batches arrived before the scan finished
    assert 0 < rows_at_insert[0] < 300 and controller.model.rowCount() == 300
    assert progress[-1] == (60, 300)
    assert blocker.args[0].runs_seen == 60 and blocker.args[0].images == []


def test_switching_folder_mid_scan_leaves_only_the_new_rows(qtbot, controller, tmp_path
                                                            ) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    for n in range(60):
        add_run(old, n, posts=5)
    for n in (200, 201):
        add_run(new, n)
    switched: list[bool] = []

    def switch(*_: object) -> None:
        if not switched:
            switched.append(True)
            controller.open_data_dir(new)

    controller.model.rowsInserted.connect(switch)
    controller.open_data_dir(old)
    qtbot.waitUntil(lambda: bool(switched), timeout=20_000)
    qtbot.waitUntil(lambda: controller.is_idle() and controller.model.rowCount() == 2,
                    timeout=20_000)
    qtbot.wait(100)  # anything of the old folder still in flight would land now
    assert controller.model.ids() == {image_id(200), image_id(201)}
    assert controller.data_dir() == new.resolve()


def test_heart_shows_at_once_and_reaches_the_file(qtbot, controller, data) -> None:
    open_and_wait(qtbot, controller, data)
    model = controller.model
    controller.set_favorite(image_id(4), True)
    assert model.is_favorite(image_id(4))  # before any event loop turn: optimistic
    qtbot.waitUntil(lambda: image_id(4) in favorites_on_disk(data).get("favorites", {}),
                    timeout=5000)
    # The delegate's way: setData on the proxy.
    proxy = controller.proxy
    row = next(r for r in range(proxy.rowCount())
               if proxy.index(r, 0).data(ImageRole.IMAGE_ID) == image_id(0))
    assert proxy.setData(proxy.index(row, 0), True, ImageRole.IS_FAVORITE)
    assert proxy.index(row, 0).data(ImageRole.IS_FAVORITE) is True
    qtbot.waitUntil(lambda: image_id(0) in favorites_on_disk(data).get("favorites", {}),
                    timeout=5000)
    qtbot.waitUntil(controller.is_idle, timeout=5000)
    assert set(favorites_on_disk(data)["favorites"]) == {image_id(0), image_id(1), image_id(4)}


def test_failed_write_rolls_back_and_says_which_file(qtbot, controller, data, monkeypatch
                                                     ) -> None:
    open_and_wait(qtbot, controller, data)
    before = (data / "gallery-favorites.json").read_bytes()

    def refuse(src: object, dst: object) -> None:
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(os, "replace", refuse)
    shown: list[bool] = []
    with qtbot.waitSignal(controller.write_failed, timeout=5000) as blocker:
        controller.toggle_favorite(image_id(1))
        shown.append(controller.model.is_favorite(image_id(1)))
    assert shown == [False]  # the optimistic change showed first
    message = blocker.args[0]
    assert str(data.resolve() / "gallery-favorites.json") in message
    assert "Read-only file system" in message
    assert controller.model.is_favorite(image_id(1))  # rolled back to the stored value
    assert (data / "gallery-favorites.json").read_bytes() == before


def test_fifty_fast_clicks_end_right_on_disk_and_screen(qtbot, controller, data) -> None:
    open_and_wait(qtbot, controller, data)
    proxy = controller.proxy
    row = next(r for r in range(proxy.rowCount())
               if proxy.index(r, 0).data(ImageRole.IMAGE_ID) == image_id(3))
    index = proxy.index(row, 0)
    for _ in range(51):
        proxy.setData(index, not index.data(ImageRole.IS_FAVORITE), ImageRole.IS_FAVORITE)
    assert index.data(ImageRole.IS_FAVORITE) is True
    qtbot.waitUntil(controller.is_idle, timeout=10_000)
    assert favorites_on_disk(data)["favorites"].get(image_id(3)) is True
    assert controller.model.is_favorite(image_id(3))
    for _ in range(50):
        controller.toggle_favorite(image_id(3))
    qtbot.waitUntil(controller.is_idle, timeout=10_000)
    assert favorites_on_disk(data)["favorites"].get(image_id(3)) is True
    assert controller.model.is_favorite(image_id(3))


def test_undo_takes_back_the_last_heart_changes(qtbot, controller, data) -> None:
    open_and_wait(qtbot, controller, data)
    assert not controller.can_undo() and not controller.undo()
    controller.set_favorite(image_id(5), True)
    controller.set_favorite(image_id(1), False)
    assert controller.can_undo()
    assert controller.undo()
    assert controller.model.is_favorite(image_id(1))
    assert controller.undo()
    assert not controller.model.is_favorite(image_id(5))
    assert not controller.can_undo()
    qtbot.waitUntil(controller.is_idle, timeout=5000)
    assert set(favorites_on_disk(data)["favorites"]) == {image_id(1)}


def test_favorites_only_view_drops_an_unfavorited_row(qtbot, controller, data) -> None:
    open_and_wait(qtbot, controller, data)
    controller.set_favorite(image_id(3), True)
    controller.proxy.set_favorites_only(True)
    assert controller.proxy.rowCount() == 2
    with qtbot.waitSignal(controller.proxy.rowsRemoved):
        controller.set_favorite(image_id(1), False)
    assert [controller.proxy.index(r, 0).data(ImageRole.IMAGE_ID)
            for r in range(controller.proxy.rowCount())] == [image_id(3)]
    controller.undo()
    assert controller.proxy.rowCount() == 2


def test_record_use_counts_through_the_store(qtbot, controller, data) -> None:
    open_and_wait(qtbot, controller, data)
    index = controller.model.index(controller.model.row_of(image_id(2)))
    with qtbot.waitSignal(controller.model.dataChanged, timeout=5000) as blocker:
        controller.record_use(image_id(2))
    assert blocker.args[2] == [ImageRole.USAGE_COUNT]
    assert index.data(ImageRole.USAGE_COUNT) == 4
    qtbot.waitUntil(controller.is_idle, timeout=5000)
    assert favorites_on_disk(data)["usageCounts"][image_id(2)] == 4


def test_visible_rows_get_thumbnails_first(qtbot, controller, data) -> None:
    open_and_wait(qtbot, controller, data)
    proxy = controller.proxy
    controller.set_visible_rows([0, 1])
    qtbot.waitUntil(controller.is_idle, timeout=10_000)
    for row in (0, 1):
        assert proxy.index(row, 0).data(ImageRole.THUMB_STATE) == ThumbState.READY
        assert isinstance(proxy.index(row, 0).data(Qt.ItemDataRole.DecorationRole), QPixmap)
    assert proxy.index(4, 0).data(ImageRole.THUMB_STATE) == ThumbState.LOADING


def test_a_broken_image_gets_the_broken_state(qtbot, controller, data) -> None:
    (data / "runs" / run_id(5) / "slide-1.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    open_and_wait(qtbot, controller, data)
    controller.set_visible_rows([0])
    qtbot.waitUntil(controller.is_idle, timeout=10_000)
    index = controller.proxy.index(0, 0)
    assert index.data(ImageRole.THUMB_STATE) == ThumbState.BROKEN
    assert index.data(ImageRole.THUMB_ERROR)


def test_thumbnail_size_picks_an_edge_and_reloads_visible_rows(qtbot, controller, data
                                                               ) -> None:
    open_and_wait(qtbot, controller, data)
    controller.set_visible_rows([0])
    qtbot.waitUntil(controller.is_idle, timeout=10_000)
    controller.set_thumbnail_size(100)
    assert controller.thumbnail_edge() == edge_for(100, 1.0) == 160
    qtbot.waitUntil(controller.is_idle, timeout=10_000)
    assert controller.proxy.index(0, 0).data(ImageRole.THUMB_STATE) == ThumbState.READY
    assert edge_for(300, 2.0) == 768 and edge_for(5000, 1.0) == 1024


def test_a_new_thumbnail_size_does_not_wait_for_a_decode_in_flight(
        qtbot, controller, data, monkeypatch: pytest.MonkeyPatch) -> None:
    # A decode of the largest allowed image takes seconds: stand in for one with a gate.
    gate, decoding = threading.Event(), threading.Event()
    real_decode = thumbnails_module.decode_reduced

    def slow_decode(path: object, edge: int) -> object:
        if edge != edge_for(100, 1.0):
            decoding.set()
            assert gate.wait(10)
        return real_decode(path, edge)  # type: ignore[arg-type]

    monkeypatch.setattr(thumbnails_module, "decode_reduced", slow_decode)
    open_and_wait(qtbot, controller, data)
    old = controller._loader
    gone: list[bool] = []
    old.destroyed.connect(lambda: gone.append(True))
    # Should the GUI thread wait for the decode after all, this opens the gate for it.
    valve = threading.Timer(5.0, gate.set)
    try:
        controller.set_visible_rows([0])
        assert decoding.wait(10)
        valve.start()
        controller.set_thumbnail_size(100)  # returns while the old decode is held up
        assert not gate.is_set() and not gone
        qtbot.waitUntil(controller.is_idle, timeout=10_000)  # the new loader's thumbnails
        assert controller.proxy.index(0, 0).data(ImageRole.THUMB_STATE) == ThumbState.READY
    finally:
        valve.cancel()
        gate.set()
    qtbot.waitUntil(lambda: bool(gone), timeout=10_000)  # the old loader goes once done


def test_an_image_deleted_while_the_app_was_closed_shows_as_missing(qtbot, tmp_path: Path,
                                                                     data) -> None:
    first = GalleryController(tmp_path / "cache")
    open_and_wait(qtbot, first, data)  # fills the run index
    first.shutdown()
    (data / "runs" / run_id(5) / "slide-1.png").unlink()  # meta.json stays as it was
    second = GalleryController(tmp_path / "cache")
    try:
        open_and_wait(qtbot, second, data)  # a warm start: the index still says "local"
        row = second.proxy.map_from_model(second.model.index_of(image_id(5))).row()
        second.set_visible_rows([row])
        index = second.proxy.index(row, 0)
        qtbot.waitUntil(lambda: index.data(ImageRole.THUMB_STATE) == ThumbState.MISSING,
                        timeout=10_000)
        # The run index agrees from then on: a rescan does not bring the old record back.
        with qtbot.waitSignal(second.scan_finished, timeout=10_000):
            second.rescan()
        qtbot.waitUntil(second.is_idle, timeout=10_000)
        assert index.data(ImageRole.THUMB_STATE) == ThumbState.MISSING
    finally:
        second.shutdown()


def test_a_run_damaged_in_the_run_index_is_read_again_once_it_is_built(
        qtbot, tmp_path: Path, data) -> None:
    first = GalleryController(tmp_path / "cache")
    open_and_wait(qtbot, first, data)  # fills the run index
    first.shutdown()
    index_file = index_file_for(tmp_path / "cache", data)
    header, rows, blob = split_file(index_file.read_bytes())
    # Run 5's records become bytes that are no marshal data; the table, with its checksum,
    # stays right, so the file loads and only that entry is damaged.
    row = next(r for r in rows if r[0].endswith(run_id(5)))
    blob = bytearray(blob)
    blob[row[9]:row[10]] = b"\xff" * (row[10] - row[9])
    index_file.write_bytes(join_file(header, rows, [bytes(blob)]))
    # No periodic look within the test: only the damage itself may bring the run back.
    second = GalleryController(tmp_path / "cache", rescan_interval_ms=3_600_000)
    try:
        # The look the armed watches take finds nothing: no run was built, so none is
        # known to be damaged yet.
        with qtbot.waitSignal(second._watch.armed, timeout=20_000):
            second.open_data_dir(data)
        qtbot.waitUntil(second.is_idle, timeout=10_000)
        # Built now, as when its row is first painted: the damage shows.
        assert second.model.get(image_id(5)).source is ImageSource.MISSING
        qtbot.waitUntil(lambda: second.model.get(image_id(5)).source is ImageSource.LOCAL,
                        timeout=10_000)
        assert second.model.get(image_id(5)).prompt == "prompt 5.1"
        assert second.model.rowCount() == 6
    finally:
        second.shutdown()


def test_an_image_turned_into_a_link_to_outside_is_not_read(qtbot, tmp_path: Path,
                                                             data) -> None:
    first = GalleryController(tmp_path / "cache")
    open_and_wait(qtbot, first, data)  # fills the run index: slide-1 of run 5 is local
    first.shutdown()
    outside = tmp_path / "outside.png"
    make_image(outside, color="#00ff00")
    image = data / "runs" / run_id(5) / "slide-1.png"
    image.unlink()
    image.symlink_to(outside)  # meta.json stays as it was: the index is trusted
    second = GalleryController(tmp_path / "cache", rescan_interval_ms=3_600_000)
    try:
        open_and_wait(qtbot, second, data)
        row = second.proxy.map_from_model(second.model.index_of(image_id(5))).row()
        second.set_visible_rows([row])
        index = second.proxy.index(row, 0)
        qtbot.waitUntil(lambda: index.data(ImageRole.THUMB_STATE) == ThumbState.BROKEN,
                        timeout=10_000)
        assert index.data(ImageRole.THUMB_ERROR) == OUTSIDE_REASON
    finally:
        second.shutdown()


def test_problems_include_bad_runs_and_a_corrupt_favorites_file(qtbot, controller, data
                                                                ) -> None:
    make_run(data, run_id(30), raw=b"{ not json")
    (data / "gallery-favorites.json").write_text("{ nope", encoding="utf-8")
    reports: list[list] = []
    controller.problems_changed.connect(reports.append)
    open_and_wait(qtbot, controller, data)
    qtbot.waitUntil(lambda: bool(reports) and len(reports[-1]) == 2, timeout=10_000)
    paths = sorted(item.path for item in reports[-1])
    assert any(run_id(30) in p for p in paths)
    assert str(data.resolve() / "gallery-favorites.json") in paths


def test_rescan_applies_a_diff(qtbot, controller, data) -> None:
    open_and_wait(qtbot, controller, data)
    resets: list[bool] = []
    controller.model.modelReset.connect(lambda: resets.append(True))
    add_run(data, 40)
    with qtbot.waitSignal(controller.scan_finished, timeout=10_000):
        controller.rescan()
    qtbot.waitUntil(lambda: controller.model.row_of(image_id(40)) == 0, timeout=5000)
    assert resets == []


def test_idle_follows_the_work(qtbot, controller, data) -> None:
    states: list[bool] = []
    controller.idle_changed.connect(states.append)
    open_and_wait(qtbot, controller, data)
    assert states[0] is False and states[-1] is True and controller.is_idle()


def test_shutdown_flushes_pending_writes(qtbot, tmp_path, data) -> None:
    controller = GalleryController(tmp_path / "cache2")
    open_and_wait(qtbot, controller, data)
    controller.set_favorite(image_id(0), True)
    controller.shutdown()
    controller.shutdown()  # twice is harmless
    assert favorites_on_disk(data)["favorites"].get(image_id(0)) is True
    assert controller.is_idle()


def test_a_burst_of_hearts_shows_its_counts_once_and_writes_in_order(qtbot, controller,
                                                                     data) -> None:
    open_and_wait(qtbot, controller, data)
    counts: list[tuple[int, int]] = []
    controller.counts_changed.connect(lambda n, f: counts.append((n, f)))
    model = controller.model
    for n in (0, 2, 3, 4):
        model.setData(model.index(model.row_of(image_id(n))), True, ImageRole.IS_FAVORITE)
        assert model.is_favorite(image_id(n))  # the row shows it at once
    assert counts == []  # the status bar follows once control is back in the event loop
    model.setData(model.index(model.row_of(image_id(4))), False, ImageRole.IS_FAVORITE)
    qtbot.waitUntil(lambda: counts == [(6, 4)], timeout=5000)
    qtbot.waitUntil(controller.is_idle, timeout=10_000)
    assert set(favorites_on_disk(data)["favorites"]) == {image_id(n) for n in (0, 1, 2, 3)}
    assert counts == [(6, 4)]


def test_the_thumbnail_cache_is_pruned_once_after_the_first_scan(
        qtbot, tmp_path: Path, data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    shard = cache / "thumbnails" / "ab"
    shard.mkdir(parents=True)
    old = []
    for n in range(4):  # leftovers of images edited or deleted long ago, 4,000 bytes each
        path = shard / f"ab{n:038x}.jpg"
        path.write_bytes(bytes(4000))
        when = 1_600_000_000 + n
        os.utime(path, (when, when))
        old.append(path)
    passes: list[Path] = []
    real_prune = controller_module.prune_cache

    def counted(folder: Path, *args: object, **kwargs: object) -> object:
        passes.append(folder)
        return real_prune(folder, *args, **kwargs)

    monkeypatch.setattr(controller_module, "prune_cache", counted)
    controller = GalleryController(cache, thumbnail_cache_budget=10_000)
    try:
        with qtbot.waitSignal(controller.thumbnail_cache_pruned, timeout=20_000) as pruned:
            controller.open_data_dir(data)
        # The oldest go until what is left fits 80% of the budget.
        assert [p.exists() for p in old] == [False, False, True, True]
        assert pruned.args[0].removed_files == 2
        with qtbot.waitSignal(controller.scan_finished, timeout=20_000):
            controller.rescan()
        assert passes == [cache / "thumbnails"]  # once per session, not after every scan
    finally:
        controller.shutdown()


def test_opening_another_folder_does_not_wait_for_a_heart_write(qtbot, tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    add_run(first, 1)
    add_run(second, 2)
    controller = GalleryController(tmp_path / "cache")
    other_writer = WriterLock(lock_path_for(first / "gallery-favorites.json"))
    try:
        open_and_wait(qtbot, controller, first)
        assert other_writer.acquire(1.0)  # another gallery-desktop is in the middle of a write
        controller.set_favorite(image_id(1), True)
        qtbot.waitUntil(lambda: not controller.is_idle(), timeout=10_000)
        released = threading.Event()

        def release() -> None:
            other_writer.release()
            released.set()

        # Should opening the next folder wait for that write, this lets the write through.
        valve = threading.Timer(3.0, release)
        valve.start()
        controller.open_data_dir(second)
        assert not released.is_set()  # it returned while the heart waits for the lock
        valve.cancel()
        release()
        # The heart still goes to the first folder's file once the lock is free.
        qtbot.waitUntil(lambda: (first / "gallery-favorites.json").exists() and image_id(1) in
                        json.loads((first / "gallery-favorites.json").read_text())["favorites"],
                        timeout=10_000)
    finally:
        other_writer.release()
        controller.shutdown()


def test_a_heart_of_a_closed_folder_that_cannot_be_saved_is_told(
        qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(controller_module, "FavoritesStore",
                        functools.partial(FavoritesStore, lock_timeout=0.3))
    first, second = tmp_path / "a", tmp_path / "b"
    add_run(first, 1)
    add_run(second, 2)
    controller = GalleryController(tmp_path / "cache")
    told: list[str] = []
    controller.save_failed.connect(told.append)
    other_writer = WriterLock(lock_path_for(first / "gallery-favorites.json"))
    try:
        open_and_wait(qtbot, controller, first)
        assert other_writer.acquire(1.0)
        controller.set_favorite(image_id(1), True)
        controller.open_data_dir(second)
        qtbot.waitUntil(lambda: bool(told), timeout=10_000)
        assert "gallery-favorites.json" in told[0] and "heart was not saved" in told[0]
        assert str(first) in told[0]
    finally:
        other_writer.release()
        controller.shutdown()
