"""The gallery's list model: ordered records, hearts, usage counts and thumbnails."""

from __future__ import annotations

import bisect
import html
import logging
from collections import OrderedDict
from collections.abc import Collection, Iterable, Mapping, Sequence
from itertools import groupby
from operator import attrgetter, gt, itemgetter
from typing import NamedTuple

from PySide6.QtCore import (
    QAbstractListModel,
    QByteArray,
    QMimeData,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QUrl,
    Signal,
)
from PySide6.QtGui import QImage, QPixmap

from gallery_desktop.core.records import GalleryImage, ImageSource, RunRows
from gallery_desktop.core.runs import is_inline_image, short_url
from gallery_desktop.core.thumbnails import FILE_NOT_FOUND, NO_FILE_REASONS
from gallery_desktop.qt.roles import ROLE_NAMES, ImageRole, SortMode, ThumbState

log = logging.getLogger(__name__)

# Carries the dragged images' ids, so a drop target inside the app can tell what it got.
MIME_IMAGE_IDS = "application/x-gallery-image-ids"
TITLE_LENGTH = 60
# Past this many rows moving at once, one re-sort is cheaper than single moves.
MAX_SINGLE_MOVES = 8
_Index = QModelIndex | QPersistentModelIndex
# Keys are unique (they end with the id), so a bisect finds exactly one row.
_Key = tuple[float | int | str, ...]


class _Pending(NamedTuple):
    """A row whose record is not built yet: what placing it takes, and its run (whose
    records are built together when one of them is first needed)."""

    id: str
    run_id: str
    created_ts: float
    post_order: int
    run: RunRows


_Row = GalleryImage | _Pending


def _record_of(pending: _Pending) -> GalleryImage:
    """The built record of a pending row (its run is built)."""
    return pending.run.images[pending.run.ids.index(pending.id)]


def order_key(rec: _Row, mode: SortMode, usage: int = 0) -> _Key:
    """The row order of ``mode``: newest or oldest run first (a run's posts in their order),
    or most used first and then newest; the id makes every key unique."""
    if mode is SortMode.OLDEST:
        return (rec.created_ts, rec.run_id, rec.post_order, rec.id)
    if mode is SortMode.MOST_USED:
        return (-usage, -rec.created_ts, rec.run_id, rec.post_order, rec.id)
    return (-rec.created_ts, rec.run_id, rec.post_order, rec.id)


def order_keys(recs: Iterable[_Row], mode: SortMode,
               usage: Mapping[str, int]) -> list[_Key]:
    """``order_key`` of many records, in one comprehension (sorting 100,000 rows)."""
    if mode is SortMode.OLDEST:
        return [(r.created_ts, r.run_id, r.post_order, r.id) for r in recs]
    if mode is SortMode.MOST_USED:
        used = usage.get
        return [(-used(r.id, 0), -r.created_ts, r.run_id, r.post_order, r.id) for r in recs]
    return [(-r.created_ts, r.run_id, r.post_order, r.id) for r in recs]


class CellValues(NamedTuple):
    """The values one gallery cell is painted from."""

    pixmap: QPixmap | None
    thumb_state: ThumbState
    favorite: bool
    usage: int
    title: str


def short_title(rec: GalleryImage) -> str:
    """The first line of the slide text, shortened, else the slide id."""
    line = rec.slide_text.strip().split("\n", 1)[0].strip()
    if not line:
        return rec.slide_id
    return line if len(line) <= TITLE_LENGTH else line[: TITLE_LENGTH - 1].rstrip() + "…"


def _changed_roles(old: GalleryImage, new: GalleryImage) -> list[int]:
    """The roles whose value differs between two versions of one record."""
    roles: set[int] = {ImageRole.RECORD}
    if old.prompt != new.prompt:
        roles |= {ImageRole.PROMPT, Qt.ItemDataRole.ToolTipRole}
    if old.slide_text != new.slide_text or old.slide_id != new.slide_id:
        roles |= {ImageRole.SLIDE_TEXT, Qt.ItemDataRole.DisplayRole}
    if old.image_path != new.image_path or old.source != new.source:
        roles |= {ImageRole.IMAGE_PATH, ImageRole.THUMB_STATE, ImageRole.THUMB_ERROR,
                  Qt.ItemDataRole.DecorationRole}
    if old.search_text() != new.search_text():
        roles.add(ImageRole.SEARCH_TEXT)
    return sorted(int(r) for r in roles)


