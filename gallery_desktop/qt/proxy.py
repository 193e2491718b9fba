"""The view's order and filter over the gallery model: favorites only, search, sort mode."""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import (
    QAbstractItemModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)

from gallery_desktop.qt.model import GalleryModel
from gallery_desktop.qt.roles import ImageRole, SortMode

log = logging.getLogger(__name__)

_Index = QModelIndex | QPersistentModelIndex


class GalleryProxy(QSortFilterProxyModel):
    """Filters by heart and search words, and orders by ``SortMode``.

    Over a ``GalleryModel`` the proxy never sorts: it asks the model to take the order
    (one Python sort instead of a Python call per comparison) and passes rows through in
    that order. A filter change computes every row's verdict in one pass first, so Qt's
    per-row callback is a list lookup. Dynamic filtering stays on: unfavoriting a row in
    favorites-only view removes it at once. Over other models it filters and sorts by
    the ``ImageRole`` values like any QSortFilterProxyModel.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._favorites_only = False
        self._words: tuple[str, ...] = ()
        self._mode = SortMode.NEWEST
        self._gallery: GalleryModel | None = None
        # Every row's verdict at one model revision; stale (and unused) once it changes.
        self._verdicts: tuple[int, list[bool]] | None = None
        self.setDynamicSortFilter(True)
        # Roles Qt watches in dataChanged to re-filter and re-sort single rows.
        self.setFilterRole(ImageRole.IS_FAVORITE)
        self.setSortRole(ImageRole.USAGE_COUNT)

    def setSourceModel(self, model: QAbstractItemModel) -> None:
        if self._gallery is not None:
            self._gallery.layoutChanged.disconnect(self._prime_verdicts)
        self._gallery = model if isinstance(model, GalleryModel) else None
        self._verdicts = None
        if self._gallery is not None:
            # Connected before Qt's own handler, so the re-filter after a new order
            # finds every verdict computed already.
            self._gallery.layoutChanged.connect(self._prime_verdicts)
        super().setSourceModel(model)
        if self._gallery is not None:
            self._gallery.set_order(self._mode)

    # -- filter ----------------------------------------------------------------------------

    def set_favorites_only(self, on: bool) -> None:
        """Show only the rows with a heart (True) or every row (False)."""
        if on != self._favorites_only:
            self._change_filter(lambda: setattr(self, "_favorites_only", on))

    def favorites_only(self) -> bool:
        """Whether only favorites are shown."""
        return self._favorites_only

    def set_search_text(self, text: str) -> None:
        """Show only rows whose prompt, slide text, topic, model or run id contain every word.

        Matching is case-insensitive; an empty text shows everything.
        """
        words = tuple(dict.fromkeys(text.casefold().split()))
        if words != self._words:
            self._change_filter(lambda: setattr(self, "_words", words))

    def search_text(self) -> str:
        """The words searched for, joined by spaces."""
        return " ".join(self._words)

    def filterAcceptsRow(self, source_row: int, source_parent: _Index) -> bool:
        gallery = self._gallery
        if gallery is not None:
            verdicts = self._verdicts
            if verdicts is not None and verdicts[0] == gallery.revision:
                return verdicts[1][source_row]
            return gallery.accepts(source_row, self._favorites_only, self._words)
        idx = self.sourceModel().index(source_row, 0, source_parent)
        if self._favorites_only and not idx.data(ImageRole.IS_FAVORITE):
            return False
        text = str(idx.data(ImageRole.SEARCH_TEXT) or "").casefold()
        return all(w in text for w in self._words)

    # -- order -----------------------------------------------------------------------------

    def set_sort_mode(self, mode: SortMode) -> None:
        """Order rows newest first, oldest first, or by usage count (then newest first)."""
        mode = SortMode(mode)
        if mode is self._mode:
            return
        self._mode = mode
        if self._gallery is not None:
            self._gallery.set_order(mode)  # the proxy keeps passing the model's order
            return
        if mode is SortMode.NEWEST:
            self.sort(-1)
        else:
            if self.sortColumn() == 0:
                self.sort(-1)  # Qt skips sort() when column and order are unchanged
            self.sort(0, Qt.SortOrder.AscendingOrder)

    def sort_mode(self) -> SortMode:
        """The current order."""
        return self._mode

    def lessThan(self, source_left: _Index, source_right: _Index) -> bool:
        # Only used over models other than GalleryModel (see the class docstring).
        if self._mode is SortMode.MOST_USED:
            used_left = int(source_left.data(ImageRole.USAGE_COUNT) or 0)
            used_right = int(source_right.data(ImageRole.USAGE_COUNT) or 0)
            if used_left != used_right:
                return used_left > used_right
            return source_left.row() < source_right.row()
        ts_left = float(source_left.data(ImageRole.CREATED_TS) or 0.0)
        ts_right = float(source_right.data(ImageRole.CREATED_TS) or 0.0)
        if ts_left != ts_right:
            return ts_left < ts_right
        return source_left.row() < source_right.row()

    # -- helpers ---------------------------------------------------------------------------

    def _prime_verdicts(self) -> None:
        gallery = self._gallery
        if gallery is not None:
            self._verdicts = (gallery.revision,
                              gallery.accept_flags(self._favorites_only, self._words))

    def _change_filter(self, change: Callable[[], None]) -> None:
        change()
        self._prime_verdicts()
        # One layout change, not Qt's remove/insert per range of rows: with 100,000 rows
        # and a scattered filter the view would relayout for each of thousands of ranges.
        self.invalidate()
