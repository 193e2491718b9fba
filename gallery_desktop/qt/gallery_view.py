"""The thumbnail grid: a justified icon-mode list that reports its visible rows and drags copies."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from PySide6.QtCore import (
    QAbstractItemModel,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QContextMenuEvent,
    QDrag,
    QFontMetrics,
    QKeyEvent,
    QMouseEvent,
    QPixmap,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QAbstractItemView, QListView, QMenu, QStyle, QWidget

from gallery_desktop.qt.delegate import GalleryDelegate, caption_font, cell_size, heart_rect
from gallery_desktop.qt.roles import ImageRole

log = logging.getLogger(__name__)

MIN_GAP = 8  # least horizontal room between cells; leftover width is shared out evenly
ROW_GAP = 6
VISIBLE_ROWS_DEBOUNCE_MS = 40
DRAG_PIXMAP_EDGE = 96


class GalleryView(QListView):
    """Icon-mode grid over the proxy; paints through ``GalleryDelegate``.

    Signals:
        open_requested(QModelIndex)     # double-click, Enter or Return on an item (proxy index)
        visible_rows_changed(object)    # list[int] of proxy rows on screen, plus a line around
        image_dragged_out(str)          # an image was dropped somewhere else: a use
        zoom_requested(int)             # Ctrl+wheel: +1 bigger thumbnails, -1 smaller
        tile_size_changed(int)          # the painted tile edge changed (logical pixels)
        search_typed(str)               # text typed into the grid: it belongs in the search
    """

    open_requested = Signal(QModelIndex)
    visible_rows_changed = Signal(object)
    image_dragged_out = Signal(str)
    zoom_requested = Signal(int)
    tile_size_changed = Signal(int)
    search_typed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # First: Qt calls the overridden doItemsLayout from the setters below.
        self._target_px = 200
        self._overlay: QWidget | None = None
        self._visible_timer = QTimer(self)
        self._visible_timer.setSingleShot(True)
        self._visible_timer.setInterval(VISIBLE_ROWS_DEBOUNCE_MS)
        self._visible_timer.timeout.connect(self.emit_visible_rows)
        self.setObjectName("galleryView")
        self.setViewMode(QListView.ViewMode.IconMode)
        # Static movement keeps the cheap list-mode layout engine (binary search over
        # segments) instead of icon mode's free-placement tree: 100,000 rows stay smooth.
        self.setMovement(QListView.Movement.Static)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(True)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setUniformItemSizes(True)
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(500)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setDefaultDropAction(Qt.DropAction.CopyAction)
        self.setMouseTracking(True)  # hover state, for the heart shown on hover
        self.viewport().setAttribute(Qt.WidgetAttribute.WA_Hover)
        self.setItemDelegate(GalleryDelegate(self))
        self._menu_actions: list[QAction | None] = []
        self.verticalScrollBar().valueChanged.connect(self.schedule_visible_rows)
        # Rows inserted above the shown ones: (first shown, its row, scroll value, cells a
        # line) before, and the scroll value that keeps its line in place, until the new
        # layout has room for it.
        self._anchor: tuple[QPersistentModelIndex, int, int, int] | None = None
        self._keep_scroll: int | None = None
        self.verticalScrollBar().rangeChanged.connect(self._apply_kept_scroll)
        self.set_thumbnail_size(200)

    # -- layout -------------------------------------------------------------------------

    def set_thumbnail_size(self, px: int) -> None:
        """Aim for thumbnails of ``px`` logical pixels; tiles grow a little to fill each line.

        What was in view stays in view: the current image when it was shown, else the
        first one shown (the new layout alone keeps the pixel offset, another place).
        """
        anchor, hint = self._zoom_anchor()
        self._target_px = px
        self._update_grid()
        if anchor is not None:
            kept = QPersistentModelIndex(anchor)

            def restore() -> None:  # once the new layout is in place
                model = self.model()
                if kept.isValid() and model is not None:
                    self.scrollTo(model.index(kept.row(), kept.column()), hint)

            QTimer.singleShot(0, self, restore)
        self.schedule_visible_rows()

    def _zoom_anchor(self) -> tuple[QModelIndex | None, QAbstractItemView.ScrollHint]:
        current = self.currentIndex()
        if current.isValid() and self.viewport().rect().intersects(self.visualRect(current)):
            return current, QAbstractItemView.ScrollHint.EnsureVisible
        if self.verticalScrollBar().value() == 0:
            return None, QAbstractItemView.ScrollHint.EnsureVisible  # the top stays the top
        first = self._first_shown()
        if first.isValid():
            return first, QAbstractItemView.ScrollHint.PositionAtTop
        return None, QAbstractItemView.ScrollHint.EnsureVisible

    def thumbnail_size(self) -> int:
        """The thumbnail size asked for (the slider's value)."""
        return self._target_px

    def tile_size(self) -> int:
        """The edge of the tiles as painted: the asked-for size stretched to fill the line."""
        return self.iconSize().width()

    def _update_grid(self) -> None:
        caption = self._caption_height(self.fontMetrics().height())
        cell = cell_size(self._target_px, caption)
        available = self._wrap_width()
        columns = max(1, available // (cell.width() + MIN_GAP))
        width = max(cell.width() + MIN_GAP, available // columns)
        # Share the leftover width out as bigger tiles, not wider gaps (as photo apps do).
        tile = max(self._target_px, width - MIN_GAP - (cell.width() - self._target_px))
        grid = QSize(width, cell_size(tile, caption).height() + ROW_GAP)
        if tile != self.iconSize().width():
            self.setIconSize(QSize(tile, tile))
            self.tile_size_changed.emit(tile)
        if grid != self.gridSize():
            self.setGridSize(grid)

    def _caption_height(self, fallback: int) -> int:
        return QFontMetrics(caption_font(self.font())).height() or fallback

    def _wrap_width(self) -> int:
        """The width Qt's list layout wraps at: it always reserves the scroll bar's extent,
        so the column count never flips when the scroll bar comes and goes."""
        extent = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent, None,
                                          self.verticalScrollBar())
        return self.maximumViewportSize().width() - extent

    def columns(self) -> int:
        """How many cells fit in one line."""
        grid = self.gridSize()
        return max(1, self.viewport().width() // max(1, grid.width()))

    def resizeEvent(self, event: QResizeEvent) -> None:
        """Re-justify the columns to the new width."""
        super().resizeEvent(event)
        self._update_grid()
        if self._overlay is not None:
            self._overlay.setGeometry(self.viewport().rect())
        self.schedule_visible_rows()

    def set_overlay(self, widget: QWidget) -> None:
        """Keep ``widget`` (a child of the viewport) covering the viewport, e.g. an empty state."""
        self._overlay = widget
        widget.setGeometry(self.viewport().rect())

    # -- visible rows -------------------------------------------------------------------

    def schedule_visible_rows(self) -> None:
        """Report the visible rows soon (debounced: scrolling sends one report per pause)."""
        self._visible_timer.start()

    def has_pending_visible_rows(self) -> bool:
        """Whether a visible-rows report is scheduled but not sent yet."""
        return self._visible_timer.isActive()

    def visible_rows(self) -> list[int]:
        """Proxy rows with a cell on screen, plus one line above and below (prefetch).

        Samples ``indexAt`` on a grid of points, a few dozen calls whatever the row count.
        """
        model = self.model()
        if model is None or model.rowCount() == 0:
            return []
        grid = self.gridSize()
        rect = self.viewport().rect()
        step_y = max(8, grid.height() // 3)
        step_x = max(8, grid.width())
        rows: set[int] = set()
        ys = [*range(rect.top() + 1, rect.bottom(), step_y), rect.bottom() - 1]
        for y in ys:
            for x in range(rect.left() + step_x // 2, rect.right(), step_x):
                index = self.indexAt(QPoint(x, y))
                if index.isValid():
                    rows.add(index.row())
        if not rows:
            return []
        columns = self.columns()
        low = max(0, min(rows) - columns)
        high = min(model.rowCount() - 1, max(rows) + columns)
        return list(range(low, high + 1))

    def emit_visible_rows(self) -> None:
        """Send ``visible_rows_changed`` now."""
        self._visible_timer.stop()
        self.visible_rows_changed.emit(self.visible_rows())

    def setModel(self, model: QAbstractItemModel | None) -> None:
        """Show ``model`` (and follow its insertions, see ``_before_insert``)."""
        old = self.model()
        if old is not None:
            old.rowsAboutToBeInserted.disconnect(self._before_insert)
        super().setModel(model)
        if model is not None:
            model.rowsAboutToBeInserted.connect(self._before_insert)

    def _before_insert(self, _parent: QModelIndex, start: int, _end: int) -> None:
        """Rows coming in above what is shown (a new run, newest first) must not push it
        down: remember the first cell shown, to scroll by as many lines as it moves."""
        if self._anchor is None and self.verticalScrollBar().value() > 0:
            first = self._first_shown()
            if first.isValid() and start <= first.row():
                self._anchor = (QPersistentModelIndex(first), first.row(),
                                self.verticalScrollBar().value(), self._laid_out_columns())

    def rowsInserted(self, parent: QModelIndex | QPersistentModelIndex, start: int,
                     end: int) -> None:
        """New rows may be on screen: report."""
        super().rowsInserted(parent, start, end)
        if self._anchor is not None:
            kept, row, value, columns = self._anchor
            self._anchor = None
            if kept.isValid():
                lines = kept.row() // columns - row // columns
                self._keep_scroll = value + lines * self.gridSize().height()
                self._apply_kept_scroll()
        self.schedule_visible_rows()

    def _first_shown(self) -> QModelIndex:
        """The cell at the top left of the viewport (invalid when none is there)."""
        grid = self.gridSize()
        return self.indexAt(QPoint(grid.width() // 2, grid.height() // 2))

    def _laid_out_columns(self) -> int:
        """How many cells the current layout put in its first line."""
        model = self.model()
        if model is None or model.rowCount() == 0:
            return 1
        top = self.visualRect(model.index(0, 0)).top()
        count = 1
        while count < model.rowCount() and self.visualRect(model.index(count, 0)).top() == top:
            count += 1
        return count

    def _apply_kept_scroll(self, *_range: int) -> None:
        """Scroll to the remembered offset once the new layout makes room for it."""
        if self._keep_scroll is None:
            return
        bar = self.verticalScrollBar()
        if bar.maximum() >= self._keep_scroll:
            bar.setValue(self._keep_scroll)
            self._keep_scroll = None

    def dataChanged(self, top_left: QModelIndex | QPersistentModelIndex,
                    bottom_right: QModelIndex | QPersistentModelIndex,
                    roles: Sequence[int] = ()) -> None:
        """A row that now shows another file needs its thumbnail asked for: report."""
        super().dataChanged(top_left, bottom_right, roles)
        if not roles or int(ImageRole.IMAGE_PATH) in roles:
            self.schedule_visible_rows()

    def reset(self) -> None:
        """The model was reset: report the new visible rows."""
        super().reset()
        self.schedule_visible_rows()

    def doItemsLayout(self) -> None:
        """Sorting, filtering and removals re-lay out the view: report afterwards."""
        super().doItemsLayout()
        self.schedule_visible_rows()

    # -- keys, mouse, menu, drag --------------------------------------------------------

    def toggle_current_favorite(self) -> None:
        """Flip the heart of the current item (Space, the context menu)."""
        index = self.currentIndex()
        model = self.model()
        if index.isValid() and model is not None:
            model.setData(index, not bool(index.data(ImageRole.IS_FAVORITE)),
                          ImageRole.IS_FAVORITE)

    def open_current(self) -> None:
        """Ask for the viewer on the current item."""
        if self.currentIndex().isValid():
            self.open_requested.emit(self.currentIndex())

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Space toggles the heart, Enter opens; letters start a search (``keyboardSearch``);
        the rest is the list view's navigation.

        (Space normally arrives as the heart action's shortcut; handling it here too keeps
        it from reaching the list's type-ahead when no shortcut fired.)
        """
        plain = event.modifiers() in (Qt.KeyboardModifier.NoModifier,
                                      Qt.KeyboardModifier.KeypadModifier)
        if plain and event.key() == Qt.Key.Key_Space:
            self.toggle_current_favorite()
            event.accept()
            return
        if plain and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.open_current()
            event.accept()
            return
        super().keyPressEvent(event)

    def keyboardSearch(self, search: str) -> None:
        """Text typed into the grid goes to the search field (``search_typed``) instead of
        QListView's type-ahead, which reads the title of row after row: on a large library
        that is every record at once, for one key."""
        if search:
            self.search_typed.emit(search)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        """Double-click opens the viewer, except on the heart (two quick toggles there)."""
        index = self.indexAt(event.position().toPoint())
        if (event.button() == Qt.MouseButton.LeftButton and index.isValid()
                and not heart_rect(self.visualRect(index)).contains(event.position().toPoint())):
            self.setCurrentIndex(index)
            self.open_requested.emit(index)
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:
        """Ctrl+wheel resizes the thumbnails, as in most galleries."""
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            delta = event.angleDelta().y()
            if delta:
                self.zoom_requested.emit(1 if delta > 0 else -1)
            event.accept()
            return
        super().wheelEvent(event)

    def set_menu_actions(self, actions: list[QAction | None]) -> None:
        """The context menu's entries, in order; None is a separator."""
        self._menu_actions = list(actions)

    def menu_actions(self) -> list[QAction | None]:
        """The context menu's entries (None: separator)."""
        return list(self._menu_actions)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        """Make the item under the pointer current, then show the item menu."""
        index = self.indexAt(event.pos())
        if not index.isValid() or not self._menu_actions:
            return
        self.setCurrentIndex(index)
        menu = QMenu(self)
        for action in self._menu_actions:
            if action is None:
                menu.addSeparator()
            else:
                menu.addAction(action)
        menu.exec(event.globalPos())

    def startDrag(self, supported: Qt.DropAction) -> None:
        """Drag the current image out as a copy; a completed drop counts as a use."""
        index = self.currentIndex()
        model = self.model()
        if not index.isValid() or model is None:
            return
        image_id = index.data(ImageRole.IMAGE_ID)
        mime = model.mimeData([index])
        if mime is None or not mime.hasUrls():
            return  # no file to hand over (remote, or found missing): no drag, and no use
        drag = QDrag(self)
        drag.setMimeData(mime)
        decoration = index.data(Qt.ItemDataRole.DecorationRole)
        if isinstance(decoration, QPixmap) and not decoration.isNull():
            drag.setPixmap(decoration.scaled(
                DRAG_PIXMAP_EDGE, DRAG_PIXMAP_EDGE, Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation))
        # Copy only: a file manager must never move the studio's image away.
        result = drag.exec(Qt.DropAction.CopyAction, Qt.DropAction.CopyAction)
        if result != Qt.DropAction.IgnoreAction and isinstance(image_id, str):
            self.image_dragged_out.emit(image_id)
