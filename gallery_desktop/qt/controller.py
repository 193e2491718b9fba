"""Wires one data folder's scanner, favorites, thumbnails and watcher to the model."""

from __future__ import annotations

import gc
import logging
import math
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer, Signal, SignalInstance, Slot
from PySide6.QtGui import QGuiApplication, QImage

from gallery_desktop.core.favorites import FavoritesStore
from gallery_desktop.core.records import GalleryImage, ScanReport, SkippedItem
from gallery_desktop.core.runs import NO_RUNS_FOLDER, RUNS_DIRNAME
from gallery_desktop.core.thumbcache import ThumbnailCache
from gallery_desktop.core.thumbprune import DEFAULT_BUDGET_BYTES, PruneResult, prune_cache
from gallery_desktop.qt.favorites_service import FavoritesService
from gallery_desktop.qt.model import GalleryModel
from gallery_desktop.qt.proxy import GalleryProxy
from gallery_desktop.qt.roles import ImageRole
from gallery_desktop.qt.scanner import FOLDER_REASONS, RunScanner, index_file_for
from gallery_desktop.qt.thumbnails import ThumbnailLoader
from gallery_desktop.qt.watch_bridge import WatchBridge

log = logging.getLogger(__name__)

FAVORITES_FILENAME = "gallery-favorites.json"
_Link = tuple[SignalInstance, Callable[..., object]]
RESCAN_INTERVAL_MS = 30_000  # catches what the watcher missed (its queue can overflow)
UNDO_LIMIT = 100
# Thumbnail edges, in device pixels: a cell gets the smallest that covers it, so a few
# sizes share the disk cache and small cells do not hold big pixmaps.
EDGE_STEPS = (160, 256, 384, 512, 768, 1024)
DEFAULT_EDGE = 384


def edge_for(cell_px: int, device_pixel_ratio: float) -> int:
    """The thumbnail edge for a cell of ``cell_px`` logical pixels on this screen."""
    need = math.ceil(cell_px * device_pixel_ratio)
    return next((edge for edge in EDGE_STEPS if edge >= need), EDGE_STEPS[-1])


