"""The image viewer: one image large, fit or 100%, its heart, prompt and run details beside it."""

from __future__ import annotations

import logging
from collections.abc import Collection
from pathlib import Path

from PySide6.QtCore import (
    QAbstractItemModel,
    QAbstractProxyModel,
    QModelIndex,
    QPersistentModelIndex,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import QAction, QImage, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gallery_desktop.core.records import GalleryImage, ImageSource
from gallery_desktop.core.thumbnails import FILE_NOT_FOUND
from gallery_desktop.qt import icons
from gallery_desktop.qt.actions import copy_selected_label_text
from gallery_desktop.qt.icons import IconName
from gallery_desktop.qt.image_canvas import ImageCanvas, ZoomMode
from gallery_desktop.qt.image_loader import ImageLoader
from gallery_desktop.qt.roles import ImageRole
from gallery_desktop.qt.viewer_details import ViewerDetails

log = logging.getLogger(__name__)


def _shortcut_action(parent: QWidget, name: str, keys: list[QKeySequence | str]) -> QAction:
    action = QAction(parent)
    action.setObjectName(name)
    action.setShortcuts([QKeySequence(k) for k in keys])
    action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    parent.addAction(action)
    return action


def source_index(model: QAbstractItemModel, image_id: str) -> QModelIndex:
    """The index of ``image_id`` in the model beneath a (chain of) proxies, or invalid."""
    while isinstance(model, QAbstractProxyModel):
        model = model.sourceModel()
    row_of = getattr(model, "row_of", None)
    if callable(row_of):
        row = row_of(image_id)
        return model.index(row, 0) if row >= 0 else QModelIndex()
    return QModelIndex()


def map_down(model: QAbstractItemModel, index: QModelIndex) -> QModelIndex:
    """Map an ``index`` of ``model`` down through its proxies to the bottom model."""
    while isinstance(model, QAbstractProxyModel):
        index = model.mapToSource(index)
        model = model.sourceModel()
    return index


def map_to(model: QAbstractItemModel, index: QModelIndex) -> QModelIndex:
    """Map a bottom-model ``index`` up through the proxies to ``model`` (invalid if hidden)."""
    chain: list[QAbstractProxyModel] = []
    current = model
    while isinstance(current, QAbstractProxyModel):
        chain.append(current)
        current = current.sourceModel()
    for proxy in reversed(chain):
        index = proxy.mapFromSource(index)
    return index



class ImageViewer(QDialog):
    """Shows one image of ``model`` (the grid's proxy) at a time, in the proxy's order.

    The heart goes through ``model.setData`` like the grid's, so both stay in sync; an image
    that leaves the filtered view (un-hearted in favorites-only) stays on screen, and the
    arrows continue from where it was.

    Signals:
        current_changed(str image_id)                      # a different image is shown
        copy_image_requested(str image_id, object path, QImage image)   # image may be null
    """

    current_changed = Signal(str)
    copy_image_requested = Signal(str, object, QImage)

    def __init__(self, model: QAbstractItemModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("imageViewer")
        self.setWindowTitle("Gallery")
        self.setModal(False)
        self.setSizeGripEnabled(True)
        self._model = model
        self._current = QPersistentModelIndex()
        self._last_row = 0
        self._record: GalleryImage | None = None
        self._image = QImage()
        self._loader = ImageLoader(self)
        self._loader.image_loaded.connect(self._on_image_loaded)
        self._loader.image_failed.connect(self._on_image_failed)
        self._build()
        model.dataChanged.connect(self._on_data_changed)
        model.rowsRemoved.connect(self._on_rows_removed)
        model.rowsInserted.connect(self._on_rows_moved)
        model.layoutChanged.connect(self._on_rows_moved)
        model.modelReset.connect(self._on_rows_moved)

    # -- building -------------------------------------------------------------------------

    def _button(self, name: str, glyph: IconName, tip: str, checkable: bool = False
                ) -> QToolButton:
        button = QToolButton(self)
        button.setObjectName(name)
        button.setIcon(icons.icon(glyph))
        button.setIconSize(QSize(20, 20))
        button.setToolTip(tip)
        button.setCheckable(checkable)
        button.setAutoRaise(True)
        # Keys belong to the viewer (arrows, F, 1, H), never to a focused button.
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        return button

    def _build(self) -> None:
        self._prev_button = self._button("viewerPreviousButton", IconName.PREVIOUS,
                                         "Previous image (Left)")
        self._next_button = self._button("viewerNextButton", IconName.NEXT, "Next image (Right)")
        self._position = QLabel(self)
        self._position.setObjectName("viewerPosition")
        self._fit_button = self._button("viewerFitButton", IconName.ZOOM_FIT, "Fit to window (F)",
                                        checkable=True)
        self._actual_button = self._button("viewerActualSizeButton", IconName.ZOOM_ORIGINAL,
                                           "Actual size, 100% (1)", checkable=True)
        self._heart_button = self._button("viewerFavoriteButton", IconName.HEART_OUTLINE,
                                          "Favorite (H)", checkable=True)
        self._heart_button.setIcon(icons.heart_icon())
        self._copy_button = self._button("viewerCopyButton", IconName.COPY, "Copy image (Ctrl+C)")
        self._prev_button.clicked.connect(self.show_previous)
        self._next_button.clicked.connect(self.show_next)
        self._fit_button.clicked.connect(lambda: self.set_zoom_mode(ZoomMode.FIT))
        self._actual_button.clicked.connect(lambda: self.set_zoom_mode(ZoomMode.ACTUAL))
        # clicked, not toggled: the button's state follows the model, it does not lead it.
        self._heart_button.clicked.connect(self.toggle_favorite)
        self._copy_button.clicked.connect(self.copy_image)

        bar = QHBoxLayout()
        bar.setContentsMargins(8, 6, 8, 6)
        bar.setSpacing(4)
        for widget in (self._prev_button, self._next_button, self._position):
            bar.addWidget(widget)
        bar.addStretch(1)
        for widget in (self._fit_button, self._actual_button, self._heart_button,
                       self._copy_button):
            bar.addWidget(widget)
        self._canvas = ImageCanvas(self)
        left = QVBoxLayout()
        left.setContentsMargins(0, 0, 0, 0)
        left.setSpacing(0)
        left.addLayout(bar)
        left.addWidget(self._canvas, 1)

        self._details = ViewerDetails(self)
        side = QScrollArea(self)
        side.setObjectName("viewerSidePanel")
        side.setWidgetResizable(True)
        side.setFrameShape(QFrame.Shape.NoFrame)
        side.setWidget(self._details)
        side.setFixedWidth(340)
        side.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(left, 1)
        layout.addWidget(side)

        _shortcut_action(self, "viewerPreviousAction", ["Left", "PgUp", "Backspace"]
                         ).triggered.connect(self.show_previous)
        _shortcut_action(self, "viewerNextAction", ["Right", "PgDown", "Space"]
                         ).triggered.connect(self.show_next)
        _shortcut_action(self, "viewerFirstAction", ["Home"]).triggered.connect(
            lambda: self.open_row(0))
        _shortcut_action(self, "viewerLastAction", ["End"]).triggered.connect(
            lambda: self.open_row(self._model.rowCount() - 1))
        _shortcut_action(self, "viewerFitAction", ["F"]).triggered.connect(
            lambda: self.set_zoom_mode(ZoomMode.FIT))
        _shortcut_action(self, "viewerActualSizeAction", ["1"]).triggered.connect(
            lambda: self.set_zoom_mode(ZoomMode.ACTUAL))
        _shortcut_action(self, "viewerFavoriteAction", ["H"]).triggered.connect(
            self.toggle_favorite)
        _shortcut_action(self, "viewerCopyAction", [QKeySequence(QKeySequence.StandardKey.Copy)]
                         ).triggered.connect(self.copy_image)
        self.set_zoom_mode(ZoomMode.FIT)

    # -- navigation -----------------------------------------------------------------------

    def open_index(self, index: QModelIndex) -> None:
        """Show the image at ``index`` (an index of the model given at construction)."""
        if index.isValid():
            self.open_row(index.row())

    def open_row(self, row: int) -> None:
        """Show the image in ``row`` of the model."""
        if not 0 <= row < self._model.rowCount():
            return
        index = self._model.index(row, 0)
        record = index.data(ImageRole.RECORD)
        if not isinstance(record, GalleryImage):
            return
        self._current = QPersistentModelIndex(index)
        self._last_row = row
        same = self._record is not None and self._record.id == record.id
        self._record = record
        self._refresh_panel()
        if not same:
            self._load(record)
            self.current_changed.emit(record.id)

    def _load(self, record: GalleryImage) -> None:
        self._image = QImage()
        if record.source is ImageSource.REMOTE:
            self._loader.cancel()
            self._canvas.set_message(IconName.IMAGE_REMOTE,
                                     "Remote image: not downloaded\n" + record.image_url)
        elif record.source is not ImageSource.LOCAL or record.image_path is None:
            self._loader.cancel()
            self._canvas.set_message(IconName.IMAGE_MISSING, "Image missing")
        else:
            self._canvas.set_message(IconName.IMAGE_LOADING, "")
            self._loader.load(record.image_path)

    def reload_if_showing(self, paths: Collection[str]) -> None:
        """The files at ``paths`` changed on disk: show the image afresh if it is one."""
        if self._record is not None and self._record.image_path in paths:
            self._load(self._record)

    def set_root(self, root: Path | None) -> None:
        """Show only files that lie inside ``root`` once symlinks are followed (None: any)."""
        self._loader.set_root(root)

    def clear(self) -> None:
        """Forget the shown image (its folder was closed): nothing is left to act on."""
        self._loader.cancel()
        self._record = None
        self._current = QPersistentModelIndex()
        self._last_row = 0
        self._image = QImage()
        self._canvas.set_message(IconName.IMAGE_MISSING, "")

    def current_row(self) -> int:
        """The shown image's row in the model (-1 when it left the filtered view)."""
        return self._current.row() if self._current.isValid() else -1

    def current_image_id(self) -> str | None:
        """The shown image's id."""
        return self._record.id if self._record else None

    def show_next(self) -> None:
        """The next image in the model's order (stays on the last)."""
        self._step(1)

    def show_previous(self) -> None:
        """The previous image in the model's order (stays on the first)."""
        self._step(-1)

    def _step(self, delta: int) -> None:
        count = self._model.rowCount()
        if count == 0:
            return
        if self._current.isValid():
            row = self._current.row() + delta
        else:
            after = self._first_row_after_shown()
            if after is None:
                # The shown image is gone: its successor now sits at its old row.
                row = self._last_row if delta > 0 else self._last_row - 1
            else:
                # Filtered out (a search, favorites only): its neighbours in the grid's
                # order; with none on that side it stays.
                row = after if delta > 0 else after - 1
                if not 0 <= row < count:
                    return
        row = max(0, min(count - 1, row))
        if row != self.current_row():
            self.open_row(row)

    def _first_row_after_shown(self) -> int | None:
        """The first row of the view that comes after the shown image in the grid's order,
        when that image is still in the library but not in the view; else None."""
        if self._record is None:
            return None
        below = source_index(self._model, self._record.id)
        if not below.isValid():
            return None
        # The proxies filter, never reorder: the view's rows keep the model's order.
        low, high = 0, self._model.rowCount()
        while low < high:
            middle = (low + high) // 2
            if map_down(self._model, self._model.index(middle, 0)).row() < below.row():
                low = middle + 1
            else:
                high = middle
        return low

    # -- zoom, heart, copy ----------------------------------------------------------------

    def set_zoom_mode(self, mode: ZoomMode) -> None:
        """Fit to the window or 100%."""
        self._canvas.set_mode(mode)
        self._fit_button.setChecked(mode is ZoomMode.FIT)
        self._actual_button.setChecked(mode is ZoomMode.ACTUAL)

    def zoom_mode(self) -> ZoomMode:
        """The zoom mode."""
        return self._canvas.mode()

    def canvas(self) -> ImageCanvas:
        """The image area."""
        return self._canvas

    def image(self) -> QImage:
        """The decoded full image (null while loading or when it could not be read)."""
        return QImage(self._image)

    def _favorite_index(self) -> QModelIndex:
        if self._current.isValid():
            return self._model.index(self._current.row(), 0)
        if self._record is None:
            return QModelIndex()
        return source_index(self._model, self._record.id)

    def is_favorite(self) -> bool:
        """Whether the shown image is hearted (as the model says now)."""
        index = self._favorite_index()
        return bool(index.data(ImageRole.IS_FAVORITE)) if index.isValid() else False

    def toggle_favorite(self) -> None:
        """Flip the shown image's heart through ``setData`` (the grid shows it too)."""
        index = self._favorite_index()
        if index.isValid():
            index.model().setData(index, not self.is_favorite(), ImageRole.IS_FAVORITE)
        self._sync_heart()

    def copy_image(self) -> None:
        """Ask for the shown image to be copied (with its pixels when already decoded).

        Text selected in the details panel is what is copied instead (and is no use).
        """
        if copy_selected_label_text():
            return
        if self._record is not None and self._record.image_path is not None \
                and self._record.source is ImageSource.LOCAL:
            self.copy_image_requested.emit(self._record.id, Path(self._record.image_path),
                                           QImage(self._image))

    # -- model and loader events ----------------------------------------------------------

    def _sync_heart(self) -> None:
        self._heart_button.setChecked(self.is_favorite())

    def _refresh_panel(self) -> None:
        count = self._model.rowCount()
        row = self.current_row()
        self._position.setText(f"{row + 1} of {count}" if row >= 0 else f"{count} images")
        self._prev_button.setEnabled(count > 0 and (row > 0 or row < 0))
        self._next_button.setEnabled(count > 0 and row < count - 1)
        self._sync_heart()
        if self._record is not None:
            index = self._favorite_index()
            usage = index.data(ImageRole.USAGE_COUNT) if index.isValid() else None
            self._details.show_record(self._record, usage if isinstance(usage, int) else 0,
                                      self._image.size() if not self._image.isNull() else None)
            title = self._record.slide_text.strip().split("\n", 1)[0] or self._record.slide_id
            self.setWindowTitle(f"{title} — Gallery")

    def _on_data_changed(self, top_left: QModelIndex, bottom_right: QModelIndex,
                         roles: list[int]) -> None:
        if self._record is None:
            return
        if not self._current.isValid():
            self._on_rows_moved()  # a re-hearted image may be back in the view
        if self._current.isValid() and top_left.row() <= self._current.row() <= bottom_right.row():
            record = self._current.data(ImageRole.RECORD)
            if isinstance(record, GalleryImage):
                # Another file, or the same one come or gone (written after its meta.json).
                changed_file = (record.image_path != self._record.image_path
                                or record.source != self._record.source)
                self._record = record
                if changed_file:
                    self._load(record)
            self._refresh_panel()
        elif not roles or ImageRole.IS_FAVORITE in roles:
            self._sync_heart()

    def _on_rows_removed(self, parent: QModelIndex, first: int, last: int) -> None:
        if not self._current.isValid():
            if self._last_row > last:
                self._last_row -= last - first + 1
            elif self._last_row >= first:
                self._last_row = first
        self._on_rows_moved()

    def _on_rows_moved(self, *args: object) -> None:
        if self._record is not None and not self._current.isValid():
            index = map_to(self._model, source_index(self._model, self._record.id))
            if index.isValid():
                self._current = QPersistentModelIndex(index)
        if self._current.isValid():
            self._last_row = self._current.row()
        if self._record is not None:
            self._refresh_panel()

    def _on_image_loaded(self, path: str, image: QImage) -> None:
        if self._record is None or self._record.image_path != path:
            return
        self._image = image
        self._canvas.set_image(image)
        self._refresh_panel()

    def _on_image_failed(self, path: str, reason: str) -> None:
        if self._record is None or self._record.image_path != path:
            return
        self._image = QImage()
        if reason == FILE_NOT_FOUND:
            self._canvas.set_message(IconName.IMAGE_MISSING, f"Image missing\n{path}")
        else:
            self._canvas.set_message(IconName.IMAGE_BROKEN, f"Can't read this image\n{reason}")
