"""The grid part: 100,000 images in the real window against a bare QListView floor."""

from __future__ import annotations

import gc
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchlib.datasets import run_id_for
from benchlib.machine import rss_bytes
from benchlib.stats import percentile

log = logging.getLogger(__name__)

WINDOW_SIZE = (1280, 800)
# The real grid's cell at its default 200 px thumbnails in this window (5 columns): the
# floor lays out and paints the same number of cells.
FLOOR_GRID = (252, 241)
FLOOR_ICON = 200
# The real window's viewport at WINDOW_SIZE (toolbar and status bar take the rest): the
# floor's window is sized to show the same area.
FLOOR_VIEWPORT = (1268, 712)


def make_records(count: int, data_dir: Path, favorite_every: int) -> list[Any]:
    """``count`` GalleryImage records, three per run, every ``favorite_every``-th a favorite.

    The image paths name files inside ``data_dir`` that are never created: the grid part
    measures the view without thumbnails, as its RSS target asks.
    """
    from gallery_desktop.core.records import GalleryImage, ImageSource

    records = []
    runs = str(data_dir / "runs")
    for i in range(count):
        run = run_id_for(i // 3)
        slide = f"slide-{i % 3 + 1}"
        records.append(GalleryImage(
            id=f"img_{run}_{slide}", run_id=run, slide_id=slide,
            image_url=f"/data/runs/{run}/{slide}.png",
            image_path=f"{runs}{os.sep}{run}{os.sep}{slide}.png",
            prompt=f"sunlit kitchen, soft morning light, variation {i}",
            slide_text=f"Caption number {i}", created_at=f"2025-01-06T08:00:{i % 60:02d}Z",
            aspect_ratio="4:5", composition="slideshow", model="gpt-4o", topic="Bench",
            usage_count=i % 5, is_favorite=i % favorite_every == 0,
            created_ts=1_736_150_400.0 - i // 3 * 3,  # a run's images share its instant
            post_order=i % 3, source=ImageSource.LOCAL))
    return records


@dataclass
class Subject:
    """What the harness drives: a shown window, its view, and how to fill/filter/toggle."""

    window: Any
    view: Any
    fill: Callable[[list[Any]], None]
    set_favorites_only: Callable[[bool], None]
    favorite_role: int
    close: Callable[[], None]
    ready: Callable[[], None] = lambda: None  # after show: wait until idle before measuring
    idle: Callable[[], bool] = lambda: True  # no write or load in flight


class PaintCounter:
    """Counts paint events reaching a view's viewport (an event filter; paints nothing)."""

    def __init__(self, viewport: Any) -> None:
        from PySide6.QtCore import QEvent, QObject

        paint = QEvent.Type.Paint

        class _Filter(QObject):
            count = 0

            def eventFilter(self, obj: Any, event: Any) -> bool:
                if event.type() == paint:
                    _Filter.count += 1
                return False

        self._filter = _Filter()
        self._cls = _Filter
        viewport.installEventFilter(self._filter)

    @property
    def count(self) -> int:
        """Paint events seen so far."""
        return self._cls.count


def count_delegate_paints(view: Any, first: list[int] | None = None) -> list[int]:
    """Replace the view's delegate by an instance of a subclass that counts ``paint`` calls.

    The subclass adds one Python call per painted cell and changes nothing else; it tells
    a paint that drew cells from one that drew an empty viewport.

    Args:
        view: The view.
        first: If given, ``time.perf_counter_ns()`` of the first cell painted is appended.

    Returns:
        A one-element list holding the running count.
    """
    base = type(view.itemDelegate())
    counter = [0]

    class Counting(base):  # type: ignore[misc, valid-type]
        def paint(self, painter: Any, option: Any, index: Any) -> None:
            if not counter[0] and first is not None:
                first.append(time.perf_counter_ns())
            counter[0] += 1
            super().paint(painter, option, index)

    view.setItemDelegate(Counting(view))
    return counter


def _process_until(app: Any, done: Callable[[], bool], timeout_s: float = 60.0) -> None:
    """Run the event loop until ``done()``; the caller reads the clock when this returns,
    i.e. right after the events (a paint) that made ``done()`` true have been handled.

    Waits for events instead of spinning: a GUI thread spinning in Python would hold the
    GIL and slow the worker threads it is waiting for. A 5 ms timer keeps it waking up.
    """
    from PySide6.QtCore import QEventLoop, QTimer

    if done():
        return
    keepalive = QTimer()
    keepalive.setInterval(5)
    keepalive.start()
    deadline = time.monotonic() + timeout_s
    try:
        while not done():
            app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents)
            if time.monotonic() > deadline:
                raise RuntimeError("the view did not get there in time")
    finally:
        keepalive.stop()


