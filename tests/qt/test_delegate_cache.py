"""GalleryDelegate's cell cache: copies look exactly as painted, never stale, bounded, reused."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QRect, QSize, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QImage,
    QPainter,
    QPixmap,
    QStandardItem,
    QStandardItemModel,
)
from PySide6.QtWidgets import QApplication, QStyle, QStyleOptionViewItem

from gallery_desktop.core.records import GalleryImage, ImageSource
from gallery_desktop.qt import delegate
from gallery_desktop.qt.cell_cache import CellCache
from gallery_desktop.qt.delegate import (
    VIEW_BACKGROUND,
    GalleryDelegate,
    heart_rect,
    image_rect,
    paint_cell,
)
from gallery_desktop.qt.gallery_view import GalleryView
from gallery_desktop.qt.icons import HEART_COLOR
from gallery_desktop.qt.model import CellValues, GalleryModel
from gallery_desktop.qt.roles import ImageRole, ThumbState
from tests.qt.test_delegate import shown_view

THUMB = 200
LONG = "A caption long enough that the cell has to elide it before the end of the line"


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch: pytest.MonkeyPatch) -> Iterator[CellCache]:
    """Each test starts with an empty cell cache of the usual budget."""
    cache = CellCache(delegate.CELL_CACHE_BYTES)
    monkeypatch.setattr(delegate, "CELL_CACHE", cache)
    yield cache


def thumbnail(width: int, height: int, color: str, dpr: float = 1.0) -> QPixmap:
    """A real picture: ``color`` with a dark block in its top-left quarter."""
    image = QImage(width, height, QImage.Format.Format_RGB32)
    image.fill(QColor(color))
    painter = QPainter(image)
    painter.fillRect(0, 0, width // 2, height // 2, QColor("#2c3e50"))
    painter.end()
    pixmap = QPixmap.fromImage(image)
    pixmap.setDevicePixelRatio(dpr)
    return pixmap


def item_model(rows: list[dict[int, object]]) -> QStandardItemModel:
    """A plain model holding each row's roles (the delegate reads any model's roles)."""
    model = QStandardItemModel()
    for roles in rows:
        item = QStandardItem()
        for role, value in roles.items():
            item.setData(value, role)
        model.appendRow(item)
    return model


def option_for(cell: QRect, *, selected: bool = False, hovered: bool = False
               ) -> QStyleOptionViewItem:
    option = QStyleOptionViewItem()
    option.font = QApplication.font()
    option.decorationSize = QSize(THUMB, THUMB)
    option.rect = cell
    option.state = QStyle.StateFlag.State_Enabled
    if selected:
        option.state |= QStyle.StateFlag.State_Selected
    if hovered:
        option.state |= QStyle.StateFlag.State_MouseOver
    return option


def canvas(size: QSize, dpr: float) -> QImage:
    image = QImage(round(size.width() * dpr), round(size.height() * dpr),
                   QImage.Format.Format_ARGB32_Premultiplied)
    image.setDevicePixelRatio(dpr)
    image.fill(VIEW_BACKGROUND)
    return image


def through_delegate(model: QStandardItemModel | GalleryModel, row: int, cell: QRect,
                     dpr: float, *, selected: bool = False, hovered: bool = False,
                     using: GalleryDelegate | None = None) -> QImage:
    """``row`` painted by the delegate into a fresh image a little larger than ``cell``."""
    image = canvas(QSize(cell.right() + 12, cell.bottom() + 12), dpr)
    painter = QPainter(image)
    (using or GalleryDelegate()).paint(
        painter, option_for(cell, selected=selected, hovered=hovered), model.index(row, 0))
    painter.end()
    return image


def in_place(values: CellValues, cell: QRect, dpr: float, *, selected: bool = False,
             hovered: bool = False) -> QImage:
    image = canvas(QSize(cell.right() + 12, cell.bottom() + 12), dpr)
    painter = QPainter(image)
    paint_cell(painter, cell, values, QApplication.font(), selected=selected, hovered=hovered)
    painter.end()
    return image


# Made inside the tests: pixmaps need the QApplication that pytest-qt starts.
VARIANTS: dict[str, Callable[[], CellValues]] = {
    "loading": lambda: CellValues(None, ThumbState.LOADING, False, 0, "Slide caption"),
    "broken, heart, badge": lambda: CellValues(None, ThumbState.BROKEN, True, 7, LONG),
    "missing, no caption": lambda: CellValues(None, ThumbState.MISSING, False, 1234, ""),
    "remote": lambda: CellValues(None, ThumbState.REMOTE, True, 0, "Remote one"),
    "wide thumbnail": lambda: CellValues(thumbnail(256, 128, "#e74c3c"), ThumbState.READY,
                                         False, 2, "Wide"),
    "tall thumbnail": lambda: CellValues(thumbnail(120, 256, "#27ae60"), ThumbState.READY,
                                         True, 0, LONG),
    "filling thumbnail at 2x": lambda: CellValues(thumbnail(512, 512, "#2980b9", 2.0),
                                                  ThumbState.READY, False, 3, "Square"),
}


def model_of(values: CellValues) -> QStandardItemModel:
    roles: dict[int, object] = {Qt.ItemDataRole.DisplayRole: values.title,
                                ImageRole.IS_FAVORITE: values.favorite,
                                ImageRole.USAGE_COUNT: values.usage,
                                ImageRole.THUMB_STATE: int(values.thumb_state)}
    if values.pixmap is not None:
        roles[Qt.ItemDataRole.DecorationRole] = values.pixmap
    return item_model([roles])


@pytest.mark.parametrize("dpr", [1.0, 2.0, 1.5])
@pytest.mark.parametrize(("selected", "hovered"), [(False, False), (True, False), (False, True),
                                                   (True, True)])
@pytest.mark.parametrize("name", list(VARIANTS))
def test_a_cell_looks_exactly_as_painted_in_place(qapp, name: str, dpr: float, selected: bool,
                                                  hovered: bool, fresh_cache: CellCache) -> None:
    values = VARIANTS[name]()
    model = model_of(values)
    cell = QRect(QPoint(5, 7), GalleryDelegate().sizeHint(option_for(QRect()), model.index(0, 0)))
    reference = in_place(values, cell, dpr, selected=selected, hovered=hovered)
    first = through_delegate(model, 0, cell, dpr, selected=selected, hovered=hovered)
    again = through_delegate(model, 0, cell, dpr, selected=selected, hovered=hovered)
    assert first == reference
    assert again == reference
    # Copies only at whole-number scales: a fractional one paints in place, caching nothing.
    assert (len(fresh_cache) > 0) == dpr.is_integer()


def test_the_painter_is_left_as_it_was(qapp, fresh_cache: CellCache) -> None:
    model = model_of(VARIANTS["broken, heart, badge"]())
    cell = QRect(QPoint(0, 0), QSize(216, 244))
    for dpr in (1.0, 1.5):
        image = canvas(QSize(300, 300), dpr)
        painter = QPainter(image)
        painter.setPen(QColor("#123456"))
        painter.setBrush(QColor("#654321"))
        font = QFont(QApplication.font())
        font.setPointSize(23)
        painter.setFont(font)
        before = (painter.pen(), painter.brush(), painter.font(), painter.renderHints(),
                  painter.transform())
        for _ in range(2):  # a miss, then a copy from the cache
            GalleryDelegate().paint(painter, option_for(cell, selected=True),
                                    model.index(0, 0))
            assert (painter.pen(), painter.brush(), painter.font(), painter.renderHints(),
                    painter.transform()) == before
        painter.end()


def test_a_changed_value_is_painted_not_a_stale_copy(qapp, fresh_cache: CellCache) -> None:
    model = item_model([{Qt.ItemDataRole.DisplayRole: "First caption",
                         ImageRole.THUMB_STATE: int(ThumbState.LOADING)}])
    item = model.item(0)
    cell = QRect(QPoint(0, 0), QSize(216, 244))
    shared = GalleryDelegate()

    def shown() -> QImage:
        return through_delegate(model, 0, cell, 1.0, using=shared)

    def values() -> CellValues:
        decoration = item.data(Qt.ItemDataRole.DecorationRole)
        return CellValues(decoration if isinstance(decoration, QPixmap) else None,
                          ThumbState(item.data(ImageRole.THUMB_STATE)),
                          bool(item.data(ImageRole.IS_FAVORITE)),
                          int(item.data(ImageRole.USAGE_COUNT) or 0),
                          str(item.data(Qt.ItemDataRole.DisplayRole)))

    heart = heart_rect(cell).center() + QPoint(0, 8)
    plain = shown()
    item.setData(True, ImageRole.IS_FAVORITE)
    favorite = shown()
    assert favorite.pixelColor(heart) == in_place(values(), cell, 1.0).pixelColor(heart)
    assert favorite.pixelColor(heart) != plain.pixelColor(heart)
    item.setData(False, ImageRole.IS_FAVORITE)
    assert shown() == plain  # back to the first look (a copy of it, or painted again)
    for role, value in ((ImageRole.USAGE_COUNT, 5), (Qt.ItemDataRole.DisplayRole, "Second"),
                        (ImageRole.THUMB_STATE, int(ThumbState.BROKEN))):
        before = shown()
        item.setData(value, role)
        after = shown()
        assert after != before, role
        assert after == in_place(values(), cell, 1.0), role
    red = thumbnail(256, 256, "#e74c3c")
    item.setData(red, Qt.ItemDataRole.DecorationRole)
    item.setData(int(ThumbState.READY), ImageRole.THUMB_STATE)
    centre = image_rect(cell).center() + QPoint(30, 30)
    assert shown().pixelColor(centre) == QColor("#e74c3c")
    # A new thumbnail for the same row (the image changed on disk) replaces the old one.
    item.setData(thumbnail(256, 256, "#27ae60"), Qt.ItemDataRole.DecorationRole)
    assert shown().pixelColor(centre) == QColor("#27ae60")
    assert shown() == in_place(values(), cell, 1.0)


def test_the_cache_keeps_to_its_budget_and_reuses_what_it_drops(qapp) -> None:
    cache = CellCache(3 * 10 * 10 * 4)  # room for three 10x10 pixmaps
    pixmaps = []
    for n in range(3):
        pixmap = cache.take(10, 10)
        assert not pixmap.isNull()
        cache.put(("cell", n), pixmap)
        pixmaps.append(pixmap)
    assert len(cache) == 3 and cache.used == cache.budget
    assert cache.get(("cell", 0)) is pixmaps[0]  # now the most recently used
    fourth = cache.take(10, 10)
    # The least recently used entry went, and its pixmap is the one handed back.
    assert fourth is pixmaps[1]
    assert cache.get(("cell", 1)) is None
    assert cache.get(("cell", 0)) is pixmaps[0] and cache.get(("cell", 2)) is pixmaps[2]
    cache.put(("cell", 3), fourth)
    # Another size: room is made the same way, but a new pixmap of that size is made.
    other = cache.take(12, 10)
    assert other.width() == 12 and other not in pixmaps
    cache.put(("other", 0), other)
    assert cache.used <= cache.budget
    cache.reserve(100)
    assert cache.budget == 3 * 10 * 10 * 4  # never shrinks
    cache.clear()
    assert len(cache) == 0 and cache.used == 0


def gallery_rows(count: int) -> list[GalleryImage]:
    return [GalleryImage(id=f"img_{n}", run_id="run", slide_id=f"slide-{n}",
                         image_url=f"/data/runs/run/{n}.png",
                         image_path=f"/nonexistent/{n}.png", prompt="p",
                         slide_text=f"Caption {n}", created_at="2025-01-06T08:00:00Z",
                         aspect_ratio="1:1", composition="single", model="m", topic="t",
                         usage_count=n % 3, is_favorite=n % 7 == 0,
                         created_ts=1_736_150_400.0 - n, post_order=0,
                         source=ImageSource.LOCAL)
            for n in range(count)]


@pytest.fixture
def view(qtbot) -> GalleryView:
    model = GalleryModel()
    model.insert_images(gallery_rows(400))
    return shown_view(qtbot, model, 900, 700, model.rowCount() - 1)


def count_new_entries(cache: CellCache, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the pixmaps the cache hands out for new entries (every cell painted anew)."""
    taken = [0]
    take = cache.take

    def counting(width: int, height: int) -> QPixmap:
        taken[0] += 1
        return take(width, height)

    monkeypatch.setattr(cache, "take", counting)
    return taken


