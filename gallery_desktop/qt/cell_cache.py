"""Bounded caches of painted pixmaps for the grid's delegate."""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

from PySide6.QtGui import QPixmap

_K = TypeVar("_K")
_V = TypeVar("_V")


class Bounded(Generic[_K, _V]):
    """A dict that forgets everything once it holds ``limit`` entries (cheap, and bounded)."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._items: dict[_K, _V] = {}

    def get(self, key: _K) -> _V | None:
        return self._items.get(key)

    def put(self, key: _K, value: _V) -> _V:
        if len(self._items) >= self._limit:
            self._items.clear()
        self._items[key] = value
        return value


class CellCache:
    """Pixmaps of whole cells by key; the least recently used go beyond ``budget`` bytes.

    Unlike ``Bounded`` it never forgets everything at once: a full clear would make the
    next frame paint every visible cell again, a pause exactly where scrolling must be
    smooth. A dropped pixmap is handed back for reuse: a new one costs an allocation whose
    pages the kernel faults in and zeroes (~180 us for a 252x241 cell, ~8 us to refill one).
    """

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.used = 0
        self._items: OrderedDict[tuple[object, ...], QPixmap] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: tuple[object, ...]) -> QPixmap | None:
        """The pixmap stored under ``key`` (now the most recently used), or None."""
        found = self._items.get(key)
        if found is not None:
            self._items.move_to_end(key)
        return found

    def put(self, key: tuple[object, ...], pixmap: QPixmap) -> None:
        """Store ``pixmap`` under ``key`` (``take`` made room for it)."""
        self._items[key] = pixmap
        self.used += _pixmap_bytes(pixmap)

    def take(self, width: int, height: int) -> QPixmap:
        """A pixmap of ``width`` x ``height`` device pixels to paint a new entry on.

        Drops the least recently used entries until one that size fits the budget, and
        reuses a dropped one of that size if there is one. Its contents are undefined.
        """
        spare: QPixmap | None = None
        while self._items and self.used + width * height * 4 > self.budget:
            dropped = self._items.popitem(last=False)[1]
            self.used -= _pixmap_bytes(dropped)
            if spare is None and dropped.width() == width and dropped.height() == height:
                spare = dropped
        return spare if spare is not None else QPixmap(width, height)

    def reserve(self, size: int) -> None:
        """Let the cache hold at least ``size`` bytes (the budget never shrinks)."""
        self.budget = max(self.budget, size)

    def clear(self) -> None:
        """Forget every entry."""
        self._items.clear()
        self.used = 0


def _pixmap_bytes(pixmap: QPixmap) -> int:
    return pixmap.width() * pixmap.height() * 4