def _wait(app: Any, seconds: float) -> None:
    """Let the event loop run (waiting, not spinning) for ``seconds``."""
    end = time.monotonic() + seconds
    _process_until(app, lambda: time.monotonic() >= end, timeout_s=seconds + 60)


def _settle(app: Any, rounds: int = 3) -> None:
    for _ in range(rounds):
        app.processEvents()


def measure(subject: Subject, records: list[Any], *, steps: int, filter_cycles: int,
            toggles: int) -> dict[str, Any]:
    """Drive ``subject`` through fill, first paint, scrolling, filtering and heart toggles.

    Returns:
        Nanosecond timings (``fill_ns``, ``first_paint_ns``, ``scroll_ns``, ``filter_on_ns``,
        ``filter_off_ns``, ``toggle_ns``), RSS in bytes and counts as checks.
    """
    from PySide6.QtCore import QModelIndex
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    view = subject.view
    viewport = view.viewport()
    painter = PaintCounter(viewport)
    cells = count_delegate_paints(view)
    _settle(app)
    out: dict[str, Any] = {"rss_before_fill": rss_bytes()}

    gc.collect()
    start = time.perf_counter_ns()
    subject.fill(records)
    filled = time.perf_counter_ns()
    seen, seen_cells = painter.count, cells[0]
    _process_until(app, lambda: painter.count > seen and cells[0] > seen_cells)
    painted = time.perf_counter_ns()
    out["fill_ns"] = filled - start
    out["first_paint_ns"] = painted - filled
    out["rows"] = view.model().rowCount(QModelIndex())
    # Batched layouts go on in the background: scroll only once every row is placed.
    last = view.model().index(view.model().rowCount() - 1, 0)
    _process_until(app, lambda: view.visualRect(last).isValid(), timeout_s=300)
    out["layout_done_ns"] = time.perf_counter_ns() - filled
    _settle(app)
    gc.collect()
    out["rss_after_fill"] = rss_bytes()

    bar = view.verticalScrollBar()
    out["scroll_max"] = bar.maximum()
    stride = max(1, viewport.height() // 4)  # a brisk wheel: a quarter of a screen a frame
    scroll_ns: list[int] = []
    for i in range(steps):
        value = min(bar.maximum(), (i + 1) * stride)
        t0 = time.perf_counter_ns()
        bar.setValue(value)
        viewport.repaint()  # forced, synchronous: the frame is painted when this returns
        scroll_ns.append(time.perf_counter_ns() - t0)
        app.processEvents()  # untimed: whatever the frame queued
    out["scroll_ns"] = scroll_ns
    bar.setValue(0)
    _settle(app)

    on_ns: list[int] = []
    off_ns: list[int] = []
    fav_rows = 0
    for _ in range(filter_cycles):
        for flag, bucket in ((True, on_ns), (False, off_ns)):
            gc.collect()
            seen, seen_cells = painter.count, cells[0]
            t0 = time.perf_counter_ns()
            subject.set_favorites_only(flag)
            _process_until(app, lambda s=seen, c=seen_cells: painter.count > s and cells[0] > c)
            bucket.append(time.perf_counter_ns() - t0)
            if flag:
                fav_rows = view.model().rowCount()
            _settle(app)
    out["filter_on_ns"], out["filter_off_ns"], out["favorite_rows"] = on_ns, off_ns, fav_rows

    model = view.model()
    role = subject.favorite_role
    toggle_ns: list[int] = []
    rows = model.rowCount()
    for i in range(toggles):
        index = model.index((i * 997 + 1) % rows, 0)
        want = not bool(model.data(index, role))
        t0 = time.perf_counter_ns()
        model.setData(index, want, role)
        shown = bool(model.data(index, role))
        toggle_ns.append(time.perf_counter_ns() - t0)
        if shown != want:
            raise RuntimeError(f"row {index.row()}: the model did not show the toggle")
        # Untimed: let the write finish before the next click, as a person's clicks are
        # further apart than a write takes.
        _process_until(app, subject.idle)
        _wait(app, 0.02)
    out["toggle_ns"] = toggle_ns
    out["rss_end"] = rss_bytes()
    out["scroll_p99_ns"] = percentile(scroll_ns, 99)
    subject.close()
    return out


def bare_subject() -> Subject:
    """The floor: a plain QListView in icon mode over a minimal Python list model, the
    stock delegate and a stock QSortFilterProxyModel filtering on the favourite role."""
    from PySide6.QtCore import (
        QAbstractListModel,
        QModelIndex,
        QPersistentModelIndex,
        QSize,
        QSortFilterProxyModel,
        Qt,
    )
    from PySide6.QtWidgets import QListView, QMainWindow

    fav_role = int(Qt.ItemDataRole.UserRole) + 1
    display = Qt.ItemDataRole.DisplayRole

    class BareModel(QAbstractListModel):
        def __init__(self) -> None:
            super().__init__()
            self.records: list[Any] = []
            self.favorites: set[str] = set()

        def rowCount(self, parent: Any = QModelIndex()) -> int:  # noqa: B008
            return 0 if parent.isValid() else len(self.records)

        def data(self, index: Any, role: int = display) -> Any:
            if not index.isValid():
                return None
            rec = self.records[index.row()]
            if role == display:
                return rec.slide_id
            if role == fav_role:
                return rec.id in self.favorites
            return None

        def setData(self, index: Any, value: Any, role: int = fav_role) -> bool:
            rec = self.records[index.row()]
            if value:
                self.favorites.add(rec.id)
            else:
                self.favorites.discard(rec.id)
            self.dataChanged.emit(index, index, [role])
            return True

        def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
            return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

        def fill(self, records: list[Any]) -> None:
            self.beginResetModel()
            self.records = records
            self.favorites = {r.id for r in records if r.is_favorite}
            self.endResetModel()

    model = BareModel()
    proxy = QSortFilterProxyModel()
    proxy.setSourceModel(model)
    proxy.setFilterRole(fav_role)
    window = QMainWindow()
    view = QListView()
    view.setViewMode(QListView.ViewMode.IconMode)
    view.setResizeMode(QListView.ResizeMode.Adjust)
    view.setMovement(QListView.Movement.Static)
    view.setUniformItemSizes(True)
    view.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)  # stable width
    view.setGridSize(QSize(*FLOOR_GRID))
    view.setIconSize(QSize(FLOOR_ICON, FLOOR_ICON))
    view.setModel(proxy)
    window.setCentralWidget(view)

    def set_favorites_only(flag: bool) -> None:
        # The proxy matches the bool's string form, "true" or "false".
        proxy.setFilterFixedString("true" if flag else "")

    def ready() -> None:
        from PySide6.QtWidgets import QApplication

        vp = view.viewport()
        window.resize(window.width() + FLOOR_VIEWPORT[0] - vp.width(),
                      window.height() + FLOOR_VIEWPORT[1] - vp.height())
        _settle(QApplication.instance())

    return Subject(window=window, view=view, fill=model.fill,
                   set_favorites_only=set_favorites_only, favorite_role=fav_role,
                   close=window.close, ready=ready)


