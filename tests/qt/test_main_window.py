"""MainWindow on real data: every image, hearts on disk, filters, viewer, rollback, settings."""

from __future__ import annotations

import errno
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPoint, Qt
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QLabel,
    QLineEdit,
    QListView,
    QSlider,
    QToolButton,
)

from gallery_desktop.core import index as index_module
from gallery_desktop.qt.controller import GalleryController
from gallery_desktop.qt.delegate import heart_rect, image_rect
from gallery_desktop.qt.main_window import MainWindow
from gallery_desktop.qt.panels import EmptyReason, EmptyState, MessageBanner, empty_reason
from gallery_desktop.qt.roles import ImageRole, SortMode
from gallery_desktop.qt.settings import AppSettings
from gallery_desktop.qt.viewer import ImageViewer
from tests.factories import make_image, make_run, settle

RUNS = ["2025-11-26T06-54-47-200Z", "2025-11-25T10-00-00-000Z", "2025-11-24T08-30-00-000Z"]
TOPICS = ["Morning routines", "Desk setups", "Plant care"]
WORDS = ["zeroth", "first", "second", "third", "fourth"]
FAVORITES = "gallery-favorites.json"
TIMEOUT = 15000


def build_data(root: Path) -> list[str]:
    """Three runs with 3, 2 and 4 real images; returns the image ids, newest first."""
    ids: list[str] = []
    for run_id, topic, count in zip(RUNS, TOPICS, (3, 2, 4), strict=True):
        posts = [{"index": i, "text": f"{topic}, the {WORDS[i]} slide",
                  "imagePrompt": f"{topic} prompt {i}",
                  "finalImageUrl": f"/data/runs/{run_id}/slide-{i}.png"}
                 for i in range(1, count + 1)]
        created = f"{run_id[:13]}:{run_id[14:16]}:{run_id[17:19]}.000Z"
        make_run(root, run_id, posts, createdAt=created, topic=topic)
        ids += [f"img_{run_id}_slide-{i}" for i in range(1, count + 1)]
    return ids


def favorites_on_disk(data: Path) -> dict[str, object]:
    path = data / FAVORITES
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def proxy_ids(window: MainWindow) -> list[str]:
    proxy = window.view.model()
    return [proxy.index(r, 0).data(ImageRole.IMAGE_ID) for r in range(proxy.rowCount())]


def open_window(qtbot, controller: GalleryController, settings: AppSettings,
                data: Path | None, size: tuple[int, int] | None = (1100, 760)) -> MainWindow:
    window = MainWindow(controller, settings)
    qtbot.addWidget(window)
    if size is not None:
        window.resize(*size)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitActive(window)  # window shortcuts (Ctrl+Z, Ctrl+C) need the active window
    if data is not None:
        with qtbot.waitSignal(controller.scan_finished, timeout=TIMEOUT):
            window.open_data_dir(data)
    return window