class GalleryController(QObject):
    """Owns, for one data folder: the favorites store and service, the scanner, the run
    index, the thumbnail loader and the watcher; feeds the model and applies diffs.

    Signals:
        data_dir_changed(object): the folder now shown (Path or None).
        scan_started(): a full scan or an asked-for rescan began.
        scan_progress(int runs_done, int images_so_far): during a full scan.
        scan_finished(object): the ScanReport (its ``images`` is empty: rows are in the model).
        problems_changed(object): list[SkippedItem]: data problems, the favorites file's too.
        write_failed(str): a heart write failed and was rolled back: file + error.
        save_failed(str): something could not be saved and nothing was rolled back (a
            use not counted, a heart of a folder no longer open): the whole message.
        counts_changed(int images, int favorites): the numbers for the status bar.
        thumbnail_cache_pruned(object): the PruneResult of the pass over the thumbnail disk
            cache made once per session after the first scan (emitted from its thread).
        idle_changed(bool): True when scans, writes and wanted thumbnails are all done.
        image_files_changed(object): the image files at these paths (a set of strings)
            changed: one signal for a burst, not one per file. Said by the watcher, or by a
            thumbnail of a file that was missing.
    """

    data_dir_changed = Signal(object)
    scan_started = Signal()
    scan_progress = Signal(int, int)
    scan_finished = Signal(object)
    problems_changed = Signal(object)
    write_failed = Signal(str)
    save_failed = Signal(str)
    counts_changed = Signal(int, int)
    idle_changed = Signal(bool)
    thumbnail_cache_pruned = Signal(object)
    image_files_changed = Signal(object)

    def __init__(self, cache_dir: Path, parent: QObject | None = None, *,
                 rescan_interval_ms: int = RESCAN_INTERVAL_MS,
                 watch_debounce_ms: int = 200,
                 thumbnail_cache_budget: int = DEFAULT_BUDGET_BYTES) -> None:
        super().__init__(parent)
        self._thumb_budget = thumbnail_cache_budget
        self._pruner: threading.Thread | None = None
        self.model = GalleryModel(self)
        self.proxy = GalleryProxy(self)
        self.proxy.setSourceModel(self.model)
        self._cache_dir = cache_dir
        self._data_dir: Path | None = None
        self._watch_after_scan = False  # start watching when the first scan is done
        self._service: FavoritesService | None = None
        # Services of folders no longer open, finishing their queued writes.
        self._retired_services: set[FavoritesService] = set()
        self._favorites_problem: SkippedItem | None = None
        self._scan_problems: list[SkippedItem] = []
        self._undo: list[tuple[str, bool]] = []  # (image id, heart before the change)
        self._undoing = False
        self._visible_rows: list[int] = []
        self._visible_paths: set[str] = set()
        self._cell_px = 0
        self._counts = (-1, -1)
        self._idle = True
        self._closed = False

        self._scanner = RunScanner(self)
        self._scanner.runs_ready.connect(self.model.insert_runs)
        self._scanner.progress.connect(self._on_progress)
        self._scanner.runs_changed.connect(self._on_runs_changed)
        self._scanner.problems_changed.connect(self._on_scan_problems)
        self._scanner.finished.connect(self._on_scan_finished)
        self._scanner.busy_changed.connect(self._update_idle)
        self._loader = self._make_loader(DEFAULT_EDGE)
        self._watch = WatchBridge(watch_debounce_ms, self)
        self._watch.runs_changed.connect(self._on_watched_runs)
        self._watch.favorites_changed.connect(self._on_watched_favorites)
        self._watch.images_changed.connect(self._on_watched_images)
        self._watch.data_dir_changed.connect(self._on_watched_data_dir)
        # What changed while the watches were being set up was not reported: look again.
        self._watch.armed.connect(self._on_watch_armed)
        self.model.favorite_set_requested.connect(self._on_favorite_set_requested)
        # Queued: a run is built while a row is painted, and the answer comes from the
        # scanner anyway.
        self.model.runs_damaged.connect(self._on_runs_damaged,
                                        Qt.ConnectionType.QueuedConnection)
        for signal in (self.model.rowsInserted, self.model.rowsRemoved, self.model.modelReset):
            signal.connect(self._emit_counts)
        self.model.dataChanged.connect(self._on_model_data_changed)
        # Heart changes update the counts once control is back in the event loop: a click's
        # setData returns before the status bar re-lays out, and a burst shows once.
        self._counts_timer = QTimer(self)
        self._counts_timer.setSingleShot(True)
        self._counts_timer.setInterval(0)
        self._counts_timer.timeout.connect(self._emit_counts)
        self._periodic = QTimer(self)
        self._periodic.setInterval(rescan_interval_ms)
        self._periodic.timeout.connect(self._on_periodic)
        # The loader can drop stale work without a signal: while busy, look again now and then.
        self._idle_poll = QTimer(self)
        self._idle_poll.setInterval(200)
        self._idle_poll.timeout.connect(self._update_idle)

    # -- folder ----------------------------------------------------------------------------

    def open_data_dir(self, path: Path | None) -> None:
        """Show ``path`` (None: nothing): cancels any scan and restarts everything.

        Args:
            path: The data folder, holding ``runs/`` and ``gallery-favorites.json``.
        """
        if self._closed:
            return
        data_dir = Path(path).expanduser().resolve() if path is not None else None
        self._watch_after_scan = False
        self._watch.stop()
        self._periodic.stop()
        self._scanner.open(None)
        self._close_service(wait=False)
        self._undo.clear()
        self._visible_rows, self._visible_paths = [], set()
        self._loader.set_wanted([])
        self.model.clear()
        self._scan_problems, self._favorites_problem = [], None
        self._data_dir = data_dir
        self._loader.set_root(data_dir)
        self._emit_problems()
        self.data_dir_changed.emit(data_dir)
        if data_dir is not None:
            service = FavoritesService(FavoritesStore(data_dir / FAVORITES_FILENAME), self)
            for signal, slot in self._service_links(service):
                signal.connect(slot)
            self._service = service
            service.load()
            self._scanner.open(data_dir, index_file_for(self._cache_dir, data_dir))
            self._scanner.scan()
            self.scan_started.emit()
            # The watches are set up once the first scan is done: setting up one per run
            # folder is Python work that would take turns with the scan for the GIL (half
            # a second more to fill 10,000 runs). What changes meanwhile is caught by the
            # quiet re-scan that follows the arming.
            self._watch_after_scan = True
            self._periodic.start()
        self._update_idle()

    def data_dir(self) -> Path | None:
        """The folder shown, resolved (None when none)."""
        return self._data_dir

    def folder_problem(self) -> str | None:
        """Why the last scan could not list the data folder's runs at all: the folder is
        gone, or unreadable (None: it could, or it merely has no runs folder yet)."""
        if self._data_dir is None:
            return None
        runs = str(self._data_dir / RUNS_DIRNAME)
        for item in self._scan_problems:
            if item.path == runs and item.reason != FOLDER_REASONS[NO_RUNS_FOLDER]:
                return item.reason
        return None

    def rescan(self) -> None:
        """Look at the whole folder again and apply what changed as a diff (no reset)."""
        if self._data_dir is None or self._closed:
            return
        self._scanner.rescan()
        if self._service is not None:
            self._service.reload()
        self.scan_started.emit()

    # -- hearts and usage ------------------------------------------------------------------

    def set_favorite(self, image_id: str, value: bool) -> None:
        """Give ``image_id`` a heart or take it away, through ``model.setData``."""
        row = self.model.row_of(image_id)
        if row >= 0:
            self.model.setData(self.model.index(row), value, ImageRole.IS_FAVORITE)
        elif self.model.is_favorite(image_id) != value:  # not shown: just persist it
            self.model.set_favorite_state(image_id, value)
            self._on_favorite_set_requested(image_id, value)

    def toggle_favorite(self, image_id: str) -> None:
        """Flip the heart of ``image_id``."""
        self.set_favorite(image_id, not self.model.is_favorite(image_id))

    def can_undo(self) -> bool:
        """Whether there is a heart change to undo."""
        return bool(self._undo)

    def undo(self) -> bool:
        """Undo the last heart change (Ctrl+Z); returns False when there is none."""
        while self._undo:
            image_id, before = self._undo.pop()
            if self.model.is_favorite(image_id) == before:
                continue  # already back (rolled back, or changed elsewhere)
            self._undoing = True
            try:
                self.set_favorite(image_id, before)
            finally:
                self._undoing = False
            return True
        return False

    def record_use(self, image_id: str) -> None:
        """Count a use (copied or dragged out): the store adds one off the GUI thread.

        Only of an image shown: a copy finishing after another folder was opened must not
        count in that folder's file.
        """
        if self._service is not None and self.model.get(image_id) is not None:
            self._service.increment_usage(image_id)

    # -- thumbnails ------------------------------------------------------------------------

    def set_visible_rows(self, proxy_rows: Sequence[int]) -> None:
        """Decode the thumbnails of these proxy rows first and drop queued work for others."""
        self._visible_rows = list(proxy_rows)
        wanted: list[str] = []
        visible: set[str] = set()
        for proxy_row in self._visible_rows:
            source = self.proxy.map_to_model(self.proxy.index(proxy_row, 0))
            if not source.isValid():
                continue
            path = self.model.record(source.row()).image_path
            if path is not None:
                visible.add(path)
            if self.model.needs_thumbnail(source.row()) is not None and path is not None:
                wanted.append(path)
        self._visible_paths = visible
        self._loader.set_wanted(wanted)
        for rank, path in enumerate(wanted):
            self._loader.request(path, priority=len(wanted) - rank)
        self._update_idle()

    def set_thumbnail_size(self, px: int) -> None:
        """Use thumbnails that cover cells of ``px`` logical pixels; re-requests if needed."""
        self._cell_px = px
        app = QGuiApplication.instance()
        screen = app.primaryScreen() if isinstance(app, QGuiApplication) else None
        edge = edge_for(px, screen.devicePixelRatio() if screen is not None else 1.0)
        if edge == self._loader.edge or self._closed:
            return
        self._loader.retire()  # no wait for decodes in flight: their results are dropped
        self._loader = self._make_loader(edge)
        self.model.clear_thumbnails()
        self.set_visible_rows(self._visible_rows)

    def thumbnail_edge(self) -> int:
        """The longest side, in device pixels, of the thumbnails being made."""
        return self._loader.edge

    # -- state -----------------------------------------------------------------------------

    def is_idle(self) -> bool:
        """True when no scan runs, no write is pending and the wanted thumbnails are done."""
        return self._idle

    def shutdown(self) -> None:
        """Stop the scan, the watcher and the pools, and flush pending writes (bounded)."""
        if self._closed:
            return
        self._closed = True
        self._periodic.stop()
        self._idle_poll.stop()
        if self._pruner is not None:
            self._pruner.join(timeout=5.0)  # it stops at its next file once _closed is set
        if not self._watch.shutdown():
            log.warning("the folder watcher did not stop in time")
        if not self._scanner.shutdown():
            log.warning("the scanner did not stop in time")
        self._loader.shutdown()
        self._close_service()
        for service in list(self._retired_services):  # earlier folders' last writes
            if not service.shutdown(timeout_s=5.0):
                log.warning("favorites writes for %s did not finish in time",
                            service.store.path)
        self._update_idle()

    # -- internals -------------------------------------------------------------------------

    def _make_loader(self, edge: int) -> ThumbnailLoader:
        loader = ThumbnailLoader(ThumbnailCache(self._cache_dir / "thumbnails"), edge, self)
        loader.set_root(self._data_dir)
        loader.thumbnail_ready.connect(self._on_thumbnail_ready)
        loader.thumbnail_failed.connect(self._on_thumbnail_failed)
        return loader

    def _service_links(self, service: FavoritesService) -> list[_Link]:
        return [(service.loaded, self._on_favorites_loaded),
                (service.reloaded, self._on_favorites_loaded),
                (service.favorite_failed, self._on_favorite_failed),
                (service.usage_saved, self.model.set_usage_count),
                (service.usage_failed, self._on_usage_failed),
                (service.idle_changed, self._update_idle)]

    def _close_service(self, *, wait: bool = True) -> None:
        """Stop the favorites service; ``wait=False`` (another folder) lets it finish alone."""
        service, self._service = self._service, None
        if service is None:
            return
        # Results of the old folder's last jobs must not reach the next folder's rows.
        for signal, slot in self._service_links(service):
            signal.disconnect(slot)
        if not wait:
            # Its queued writes still go to disk, and a failure is still told.
            service.retire()
            if service.is_idle():
                service.deleteLater()
                return
            service.favorite_failed.connect(self._on_closed_folders_favorite_failed)
            service.usage_failed.connect(self._on_usage_failed)
            service.idle_changed.connect(self._reap_retired_services)
            self._retired_services.add(service)
            return
        if service.shutdown(timeout_s=5.0):
            service.deleteLater()
        else:  # a worker still runs and will emit: keep its object alive
            log.warning("favorites writes for %s did not finish in time", service.store.path)

    def _emit_problems(self) -> None:
        problems = list(self._scan_problems)
        if self._favorites_problem is not None:
            problems.insert(0, self._favorites_problem)
        self.problems_changed.emit(problems)

    @Slot()
    def _emit_counts(self) -> None:
        self._counts_timer.stop()
        counts = (self.model.rowCount(), self.model.favorite_count())
        if counts != self._counts:
            self._counts = counts
            self.counts_changed.emit(*counts)

    def _on_model_data_changed(self, _top: object, _bottom: object, roles: list[int]) -> None:
        if (not roles or ImageRole.IS_FAVORITE in roles) and not self._counts_timer.isActive():
            self._counts_timer.start()

    @Slot()
    def _update_idle(self) -> None:
        idle = (self._closed or self._data_dir is None
                or (not self._scanner.is_busy()
                    and (self._service is None or self._service.is_idle())
                    and self._loader.pending() == 0))
        if idle:
            self._idle_poll.stop()
        elif not self._idle_poll.isActive():
            self._idle_poll.start()
        if idle != self._idle:
            self._idle = idle
            self.idle_changed.emit(idle)

    # scanner

    @Slot(int, int)
    def _on_progress(self, runs: int, images: int) -> None:
        self.scan_progress.emit(runs, images)

    @Slot(object)
    def _on_runs_changed(self, changes: dict[str, tuple[GalleryImage, ...]]) -> None:
        self.model.replace_runs(changes)

    @Slot(object)
    def _on_scan_problems(self, problems: list[SkippedItem]) -> None:
        if problems != self._scan_problems:
            self._scan_problems = list(problems)
            self._emit_problems()

    @Slot(object, bool)
    def _on_scan_finished(self, report: ScanReport, quiet: bool) -> None:
        if self._watch_after_scan and self._data_dir is not None:
            self._watch_after_scan = False
            self._watch.start(self._data_dir)
        if not quiet:
            # The records now live as long as the folder is shown. Left to the cyclic GC,
            # every full collection walks all of them: pauses of several ms that land in
            # heart clicks and scrolling (p99 of a toggle at 100,000 rows: ~4 ms -> 0.2 ms).
            # They hold no reference cycles, so reference counting still frees them; the
            # collection first keeps garbage cycles from being frozen in with them.
            gc.collect()
            gc.freeze()
            self.scan_finished.emit(report)
            self._prune_thumbnails_once()
        self._update_idle()

    def _prune_thumbnails_once(self) -> None:
        """Keep the thumbnail disk cache within its budget, on a thread of its own.

        Once per session, after the first scan (the disk is busiest before it): a stat of
        every cached file is seconds of disk time on a cold cache of 100,000 thumbnails.
        """
        if self._pruner is not None:
            return
        folder, budget = self._cache_dir / "thumbnails", self._thumb_budget

        def run() -> None:
            try:
                result = prune_cache(folder, budget, cancelled=lambda: self._closed)
            except OSError as err:
                log.warning("cannot look through the thumbnail cache %s: %s", folder, err)
                result = PruneResult()
            if not self._closed:
                self.thumbnail_cache_pruned.emit(result)

        self._pruner = threading.Thread(target=run, name="thumbnail-cache-prune", daemon=True)
        self._pruner.start()

    # favorites

    @Slot(str, bool)
    def _on_favorite_set_requested(self, image_id: str, value: bool) -> None:
        if not self._undoing:
            self._undo.append((image_id, not value))
            del self._undo[:-UNDO_LIMIT]
        if self._service is not None:
            self._service.set_favorite(image_id, value)
            self._update_idle()

    @Slot(object, object, object)
    def _on_favorites_loaded(self, favorites: frozenset[str], usage: dict[str, int],
                             problem: str | None) -> None:
        keep = self._service.pending_ids() if self._service is not None else set()
        self.model.apply_favorites(favorites, usage, keep=keep)
        self._emit_counts()
        path = self._service.store.path if self._service is not None else Path()
        item = SkippedItem(str(path), problem) if problem else None
        if item != self._favorites_problem:
            self._favorites_problem = item
            self._emit_problems()

    @Slot(str, bool, str, bool)
    def _on_favorite_failed(self, image_id: str, stored: bool, message: str,
                            latest: bool) -> None:
        if latest:  # a newer click for this image is on its way: let that one decide
            self.model.set_favorite_state(image_id, stored)
        self.write_failed.emit(message)

    @Slot(str, str)
    def _on_usage_failed(self, _image_id: str, message: str) -> None:
        self.save_failed.emit(f"{message} — the use was not counted.")

    @Slot()
    def _reap_retired_services(self) -> None:
        for service in [s for s in self._retired_services if s.is_idle()]:
            self._retired_services.discard(service)
            service.deleteLater()

    @Slot(str, bool, str, bool)
    def _on_closed_folders_favorite_failed(self, _image_id: str, _stored: bool, message: str,
                                           latest: bool) -> None:
        if latest:
            self.save_failed.emit(f"{message} — that heart was not saved.")

    # thumbnails

    @Slot(object, QImage)
    def _on_thumbnail_ready(self, path: str, image: QImage) -> None:
        appeared = self.model.thumbnail_missing(path)
        self.model.set_thumbnail(path, image)
        if appeared:  # written since, unseen by the watcher (the periodic look found it)
            self.image_files_changed.emit({path})
        self._update_idle()

    @Slot(object, str)
    def _on_thumbnail_failed(self, path: str, reason: str) -> None:
        self.model.set_thumbnail_failed(path, reason)
        self._update_idle()

    # watcher

    @Slot(object)
    def _on_watched_runs(self, run_ids: set[str]) -> None:
        self._scanner.refresh(run_ids)
        self._update_idle()

    @Slot(object)
    def _on_runs_damaged(self, run_ids: list[str]) -> None:
        # The run index held something unusable for these runs: read them now rather than
        # show their images as missing until the next periodic look.
        if not self._closed:
            self._scanner.refresh(run_ids)
            self._update_idle()

    @Slot()
    def _on_watched_favorites(self) -> None:
        if self._service is not None:
            self._service.reload()

    @Slot(object)
    def _on_watched_images(self, paths: set[Path]) -> None:
        names = {str(changed) for changed in paths}  # records name their files by strings
        self.image_files_changed.emit(names)
        for path in names:
            self.model.invalidate_thumbnail(path)
            self._loader.invalidate(path)
            if path in self._visible_paths:
                self._loader.request(path, priority=1 << 20)
        self._update_idle()

    @Slot()
    def _on_watched_data_dir(self) -> None:
        self.rescan()

    @Slot()
    def _on_watch_armed(self) -> None:
        if self._data_dir is None or self._closed:
            return
        # What changed while there were no watches yet (they are set up after the first
        # scan) was not reported: runs, the favorites file, and shown images alike.
        self._look_again(even_if_busy=True)

    @Slot()
    def _on_periodic(self) -> None:
        self._look_again(even_if_busy=False)

    def _look_again(self, *, even_if_busy: bool) -> None:
        """Catch what no event reported: a quiet re-scan, the favorites file read again,
        and the thumbnails on screen asked for again.

        The re-scan looks at meta.json only: an image written or replaced while no watch saw
        it (before the watches were armed, or when the watcher's queue overflowed, silently)
        would keep its old thumbnail, or stay missing. The shown ones are asked for again at
        the lowest priority: the disk cache is keyed by the file's mtime and size, so an
        unchanged file costs a cache read and a changed one is new; a missing one costs a
        stat. (One that could not be decoded is not tried again every time: events say when
        it changes.)

        Args:
            even_if_busy: re-scan even while the scanner works (the periodic check skips it:
                whatever runs then looks at the runs anyway).
        """
        if even_if_busy or not self._scanner.is_busy():
            self._scanner.rescan(quiet=True)
        if self._service is not None:
            self._service.reload()
        model = self.model
        for path in self._visible_paths:
            if model.has_thumbnail(path) or model.thumbnail_missing(path):
                self._loader.request(path, priority=-1)
        self._update_idle()
