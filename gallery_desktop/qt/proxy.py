"""The view's order and filter over the gallery model: favorites only, search, sort mode."""

from __future__ import annotations

import logging

from PySide6.QtCore import (
    QAbstractItemModel,
    QIdentityProxyModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)

from gallery_desktop.core.records import fold
from gallery_desktop.qt.model import GalleryModel
from gallery_desktop.qt.roles import ImageRole, SortMode

log = logging.getLogger(__name__)

_Index = QModelIndex | QPersistentModelIndex


class _FilterProxy(QSortFilterProxyModel):
    """One fixed heart filter (all rows, or favorites only) plus the search words.

    Over a ``GalleryModel`` it never sorts: the model takes the order (one Python sort
    instead of a Python call per comparison) and rows pass through in that order. A filter
    change computes every row's verdict in one pass first, so Qt's per-row callback is a
    list lookup. Dynamic filtering stays on, with the heart as filter role: a heart change
    re-filters only its row. Over other models it filters and sorts by the ``ImageRole``
    values like any QSortFilterProxyModel.
    """

    def __init__(self, favorites_only: bool, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.favorites_only = favorites_only
        self.words: tuple[str, ...] = ()
        self.mode = SortMode.NEWEST
        # Set when the words changed while another proxy was shown: refreshed on demand.
        self.stale = False
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

    def refresh(self) -> None:
        """Re-filter every row for the current words (one layout change)."""
        self.stale = False
        self._prime_verdicts()
        # One layout change, not Qt's remove/insert per range of rows: with 100,000 rows
        # and a scattered filter the view would relayout for each of thousands of ranges.
        self.invalidate()

    def filterAcceptsRow(self, source_row: int, source_parent: _Index) -> bool:
        gallery = self._gallery
        if gallery is not None:
            if not self.words and not self.favorites_only:
                return True  # the unfiltered view: asked once for every row a scan adds
            verdicts = self._verdicts
            if verdicts is not None and verdicts[0] == gallery.revision:
                return verdicts[1][source_row]
            return gallery.accepts(source_row, self.favorites_only, self.words)
        idx = self.sourceModel().index(source_row, 0, source_parent)
        if self.favorites_only and not idx.data(ImageRole.IS_FAVORITE):
            return False
        text = fold(str(idx.data(ImageRole.SEARCH_TEXT) or ""))
        return all(w in text for w in self.words)

    def apply_sort(self, mode: SortMode) -> None:
        """Sort by ``mode`` itself (only used over models other than ``GalleryModel``)."""
        self.mode = mode
        if mode is SortMode.NEWEST:
            self.sort(-1)
        else:
            if self.sortColumn() == 0:
                self.sort(-1)  # Qt skips sort() when column and order are unchanged
            self.sort(0, Qt.SortOrder.AscendingOrder)

    def lessThan(self, source_left: _Index, source_right: _Index) -> bool:
        # Only used over models other than GalleryModel (see the class docstring).
        if self.mode is SortMode.MOST_USED:
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

    def _prime_verdicts(self) -> None:
        gallery = self._gallery
        if gallery is not None:
            self._verdicts = (gallery.revision,
                              gallery.accept_flags(self.favorites_only, self.words))


class GalleryProxy(QIdentityProxyModel):
    """Filters by heart and search words, and orders by ``SortMode``.

    Two filtering proxies sit over the model, both kept up to date row by row: one with
    every row and one with favorites only. This proxy shows one of them; the favorites-only
    switch changes which (a model reset, mapped in C++), so it costs no Python call per
    row. A search change re-filters the proxy shown and marks the other for a refresh when
    it is next shown. Use ``map_to_model`` / ``map_from_model`` to reach the model's rows.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._all = _FilterProxy(False, self)
        self._favorites = _FilterProxy(True, self)
        self._model: QAbstractItemModel | None = None
        self._mode = SortMode.NEWEST
        super().setSourceModel(self._all)

    def setSourceModel(self, model: QAbstractItemModel) -> None:
        """Filter and order ``model`` (the bottom model, not one of the inner proxies)."""
        self._model = model
        for inner in (self._all, self._favorites):
            inner.setSourceModel(model)  # the shown one's reset passes through this proxy
            inner.stale = False
        if isinstance(model, GalleryModel):
            model.set_order(self._mode)
        elif self._mode is not SortMode.NEWEST:
            for inner in (self._all, self._favorites):
                inner.apply_sort(self._mode)

    def bottom_model(self) -> QAbstractItemModel | None:
        """The model being filtered and ordered."""
        return self._model

    def map_to_model(self, index: _Index) -> QModelIndex:
        """This proxy's ``index`` as an index of the bottom model (invalid if ``index`` is)."""
        if not index.isValid():
            return QModelIndex()
        inner = self.mapToSource(index)
        model = inner.model()
        if not isinstance(model, _FilterProxy):
            return QModelIndex()
        return model.mapToSource(inner)

    def map_from_model(self, index: _Index) -> QModelIndex:
        """The bottom model's ``index`` as an index of this proxy (invalid if filtered out)."""
        return self.mapFromSource(self._shown().mapFromSource(index))

    # -- filter ----------------------------------------------------------------------------

    def set_favorites_only(self, on: bool) -> None:
        """Show only the rows with a heart (True) or every row (False).

        The switch resets this model: views keep their current item by mapping it
        through ``map_to_model`` before and ``map_from_model`` after.
        """
        if on == self.favorites_only():
            return
        target = self._favorites if on else self._all
        if target.stale:
            target.refresh()  # not shown yet: no view sees this re-filter
        super().setSourceModel(target)

    def favorites_only(self) -> bool:
        """Whether only favorites are shown."""
        return self._shown() is self._favorites

    def set_search_text(self, text: str) -> None:
        """Show only rows whose prompt, slide text, topic, model or run id contain every word.

        Matching ignores case and accents ("cafe" finds "Café"); an empty text shows
        everything.
        """
        words = tuple(dict.fromkeys(fold(text).split()))
        if words == self._shown().words:
            return
        shown = self._shown()
        for inner in (self._all, self._favorites):
            inner.words = words
            # The hidden one filters rows that arrive with the new words; the rest wait.
            inner.stale = inner is not shown
        shown.refresh()

    def search_text(self) -> str:
        """The words searched for, joined by spaces."""
        return " ".join(self._shown().words)

    # -- order -----------------------------------------------------------------------------

    def set_sort_mode(self, mode: SortMode) -> None:
        """Order rows newest first, oldest first, or by usage count (then newest first)."""
        mode = SortMode(mode)
        if mode is self._mode:
            return
        self._mode = mode
        if isinstance(self._model, GalleryModel):
            self._model.set_order(mode)  # both inner proxies pass the model's order
            return
        for inner in (self._all, self._favorites):
            inner.apply_sort(mode)

    def sort_mode(self) -> SortMode:
        """The current order."""
        return self._mode

    # -- helpers ---------------------------------------------------------------------------

    def _shown(self) -> _FilterProxy:
        return self._favorites if self.sourceModel() is self._favorites else self._all