class _PixmapCache:
    """Thumbnails by image path, least recently used evicted first, bounded in bytes."""

    def __init__(self, budget_bytes: int) -> None:
        self._budget = budget_bytes
        self._items: OrderedDict[str, QPixmap] = OrderedDict()
        self._bytes = 0

    def get(self, path: str) -> QPixmap | None:
        pixmap = self._items.get(path)
        if pixmap is not None:
            self._items.move_to_end(path)
        return pixmap

    def __contains__(self, path: object) -> bool:
        return path in self._items

    def __len__(self) -> int:
        return len(self._items)

    def put(self, path: str, pixmap: QPixmap) -> list[str]:
        """Store ``pixmap``; returns the paths evicted to stay within budget."""
        self.pop(path)
        self._items[path] = pixmap
        self._bytes += self._size(pixmap)
        evicted: list[str] = []
        while self._bytes > self._budget and len(self._items) > 1:
            old, old_pixmap = self._items.popitem(last=False)
            self._bytes -= self._size(old_pixmap)
            evicted.append(old)
        return evicted

    def pop(self, path: str) -> bool:
        pixmap = self._items.pop(path, None)
        if pixmap is None:
            return False
        self._bytes -= self._size(pixmap)
        return True

    def clear(self) -> list[str]:
        paths = list(self._items)
        self._items.clear()
        self._bytes = 0
        return paths

    @staticmethod
    def _size(pixmap: QPixmap) -> int:
        return pixmap.width() * pixmap.height() * max(1, pixmap.depth() // 8)


# The view asks for every painted cell: combined once, not per call.
_ROW_FLAGS = (Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
              | Qt.ItemFlag.ItemIsDragEnabled | Qt.ItemFlag.ItemNeverHasChildren)


class GalleryModel(QAbstractListModel):
    """All images of one data folder in one ``SortMode`` order (newest first by default);
    hearts and usage counts kept beside the records.

    Rows are found by id through a bisect on the order key (no row numbers are stored, so
    inserting a run at the top costs no re-indexing). Runs handed over as ``RunRows`` (a
    warm start from the run index) are placed, filtered and searched by their ids, orders
    and search texts; their records are built, a run at a time, when a row of theirs is
    first painted or asked for. The model keeps the order itself
    because sorting 100,000 rows in a proxy takes a Python call per comparison (seconds);
    here it is one ``sorted``. ``data()`` does no I/O. ``revision`` grows with every change
    to rows, hearts or counts.

    Signals:
        favorite_set_requested(str image_id, bool value): ``setData(IS_FAVORITE)`` changed
            a heart; whoever owns the favorites store persists it.
        runs_damaged(list[str] run_ids): runs came in whose stored records or search
            texts were damaged (``RunRows.damaged``: their rows show missing images);
            whoever owns the scan reads them again.
    """

    favorite_set_requested = Signal(str, bool)
    runs_damaged = Signal(object)

    def __init__(self, parent: QObject | None = None, *,
                 pixmap_budget_bytes: int = 192 * 1024 * 1024) -> None:
        super().__init__(parent)
        self.revision = 0
        self._order = SortMode.NEWEST
        self._records: list[_Row] = []
        self._keys: list[_Key] = []
        self._by_id: dict[str, _Row] = {}
        self._search: dict[str, str] = {}
        self._ids_by_run: dict[str, set[str]] = {}
        # Files are nearly always shown once: one id per path, a set only for the rest.
        self._id_by_path: dict[str, str] = {}
        self._more_ids_by_path: dict[str, set[str]] = {}
        self._favorites: set[str] = set()
        self._usage: dict[str, int] = {}
        self._favorites_present = 0
        self._pixmaps = _PixmapCache(pixmap_budget_bytes)
        self._broken: dict[str, str] = {}

    # -- Qt overrides -----------------------------------------------------------------------

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._records)

    def roleNames(self) -> dict[int, QByteArray]:
        names = dict(super().roleNames())
        names.update(ROLE_NAMES)
        return names

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return _ROW_FLAGS

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or index.row() >= len(self._records):
            return None
        rec = self._full(index.row())
        if role == ImageRole.IS_FAVORITE:
            return rec.id in self._favorites
        if role == Qt.ItemDataRole.DecorationRole:
            return self._pixmaps.get(rec.image_path) if rec.image_path is not None else None
        if role == ImageRole.THUMB_STATE:
            return self._thumb_state(rec)
        if role == ImageRole.USAGE_COUNT:
            return self._usage.get(rec.id, 0)
        if role == Qt.ItemDataRole.DisplayRole:
            return short_title(rec)
        if role == ImageRole.RECORD:
            return rec
        if role == ImageRole.IMAGE_ID:
            return rec.id
        if role == ImageRole.PROMPT:
            return rec.prompt
        if role == ImageRole.SLIDE_TEXT:
            return rec.slide_text
        if role == ImageRole.RUN_ID:
            return rec.run_id
        if role == ImageRole.IMAGE_PATH:
            return rec.image_path
        if role == ImageRole.CREATED_TS:
            return rec.created_ts
        if role == ImageRole.SEARCH_TEXT:
            return self._search[rec.id]
        if role == ImageRole.THUMB_ERROR:
            return self._broken.get(rec.image_path) if rec.image_path is not None else None
        if role == Qt.ItemDataRole.ToolTipRole:
            # Rich text so long prompts wrap; escaped so a prompt is never read as markup.
            prompt = html.escape(rec.prompt) if rec.prompt else "<i>no prompt</i>"
            why = self._why_no_thumbnail(rec)
            why = f"<br><b>{html.escape(why, quote=False)}</b>" if why else ""
            return f"<qt>{prompt}<br><small>{html.escape(rec.run_id)}</small>{why}</qt>"
        return None

    def _why_no_thumbnail(self, rec: GalleryImage) -> str | None:
        """What the cell's placeholder means, in a sentence (None: a picture shows, or
        will)."""
        state = self._thumb_state(rec)
        if state is ThumbState.BROKEN:
            return f"Can't read image: {self._broken.get(rec.image_path or '')}"
        if state is ThumbState.REMOTE:
            return f"Remote image, not downloaded: {short_url(rec.image_url)}"
        if state is ThumbState.MISSING:
            if rec.source is ImageSource.OUTSIDE:
                if is_inline_image(rec.image_url):
                    return "Not shown: an inline data: URL (only files in the data folder are)"
                return f"Not read: {short_url(rec.image_url)} points outside the data folder"
            return f"Image missing: {rec.image_path or short_url(rec.image_url)}"
        return None

    def setData(self, index: _Index, value: object,
                role: int = Qt.ItemDataRole.EditRole) -> bool:
        """Set a heart optimistically: the row changes now, then the request goes out."""
        if role != ImageRole.IS_FAVORITE or not index.isValid():
            return False
        rec = self._records[index.row()]
        want = bool(value)
        if (rec.id in self._favorites) != want:
            self._set_favorite_flag(rec.id, want)
            self.dataChanged.emit(index, index, [int(ImageRole.IS_FAVORITE)])
            self.favorite_set_requested.emit(rec.id, want)
        return True

    def mimeTypes(self) -> list[str]:
        return ["text/uri-list", "text/plain", MIME_IMAGE_IDS, "application/x-qt-image"]

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.CopyAction

    def mimeData(self, indexes: Sequence[QModelIndex]) -> QMimeData:
        """File URLs and paths of the local images, their ids, and a decoded image if one is
        at hand (the thumbnail: never a read from disk here).

        A file its thumbnail found not there, not a regular file or a link out of the data
        folder is not handed over: no drop elsewhere may read through us what we would not.
        With no file at all, the data carries the ids alone (no URL or text a drop target
        could take).
        """
        rows = sorted({i.row() for i in indexes if i.isValid()})
        recs = [self._full(r) for r in rows]
        local = [r.image_path for r in recs
                 if r.source is ImageSource.LOCAL and r.image_path is not None
                 and not self.has_no_file(r.image_path)]
        mime = QMimeData()
        if local:
            mime.setUrls([QUrl.fromLocalFile(p) for p in local])
            mime.setText("\n".join(local))
        mime.setData(MIME_IMAGE_IDS, QByteArray("\n".join(r.id for r in recs).encode()))
        if len(local) == 1:
            pixmap = self._pixmaps.get(local[0])
            if pixmap is not None:
                mime.setImageData(pixmap.toImage())
        return mime

    # -- lookups ---------------------------------------------------------------------------

    def record(self, row: int) -> GalleryImage:
        """The record shown in ``row`` (raises IndexError when out of range)."""
        if row < 0:
            raise IndexError(row)
        return self._full(row)

    def row_of(self, image_id: str) -> int:
        """The row showing ``image_id``, or -1 when absent."""
        rec = self._by_id.get(image_id)
        if rec is None:
            return -1
        return bisect.bisect_left(self._keys, self._key(rec))

    def index_of(self, image_id: str) -> QModelIndex:
        """The model index of ``image_id`` (invalid when absent)."""
        row = self.row_of(image_id)
        return self.index(row) if row >= 0 else QModelIndex()

    def get(self, image_id: str) -> GalleryImage | None:
        """The record with ``image_id``, if shown."""
        rec = self._by_id.get(image_id)
        return None if rec is None else self._built(rec)

    def ids(self) -> set[str]:
        """Every image id shown (a copy)."""
        return set(self._by_id)

    def ids_of_run(self, run_id: str) -> set[str]:
        """The ids of the images shown for ``run_id`` (a copy)."""
        return set(self._ids_by_run.get(run_id, ()))

    def ids_of_path(self, path: str) -> set[str]:
        """The ids of the images whose file is ``path`` (a copy)."""
        return set(self._ids_for_path(path))

    def accepts(self, row: int, favorites_only: bool, words: Sequence[str]) -> bool:
        """Whether ``row`` passes a filter: a heart if asked, and every (case-folded) word.

        Args:
            row: The row.
            favorites_only: Only rows with a heart pass.
            words: Case-folded words that must all occur in the row's search text.
        """
        image_id = self._records[row].id
        if favorites_only and image_id not in self._favorites:
            return False
        text = self._search[image_id]
        return all(w in text for w in words)

    def accept_flags(self, favorites_only: bool, words: Sequence[str]) -> list[bool]:
        """``accepts`` for every row at once, in one pass (for a proxy's re-filter)."""
        recs, favorites, search = self._records, self._favorites, self._search
        if not words:
            return [r.id in favorites for r in recs] if favorites_only else [True] * len(recs)
        if favorites_only:
            return [r.id in favorites and all(w in search[r.id] for w in words) for r in recs]
        return [all(w in search[r.id] for w in words) for r in recs]

    def is_favorite(self, image_id: str) -> bool:
        """Whether ``image_id`` is a favorite as the model shows it."""
        return image_id in self._favorites

    def usage_count(self, image_id: str) -> int:
        """The usage count the model shows for ``image_id``."""
        return self._usage.get(image_id, 0)

    def built_count(self) -> int:
        """How many rows have their record built (the rest are placed, not built)."""
        return sum(1 for rec in self._records if rec.__class__ is not _Pending)

    def favorite_count(self) -> int:
        """How many of the rows carry a heart."""
        return self._favorites_present

    def cell_values(self, row: int) -> CellValues | None:
        """What a cell paints for ``row``, in one call instead of one ``data`` call per role.

        Args:
            row: a source row.

        Returns:
            The values, or None when ``row`` is out of range.
        """
        if not 0 <= row < len(self._records):
            return None
        rec = self._full(row)
        pixmap = self._pixmaps.get(rec.image_path) if rec.image_path is not None else None
        return CellValues(pixmap, self._thumb_state(rec), rec.id in self._favorites,
                          self._usage.get(rec.id, 0), short_title(rec))

    # -- rows ------------------------------------------------------------------------------

    def insert_images(self, images: Iterable[GalleryImage],
                      search_texts: Mapping[str, str] | None = None) -> int:
        """Insert records at their sorted places; a known id is updated instead.

        Consecutive records that land in one place go in with one ``beginInsertRows``.

        Args:
            images: The records.
            search_texts: ``search_text()`` by id, when a worker thread made them already.

        Returns:
            How many rows were inserted.
        """
        return self._insert(images, search_texts)

    def insert_runs(self, runs: Iterable[RunRows]) -> int:
        """Insert the rows of runs, built or not (see the class notes): the scanner's way in.

        A run with an id that is shown already is built now and goes in as records (its
        rows updated, as ``insert_images`` does).

        Returns:
            How many rows were inserted.
        """
        runs = list(runs)
        batch_ids = [image_id for run in runs for image_id in run.ids]
        if len(set(batch_ids)) != len(batch_ids):
            # An id twice among these runs (the scanner hands out each id once): their
            # records settle it as insert_images does, the first in row order kept.
            inserted = self._insert([image for run in runs for image in run.images])
            self._report_damaged(runs)
            return inserted
        rows: list[_Row] = []
        texts: list[str] = []
        built: list[GalleryImage] = []
        new = tuple.__new__
        by_id = self._by_id
        for run in runs:
            ids = run.ids
            if not by_id.keys().isdisjoint(ids):
                built.extend(run.images)
                continue
            run_id, created_ts = run.run_id, run.created_ts
            rows.extend([new(_Pending, (image_id, run_id, created_ts, order, run))
                         for image_id, order in zip(ids, run.orders, strict=True)])
            texts.extend(run.search_texts)
        keys = order_keys(rows, self._order, self._usage)
        if any(map(gt, keys, keys[1:])):  # runs come in order nearly always
            keyed = sorted(zip(keys, rows, texts, strict=True), key=itemgetter(0))
            keys, rows, texts = map(list, zip(*keyed, strict=True))
        self._insert_sorted(keys, rows, texts)
        inserted = len(rows) + (self._insert(built) if built else 0)
        self._report_damaged(runs)
        return inserted

    def _report_damaged(self, runs: Iterable[RunRows]) -> None:
        """Announce the runs whose records or search texts turned out damaged so far."""
        damaged = [run.run_id for run in runs if run.damaged]
        if damaged:
            self.runs_damaged.emit(damaged)

    def _insert(self, images: Iterable[GalleryImage],
                search_texts: Mapping[str, str] | None = None) -> int:
        fresh: list[GalleryImage] = []
        for rec in images:
            if rec.id in self._by_id:
                self.update_image(rec)
            else:
                fresh.append(rec)
        if not fresh:
            return 0
        keyed = sorted(zip(order_keys(fresh, self._order, self._usage), fresh, strict=True),
                       key=itemgetter(0))
        seen: set[str] = set()
        keys: list[_Key] = []
        rows: list[GalleryImage] = []
        for key, rec in keyed:
            if rec.id not in seen:  # the first of duplicate ids wins, as in the scan
                seen.add(rec.id)
                keys.append(key)
                rows.append(rec)
        given = (search_texts or {}).get
        self._insert_sorted(keys, rows, [given(r.id) or r.search_text() for r in rows])
        return len(rows)

    def _insert_sorted(self, keys: Sequence[_Key], rows: Sequence[_Row],
                       texts: Sequence[str]) -> None:
        """Insert new rows whose ``keys`` are sorted, with their search ``texts``.

        Rows that land in one place go in with one ``beginInsertRows``; a bisect per such
        group finds where, and how far it reaches (not one per row: a scan's batch mostly
        lands in one place).
        """
        shown = self._keys
        groups: list[tuple[int, int, int]] = []  # (row, first, end) of keys/rows/texts
        first, pos = 0, 0
        while first < len(keys):
            pos = bisect.bisect_left(shown, keys[first], pos)
            end = len(keys) if pos == len(shown) else bisect.bisect_left(keys, shown[pos], first)
            groups.append((pos, first, end))
            first = end
        # From the bottom up, so that the positions of the groups above stay valid.
        for pos, first, end in reversed(groups):
            self.beginInsertRows(QModelIndex(), pos, pos + end - first - 1)
            self.revision += 1
            recs = rows[first:end]
            self._records[pos:pos] = recs
            shown[pos:pos] = keys[first:end]
            self._add_lookups(recs, texts[first:end])
            self.endInsertRows()

    def remove_images(self, image_ids: Iterable[str]) -> int:
        """Remove the rows of these ids (unknown ids are ignored); returns how many went."""
        rows = sorted({r for r in (self.row_of(i) for i in set(image_ids)) if r >= 0})
        ranges: list[list[int]] = []
        for row in rows:
            if ranges and ranges[-1][1] == row - 1:
                ranges[-1][1] = row
            else:
                ranges.append([row, row])
        for first, last in reversed(ranges):
            self.beginRemoveRows(QModelIndex(), first, last)
            self.revision += 1
            for rec in self._records[first:last + 1]:
                self._drop_lookups(rec)
            del self._records[first:last + 1]
            del self._keys[first:last + 1]
            self.endRemoveRows()
        return len(rows)

    def update_image(self, rec: GalleryImage) -> bool:
        """Replace the shown record with the same id; moves the row if its order changed.

        Returns True when anything changed.
        """
        old = self.get(rec.id)
        if old is None or old == rec:
            return False
        row = self.row_of(rec.id)
        self.revision += 1
        self._records[row] = rec
        self._by_id[rec.id] = rec
        self._search[rec.id] = rec.search_text()
        if old.run_id != rec.run_id:
            self._drop_run_id(old)
            self._ids_by_run.setdefault(rec.run_id, set()).add(rec.id)
        if old.image_path != rec.image_path:
            # Only then: the thumbnail of an unchanged file stays (a caption was edited).
            self._drop_path(old)
            self._add_path(rec)
        elif old.source != rec.source and rec.image_path is not None:
            # The file came or went: what was loaded (or failed to) no longer holds.
            self._pixmaps.pop(rec.image_path)
            self._broken.pop(rec.image_path, None)
        if self._key(old) != self._key(rec):
            self._move(row)  # a move, not a removal: selection and current index stay
            row = self.row_of(rec.id)
        idx = self.index(row)
        self.dataChanged.emit(idx, idx, _changed_roles(old, rec))
        return True

    def replace_runs(self, runs: Mapping[str, Sequence[GalleryImage]]) -> None:
        """Make the rows of each given run equal to its images, as a diff.

        Gone images are removed, new ones inserted in order and changed ones updated in
        place, so views keep their selection and scroll position (no model reset).
        """
        gone: list[str] = []
        fresh: list[GalleryImage] = []
        # An id that moves from one run to another in the same change stays (and moves).
        new_ids = {rec.id for images in runs.values() for rec in images}
        for run_id, images in runs.items():
            gone.extend(i for i in self._ids_by_run.get(run_id, ()) if i not in new_ids)
            for rec in images:
                if rec.id in self._by_id:
                    self.update_image(rec)
                else:
                    fresh.append(rec)
        self.remove_images(gone)
        self.insert_images(fresh)

    def clear(self) -> None:
        """Forget every row, heart, count and thumbnail (a reset: for another folder)."""
        self.beginResetModel()
        self.revision += 1
        self._favorites.clear()
        self._usage.clear()
        self._records.clear()
        self._keys.clear()
        self._by_id.clear()
        self._search.clear()
        self._ids_by_run.clear()
        self._id_by_path.clear()
        self._more_ids_by_path.clear()
        self._favorites_present = 0
        self._pixmaps.clear()
        self._broken.clear()
        self.endResetModel()

    # -- hearts and usage ------------------------------------------------------------------

    def set_favorite_state(self, image_id: str, value: bool) -> None:
        """Show ``value`` as the heart of ``image_id`` without requesting a write."""
        if (image_id in self._favorites) == value:
            return
        self._set_favorite_flag(image_id, value)
        self._emit_for_id(image_id, [ImageRole.IS_FAVORITE])

    def set_usage_count(self, image_id: str, count: int) -> None:
        """Show ``count`` as the usage of ``image_id`` (in most-used order the row moves)."""
        if self._usage.get(image_id, 0) == count:
            return
        old_row = self.row_of(image_id)
        self.revision += 1
        if count:
            self._usage[image_id] = count
        else:
            self._usage.pop(image_id, None)
        if old_row >= 0 and self._order is SortMode.MOST_USED:
            self._move(old_row)
        self._emit_for_id(image_id, [ImageRole.USAGE_COUNT])

    # -- order -----------------------------------------------------------------------------

    def order(self) -> SortMode:
        """The order rows are in."""
        return self._order

    def set_order(self, mode: SortMode) -> None:
        """Put the rows in ``mode`` order: one layout change; selections follow their rows."""
        mode = SortMode(mode)
        if mode is not self._order:
            self._order = mode
            self._resort()

    def apply_favorites(self, favorites: Collection[str], usage: Mapping[str, int], *,
                        keep: Collection[str] = ()) -> list[str]:
        """Take the store's hearts and counts; only changed rows get ``dataChanged``.

        Args:
            favorites: every favorite id in the store.
            usage: every usage count in the store.
            keep: ids whose heart has a write pending: their optimistic value stays.

        Returns:
            The ids whose heart changed.
        """
        wanted = favorites if isinstance(favorites, (set, frozenset)) else set(favorites)
        flipped = [i for i in self._favorites.symmetric_difference(wanted) if i not in keep]
        for image_id in flipped:
            self.set_favorite_state(image_id, image_id in wanted)
        counted = [i for i in set(self._usage).union(usage)
                   if self._usage.get(i, 0) != usage.get(i, 0)]
        if self._order is SortMode.MOST_USED and len(counted) > MAX_SINGLE_MOVES:
            for image_id in counted:  # many rows move: set them all, then sort once
                self._usage[image_id] = int(usage.get(image_id, 0))
                if not self._usage[image_id]:
                    del self._usage[image_id]
            self.revision += 1
            self._resort()
            for image_id in counted:
                self._emit_for_id(image_id, [ImageRole.USAGE_COUNT])
        else:
            for image_id in counted:
                self.set_usage_count(image_id, int(usage.get(image_id, 0)))
        return flipped

    # -- thumbnails ------------------------------------------------------------------------

    def set_thumbnail(self, path: str, image: QImage) -> None:
        """Slot for a decoded thumbnail: becomes a pixmap here, on the GUI thread."""
        if path not in self._id_by_path or image.isNull():
            return
        self._broken.pop(path, None)
        for evicted in self._pixmaps.put(path, QPixmap.fromImage(image)):
            self._emit_for_path(evicted, [Qt.ItemDataRole.DecorationRole, ImageRole.THUMB_STATE])
        self._emit_for_path(path, [Qt.ItemDataRole.DecorationRole, ImageRole.THUMB_STATE,
                                   ImageRole.THUMB_ERROR])

    def set_thumbnail_failed(self, path: str, reason: str) -> None:
        """Slot for an image that could not be decoded: the broken placeholder shows (the
        missing one when the reason is ``FILE_NOT_FOUND``)."""
        if path not in self._id_by_path:
            return
        if self._broken.get(path) == reason:
            return  # asked again (the periodic look): nothing to repaint
        self._pixmaps.pop(path)
        self._broken[path] = reason
        self._emit_for_path(path, [Qt.ItemDataRole.DecorationRole, ImageRole.THUMB_STATE,
                                   ImageRole.THUMB_ERROR])

    def invalidate_thumbnail(self, path: str) -> bool:
        """Forget the thumbnail of ``path`` (the file changed); returns whether it is shown."""
        had = self._pixmaps.pop(path) | (self._broken.pop(path, None) is not None)
        if had:
            self._emit_for_path(path, [Qt.ItemDataRole.DecorationRole, ImageRole.THUMB_STATE,
                                       ImageRole.THUMB_ERROR])
        return path in self._id_by_path

    def clear_thumbnails(self) -> None:
        """Forget every pixmap (the thumbnail size changed)."""
        for path in self._pixmaps.clear():
            self._emit_for_path(path, [Qt.ItemDataRole.DecorationRole, ImageRole.THUMB_STATE])

    def has_thumbnail(self, path: str) -> bool:
        """Whether a pixmap for ``path`` is at hand."""
        return path in self._pixmaps

    def thumbnail_missing(self, path: str) -> bool:
        """Whether the file ``path`` was not there when its thumbnail was made."""
        return self._broken.get(path) == FILE_NOT_FOUND

    def has_no_file(self, path: str) -> bool:
        """Whether making the thumbnail of ``path`` found no file to hand over: not there,
        not a regular file, or a link out of the data folder (a file that could not be
        decoded may still be copied whole)."""
        return self._broken.get(path) in NO_FILE_REASONS

    def needs_thumbnail(self, row: int) -> str | None:
        """The path to decode for ``row``, or None when it has a pixmap or nothing to load."""
        rec = self._full(row)
        if self._thumb_state(rec) is ThumbState.LOADING:
            return rec.image_path
        return None

    # -- internals -------------------------------------------------------------------------

    def _full(self, row: int) -> GalleryImage:
        """The record in ``row``, built (with the rest of its run) if it was not yet."""
        return self._built(self._records[row])

    def _built(self, rec: _Row) -> GalleryImage:
        """``rec``'s record: a pending row's run is built (and put in place) first."""
        if isinstance(rec, _Pending):
            self._build_run(rec.run)
            return _record_of(rec)  # the very record now in its place, if it was found
        return rec

    def _build_run(self, run: RunRows) -> None:
        """Put the built records of ``run`` in place of its pending rows (same keys, same
        rows: nothing moves, and nothing is announced, as no value a view saw changes).

        A row is found by its key; while a change is under way (an order or a count set,
        its layout or move not done yet) the key may not lead to it, and the row then stays
        pending until it is asked for again.
        """
        records, keys = self._records, self._keys
        fresh = not run.built
        images = run.images
        if fresh and run.damaged:
            self._report_damaged((run,))
        for rec in images:
            pending = self._by_id.get(rec.id)
            if not isinstance(pending, _Pending) or pending.run is not run:
                continue  # removed or replaced since
            row = bisect.bisect_left(keys, self._key(pending))
            if row < len(records) and records[row] is pending:
                records[row] = rec
                self._by_id[rec.id] = rec
                self._add_path(rec)

    def _thumb_state(self, rec: GalleryImage) -> ThumbState:
        if rec.source is ImageSource.REMOTE:
            return ThumbState.REMOTE
        path = rec.image_path
        if rec.source is not ImageSource.LOCAL or path is None:
            return ThumbState.MISSING
        if path in self._pixmaps:
            return ThumbState.READY
        reason = self._broken.get(path)
        if reason is not None:
            # A scan does not look at image files: a missing one is learnt from its thumbnail.
            return ThumbState.MISSING if reason == FILE_NOT_FOUND else ThumbState.BROKEN
        return ThumbState.LOADING

    def _key(self, rec: _Row) -> _Key:
        return order_key(rec, self._order, self._usage.get(rec.id, 0))

    def _move(self, row: int) -> None:
        """Move the row ``row`` to where its (changed) key now sorts."""
        rec = self._records[row]
        key = self._key(rec)
        dest = bisect.bisect_left(self._keys, key)
        if dest in (row, row + 1):  # it stays where it is
            self._keys[row] = key
            return
        self.beginMoveRows(QModelIndex(), row, row, QModelIndex(), dest)
        del self._records[row]
        del self._keys[row]
        new_row = dest if dest < row else dest - 1
        self._records.insert(new_row, rec)
        self._keys.insert(new_row, key)
        self.endMoveRows()

    def _resort(self) -> None:
        """Sort every row by the current key, keeping persistent indexes on their records."""
        self.layoutAboutToBeChanged.emit()
        self.revision += 1
        persistent = self.persistentIndexList()
        ids = [self._records[i.row()].id for i in persistent]
        keyed = sorted(zip(order_keys(self._records, self._order, self._usage), self._records,
                           strict=True), key=itemgetter(0))
        self._keys[:] = [key for key, _ in keyed]
        self._records[:] = [rec for _, rec in keyed]
        self.changePersistentIndexList(persistent, [self.index_of(i) for i in ids])
        self.layoutChanged.emit()

    def _set_favorite_flag(self, image_id: str, value: bool) -> None:
        self.revision += 1
        if value:
            self._favorites.add(image_id)
        else:
            self._favorites.discard(image_id)
        if image_id in self._by_id:
            self._favorites_present += 1 if value else -1

    def _add_lookups(self, recs: Sequence[_Row], texts: Sequence[str]) -> None:
        # Whole-batch dict updates: this runs for every row a scan delivers.
        ids = [rec.id for rec in recs]
        self._by_id.update(zip(ids, recs, strict=True))
        self._search.update(zip(ids, texts, strict=True))
        by_run = self._ids_by_run
        # Rows come sorted, so a run's rows are together: one set update per run.
        for run_id, group in groupby(recs, attrgetter("run_id")):
            run_ids = by_run.get(run_id)
            if run_ids is None:
                by_run[run_id] = {rec.id for rec in group}
            else:
                run_ids.update(rec.id for rec in group)
        for rec in recs:
            if rec.__class__ is not _Pending:  # a pending row's file is noted when built
                self._add_path(rec)  # type: ignore[arg-type]
        if self._favorites:
            self._favorites_present += len(self._favorites.intersection(ids))

    def _add_path(self, rec: GalleryImage) -> None:
        """Note that ``rec`` shows its file."""
        path = rec.image_path
        if path is not None and self._id_by_path.setdefault(path, rec.id) != rec.id:
            self._more_ids_by_path.setdefault(path, set()).add(rec.id)

    def _drop_lookups(self, rec: _Row) -> None:
        del self._by_id[rec.id]
        del self._search[rec.id]
        self._drop_run_id(rec)
        if rec.__class__ is not _Pending:
            self._drop_path(rec)  # type: ignore[arg-type]
        if rec.id in self._favorites:
            self._favorites_present -= 1

    def _drop_run_id(self, rec: _Row) -> None:
        run_ids = self._ids_by_run.get(rec.run_id)
        if run_ids is not None:
            run_ids.discard(rec.id)
            if not run_ids:
                del self._ids_by_run[rec.run_id]

    def _drop_path(self, rec: GalleryImage) -> None:
        """Forget that ``rec`` shows its file; the thumbnail goes when nobody else does."""
        path = rec.image_path
        if path is not None:
            extra = self._more_ids_by_path.get(path)
            if self._id_by_path.get(path) == rec.id:
                if extra:
                    self._id_by_path[path] = extra.pop()
                else:
                    del self._id_by_path[path]
                    # Nobody shows this file any more: let its pixmap go.
                    self._pixmaps.pop(path)
                    self._broken.pop(path, None)
            elif extra is not None:
                extra.discard(rec.id)
            if extra is not None and not extra:
                del self._more_ids_by_path[path]

    def _ids_for_path(self, path: str) -> list[str]:
        first = self._id_by_path.get(path)
        if first is None:
            return []
        return [first, *self._more_ids_by_path.get(path, ())]

    def _emit_for_id(self, image_id: str, roles: Sequence[int]) -> None:
        row = self.row_of(image_id)
        if row >= 0:
            idx = self.index(row)
            self.dataChanged.emit(idx, idx, [int(r) for r in roles])

    def _emit_for_path(self, path: str, roles: Sequence[int]) -> None:
        for image_id in self._ids_for_path(path):
            self._emit_for_id(image_id, roles)


__all__ = ["MIME_IMAGE_IDS", "GalleryModel", "short_title"]