@pytest.fixture
def data(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    build_data(root)
    return root


@pytest.fixture
def settings(tmp_path: Path) -> AppSettings:
    return AppSettings.from_file(tmp_path / "settings.ini")


@pytest.fixture
def controller(qtbot, tmp_path: Path) -> Iterator[GalleryController]:
    controller = GalleryController(tmp_path / "cache")
    yield controller
    controller.shutdown()


@pytest.fixture
def window(qtbot, controller: GalleryController, settings: AppSettings,
           data: Path) -> MainWindow:
    return open_window(qtbot, controller, settings, data)


def test_launch_shows_every_image_with_thumbnails(qtbot, window: MainWindow,
                                                  controller: GalleryController,
                                                  data: Path) -> None:
    expected = build_data(data.parent / "same")  # the same ids, built again elsewhere
    assert window.findChild(QListView, "galleryView") is window.view
    assert proxy_ids(window) == expected
    assert window.counts_label.text() == "9 images · 0 favorites"
    # The view reports what is on screen; those thumbnails get decoded, off the GUI thread.
    proxy = window.view.model()
    qtbot.waitUntil(lambda: all(proxy.index(r, 0).data(Qt.ItemDataRole.DecorationRole)
                                is not None for r in range(9)), timeout=TIMEOUT)
    qtbot.waitUntil(controller.is_idle, timeout=TIMEOUT)
    assert window.empty_state.isHidden()
    assert window.windowTitle() == f"{data.parent.name}/data — Gallery"


def test_clicking_the_heart_writes_the_favorites_file(qtbot, window: MainWindow,
                                                      data: Path) -> None:
    index = window.view.model().index(1, 0)
    image_id = index.data(ImageRole.IMAGE_ID)
    qtbot.mouseClick(window.view.viewport(), Qt.MouseButton.LeftButton,
                     pos=heart_rect(window.view.visualRect(index)).center())
    assert index.data(ImageRole.IS_FAVORITE) is True  # at once, before the write
    qtbot.waitUntil(lambda: favorites_on_disk(data).get("favorites") == {image_id: True},
                    timeout=TIMEOUT)
    qtbot.waitUntil(lambda: window.counts_label.text() == "9 images · 1 favorite")


def test_space_toggles_the_current_image(qtbot, window: MainWindow, data: Path) -> None:
    view = window.view
    index = view.model().index(3, 0)
    image_id = index.data(ImageRole.IMAGE_ID)
    view.setFocus()
    view.setCurrentIndex(index)
    qtbot.keyClick(view, Qt.Key.Key_Space)
    assert index.data(ImageRole.IS_FAVORITE) is True
    qtbot.waitUntil(lambda: image_id in favorites_on_disk(data).get("favorites", {}),
                    timeout=TIMEOUT)
    qtbot.keyClick(view, Qt.Key.Key_Space)
    assert index.data(ImageRole.IS_FAVORITE) is False
    qtbot.waitUntil(lambda: image_id not in favorites_on_disk(data).get("favorites", {}),
                    timeout=TIMEOUT)


def test_any_word_typed_in_the_grid_goes_to_the_search(qtbot, window: MainWindow,
                                                       data: Path) -> None:
    """A word starting with a letter that once was the heart key ("hat") hearts nothing."""
    view = window.view
    view.setFocus()
    view.setCurrentIndex(view.model().index(0, 0))
    qtbot.keyClicks(view, "h")
    field = window.findChild(QLineEdit, "searchField")
    qtbot.keyClicks(field, "at")
    assert field.text() == "hat"
    assert not any(view.model().index(r, 0).data(ImageRole.IS_FAVORITE)
                   for r in range(view.model().rowCount()))
    assert window.counts_label.text() == "9 images · 0 favorites"


def test_ctrl_z_undoes_the_last_heart(qtbot, window: MainWindow, data: Path) -> None:
    view = window.view
    index = view.model().index(0, 0)
    image_id = index.data(ImageRole.IMAGE_ID)
    view.setFocus()
    view.setCurrentIndex(index)
    qtbot.keyClick(view, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: image_id in favorites_on_disk(data).get("favorites", {}),
                    timeout=TIMEOUT)
    qtbot.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert index.data(ImageRole.IS_FAVORITE) is False
    qtbot.waitUntil(lambda: image_id not in favorites_on_disk(data).get("favorites", {}),
                    timeout=TIMEOUT)


def test_favorites_only_shows_exactly_the_favorites(qtbot, window: MainWindow,
                                                    data: Path) -> None:
    proxy = window.view.model()
    chosen = [proxy.index(r, 0).data(ImageRole.IMAGE_ID) for r in (0, 4, 8)]
    for image_id in chosen:
        row = proxy_ids(window).index(image_id)
        proxy.setData(proxy.index(row, 0), True, ImageRole.IS_FAVORITE)
    action = window.findChild(QAction, "favoritesOnlyAction")
    assert action is not None and action.isCheckable()
    action.trigger()
    assert proxy_ids(window) == chosen
    # Un-hearting in this view removes the item at once.
    proxy.setData(proxy.index(1, 0), False, ImageRole.IS_FAVORITE)
    assert proxy_ids(window) == [chosen[0], chosen[2]]
    qtbot.waitUntil(lambda: set(favorites_on_disk(data).get("favorites", {}))
                    == {chosen[0], chosen[2]}, timeout=TIMEOUT)
    action.trigger()
    assert len(proxy_ids(window)) == 9


def test_current_image_survives_the_favorites_only_switch(qtbot, window: MainWindow) -> None:
    proxy = window.view.model()
    ids = proxy_ids(window)
    for row in (2, 7):
        proxy.setData(proxy.index(row, 0), True, ImageRole.IS_FAVORITE)
    window.view.setCurrentIndex(proxy.index(7, 0))
    action = window.findChild(QAction, "favoritesOnlyAction")
    assert action is not None
    for on, row in ((True, 1), (False, 7)):
        action.trigger()
        assert action.isChecked() is on
        current = window.view.currentIndex()
        assert current.row() == row and current.data(ImageRole.IMAGE_ID) == ids[7]
        selected = window.view.selectionModel().selectedIndexes()
        assert [i.data(ImageRole.IMAGE_ID) for i in selected] == [ids[7]]
        assert window.view.viewport().rect().intersects(window.view.visualRect(current))


def test_no_favorites_yet_shows_a_helpful_empty_state(qtbot, window: MainWindow) -> None:
    window.actions_by_id["favoritesOnlyAction"].trigger()
    empty = window.findChild(EmptyState, "emptyState")
    assert empty is not None and empty.isVisible()
    assert empty.title() == "No favorites yet"
    qtbot.mouseClick(empty.button(), Qt.MouseButton.LeftButton)
    assert not window.actions_by_id["favoritesOnlyAction"].isChecked()
    assert window.empty_state.isHidden()


def test_the_counts_say_how_many_images_a_filter_shows(qtbot, window: MainWindow) -> None:
    window.view.setFocus()
    window.view.setCurrentIndex(window.view.model().index(0, 0))
    qtbot.keyClick(window.view, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: window.counts_label.text() == "9 images · 1 favorite")
    window.actions_by_id["favoritesOnlyAction"].trigger()
    assert window.counts_label.text() == "1 of 9 images · 1 favorite"
    window.actions_by_id["favoritesOnlyAction"].trigger()
    assert window.counts_label.text() == "9 images · 1 favorite"
    qtbot.keyClicks(window.findChild(QLineEdit, "searchField"), "desk")
    qtbot.waitUntil(lambda: window.counts_label.text() == "2 of 9 images · 1 favorite")


def test_search_filters_as_you_type(qtbot, window: MainWindow) -> None:
    field = window.findChild(QLineEdit, "searchField")
    assert field is not None and field.isClearButtonEnabled()
    qtbot.keyClicks(field, "DESK")
    qtbot.waitUntil(lambda: len(proxy_ids(window)) == 2)
    assert all(RUNS[1] in image_id for image_id in proxy_ids(window))
    qtbot.keyClicks(field, " second")
    qtbot.waitUntil(lambda: proxy_ids(window) == [f"img_{RUNS[1]}_slide-2"])
    qtbot.keyClick(field, Qt.Key.Key_Escape)
    assert field.text() == "" and len(proxy_ids(window)) == 9


def test_sort_combo_orders_the_grid(qtbot, window: MainWindow) -> None:
    combo = window.findChild(QComboBox, "sortCombo")
    assert combo is not None
    newest = proxy_ids(window)
    combo.setCurrentIndex(combo.findData(SortMode.OLDEST.value))
    oldest = proxy_ids(window)
    assert [i.split("_")[1] for i in oldest] == [i.split("_")[1] for i in reversed(newest)]
    assert oldest[:4] == [f"img_{RUNS[2]}_slide-{i}" for i in range(1, 5)]  # posts in order
    combo.setCurrentIndex(combo.findData(SortMode.NEWEST.value))
    assert proxy_ids(window) == newest


def test_double_click_opens_the_viewer_and_arrows_move(qtbot, window: MainWindow,
                                                       data: Path) -> None:
    view = window.view
    index = view.model().index(2, 0)
    qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton,
                      pos=image_rect(view.visualRect(index)).center())
    viewer = window.findChild(ImageViewer, "imageViewer")
    assert viewer is not None and viewer.isVisible()
    assert viewer.current_image_id() == index.data(ImageRole.IMAGE_ID)
    qtbot.waitUntil(viewer.canvas().has_image, timeout=TIMEOUT)
    qtbot.keyClick(viewer, Qt.Key.Key_Right)
    assert viewer.current_image_id() == proxy_ids(window)[3]
    assert view.currentIndex().row() == 3  # the grid follows the viewer
    qtbot.keyClick(viewer, Qt.Key.Key_H)  # the viewer's heart reaches the grid and the file
    assert view.model().index(3, 0).data(ImageRole.IS_FAVORITE) is True
    qtbot.waitUntil(lambda: proxy_ids(window)[3] in favorites_on_disk(data).get("favorites", {}),
                    timeout=TIMEOUT)
    qtbot.keyClick(viewer, Qt.Key.Key_Left)
    qtbot.keyClick(viewer, Qt.Key.Key_Left)
    assert viewer.current_image_id() == proxy_ids(window)[1]
    view.setFocus()
    view.setCurrentIndex(view.model().index(5, 0))
    qtbot.keyClick(view, Qt.Key.Key_Return)
    assert viewer.current_image_id() == proxy_ids(window)[5]