def test_the_cache_grows_to_hold_every_cell_a_view_shows(
        view: GalleryView, monkeypatch: pytest.MonkeyPatch) -> None:
    small = CellCache(1)  # far less than one screen of cells
    monkeypatch.setattr(delegate, "CELL_CACHE", small)
    taken = count_new_entries(small, monkeypatch)
    view.viewport().repaint()
    assert taken[0] > 0
    model = view.model()
    on_screen = [view.visualRect(model.index(row, 0)) for row in range(model.rowCount())]
    on_screen = [r for r in on_screen if r.intersects(view.viewport().rect())]
    assert len(on_screen) >= 6
    assert small.budget >= sum(r.width() * r.height() * 4 for r in on_screen)
    taken[0] = 0
    view.viewport().repaint()
    assert taken[0] == 0  # every cell on screen was copied, none painted again


def test_scrolling_back_copies_the_cells_seen_on_the_way(
        view: GalleryView, fresh_cache: CellCache, monkeypatch: pytest.MonkeyPatch) -> None:
    taken = count_new_entries(fresh_cache, monkeypatch)
    bar = view.verticalScrollBar()
    for value in range(0, view.viewport().height(), view.viewport().height() // 4):
        bar.setValue(value)
        view.viewport().repaint()
    assert taken[0] > 0
    taken[0] = 0
    for value in range(bar.value(), -1, -(view.viewport().height() // 4)):
        bar.setValue(value)
        view.viewport().repaint()
    assert taken[0] == 0


def test_the_grid_shows_a_thumbnail_and_a_heart_that_arrive_after_the_first_paint(
        qtbot, view: GalleryView, tmp_path: Path) -> None:
    model = view.model()
    assert isinstance(model, GalleryModel)
    index = model.index(1, 0)
    tile = image_rect(view.visualRect(index))
    probe = tile.center() + QPoint(30, 30)
    heart = heart_rect(view.visualRect(index)).center() + QPoint(0, 8)

    def pixel(point: QPoint) -> QColor:
        return view.viewport().grab().toImage().pixelColor(point)

    before = pixel(probe)
    path = model.record(1).image_path
    assert path is not None
    image = thumbnail(256, 256, "#e74c3c").toImage()
    model.set_thumbnail(path, image)
    qtbot.waitUntil(lambda: pixel(probe) == QColor("#e74c3c"))
    assert before != QColor("#e74c3c")
    assert pixel(heart) != HEART_COLOR
    model.set_favorite_state(model.record(1).id, True)
    qtbot.waitUntil(lambda: abs(pixel(heart).red() - HEART_COLOR.red()) <= 24
                    and abs(pixel(heart).green() - HEART_COLOR.green()) <= 24)