def part_grid(config: dict[str, Any]) -> dict[str, Any]:
    """Build the subject in this dedicated process (so RSS is its own), show it at
    1280x800 offscreen, and measure.

    Args:
        config: ``which`` ("real" or "floor"), ``images``, ``favorite_every``, ``steps``,
            ``filter_cycles``, ``toggles``, ``data_dir``, ``cache_dir``.

    Returns:
        What ``measure`` returns, plus ``rss_baseline`` (Qt up, no records) and ``viewport``.
    """
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    baseline = rss_bytes()
    data_dir = Path(config["data_dir"])
    records = make_records(int(config["images"]), data_dir, int(config["favorite_every"]))
    if config["which"] == "real":
        from benchlib.realgrid import real_subject

        subject = real_subject(data_dir, Path(config["cache_dir"]), records)
    else:
        subject = bare_subject()
    subject.window.resize(*WINDOW_SIZE)
    subject.window.show()
    QTest.qWaitForWindowExposed(subject.window)
    subject.ready()
    result = measure(subject, records, steps=int(config["steps"]),
                     filter_cycles=int(config["filter_cycles"]), toggles=int(config["toggles"]))
    result["rss_baseline"] = baseline
    result["viewport"] = [subject.view.viewport().width(), subject.view.viewport().height()]
    del app
    return result
