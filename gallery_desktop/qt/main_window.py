"""The main window: wires the controller to the toolbar, the grid, the status bar and the viewer."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QModelIndex, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QImage, QShowEvent
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QMainWindow,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from gallery_desktop.core.records import GalleryImage, ImageSource, ScanReport, SkippedItem
from gallery_desktop.core.thumbnails import NO_FILE_REASONS
from gallery_desktop.qt import icons
from gallery_desktop.qt.actions import (
    CONTEXT_MENU,
    ITEM_ACTIONS,
    VIEW_ACTIONS,
    ActionId,
    ImageCopier,
    copy_selected_label_text,
    copy_text,
    create_actions,
    fill_menu_bar,
    reveal_in_file_manager,
)
from gallery_desktop.qt.gallery_view import GalleryView
from gallery_desktop.qt.panels import (
    EmptyReason,
    EmptyState,
    MessageBanner,
    ProblemsDialog,
    empty_reason,
)
from gallery_desktop.qt.roles import ImageRole
from gallery_desktop.qt.settings import AppSettings
from gallery_desktop.qt.status_bar import GalleryStatusBar
from gallery_desktop.qt.toolbar import MainToolBar
from gallery_desktop.qt.viewer import ImageViewer

if TYPE_CHECKING:
    from gallery_desktop.qt.controller import GalleryController

log = logging.getLogger(__name__)

# Thumbnails are re-decoded for a new size: wait until the slider rests.
THUMB_SIZE_DEBOUNCE_MS = 200


class MainWindow(QMainWindow):
    """The gallery window. It wires widgets to the controller and decides nothing itself.

    Args:
        controller: owns the data folder, the model and proxy, and every write.
        settings: what is remembered between launches.
    """

    def __init__(self, controller: GalleryController, settings: AppSettings,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.setWindowIcon(icons.app_icon())
        self._controller = controller
        self._settings = settings
        self._scanning = False
        self._problems: list[SkippedItem] = []
        self._counts: tuple[int, int] | None = None  # images, favorites (None: no folder)
        self._problems_dialog: ProblemsDialog | None = None
        self._viewer: ImageViewer | None = None
        self.actions_by_id = create_actions(self)
        self._copier = ImageCopier(self)
        self._copier.copied.connect(self._on_image_copied)
        self._copier.copy_failed.connect(self._show_status)

        self._build_view()
        self._build_toolbar()
        self._build_menus()
        self._build_status_bar()
        self._connect_actions()
        self._connect_controller()
        self._restore_settings()
        self._update_title(controller.data_dir())
        self._update_item_actions()
        self._update_empty_state()

    # -- building ---------------------------------------------------------------------------

    def _build_view(self) -> None:
        self.view = GalleryView(self)
        self.view.setModel(self._controller.proxy)
        self.view.visible_rows_changed.connect(self._controller.set_visible_rows)
        self.view.open_requested.connect(self.open_viewer)
        self.view.image_dragged_out.connect(self._controller.record_use)
        self.view.zoom_requested.connect(lambda steps: self.toolbar.step_thumb_size(steps))
        self.view.selectionModel().currentChanged.connect(self._update_item_actions)
        proxy = self._controller.proxy
        for signal in (proxy.rowsInserted, proxy.rowsRemoved, proxy.modelReset,
                       proxy.layoutChanged):
            signal.connect(self._update_empty_state)
            signal.connect(self._show_counts)
        # A filter can take the current image away without a currentChanged (a reset or a
        # layout change): the item actions follow it then too.
        # (A change to the current row itself is _on_proxy_data_changed's.)
        for signal in (proxy.rowsRemoved, proxy.modelReset, proxy.layoutChanged):
            signal.connect(self._update_item_actions)
        proxy.dataChanged.connect(self._on_proxy_data_changed)

        self.banner = MessageBanner(self)
        # Over the grid rather than instead of it: the grid keeps the keyboard focus.
        self.empty_state = EmptyState(self.view.viewport())
        self.view.set_overlay(self.empty_state)
        self.empty_state.action_requested.connect(self._on_empty_state_action)
        central = QWidget(self)
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.banner)
        layout.addWidget(self.view, 1)
        self.setCentralWidget(central)

    def _build_toolbar(self) -> None:
        self.toolbar = MainToolBar(self.actions_by_id, self)
        self.toolbar.search_changed.connect(self._on_search_changed)
        self.toolbar.search_cleared.connect(self.view.setFocus)
        self.view.search_typed.connect(self.toolbar.type_into_search)
        self.toolbar.sort_changed.connect(self._controller.proxy.set_sort_mode)
        self.toolbar.thumb_size_changed.connect(self._on_thumb_size_changed)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.toolbar)
        self._size_timer = QTimer(self)
        self._size_timer.setSingleShot(True)
        self._size_timer.setInterval(THUMB_SIZE_DEBOUNCE_MS)
        self._size_timer.timeout.connect(
            lambda: self._controller.set_thumbnail_size(self.view.tile_size()))
        self.view.tile_size_changed.connect(lambda _px: self._size_timer.start())

    def _build_menus(self) -> None:
        a = self.actions_by_id
        fill_menu_bar(self.menuBar(), a)
        # Single-key shortcuts (Space, Return) belong to the grid, so typing in search is safe.
        for action_id in VIEW_ACTIONS:
            a[action_id].setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
            self.view.addAction(a[action_id])
        self.view.set_menu_actions([a[i] if i is not None else None for i in CONTEXT_MENU])

    def _build_status_bar(self) -> None:
        self.status = GalleryStatusBar(self)
        self.status.problems_requested.connect(self.show_problems)
        self.setStatusBar(self.status)
        # Tests and the snapshot look these up; keep them at hand.
        self.counts_label = self.status.counts_label

    def _connect_actions(self) -> None:
        a = self.actions_by_id
        a[ActionId.OPEN_DATA_DIR].triggered.connect(self.choose_data_dir)
        a[ActionId.REFRESH].triggered.connect(self._controller.rescan)
        a[ActionId.QUIT].triggered.connect(self.close)
        a[ActionId.FAVORITES_ONLY].toggled.connect(self._on_favorites_only)
        a[ActionId.FOCUS_SEARCH].triggered.connect(self.toolbar.focus_search)
        a[ActionId.UNDO].triggered.connect(self.undo)
        a[ActionId.BIGGER].triggered.connect(lambda: self.toolbar.step_thumb_size(1))
        a[ActionId.SMALLER].triggered.connect(lambda: self.toolbar.step_thumb_size(-1))
        a[ActionId.TOGGLE_FAVORITE].triggered.connect(self.view.toggle_current_favorite)
        a[ActionId.OPEN_IMAGE].triggered.connect(self.view.open_current)
        a[ActionId.COPY_IMAGE].triggered.connect(self.copy_current_image)
        a[ActionId.COPY_PROMPT].triggered.connect(self.copy_current_prompt)
        a[ActionId.COPY_PATH].triggered.connect(self.copy_current_path)
        a[ActionId.SHOW_IN_FOLDER].triggered.connect(self.show_current_in_folder)
        a[ActionId.SHOW_PROBLEMS].triggered.connect(self.show_problems)
        a[ActionId.ABOUT].triggered.connect(self.show_about)

    def _connect_controller(self) -> None:
        c = self._controller
        c.data_dir_changed.connect(self._on_data_dir_changed)
        c.scan_started.connect(self._on_scan_started)
        c.scan_progress.connect(self._on_scan_progress)
        c.scan_finished.connect(self._on_scan_finished)
        c.problems_changed.connect(self._on_problems_changed)
        c.write_failed.connect(self._on_write_failed)
        c.save_failed.connect(self.banner.show_message)
        c.counts_changed.connect(self._on_counts_changed)
        c.image_files_changed.connect(self._on_image_files_changed)

    # -- settings ---------------------------------------------------------------------------

    def _restore_settings(self) -> None:
        s = self._settings
        if not self.restoreGeometry(s.window_geometry):
            self.resize(1280, 820)
        self.restoreState(s.window_state)
        self.toolbar.set_thumb_size(s.thumbnail_size)
        self.view.set_thumbnail_size(self.toolbar.thumb_size())
        self._controller.set_thumbnail_size(self.view.tile_size())
        self.toolbar.set_sort_mode(s.sort_mode)
        self._controller.proxy.set_sort_mode(self.toolbar.sort_mode())
        self.actions_by_id[ActionId.FAVORITES_ONLY].setChecked(s.favorites_only)
        self._controller.proxy.set_favorites_only(s.favorites_only)

    def save_settings(self) -> None:
        """Remember geometry and view choices (the data folder is saved when opened)."""
        s = self._settings
        s.window_geometry = self.saveGeometry()
        s.window_state = self.saveState()
        s.thumbnail_size = self.toolbar.thumb_size()
        s.sort_mode = self._controller.proxy.sort_mode()
        s.favorites_only = self._controller.proxy.favorites_only()
        if self._viewer is not None:
            s.viewer_geometry = self._viewer.saveGeometry()
        s.sync()

    def showEvent(self, event: QShowEvent) -> None:
        """The grid takes the keyboard first (arrows, H, Enter), not the search field."""
        super().showEvent(event)
        if not event.spontaneous():
            self.view.setFocus()

    def closeEvent(self, event: QCloseEvent) -> None:
        """Save settings and close the viewer with the window."""
        self.save_settings()
        if self._viewer is not None:
            self._viewer.close()
        super().closeEvent(event)

    # -- data folder ------------------------------------------------------------------------

    def choose_data_dir(self) -> None:
        """Ask for a data folder with the desktop's folder picker, then open it."""
        start = self._controller.data_dir() or self._settings.last_data_dir or Path.home()
        chosen = QFileDialog.getExistingDirectory(self, "Open Data Folder", str(start))
        if chosen:
            self.open_data_dir(Path(chosen))

    def open_data_dir(self, path: Path) -> None:
        """Open ``path`` (or its ``data`` subfolder, if the studio's root was picked)."""
        path = Path(path).expanduser().absolute()  # remembered: it must not depend on the cwd
        if not (path / "runs").is_dir() and (path / "data" / "runs").is_dir():
            path = path / "data"
        self._settings.last_data_dir = path
        self._settings.sync()
        self._controller.open_data_dir(path)

    def _update_title(self, path: Path | None) -> None:
        if path is None:
            self.setWindowTitle("Gallery")
            return
        # Every studio's folder is called "data": its parent tells two libraries apart.
        shown = f"{path.parent.name}/{path.name}" if path.parent.name and path.name else path
        self.setWindowTitle(f"{shown} — Gallery")

    def _on_data_dir_changed(self, path: Path | None) -> None:
        self._copier.set_root(path)
        if self._viewer is not None:
            self._viewer.set_root(path)
            # Its image belongs to the folder that was closed: copying it would count a
            # use of an id the new folder's favorites file does not know.
            self._viewer.clear()
            self._viewer.close()
        self._update_title(path)
        if path is None:
            self._counts = None
            self.status.clear_counts()
        self.banner.hide()
        self._on_problems_changed([])
        self._update_empty_state()

    # -- controller events ------------------------------------------------------------------

    def _on_image_files_changed(self, paths: set[str]) -> None:
        if self._viewer is not None and self._viewer.isVisible():
            self._viewer.reload_if_showing(paths)

    def _on_scan_started(self) -> None:
        self._scanning = True
        self.status.set_scanning(True)
        self._update_empty_state()

    def _on_scan_progress(self, runs_done: int, images_so_far: int) -> None:
        self.status.set_scan_progress(runs_done, images_so_far)

    def _on_scan_finished(self, report: ScanReport) -> None:
        self._scanning = False
        self.status.set_scanning(False)
        self.view.schedule_visible_rows()
        self._update_empty_state()

    def _on_counts_changed(self, images: int, favorites: int) -> None:
        self._counts = (images, favorites)
        self._show_counts()

    def _show_counts(self, *args: object) -> None:
        """The counts, and how many of the images show while a search or the favorites-only
        switch filters them."""
        if self._counts is None:
            return
        proxy = self._controller.proxy
        filtered = proxy.favorites_only() or bool(proxy.search_text())
        self.status.set_counts(*self._counts, proxy.rowCount() if filtered else None)

    def _on_problems_changed(self, problems: list[SkippedItem]) -> None:
        self._problems = list(problems)
        self.status.set_problem_count(len(self._problems))
        self.actions_by_id[ActionId.SHOW_PROBLEMS].setEnabled(bool(self._problems))
        self._update_empty_state()

    def _on_write_failed(self, message: str) -> None:
        self.banner.show_message(f"{message} — the change was undone.")

    def _on_proxy_data_changed(self, top_left: QModelIndex, bottom_right: QModelIndex,
                               roles: list[int]) -> None:
        current = self.view.currentIndex()
        if current.isValid() and top_left.row() <= current.row() <= bottom_right.row():
            self._update_item_actions()

    def show_problems(self) -> None:
        """Show what the scan skipped, with paths and reasons (non-modal)."""
        if self._problems_dialog is not None:
            self._problems_dialog.close()
        self._problems_dialog = ProblemsDialog(self._problems, self)
        self._problems_dialog.show()

    def problems_dialog(self) -> ProblemsDialog | None:
        """The problems dialog last shown, if any."""
        return self._problems_dialog

    # -- view state -------------------------------------------------------------------------

    def _on_search_changed(self, text: str) -> None:
        self._controller.proxy.set_search_text(text)
        self._update_empty_state()

    def _on_favorites_only(self, on: bool) -> None:
        proxy = self._controller.proxy
        # The switch resets the grid's model: carry the current image across it.
        current = proxy.map_to_model(self.view.currentIndex())
        proxy.set_favorites_only(on)
        if current.isValid():
            index = proxy.map_from_model(current)
            if index.isValid():
                self.view.setCurrentIndex(index)
                self.view.scrollTo(index)
        self._update_empty_state()

    def _on_thumb_size_changed(self, px: int) -> None:
        self.view.set_thumbnail_size(px)

    def _update_empty_state(self, *args: object) -> None:
        proxy = self._controller.proxy
        if proxy.rowCount() > 0:
            self.empty_state.hide()
            return
        source = proxy.bottom_model()
        problem = self._controller.folder_problem()
        reason = empty_reason(self._controller.data_dir(), self._scanning,
                              source is not None and source.rowCount() > 0, proxy.search_text(),
                              proxy.favorites_only(), problem)
        self.empty_state.show_reason(reason, self._controller.data_dir(), proxy.search_text(),
                                     problem)
        self.empty_state.show()

    def _on_empty_state_action(self, reason: EmptyReason) -> None:
        if reason is EmptyReason.NO_MATCHES:
            self.toolbar.clear_search()
        elif reason in (EmptyReason.NO_FAVORITES, EmptyReason.NO_FAVORITE_MATCHES):
            self.actions_by_id[ActionId.FAVORITES_ONLY].setChecked(False)
        else:
            self.choose_data_dir()

    # -- the current image ------------------------------------------------------------------

    def current_record(self) -> GalleryImage | None:
        """The record of the grid's current item."""
        record = self.view.currentIndex().data(ImageRole.RECORD)
        return record if isinstance(record, GalleryImage) else None

    def _update_item_actions(self, *args: object) -> None:
        record = self.current_record()
        a = self.actions_by_id
        for action_id in ITEM_ACTIONS:
            a[action_id].setEnabled(record is not None)
        local = record is not None and record.source is ImageSource.LOCAL \
            and record.image_path is not None
        # Not for a file its thumbnail found missing, not a file, or linked out: nothing to copy.
        # (One too large for a thumbnail may still be copied whole.)
        error = self.view.currentIndex().data(ImageRole.THUMB_ERROR)
        a[ActionId.COPY_IMAGE].setEnabled(local and error not in NO_FILE_REASONS)
        a[ActionId.COPY_PATH].setEnabled(record is not None and record.image_path is not None)
        a[ActionId.SHOW_IN_FOLDER].setEnabled(record is not None and record.image_path is not None)
        a[ActionId.TOGGLE_FAVORITE].setChecked(
            bool(self.view.currentIndex().data(ImageRole.IS_FAVORITE)))

    def undo(self) -> None:
        """Undo the last heart change (Ctrl+Z)."""
        if not self._controller.undo():
            self._show_status("Nothing to undo")

    def copy_current_image(self) -> None:
        """Copy the current image's pixels and file to the clipboard (counts as a use).

        Text selected in a label (an error message) is what is copied instead.
        """
        if copy_selected_label_text():
            return
        record = self.current_record()
        if record is not None and record.image_path is not None \
                and record.source is ImageSource.LOCAL:
            self._show_status(f"Copying {os.path.basename(record.image_path)}…")
            self._copier.copy_image(record.id, Path(record.image_path))

    def copy_image(self, image_id: str, path: Path, image: QImage) -> None:
        """Copy an image, using ``image`` when already decoded (the viewer's)."""
        self._copier.copy_image(image_id, path, image if not image.isNull() else None)

    def _on_image_copied(self, image_id: str) -> None:
        self._controller.record_use(image_id)
        self._show_status("Image copied")

    def copy_current_prompt(self) -> None:
        """Copy the current image's prompt as text."""
        record = self.current_record()
        if record is not None:
            copy_text(record.prompt)
            self._show_status("Prompt copied")

    def copy_current_path(self) -> None:
        """Copy the current image's file path as text."""
        record = self.current_record()
        if record is not None and record.image_path is not None:
            copy_text(record.image_path)
            self._show_status("File path copied")

    def show_current_in_folder(self) -> None:
        """Open the current image's folder in the file manager."""
        record = self.current_record()
        if record is not None and record.image_path is not None:
            reveal_in_file_manager(Path(record.image_path))

    def _show_status(self, text: str) -> None:
        self.status.showMessage(text, 4000)

    # -- viewer and about -------------------------------------------------------------------

    def viewer(self) -> ImageViewer | None:
        """The viewer window, once opened."""
        return self._viewer

    def open_viewer(self, index: QModelIndex) -> ImageViewer:
        """Open the viewer on ``index`` (a proxy index) and bring it to the front."""
        if self._viewer is None:
            self._viewer = ImageViewer(self._controller.proxy, self)
            self._viewer.set_root(self._controller.data_dir())
            self._viewer.copy_image_requested.connect(self.copy_image)
            self._viewer.current_changed.connect(self._follow_viewer)
            if not self._viewer.restoreGeometry(self._settings.viewer_geometry):
                self._viewer.resize(min(1400, max(900, self.width() - 80)),
                                    min(960, max(640, self.height() - 60)))
        self._viewer.open_index(index)
        self._viewer.show()
        self._viewer.raise_()
        self._viewer.activateWindow()
        return self._viewer

    def _follow_viewer(self, image_id: str) -> None:
        # Keep the grid's current item on the image being viewed, so closing returns there.
        source = self._controller.model.row_of(image_id)
        if source < 0:
            return
        index = self._controller.proxy.map_from_model(self._controller.model.index(source, 0))
        if index.isValid():
            self.view.setCurrentIndex(index)
            self.view.scrollTo(index)

    def show_about(self) -> None:
        """The About box: name, version, what it does."""
        app = QApplication.instance()
        version = app.applicationVersion() if isinstance(app, QApplication) else ""
        QMessageBox.about(
            self, "About Gallery",
            f"<h3>Gallery {version}</h3>"
            "<p>A fast desktop gallery for the images your content studio generates.</p>"
            "<p>Hearts are shared with the studio's web gallery through "
            "<code>gallery-favorites.json</code> in the data folder.</p>")
