"""The real window under churn: runs come and go, the data folder vanishes and returns."""

from __future__ import annotations

import json
import os
import random
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtGui import QAction

from gallery_desktop.core.runs import scan_runs
from gallery_desktop.qt.controller import GalleryController
from gallery_desktop.qt.main_window import MainWindow
from gallery_desktop.qt.roles import ImageRole
from gallery_desktop.qt.settings import AppSettings
from tests.factories import make_image, make_run
from tests.reliability.conftest import record

FAVORITES = "gallery-favorites.json"
TIMEOUT_MS = 20_000


def run_id(n: int) -> str:
    return f"2025-{1 + n // 28 % 12:02d}-{1 + n % 28:02d}T10-00-00-000Z"


def add_run(data: Path, n: int, posts: int) -> list[str]:
    """A run with ``posts`` real images; returns their ids."""
    rid = run_id(n)
    make_run(data, rid, [{"index": i, "text": f"run {n} slide {i}",
                          "finalImageUrl": f"/data/runs/{rid}/slide-{i}.png"}
                         for i in range(1, posts + 1)],
             images=False, createdAt=f"{rid[:10]}T10:00:00.000Z")
    for i in range(1, posts + 1):
        make_image(data / "runs" / rid / f"slide-{i}.png", (48, 36), f"#{n * 37 % 256:02x}6688")
    return [f"img_{rid}_slide-{i}" for i in range(1, posts + 1)]


def on_disk(data: Path) -> set[str]:
    """The ids a fresh scan finds: what the window must end up showing."""
    return {image.id for image in scan_runs(data).images}


def hearts_on_disk(data: Path) -> set[str]:
    path = data / FAVORITES
    return set(json.loads(path.read_bytes())["favorites"]) if path.exists() else set()


def shown(window: MainWindow) -> list[str]:
    proxy = window.view.model()
    return [proxy.index(r, 0).data(ImageRole.IMAGE_ID) for r in range(proxy.rowCount())]


@pytest.fixture
def app(qtbot, tmp_path: Path) -> Iterator[tuple[GalleryController, MainWindow, list[str]]]:
    """The real controller and window (watcher on, the periodic rescan out of the way, so
    that recovering proves the watcher did it); yields them and a log of model resets."""
    controller = GalleryController(tmp_path / "cache", rescan_interval_ms=3_600_000,
                                   watch_debounce_ms=50)
    window = MainWindow(controller, AppSettings.from_file(tmp_path / "settings.ini"))
    qtbot.addWidget(window)
    window.resize(900, 600)
    window.show()
    qtbot.waitExposed(window)
    resets: list[str] = []
    controller.model.modelReset.connect(lambda: resets.append("reset"))
    yield controller, window, resets
    window.close()
    controller.shutdown()


def open_folder(qtbot, controller: GalleryController, window: MainWindow, data: Path) -> None:
    with qtbot.waitSignal(controller.scan_finished, timeout=TIMEOUT_MS):
        window.open_data_dir(data)
    qtbot.waitUntil(controller.is_idle, timeout=TIMEOUT_MS)


