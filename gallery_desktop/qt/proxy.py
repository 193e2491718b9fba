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
    """Filters by heart and search words and orders by ``SortMode``.

    The source model is already newest first, so NEWEST does not sort at all (each sort
    comparison is a Python call: skipping it keeps 100,000 rows instant). Dynamic
    filtering stays on: unfavoriting a row in favorites-only view removes it at once.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._favorites_only = False
        self._words: tuple[str, ...] = ()
        self._mode = SortMode.NEWEST
        self._gallery: GalleryModel | None = None
        self.setDynamicSortFilter(True)
        # Roles that Qt watches in dataChanged to re-filter and re-sort single rows.
        self.setFilterRole(ImageRole.IS_FAVORITE)
        self.setSortRole(ImageRole.USAGE_COUNT)

    def setSourceModel(self, model: QAbstractItemModel) -> None:
        self._gallery = model if isinstance(model, GalleryModel) else None
        super().setSourceModel(model)

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
        if gallery is not None:  # the fast path: plain lookups, no QVariant round trips
            if self._favorites_only and not gallery.is_favorite_at(source_row):
                return False
            if self._words:
                text = gallery.search_text_at(source_row)
                return all(w in text for w in self._words)
            return True
        source = self.sourceModel()
        idx = source.index(source_row, 0, source_parent)
        if self._favorites_only and not idx.data(ImageRole.IS_FAVORITE):
            return False
        text = str(idx.data(ImageRole.SEARCH_TEXT) or "").casefold()
        return all(w in text for w in self._words)

    # -- order -----------------------------------------------------------------------------

    def set_sort_mode(self, mode: SortMode) -> None:
        """Order rows newest first, oldest first, or by usage count (then newest first)."""
        mode = SortMode(mode)
        self._mode = mode
        if mode is SortMode.NEWEST:
            self.sort(-1)  # back to the source's own order
        else:
            if self.sortColumn() == 0:
                # Qt skips sort() when column and order are unchanged: go through unsorted.
                self.sort(-1)
            self.sort(0, Qt.SortOrder.AscendingOrder)

    def sort_mode(self) -> SortMode:
        """The current order."""
        return self._mode

    def lessThan(self, source_left: _Index, source_right: _Index) -> bool:
        left, right = source_left.row(), source_right.row()
        gallery = self._gallery
        if self._mode is SortMode.MOST_USED:
            if gallery is not None:
                used_left, used_right = gallery.usage_at(left), gallery.usage_at(right)
            else:
                used_left = int(source_left.data(ImageRole.USAGE_COUNT) or 0)
                used_right = int(source_right.data(ImageRole.USAGE_COUNT) or 0)
            if used_left != used_right:
                return used_left > used_right
            return left < right  # the source's own order: newest first
        # OLDEST: oldest run first, but a run's posts still in their order.
        if gallery is not None:
            return gallery.oldest_key_at(left) < gallery.oldest_key_at(right)
        ts_left = float(source_left.data(ImageRole.CREATED_TS) or 0.0)
        ts_right = float(source_right.data(ImageRole.CREATED_TS) or 0.0)
        return ts_left < ts_right if ts_left != ts_right else left > right

    # -- helpers ---------------------------------------------------------------------------

    def _change_filter(self, change: Callable[[], None]) -> None:
        # Qt 6.10 added begin/endFilterChange and deprecated invalidateFilter.
        if hasattr(self, "beginFilterChange"):
            self.beginFilterChange()
            change()
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            change()
            self.invalidateRowsFilter()