def test_failing_write_rolls_back_and_says_so(qtbot, window: MainWindow, data: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    index = window.view.model().index(0, 0)
    qtbot.mouseClick(window.view.viewport(), Qt.MouseButton.LeftButton,
                     pos=heart_rect(window.view.visualRect(index)).center())
    qtbot.waitUntil(lambda: bool(favorites_on_disk(data).get("favorites")), timeout=TIMEOUT)
    before = (data / FAVORITES).read_bytes()
    real_replace = os.replace

    def failing_replace(src: object, dst: object, *args: object, **kwargs: object) -> None:
        if str(dst).endswith(FAVORITES):
            raise OSError(28, "No space left on device")
        real_replace(src, dst, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "replace", failing_replace)
    target = window.view.model().index(4, 0)
    qtbot.mouseClick(window.view.viewport(), Qt.MouseButton.LeftButton,
                     pos=heart_rect(window.view.visualRect(target)).center())
    banner = window.findChild(MessageBanner, "writeErrorMessage")
    assert banner is not None
    qtbot.waitUntil(banner.isVisible, timeout=TIMEOUT)
    assert FAVORITES in banner.text() and "No space left" in banner.text()
    qtbot.waitUntil(lambda: target.data(ImageRole.IS_FAVORITE) is False, timeout=TIMEOUT)
    assert (data / FAVORITES).read_bytes() == before
    assert index.data(ImageRole.IS_FAVORITE) is True  # the earlier heart is untouched


def test_problems_button_lists_what_was_skipped(qtbot, controller: GalleryController,
                                                settings: AppSettings, data: Path) -> None:
    make_run(data, "2025-11-01T00-00-00-000Z", raw=b"{ not json")
    window = open_window(qtbot, controller, settings, data)
    button = window.findChild(QToolButton, "problemsButton")
    assert button is not None
    qtbot.waitUntil(button.isVisible, timeout=TIMEOUT)
    assert button.text() == "1 problem"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    dialog = window.problems_dialog()
    assert dialog is not None and dialog.isVisible()
    (problem,) = dialog.problems()
    assert "2025-11-01T00-00-00-000Z" in problem.path and problem.reason
    assert problem.reason in dialog.as_text()


def test_copy_prompt_path_and_image(qtbot, window: MainWindow, data: Path) -> None:
    view = window.view
    index = view.model().index(1, 0)
    record = index.data(ImageRole.RECORD)
    view.setCurrentIndex(index)
    clipboard = QGuiApplication.clipboard()
    window.actions_by_id["copyPromptAction"].trigger()
    assert clipboard.text() == record.prompt
    window.actions_by_id["copyPathAction"].trigger()
    assert clipboard.text() == str(record.image_path)
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: clipboard.mimeData().hasImage(), timeout=TIMEOUT)
    assert clipboard.mimeData().urls()[0].toLocalFile() == str(record.image_path)
    # A copied image counts as a use, in the model and in the shared file.
    qtbot.waitUntil(lambda: index.data(ImageRole.USAGE_COUNT) == 1, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: favorites_on_disk(data).get("usageCounts") == {record.id: 1},
                    timeout=TIMEOUT)