def test_runs_come_and_go_while_scrolling_and_toggling_in_favorites_only_view(
        qtbot, tmp_path: Path, app: tuple[GalleryController, MainWindow, list[str]]) -> None:
    controller, window, resets = app
    rng = random.Random(611)
    data = tmp_path / "data"
    runs = {n: add_run(data, n, posts=3) for n in range(40)}
    hearts = {ids[0] for ids in runs.values()} | {ids[2] for n, ids in runs.items() if n % 3 == 0}
    (data / FAVORITES).write_text(json.dumps({"favorites": dict.fromkeys(sorted(hearts), True),
                                              "usageCounts": {}}, indent=2))
    open_folder(qtbot, controller, window, data)
    assert len(shown(window)) == 120
    action = window.findChild(QAction, "favoritesOnlyAction")
    assert action is not None
    action.trigger()
    assert set(shown(window)) == hearts
    resets.clear()  # from here on, changes must arrive as row inserts and removals

    view, proxy = window.view, window.view.model()
    next_n, added, removed, toggles = 40, 0, 0, 0
    for step in range(40):
        new = add_run(data, next_n, posts=2)  # a run being written while the app is open
        runs[next_n] = new
        next_n += 1
        added += 1
        if step % 2 == 0 and len(runs) > 5:
            gone = rng.choice(sorted(runs))
            shutil.rmtree(data / "runs" / run_id(gone))
            del runs[gone]
            removed += 1
        bar = view.verticalScrollBar()
        bar.setValue(rng.randint(0, bar.maximum()))
        if proxy.rowCount():  # un-heart something in the favorites-only view: it goes away
            index = proxy.index(rng.randrange(proxy.rowCount()), 0)
            if index.data(ImageRole.IS_FAVORITE):
                image_id = index.data(ImageRole.IMAGE_ID)
                assert proxy.setData(index, False, ImageRole.IS_FAVORITE)
                hearts.discard(image_id)
                toggles += 1
        target = rng.choice(rng.choice(list(runs.values())))  # heart one, maybe not shown yet
        controller.set_favorite(target, True)
        hearts.add(target)
        toggles += 1
        qtbot.wait(rng.randint(0, 40))  # let the watcher's and the scanner's events interleave

    truth = on_disk(data)
    qtbot.waitUntil(lambda: controller.model.ids() == truth, timeout=TIMEOUT_MS)
    qtbot.waitUntil(controller.is_idle, timeout=TIMEOUT_MS)
    assert hearts_on_disk(data) == hearts  # every heart change reached the file, none more
    assert {i for i in truth if controller.model.is_favorite(i)} == hearts & truth
    assert set(shown(window)) == hearts & truth  # the view shows exactly these
    assert len(shown(window)) == len(set(shown(window)))
    assert resets == []
    assert window.isVisible()
    action.trigger()
    assert set(shown(window)) == truth
    record("gui_churn", steps=40, runs_added=added, runs_removed=removed, heart_changes=toggles,
           images_at_end=len(truth))


def test_the_data_folder_deleted_and_recreated_while_open(
        qtbot, tmp_path: Path, app: tuple[GalleryController, MainWindow, list[str]]) -> None:
    controller, window, _ = app
    data = tmp_path / "data"
    first = [i for n in range(5) for i in add_run(data, n, posts=2)]
    open_folder(qtbot, controller, window, data)
    assert sorted(shown(window)) == sorted(first)

    shutil.rmtree(data)
    qtbot.waitUntil(lambda: shown(window) == [], timeout=TIMEOUT_MS)  # nothing exists now
    window.findChild(QAction, "favoritesOnlyAction").trigger()  # still working
    window.findChild(QAction, "favoritesOnlyAction").trigger()

    # The studio recreates the folder: different runs, and a heart from the web studio.
    second = [i for n in range(10, 13) for i in add_run(data, n, posts=2)]
    (data / FAVORITES).write_text(json.dumps({"favorites": {second[0]: True}}))
    qtbot.waitUntil(lambda: sorted(shown(window)) == sorted(second), timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: controller.model.is_favorite(second[0]), timeout=TIMEOUT_MS)
    controller.set_favorite(second[1], True)
    qtbot.waitUntil(lambda: hearts_on_disk(data) == {second[0], second[1]}, timeout=TIMEOUT_MS)

    # Replaced in one rename: another folder moved into its place.
    staging = tmp_path / "staging"
    third = [i for n in range(20, 22) for i in add_run(staging, n, posts=1)]
    os.rename(data, tmp_path / "data-old")
    os.rename(staging, data)
    qtbot.waitUntil(lambda: sorted(shown(window)) == sorted(third), timeout=TIMEOUT_MS)
    controller.set_favorite(third[0], True)
    qtbot.waitUntil(lambda: hearts_on_disk(data) == {third[0]}, timeout=TIMEOUT_MS)
    assert hearts_on_disk(tmp_path / "data-old") == {second[0], second[1]}  # left as it was
    assert window.isVisible()
    record("gui_churn", data_folder_deleted_and_recreated=1, data_folder_replaced=1)


def test_the_data_folder_deleted_during_the_first_scan(
        qtbot, tmp_path: Path, app: tuple[GalleryController, MainWindow, list[str]]) -> None:
    controller, window, _ = app
    data = tmp_path / "data"
    for n in range(150):
        add_run(data, n, posts=1)
    window.open_data_dir(data)
    shutil.rmtree(data)  # while the scanner is still reading it
    qtbot.waitUntil(lambda: controller.is_idle() and shown(window) == [], timeout=TIMEOUT_MS)
    add_run(data, 200, posts=2)
    qtbot.waitUntil(lambda: len(shown(window)) == 2, timeout=TIMEOUT_MS)
    assert window.isVisible()
