"""GalleryDelegate: geometry, what each state paints, and heart clicks through setData."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QModelIndex, QPoint, QRect, QSize, QSortFilterProxyModel, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QApplication, QStyle, QStyleOptionViewItem

from gallery_desktop.core.records import GalleryImage, ImageSource
from gallery_desktop.core.runs import scan_runs
from gallery_desktop.qt.delegate import (
    TILE_COLOR,
    GalleryDelegate,
    cell_size,
    fitted_size,
    heart_rect,
    image_rect,
)
from gallery_desktop.qt.gallery_view import GalleryView
from gallery_desktop.qt.icons import HEART_COLOR
from gallery_desktop.qt.model import GalleryModel
from gallery_desktop.qt.proxy import GalleryProxy
from gallery_desktop.qt.roles import ImageRole, ThumbState
from tests.factories import make_image, make_run

THUMB = 200


def posts(run_id: str, n: int) -> list[dict[str, object]]:
    return [{"index": i, "text": f"Slide {i} caption", "imagePrompt": f"prompt {i}",
             "finalImageUrl": f"/data/runs/{run_id}/slide-{i}.png"} for i in range(1, n + 1)]


@pytest.fixture
def model(qtbot, tmp_path: Path) -> GalleryModel:
    """A model over three real images on disk (no thumbnails decoded yet)."""
    run_id = "2025-11-26T06-54-47-200Z"
    make_run(tmp_path, run_id, posts(run_id, 3))
    report = scan_runs(tmp_path)
    model = GalleryModel()
    model.insert_images(report.images)
    assert model.rowCount() == 3
    return model


def render(model: GalleryModel, row: int, *, hover: bool = False, selected: bool = False,
           dpr: float = 1.0) -> tuple[QImage, QRect]:
    """Paint one cell into an image the way the view would; returns it and the cell rect."""
    delegate = GalleryDelegate()
    option = QStyleOptionViewItem()
    option.font = QApplication.font()
    option.decorationSize = QSize(THUMB, THUMB)
    index = model.index(row, 0)
    size = delegate.sizeHint(option, index)
    option.rect = QRect(QPoint(0, 0), size)
    option.state = QStyle.StateFlag.State_Enabled
    if hover:
        option.state |= QStyle.StateFlag.State_MouseOver
    if selected:
        option.state |= QStyle.StateFlag.State_Selected
    image = QImage(round(size.width() * dpr), round(size.height() * dpr),
                   QImage.Format.Format_ARGB32_Premultiplied)
    image.setDevicePixelRatio(dpr)
    image.fill(QColor("#17181c"))
    painter = QPainter(image)
    delegate.paint(painter, option, index)
    painter.end()
    return image, QRect(option.rect)


def color_at(image: QImage, point: QPoint) -> QColor:
    dpr = image.devicePixelRatio()
    return image.pixelColor(round(point.x() * dpr), round(point.y() * dpr))


def close(a: QColor, b: QColor, tolerance: int = 24) -> bool:
    return all(abs(x - y) <= tolerance for x, y in
               ((a.red(), b.red()), (a.green(), b.green()), (a.blue(), b.blue())))


def set_thumb(model: GalleryModel, row: int, size: tuple[int, int], color: str,
              tmp_path: Path) -> None:
    """Give ``row`` a real decoded thumbnail of ``size`` in ``color``."""
    path = make_image(tmp_path / f"thumb-{row}.png", size, color)
    image = QImage(str(path))
    assert not image.isNull()
    record = model.record(row)
    assert record.image_path is not None
    model.set_thumbnail(record.image_path, image)


@pytest.mark.parametrize("thumb", [96, 200, 384])
def test_heart_sits_in_the_tiles_top_right_corner(thumb: int) -> None:
    cell = QRect(QPoint(37, 51), cell_size(thumb, 16))
    tile = image_rect(cell)
    heart = heart_rect(cell)
    assert tile.contains(heart)
    # Equal margins from the tile's top and right edges.
    assert tile.right() - heart.right() == heart.top() - tile.top() > 0
    assert heart.center().x() > tile.center().x() and heart.center().y() < tile.center().y()


def test_fitted_size_keeps_the_aspect_ratio() -> None:
    assert fitted_size(QSize(400, 200), QSize(200, 200)) == QSize(200, 100)
    assert fitted_size(QSize(100, 300), QSize(200, 200)) == QSize(67, 200)
    assert fitted_size(QSize(0, 0), QSize(200, 200)) == QSize(0, 0)


def test_favorite_heart_is_drawn_always_other_hearts_only_on_hover(model: GalleryModel) -> None:
    model.set_favorite_state(model.record(0).id, True)
    image, cell = render(model, 0)
    assert close(color_at(image, heart_rect(cell).center() + QPoint(0, 8)), HEART_COLOR)
    # Not a favorite and not hovered: the corner shows the plain tile.
    image, cell = render(model, 1)
    assert close(color_at(image, heart_rect(cell).center() + QPoint(0, 8)), TILE_COLOR, 6)
    # Hovered: a dark disc with the outline heart appears.
    image, cell = render(model, 1, hover=True)
    hovered = color_at(image, heart_rect(cell).center() + QPoint(0, 8))
    assert not close(hovered, TILE_COLOR, 6) and not close(hovered, HEART_COLOR)


def test_thumbnail_is_aspect_fitted_and_centred(model: GalleryModel, tmp_path: Path) -> None:
    set_thumb(model, 0, (400, 200), "#e74c3c", tmp_path)
    assert model.index(0, 0).data(ImageRole.THUMB_STATE) == ThumbState.READY
    image, cell = render(model, 0)
    tile = image_rect(cell)
    red = QColor("#e74c3c")
    assert close(color_at(image, tile.center() + QPoint(20, 20)), red)
    # A 2:1 image in a square tile leaves a quarter of the height above and below it.
    assert close(color_at(image, QPoint(tile.center().x(), tile.top() + tile.height() // 8)),
                 TILE_COLOR, 6)
    assert close(color_at(image, QPoint(tile.center().x(), tile.bottom() - tile.height() // 8)),
                 TILE_COLOR, 6)


def test_thumbnail_is_painted_at_device_resolution_on_hidpi(model: GalleryModel,
                                                           tmp_path: Path) -> None:
    # Left half black, right half white: at 2x the edge must stay within two device pixels.
    path = tmp_path / "edge.png"
    edge = QImage(400, 400, QImage.Format.Format_RGB32)
    edge.fill(QColor("white"))
    painter = QPainter(edge)
    painter.fillRect(0, 0, 200, 400, QColor("black"))
    painter.end()
    edge.save(str(path))
    thumb = QImage(str(path))
    thumb.setDevicePixelRatio(2.0)
    record = model.record(0)
    assert record.image_path is not None
    model.set_thumbnail(record.image_path, thumb)
    image, cell = render(model, 0, dpr=2.0)
    tile = image_rect(cell)
    y = round(tile.center().y() * 2)
    row = [image.pixelColor(x, y).lightness() for x in range(round(tile.left() * 2) + 20,
                                                             round(tile.right() * 2) - 20)]
    in_between = [v for v in row if 40 < v < 215]
    assert row[0] < 40 and row[-1] > 215
    assert len(in_between) <= 2


def test_each_thumbnail_state_has_its_own_placeholder(model: GalleryModel) -> None:
    base = model.record(0)
    variants = {
        ThumbState.LOADING: base,
        ThumbState.MISSING: GalleryImage(**{**_fields(base), "id": "m", "source":
                                            ImageSource.MISSING, "image_path": None}),
        ThumbState.REMOTE: GalleryImage(**{**_fields(base), "id": "r", "source":
                                           ImageSource.REMOTE, "image_path": None,
                                           "image_url": "https://example.com/a.png"}),
    }
    broken = model.record(1)
    assert broken.image_path is not None
    model.set_thumbnail_failed(broken.image_path, "not an image")
    model.insert_images([variants[ThumbState.MISSING], variants[ThumbState.REMOTE]])
    tiles: dict[ThumbState, bytes] = {}
    for row in range(model.rowCount()):
        state = ThumbState(model.index(row, 0).data(ImageRole.THUMB_STATE))
        image, cell = render(model, row)
        tiles[state] = bytes(image.copy(image_rect(cell)).constBits())
    assert set(tiles) >= {ThumbState.LOADING, ThumbState.BROKEN, ThumbState.MISSING,
                          ThumbState.REMOTE}
    assert len(set(tiles.values())) == len(tiles)


def _fields(record: GalleryImage) -> dict[str, object]:
    return record._asdict()


def test_usage_badge_appears_when_used(model: GalleryModel) -> None:
    unused, cell = render(model, 0)
    model.set_usage_count(model.record(0).id, 3)
    used, _ = render(model, 0)
    tile = image_rect(cell)
    corner = QRect(tile.left(), tile.bottom() - 40, 60, 40)
    assert unused.copy(corner) != used.copy(corner)


def test_selection_draws_an_accent_frame(model: GalleryModel) -> None:
    plain, cell = render(model, 0)
    selected, _ = render(model, 0, selected=True)
    tile = image_rect(cell)
    edge = QPoint(tile.left() - 1, tile.center().y())
    assert color_at(plain, edge) != color_at(selected, edge)


def shown_view(qtbot, model: GalleryModel, width: int, height: int,
               laid_out_row: int) -> GalleryView:
    """A GalleryView on ``model``, shown, once ``laid_out_row`` has a place in its layout."""
    view = GalleryView()
    view.setModel(model)
    view.resize(width, height)
    view.show()
    qtbot.addWidget(view)
    qtbot.waitExposed(view)
    qtbot.waitUntil(lambda: view.visualRect(model.index(laid_out_row, 0)).isValid())
    return view


@pytest.fixture
def view(qtbot, model: GalleryModel) -> GalleryView:
    return shown_view(qtbot, model, 900, 600, 2)


def test_clicking_the_heart_sets_data_clicking_elsewhere_does_not(qtbot, view: GalleryView,
                                                                 model: GalleryModel) -> None:
    index = model.index(1, 0)
    heart = heart_rect(view.visualRect(index)).center()
    with qtbot.waitSignal(model.favorite_set_requested) as blocker:
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=heart)
    assert blocker.args == [model.record(1).id, True]
    assert index.data(ImageRole.IS_FAVORITE) is True
    with qtbot.assertNotEmitted(model.favorite_set_requested):
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton,
                         pos=view.visualRect(index).center())
    assert index.data(ImageRole.IS_FAVORITE) is True


def test_double_click_on_the_heart_toggles_twice_and_does_not_open(
        qtbot, view: GalleryView, model: GalleryModel) -> None:
    index = model.index(0, 0)
    heart = heart_rect(view.visualRect(index)).center()
    requests: list[bool] = []
    model.favorite_set_requested.connect(lambda _id, value: requests.append(value))
    with qtbot.assertNotEmitted(view.open_requested):
        qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=heart)
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=heart)
    assert requests[-1] is True  # the final state is what the last click asked for
    assert index.data(ImageRole.IS_FAVORITE) is requests[-1]


def test_double_click_on_the_image_asks_to_open_it(qtbot, view: GalleryView,
                                                   model: GalleryModel) -> None:
    index = model.index(2, 0)
    with qtbot.waitSignal(view.open_requested) as blocker:
        qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton,
                          pos=image_rect(view.visualRect(index)).center())
    opened: QModelIndex = blocker.args[0]
    assert opened.row() == 2


def test_hovering_a_cell_in_the_view_shows_its_heart(qtbot, view: GalleryView,
                                                     model: GalleryModel) -> None:
    index = model.index(1, 0)
    probe = heart_rect(view.visualRect(index)).center() + QPoint(0, 8)

    def heart_pixel() -> QColor:
        return view.viewport().grab().toImage().pixelColor(probe)

    assert close(heart_pixel(), TILE_COLOR, 6)
    qtbot.mouseMove(view.viewport(), image_rect(view.visualRect(index)).center())
    qtbot.waitUntil(lambda: not close(heart_pixel(), TILE_COLOR, 6))


def test_a_cell_looks_the_same_through_a_proxy_and_from_plain_roles(model: GalleryModel
                                                                    ) -> None:
    image_id = model.record(1).id
    model.set_usage_count(image_id, 12)
    model.set_favorite_state(image_id, True)
    direct, _ = render(model, 1, selected=True)
    proxy = QSortFilterProxyModel()
    proxy.setSourceModel(model)
    through, _ = render(proxy, 1, selected=True)  # type: ignore[arg-type]
    item = QStandardItem()
    for role in (Qt.ItemDataRole.DisplayRole, ImageRole.IS_FAVORITE, ImageRole.USAGE_COUNT,
                 ImageRole.THUMB_STATE):
        item.setData(model.index(1, 0).data(role), role)
    plain = QStandardItemModel()
    plain.appendRow(item)
    from_roles, _ = render(plain, 0, selected=True)  # type: ignore[arg-type]
    unused, _ = render(model, 0, selected=True)
    assert direct == through == from_roles
    assert direct != unused


def test_cells_under_the_grids_proxy_are_read_in_one_model_call(
        model: GalleryModel, monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = GalleryProxy()
    proxy.setSourceModel(model)
    proxy.set_favorites_only(False)
    calls: list[int] = []
    real = GalleryModel.cell_values

    def counting(self: GalleryModel, row: int) -> object:
        calls.append(row)
        return real(self, row)

    monkeypatch.setattr(GalleryModel, "cell_values", counting)
    through, _ = render(proxy, 1, selected=True)  # type: ignore[arg-type]
    assert calls == [proxy.map_to_model(proxy.index(1, 0)).row()]
    direct, _ = render(model, calls[0], selected=True)
    assert through == direct