def test_visible_rows_reach_the_controller(qtbot, window: MainWindow) -> None:
    with qtbot.waitSignal(window.view.visible_rows_changed) as blocker:
        window.view.schedule_visible_rows()
    rows = blocker.args[0]
    assert rows[0] == 0 and rows == list(range(rows[0], rows[-1] + 1))
    assert set(range(9)) == set(rows)  # nine cells all fit in this window


def test_without_a_data_folder_it_offers_to_open_one(qtbot, controller: GalleryController,
                                                     settings: AppSettings) -> None:
    window = open_window(qtbot, controller, settings, None)
    empty = window.findChild(EmptyState, "emptyState")
    assert empty is not None and empty.isVisible()
    assert empty.button().isVisible() and empty.button().text() == "Open Data Folder…"
    assert window.actions_by_id["openDataDirAction"].objectName() == "openDataDirAction"


def test_a_relative_data_folder_is_remembered_absolutely(qtbot, controller: GalleryController,
                                                         settings: AppSettings, data: Path,
                                                         tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(data.parent)
    window = open_window(qtbot, controller, settings, Path(data.name))
    window.close()
    monkeypatch.chdir(tmp_path.parent)  # the next start runs elsewhere
    assert AppSettings.from_file(tmp_path / "settings.ini").last_data_dir == data


def test_settings_persist_across_windows(qtbot, controller: GalleryController,
                                         settings: AppSettings, data: Path,
                                         tmp_path: Path) -> None:
    first = open_window(qtbot, controller, settings, data)
    first.findChild(QSlider, "thumbSizeSlider").setValue(256)
    combo = first.findChild(QComboBox, "sortCombo")
    combo.setCurrentIndex(combo.findData(SortMode.MOST_USED.value))
    first.actions_by_id["favoritesOnlyAction"].setChecked(True)
    first.resize(720, 540)  # within the offscreen screen, which restoreGeometry clamps to
    first.close()

    reread = AppSettings.from_file(tmp_path / "settings.ini")
    assert reread.last_data_dir == data
    second_controller = GalleryController(tmp_path / "cache2")
    try:
        second = open_window(qtbot, second_controller, reread, None, size=None)
        assert second.findChild(QSlider, "thumbSizeSlider").value() == 256
        assert second.view.thumbnail_size() == 256
        assert second.findChild(QComboBox, "sortCombo").currentData() == "most-used"
        assert second_controller.proxy.sort_mode() is SortMode.MOST_USED
        assert second.actions_by_id["favoritesOnlyAction"].isChecked()
        assert second_controller.proxy.favorites_only()
        assert (second.width(), second.height()) == (720, 540)
    finally:
        second_controller.shutdown()


def test_the_context_menu_offers_the_item_actions(window: MainWindow) -> None:
    names = [a.objectName() if a is not None else None for a in window.view.menu_actions()]
    assert names == ["toggleFavoriteAction", "openImageAction", None, "copyImageAction",
                     "copyPromptAction", "copyPathAction", None, "showInFileManagerAction"]
    assert window.actions_by_id["refreshAction"].shortcut().toString() == "F5"
    index: QModelIndex = window.view.model().index(0, 0)
    window.view.setCurrentIndex(index)
    assert window.actions_by_id["copyImageAction"].isEnabled()


@pytest.mark.parametrize(("data_dir", "scanning", "has_images", "search", "favorites_only",
                          "reason"), [
    (None, False, False, "", False, EmptyReason.NO_FOLDER),
    (Path("/d"), True, False, "", False, EmptyReason.SCANNING),
    (Path("/d"), False, False, "", False, EmptyReason.NO_IMAGES),
    (Path("/d"), False, False, "gone", False, EmptyReason.FOLDER_UNREADABLE),
    (Path("/d"), False, True, " desk ", False, EmptyReason.NO_MATCHES),
    (Path("/d"), False, True, " desk ", True, EmptyReason.NO_FAVORITE_MATCHES),
    (Path("/d"), True, True, "", True, EmptyReason.NO_FAVORITES),
])
def test_empty_reason(data_dir: Path | None, scanning: bool, has_images: bool, search: str,
                      favorites_only: bool, reason: EmptyReason) -> None:
    # (In the row with the search "gone", that word stands for the folder's problem.)
    problem = search if reason is EmptyReason.FOLDER_UNREADABLE else None
    search = "" if problem else search
    assert empty_reason(data_dir, scanning, has_images, search, favorites_only,
                        problem) is reason


def test_a_data_folder_deleted_while_shown_says_so(qtbot, window: MainWindow,
                                                   data: Path) -> None:
    shutil.rmtree(data)
    empty = window.empty_state
    qtbot.waitUntil(lambda: empty.isVisible()
                    and empty.reason() is EmptyReason.FOLDER_UNREADABLE, timeout=TIMEOUT)
    assert empty.title() == "Can't read the data folder"
    assert empty.body().startswith(f"{data}\nThe data folder is not there.\n")


def test_no_favorite_matching_a_search_says_so_and_offers_all_images(
        qtbot, window: MainWindow) -> None:
    proxy = window.view.model()
    proxy.setData(proxy.index(8, 0), True, ImageRole.IS_FAVORITE)
    window.actions_by_id["favoritesOnlyAction"].trigger()
    window.toolbar.search_field.setText("desk")  # two images mention it; no favorite does
    window.toolbar.apply_search()
    empty = window.findChild(EmptyState, "emptyState")
    assert empty.isVisible() and empty.reason() is EmptyReason.NO_FAVORITE_MATCHES
    assert empty.title() == "No favorite matches your search"
    qtbot.mouseClick(empty.button(), Qt.MouseButton.LeftButton)
    assert not window.actions_by_id["favoritesOnlyAction"].isChecked()
    assert len(proxy_ids(window)) == 2 and window.empty_state.isHidden()


def test_search_without_matches_offers_to_clear_it(qtbot, window: MainWindow) -> None:
    window.toolbar.search_field.setText("no such words anywhere")
    window.toolbar.apply_search()
    empty = window.findChild(EmptyState, "emptyState")
    assert empty.isVisible() and empty.reason() is EmptyReason.NO_MATCHES
    qtbot.mouseClick(empty.button(), Qt.MouseButton.LeftButton)
    assert window.toolbar.search_field.text() == "" and len(proxy_ids(window)) == 9
    assert window.empty_state.isHidden()


ITEM_ACTION_NAMES = ("copyImageAction", "copyPromptAction", "copyPathAction", "openImageAction",
                     "toggleFavoriteAction", "showInFileManagerAction")


def test_item_actions_follow_the_current_image_out_with_favorites_only(qtbot,
                                                                        window: MainWindow) -> None:
    view = window.view
    view.setFocus()
    view.setCurrentIndex(view.model().index(2, 0))  # not a favorite
    actions = window.actions_by_id
    actions["favoritesOnlyAction"].trigger()  # a reset: no currentChanged
    assert not view.currentIndex().isValid() and window.current_record() is None
    assert [name for name in ITEM_ACTION_NAMES if actions[name].isEnabled()] == []


def test_item_actions_follow_the_current_image_out_with_a_search(qtbot, window: MainWindow) -> None:
    view = window.view
    view.setFocus()
    view.setCurrentIndex(view.model().index(0, 0))
    view.model().setData(view.currentIndex(), True, ImageRole.IS_FAVORITE)
    actions = window.actions_by_id
    assert actions["toggleFavoriteAction"].isChecked()
    window.toolbar.search_field.setText("plant")  # a layout change: no currentChanged
    window.toolbar.apply_search()
    assert window.current_record() is None
    assert [name for name in ITEM_ACTION_NAMES if actions[name].isEnabled()] == []
    assert not actions["toggleFavoriteAction"].isChecked()


def test_ctrl_c_copies_the_text_selected_in_the_viewer_panel(qtbot, window: MainWindow,
                                                             data: Path) -> None:
    viewer = window.open_viewer(window.view.model().index(0, 0))
    qtbot.waitUntil(viewer.canvas().has_image, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: QApplication.activeWindow() is viewer, timeout=TIMEOUT)
    prompt = viewer.findChild(QLabel, "viewerPrompt")
    qtbot.mouseClick(prompt, Qt.MouseButton.LeftButton)  # the label takes focus
    prompt.setSelection(0, 7)  # as a drag over "Morning" would
    assert prompt.selectedText() == "Morning" and QApplication.focusWidget() is prompt
    QGuiApplication.clipboard().setText("before")
    qtbot.keyClick(prompt, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(window._controller.is_idle, timeout=TIMEOUT)
    assert QGuiApplication.clipboard().text() == "Morning"
    assert favorites_on_disk(data).get("usageCounts", {}) == {}  # no use counted


def test_opening_another_folder_closes_the_viewer_on_the_old_one(qtbot, window: MainWindow,
                                                                 controller: GalleryController,
                                                                 tmp_path: Path) -> None:
    old_id = proxy_ids(window)[0]
    viewer = window.open_viewer(window.view.model().index(0, 0))
    qtbot.waitUntil(viewer.canvas().has_image, timeout=TIMEOUT)
    other = tmp_path / "other"
    make_run(other, "2025-10-01T00-00-00-000Z", createdAt="2025-10-01T00:00:00.000Z")
    with qtbot.waitSignal(controller.scan_finished, timeout=TIMEOUT):
        window.open_data_dir(other)
    assert not viewer.isVisible() and viewer.current_image_id() is None
    viewer.copy_image()  # nothing to copy any more
    controller.record_use(old_id)  # e.g. a copy of the old image finishing late
    qtbot.waitUntil(controller.is_idle, timeout=TIMEOUT)
    assert old_id not in favorites_on_disk(other).get("usageCounts", {})


def test_the_viewer_shows_an_image_written_after_it_opened(qtbot, controller: GalleryController,
                                                           settings: AppSettings,
                                                           tmp_path: Path) -> None:
    data = tmp_path / "data"
    run_id = "2025-11-26T06-54-47-200Z"
    make_run(data, run_id, [{"index": 1, "text": "Still rendering", "imagePrompt": "p",
                             "finalImageUrl": f"/data/runs/{run_id}/slide-1.png"}],
             images=False, status="IMAGES")  # the studio writes meta.json first
    window = open_window(qtbot, controller, settings, data)
    viewer = window.open_viewer(window.view.model().index(0, 0))
    qtbot.waitUntil(lambda: viewer.canvas().message().startswith("Image missing\n"),
                    timeout=TIMEOUT)
    make_image(data / "runs" / run_id / "slide-1.png", size=(80, 60))
    qtbot.waitUntil(viewer.canvas().has_image, timeout=TIMEOUT)
    assert viewer.image().width() == 80


def test_copy_image_is_offered_only_for_a_file_that_is_there(
        qtbot, controller: GalleryController, settings: AppSettings, tmp_path: Path) -> None:
    data = tmp_path / "data"
    run_id = "2025-11-26T06-54-47-200Z"
    make_run(data, run_id, [{"index": 1, "finalImageUrl": f"/data/runs/{run_id}/slide-1.png"}],
             images=False)  # meta.json names a file not written yet
    window = open_window(qtbot, controller, settings, data)
    window.view.setCurrentIndex(window.view.model().index(0, 0))
    copy = window.actions_by_id["copyImageAction"]
    qtbot.waitUntil(lambda: not copy.isEnabled(), timeout=TIMEOUT)  # its thumbnail: missing
    make_image(data / "runs" / run_id / "slide-1.png")
    qtbot.waitUntil(copy.isEnabled, timeout=TIMEOUT)
    # Too large for a thumbnail is no reason not to copy the file: the copier reads it whole.
    controller.model.set_thumbnail_failed(str(data / "runs" / run_id / "slide-1.png"),
                                          "image too large to decode safely")
    assert copy.isEnabled()


def test_the_viewer_shows_an_image_replaced_in_place(qtbot, window: MainWindow) -> None:
    index = window.view.model().index(0, 0)
    record = index.data(ImageRole.RECORD)
    viewer = window.open_viewer(index)
    qtbot.waitUntil(viewer.canvas().has_image, timeout=TIMEOUT)
    assert viewer.image().width() == 64
    make_image(Path(record.image_path), size=(300, 200), color="#27ae60")  # re-rendered
    qtbot.waitUntil(lambda: viewer.image().width() == 300, timeout=TIMEOUT)


def test_a_use_that_cannot_be_counted_is_not_called_undone(qtbot, window: MainWindow,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    real_replace = os.replace

    def full_disk(src: str, dst: str, *args: object, **kwargs: object) -> None:
        # A full disk cannot be had on demand: refuse the favorites file's rename.
        if str(dst).endswith(FAVORITES):
            raise OSError(errno.ENOSPC, "No space left on device")
        real_replace(src, dst, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "replace", full_disk)
    view = window.view
    view.setFocus()
    view.setCurrentIndex(view.model().index(1, 0))
    qtbot.keyClick(view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    clipboard = QGuiApplication.clipboard()
    qtbot.waitUntil(lambda: clipboard.mimeData() is not None and clipboard.mimeData().hasImage(),
                    timeout=TIMEOUT)  # the copy itself worked
    banner = window.findChild(MessageBanner, "writeErrorMessage")
    qtbot.waitUntil(banner.isVisible, timeout=TIMEOUT)
    assert "No space left on device" in banner.text()
    assert "the use was not counted" in banner.text() and "undone" not in banner.text()


@pytest.mark.parametrize("name", ["plain", "données, été", os.fsdecode(b"donn\xe9es")])
def test_the_last_data_folder_is_remembered_exactly(qtbot, tmp_path: Path, name: str) -> None:
    folder = tmp_path / name
    folder.mkdir()
    settings = AppSettings.from_file(tmp_path / "settings.ini")
    settings.last_data_dir = folder
    settings.sync()
    assert AppSettings.from_file(tmp_path / "settings.ini").last_data_dir == folder


def day_run(data: Path, day: int, count: int) -> None:
    """A run of ``count`` slides made on November ``day`` (newer days sort first)."""
    run_id = f"2025-11-{day:02d}T00-00-00-000Z"
    make_run(data, run_id, [{"index": i, "text": f"day {day} slide {i}", "imagePrompt": "p",
                             "finalImageUrl": f"/data/runs/{run_id}/slide-{i}.png"}
                            for i in range(1, count + 1)],
             createdAt=f"2025-11-{day:02d}T00:00:00.000Z")


@pytest.fixture
def tall_window(qtbot, controller: GalleryController, settings: AppSettings,
                tmp_path: Path) -> MainWindow:
    """A window on 48 images in twelve runs: more than a screenful."""
    for day in range(1, 13):
        day_run(tmp_path / "data", day, 4)
    return open_window(qtbot, controller, settings, tmp_path / "data")


def test_zooming_keeps_the_current_image_in_view(qtbot, tall_window: MainWindow) -> None:
    window = tall_window
    view = window.view
    target = view.model().index(30, 0)
    view.setCurrentIndex(target)
    view.scrollTo(target)
    assert view.viewport().rect().contains(view.visualRect(target))
    for steps in (+3, -6):
        window.toolbar.step_thumb_size(steps)
        qtbot.waitUntil(lambda: not view.has_pending_visible_rows(), timeout=TIMEOUT)
        assert view.viewport().rect().intersects(view.visualRect(target)), steps


def test_a_new_run_at_the_top_keeps_what_is_on_screen(qtbot, tall_window: MainWindow,
                                                      tmp_path: Path) -> None:
    view = tall_window.view
    target = view.model().index(24, 0)
    target_id = target.data(ImageRole.IMAGE_ID)
    view.setCurrentIndex(target)
    view.scrollTo(target, view.ScrollHint.PositionAtTop)
    first_shown = QPersistentModelIndex(view.indexAt(QPoint(40, 40)))
    line_top = view.visualRect(QModelIndex(first_shown)).top()
    assert view.verticalScrollBar().value() > 0
    day_run(tmp_path / "data", 20, 3)  # the studio finishes a run: newest first, on top
    qtbot.waitUntil(lambda: view.model().rowCount() == 51, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: not view.has_pending_visible_rows(), timeout=TIMEOUT)
    assert view.currentIndex().data(ImageRole.IMAGE_ID) == target_id
    # The cells reflow by the three new ones, but the line shown first stays where it was.
    assert view.visualRect(QModelIndex(first_shown)).top() == line_top


@pytest.mark.parametrize(("step", "expected_slide"), [("show_next", 1), ("show_previous", None)])
def test_the_viewer_steps_to_the_neighbours_of_an_image_a_search_hides(
        qtbot, window: MainWindow, step: str, expected_slide: int | None) -> None:
    viewer = window.open_viewer(window.view.model().index(4, 0))
    assert viewer.current_image_id() == f"img_{RUNS[1]}_slide-2"
    window.toolbar.search_field.setText("plant")  # only the older Plant care run is left
    window.toolbar.apply_search()
    assert proxy_ids(window) == [f"img_{RUNS[2]}_slide-{i}" for i in range(1, 5)]
    assert viewer.current_image_id() == f"img_{RUNS[1]}_slide-2"  # still shown
    getattr(viewer, step)()
    if expected_slide is None:  # nothing shown comes before it: it stays
        assert viewer.current_image_id() == f"img_{RUNS[1]}_slide-2"
    else:
        assert viewer.current_image_id() == f"img_{RUNS[2]}_slide-{expected_slide}"


def test_a_warm_start_builds_the_records_of_the_runs_on_screen_only(
        qtbot, tmp_path: Path, settings: AppSettings, monkeypatch: pytest.MonkeyPatch) -> None:
    data, cache = tmp_path / "big", tmp_path / "cache"
    runs = [f"2025-10-{1 + n // 24:02d}T{n % 24:02d}-00-00-000Z" for n in range(240)]
    for n, rid in enumerate(runs):
        # Remote images: nothing to decode and nothing missing, so no run is built to
        # look for its files again.
        make_run(data, rid, [{"index": i, "text": f"Run {n} slide {i}",
                              "imagePrompt": f"word{n} picture",
                              "finalImageUrl": f"https://cdn.example/{rid}/{i}.png"}
                             for i in (1, 2)], images=False)
    settle(data)
    first = GalleryController(cache)
    with qtbot.waitSignal(first.scan_finished, timeout=TIMEOUT):
        first.open_data_dir(data)
    first.shutdown()  # the run index is saved

    built: list[str] = []
    real_build = index_module._StoredRun._make_images

    def counting(self: index_module._StoredRun) -> object:
        built.append(self.run_id)
        return real_build(self)

    monkeypatch.setattr(index_module._StoredRun, "_make_images", counting)
    controller = GalleryController(cache)
    try:
        window = open_window(qtbot, controller, settings, data, size=(900, 600))
        proxy = window.view.model()
        qtbot.waitUntil(lambda: proxy.rowCount() == 480, timeout=TIMEOUT)
        qtbot.waitUntil(controller.is_idle, timeout=TIMEOUT)
        window.view.viewport().repaint()
        on_screen = {proxy.index(r, 0).data(ImageRole.RUN_ID) for r in range(proxy.rowCount())
                     if window.view.visualRect(proxy.index(r, 0)).intersects(
                         window.view.viewport().rect())}
        assert on_screen and set(built) >= on_screen
        assert len(set(built)) < 40, "a warm start built runs nobody sees"
        # Typing into the grid continues in the search field (QListView's type-ahead
        # would read every row's title); search needs no record either.
        window.view.setFocus()
        QTest.keyClicks(window.view, "word12")
        assert window.toolbar.search_field.text() == "word12"
        assert window.toolbar.search_field.hasFocus()
        assert len(set(built)) < 40
        QTest.keyClicks(window.toolbar.search_field, "3 ")
        window.toolbar.apply_search()
        qtbot.waitUntil(lambda: proxy.rowCount() == 2, timeout=TIMEOUT)
        assert proxy.index(0, 0).data(Qt.ItemDataRole.DisplayRole) == "Run 123 slide 1"
        assert len(set(built)) < 40
    finally:
        controller.shutdown()
