"""Paints one gallery cell (thumbnail, placeholder, heart, badge, caption); forwards clicks."""

from __future__ import annotations

import logging
from functools import lru_cache

from PySide6.QtCore import (
    QAbstractItemModel,
    QAbstractProxyModel,
    QEvent,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QRectF,
    QSize,
    Qt,
)
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QImage,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPen,
    QPixmap,
    QPixmapCache,
    QStaticText,
)
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from gallery_desktop.qt import icons, theme
from gallery_desktop.qt.cell_cache import Bounded, CellCache
from gallery_desktop.qt.icons import IconName
from gallery_desktop.qt.model import CellValues, GalleryModel
from gallery_desktop.qt.roles import ImageRole, ThumbState

log = logging.getLogger(__name__)

AnyIndex = QModelIndex | QPersistentModelIndex

CELL_PADDING = 8  # around the image tile, inside the cell
CAPTION_GAP = 6  # between the tile and the caption
HEART_SIZE = 30  # diameter of the heart button
HEART_MARGIN = 6  # from the tile's corner
CORNER_RADIUS = 6.0
BADGE_HEIGHT = 20

# A dark neutral scheme: images carry the colour, the chrome stays out of the way.
VIEW_BACKGROUND = QColor(theme.WINDOW)  # the grid's own background (see theme.py)
TILE_COLOR = QColor("#202227")
HOVER_COLOR = QColor(255, 255, 255, 14)
ACCENT = QColor("#a855f7")
SELECTED_FILL = QColor(168, 85, 247, 46)
CAPTION_COLOR = QColor("#9ea3ad")
CAPTION_SELECTED_COLOR = QColor("#eceef2")
PLACEHOLDER_COLOR = QColor("#6b7079")
HEART_IDLE_FILL = QColor(0, 0, 0, 128)
BADGE_FILL = QColor(12, 13, 16, 190)

_PLACEHOLDERS: dict[int, tuple[IconName, str]] = {
    ThumbState.LOADING: (IconName.IMAGE_LOADING, ""),
    ThumbState.BROKEN: (IconName.IMAGE_BROKEN, "Can't read image"),
    ThumbState.MISSING: (IconName.IMAGE_MISSING, "Image missing"),
    ThumbState.REMOTE: (IconName.IMAGE_REMOTE, "Remote image"),
}

_HINTS = QPainter.RenderHint.Antialiasing | QPainter.RenderHint.SmoothPixmapTransform

# Scaled, rounded thumbnails are cached by Qt's global pixmap cache, which is small by default.
_PIXMAP_CACHE_KB = 128 * 1024


def caption_font(base: QFont) -> QFont:
    """The caption's font: the view's, a little smaller."""
    font = QFont(base)
    if font.pointSizeF() > 0:
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.92))
    return font


# Painting runs for every visible cell on every frame: fonts, metrics and elided captions
# are made once and looked up after that.
_CAPTION_FONTS: dict[str, tuple[QFont, QFontMetrics]] = {}
_LEFT_MIDDLE = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
_ROLE_FAVORITE = int(ImageRole.IS_FAVORITE)
_ROLE_USAGE = int(ImageRole.USAGE_COUNT)
_ROLE_THUMB_STATE = int(ImageRole.THUMB_STATE)
_ROLE_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_ROLE_DECORATION = int(Qt.ItemDataRole.DecorationRole)


def caption_style(base: QFont) -> tuple[QFont, QFontMetrics]:
    """The caption font for the view font ``base`` and its metrics (cached)."""
    key = base.key()
    found = _CAPTION_FONTS.get(key)
    if found is None:
        font = caption_font(base)
        found = _CAPTION_FONTS[key] = (font, QFontMetrics(font))
    return found


@lru_cache(maxsize=8192)
def _elided(text: str, width: int, font_key: str) -> str:
    metrics = _CAPTION_FONTS[font_key][1]
    line = " ".join(text.split())  # one line: newlines and runs of spaces collapse
    return metrics.elidedText(line, Qt.TextElideMode.ElideRight, width)


def cell_size(thumb_px: int, caption_height: int) -> QSize:
    """Size of a cell showing a ``thumb_px`` square tile and one caption line."""
    return QSize(thumb_px + 2 * CELL_PADDING,
                 CELL_PADDING + thumb_px + CAPTION_GAP + caption_height + CELL_PADDING)


def image_rect(cell: QRect) -> QRect:
    """The square tile the thumbnail is fitted into: the cell's width, at its top."""
    side = max(1, min(cell.width() - 2 * CELL_PADDING, cell.height() - 2 * CELL_PADDING))
    left = cell.left() + (cell.width() - side) // 2
    return QRect(left, cell.top() + CELL_PADDING, side, side)


def heart_rect(cell: QRect) -> QRect:
    """Where the heart is drawn and clicked: the tile's top-right corner.

    The one hit-test shared by ``paint`` and ``editorEvent`` (and the tests).
    """
    tile = image_rect(cell)
    return QRect(tile.right() - HEART_MARGIN - HEART_SIZE + 1, tile.top() + HEART_MARGIN,
                 HEART_SIZE, HEART_SIZE)


def caption_rect(cell: QRect, caption_height: int) -> QRect:
    """The caption line under the tile."""
    tile = image_rect(cell)
    return QRect(tile.left(), tile.bottom() + 1 + CAPTION_GAP, tile.width(), caption_height)


def fitted_size(source: QSize, bounds: QSize) -> QSize:
    """``source`` scaled to fit inside ``bounds``, keeping its aspect ratio (rounded, not empty)."""
    if source.isEmpty() or bounds.isEmpty():
        return QSize(0, 0)
    scale = min(bounds.width() / source.width(), bounds.height() / source.height())
    return QSize(max(1, min(bounds.width(), round(source.width() * scale))),
                 max(1, min(bounds.height(), round(source.height() * scale))))


def over(top: QColor, bottom: QColor) -> QColor:
    """``top`` (possibly translucent) composited over opaque ``bottom``."""
    alpha = top.alphaF()
    return QColor.fromRgbF(top.redF() * alpha + bottom.redF() * (1 - alpha),
                           top.greenF() * alpha + bottom.greenF() * (1 - alpha),
                           top.blueF() * alpha + bottom.blueF() * (1 - alpha))


# Composited once: hovered and selected cells are painted on every frame.
_HOVER_BACKGROUND = over(HOVER_COLOR, VIEW_BACKGROUND)
_SELECTED_BACKGROUND = over(SELECTED_FILL, VIEW_BACKGROUND)

# Text is the costly part of a cell (shaping on every drawText): captions keep their laid-out
# QStaticText, placeholder labels and usage badges are rendered to pixmaps once.
_CAPTIONS: Bounded[tuple[str, int, str], QStaticText] = Bounded(8192)
_LABELS: Bounded[tuple[str, int, int, float, str], QPixmap] = Bounded(64)
_BADGES: Bounded[tuple[int, float, str], QPixmap] = Bounded(1024)
_TILES: Bounded[tuple[int, int, float, int], QPixmap] = Bounded(32)

# Whole cells, painted once and then copied: a cell is a dozen Qt calls from Python (each
# a wrapper, an enum conversion, a cache key), a copy is one. Scrolling shows the same cells
# frame after frame and only a line's worth of new ones. Keys hold everything a cell's look
# depends on, so a changed heart, count, caption, thumbnail, state or size is a new entry:
# a stale picture is never shown, it just ages out.
CELL_CACHE_BYTES = 32 * 1024 * 1024  # ~130 cells of 252x241 px at 1x: seven 1280x800 screens
CELL_CACHE = CellCache(CELL_CACHE_BYTES)
_SELECTED_BIT = QStyle.StateFlag.State_Selected.value
_HOVER_BIT = QStyle.StateFlag.State_MouseOver.value
_STATE_BITS = _SELECTED_BIT | _HOVER_BIT  # all a cell's look takes from the option's state
# The view font's key, for the last font seen: comparing fonts is ten times cheaper than
# building a key, and a view paints every cell with the same font.
_LAST_FONT: list[tuple[QFont, str]] = []


def _caption_text(text: str, width: int, font_key: str) -> QStaticText:
    """The caption ``text`` elided to ``width``, laid out once for the caption font of the
    view font whose key is ``font_key`` (``caption_style`` has seen that font)."""
    key = (text, width, font_key)
    found = _CAPTIONS.get(key)
    if found is None:
        static = QStaticText(_elided(text, width, font_key))
        static.setTextFormat(Qt.TextFormat.PlainText)
        static.prepare(font=_CAPTION_FONTS[font_key][0])
        found = _CAPTIONS.put(key, static)
    return found


def _tile_pixmap(size: QSize, dpr: float, corners: QColor) -> QPixmap:
    """The empty rounded tile on ``corners``, opaque: a copy is cheaper than a rounded fill."""
    key = (size.width(), size.height(), dpr, corners.rgb())
    found = _TILES.get(key)
    if found is None:
        found = QPixmap(round(size.width() * dpr), round(size.height() * dpr))
        found.setDevicePixelRatio(dpr)
        found.fill(corners)
        painter = QPainter(found)
        painter.setRenderHints(_HINTS)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(TILE_COLOR)
        painter.drawRoundedRect(QRectF(0, 0, size.width(), size.height()), CORNER_RADIUS,
                                CORNER_RADIUS)
        painter.end()
        _TILES.put(key, found)
    return found


def _label_pixmap(label: str, size: QSize, dpr: float, font: QFont) -> QPixmap:
    """A placeholder's label, centred and elided in ``size``, on a transparent pixmap."""
    key = (label, size.width(), size.height(), dpr, font.key())
    found = _LABELS.get(key)
    if found is None:
        found = QPixmap(max(1, round(size.width() * dpr)), max(1, round(size.height() * dpr)))
        found.setDevicePixelRatio(dpr)
        found.fill(Qt.GlobalColor.transparent)
        painter = QPainter(found)
        painter.setRenderHints(_HINTS)
        small = caption_font(font)
        painter.setFont(small)
        painter.setPen(PLACEHOLDER_COLOR)
        metrics = QFontMetrics(small)
        painter.drawText(QRect(QPoint(0, 0), size), Qt.AlignmentFlag.AlignCenter,
                         metrics.elidedText(label, Qt.TextElideMode.ElideRight, size.width()))
        painter.end()
        _LABELS.put(key, found)
    return found


def _badge_pixmap(usage: int, dpr: float, font: QFont, font_key: str) -> QPixmap:
    """The usage badge (pill, copy glyph, count) for ``usage``, rendered once."""
    key = (usage, dpr, font_key)
    found = _BADGES.get(key)
    if found is None:
        small = caption_font(font)
        small.setBold(True)
        text = f"{usage}"
        glyph_edge = 12
        width = 8 + glyph_edge + 4 + QFontMetrics(small).horizontalAdvance(text) + 8
        found = QPixmap(round(width * dpr), round(BADGE_HEIGHT * dpr))
        found.setDevicePixelRatio(dpr)
        found.fill(Qt.GlobalColor.transparent)
        painter = QPainter(found)
        painter.setRenderHints(_HINTS)
        badge = QRect(0, 0, width, BADGE_HEIGHT)
        painter.drawPixmap(0, 0, _pill(width, BADGE_HEIGHT, dpr, BADGE_FILL))
        painter.drawPixmap(8, (BADGE_HEIGHT - glyph_edge) // 2,
                           icons.pixmap(IconName.COPY, glyph_edge, QColor("#e6e8ec"), dpr))
        painter.setFont(small)
        painter.setPen(QColor("#e6e8ec"))
        painter.drawText(badge.adjusted(8 + glyph_edge + 4, 0, 0, 0),
                         Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, text)
        painter.end()
        _BADGES.put(key, found)
    return found


def _font_key(font: QFont) -> str:
    """``font.key()``, remembered for the last font seen."""
    if _LAST_FONT:
        last, key = _LAST_FONT[0]
        if last == font:
            return key
    key = font.key()
    _LAST_FONT[:] = [(QFont(font), key)]
    return key


def _cell_canvas(size: QSize, dpr: float, view: QWidget | None) -> QPixmap:
    """A pixmap to paint a new cache entry of ``size`` logical pixels on (contents undefined)."""
    width, height = round(size.width() * dpr), round(size.height() * dpr)
    if view is not None and not size.isEmpty():
        # Twice the cells the view can show at once (a partly shown line at both ends): a
        # view that shows more cells than the cache holds would miss on every cell of every
        # frame. The second half holds the next line and the shared placeholder pictures.
        shown = ((view.width() // size.width() + 1)
                 * (view.height() // size.height() + 2))
        CELL_CACHE.reserve(2 * shown * width * height * 4)
    canvas = CELL_CACHE.take(width, height)
    canvas.setDevicePixelRatio(dpr)
    return canvas


def _cell_values(index: AnyIndex) -> CellValues | None:
    """The cell's values straight from a ``GalleryModel`` (directly or under a proxy)."""
    model = index.model()
    # Walk down any chain of proxies (the grid's is a switch over a filter) in C++ mapping.
    while isinstance(model, QAbstractProxyModel):
        index = model.mapToSource(index)
        model = model.sourceModel()
    if isinstance(model, GalleryModel) and index.isValid():
        return model.cell_values(index.row())
    return None


def _values_from_roles(index: AnyIndex) -> CellValues:
    """The cell's values through ``data``, for models other than ``GalleryModel``."""
    decoration = index.data(_ROLE_DECORATION)
    state = index.data(_ROLE_THUMB_STATE)
    usage = index.data(_ROLE_USAGE)
    text = index.data(_ROLE_DISPLAY)
    return CellValues(decoration if isinstance(decoration, QPixmap) else None,
                      ThumbState(state) if state in iter(ThumbState) else ThumbState.LOADING,
                      bool(index.data(_ROLE_FAVORITE)),
                      usage if isinstance(usage, int) else 0, str(text) if text else "")


def _rounded_thumbnail(source: QPixmap, size: QSize, dpr: float, corners: QColor) -> QPixmap:
    """``source`` scaled to ``size`` logical pixels, its corners rounded onto ``corners``.

    The result is opaque: blending a translucent pixmap costs the raster engine several times
    more than copying an opaque one, and every visible cell blits one per frame.
    """
    key = f"gd-thumb:{source.cacheKey()}:{size.width()}x{size.height()}@{dpr}:{corners.rgb()}"
    found = QPixmap()
    if QPixmapCache.find(key, found):
        return found
    image = QImage(round(size.width() * dpr), round(size.height() * dpr),
                   QImage.Format.Format_RGB32)
    image.setDevicePixelRatio(dpr)
    image.fill(corners)
    painter = QPainter(image)
    painter.setRenderHints(_HINTS)
    path = QPainterPath()
    path.addRoundedRect(QRectF(0, 0, size.width(), size.height()), CORNER_RADIUS, CORNER_RADIUS)
    painter.setClipPath(path)
    painter.drawPixmap(QRect(0, 0, size.width(), size.height()), source)
    painter.end()
    result = QPixmap.fromImage(image)
    QPixmapCache.insert(key, result)
    return result


def _pill(width: int, height: int, dpr: float, fill: QColor) -> QPixmap:
    """A small rounded pill (the usage badge's background), rendered once, then blitted."""
    key = f"gd-pill:{width}x{height}:{dpr}:{fill.name(QColor.NameFormat.HexArgb)}"
    found = QPixmap()
    if QPixmapCache.find(key, found):
        return found
    result = QPixmap(max(1, round(width * dpr)), max(1, round(height * dpr)))
    result.setDevicePixelRatio(dpr)
    result.fill(Qt.GlobalColor.transparent)
    painter = QPainter(result)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(fill)
    painter.drawRoundedRect(QRectF(0, 0, width, height), height / 2, height / 2)
    painter.end()
    QPixmapCache.insert(key, result)
    return result


def _heart_button(edge: int, favorite: bool, dpr: float) -> QPixmap:
    """The heart disc with its glyph, from the pixmap cache."""
    key = f"gd-heart:{edge}:{favorite}:{dpr}"
    found = QPixmap()
    if QPixmapCache.find(key, found):
        return found
    result = QPixmap(round(edge * dpr), round(edge * dpr))
    result.setDevicePixelRatio(dpr)
    result.fill(Qt.GlobalColor.transparent)
    painter = QPainter(result)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(icons.HEART_COLOR if favorite else HEART_IDLE_FILL)
    painter.drawEllipse(QRectF(0, 0, edge, edge))
    glyph_edge = round(edge * 0.56)
    name = IconName.HEART_FILLED if favorite else IconName.HEART_OUTLINE
    glyph = icons.pixmap(name, glyph_edge, QColor("white"), dpr)
    painter.drawPixmap((edge - glyph_edge) // 2, (edge - glyph_edge) // 2 + 1, glyph)
    painter.end()
    QPixmapCache.insert(key, result)
    return result


def paint_cell(painter: QPainter, cell: QRect, values: CellValues, font: QFont, *,
               selected: bool = False, hovered: bool = False) -> None:
    """Paint one cell in place, over the view's background, leaving ``painter`` as it was.

    What ``GalleryDelegate.paint`` shows, painted directly instead of copied from the cache.

    Args:
        painter: an active painter; its device's pixel ratio is honoured.
        cell: the cell's rectangle (the item's ``option.rect``).
        values: what the cell shows.
        font: the view's font (the caption's is derived from it).
        selected: draw the selection fill and accent frame.
        hovered: draw the hover fill and the heart button.
    """
    bits = (_SELECTED_BIT if selected else 0) | (_HOVER_BIT if hovered else 0)
    device = painter.device()
    dpr = device.devicePixelRatioF() if device is not None else 1.0
    _paint_cell(painter, cell, bits, values, font, _font_key(font), dpr)


def _paint_cell(painter: QPainter, cell: QRect, bits: int, values: CellValues, font: QFont,
                font_key: str, dpr: float) -> None:
    painter.save()
    try:
        _paint_picture(painter, cell, bits, values, font, font_key, dpr)
        _paint_caption(painter, cell, bits, values.title, font, font_key)
    finally:
        painter.restore()


def _cell_pixmap(size: QSize, bits: int, values: CellValues, font: QFont, font_key: str,
                 dpr: float, view: QWidget | None) -> QPixmap:
    """The whole cell on an opaque pixmap of ``size``, for the cell cache."""
    # Taken first: making room for the shared picture below cannot then drop and hand back
    # the picture's own pixmap as the canvas it is copied onto.
    result = _cell_canvas(size, dpr, view)
    rect = QRect(QPoint(0, 0), size)
    decoration = values.pixmap
    if decoration is None or decoration.isNull():
        # Cells without a thumbnail differ only in their captions, and scrolling into rows
        # not seen yet shows many: their picture is shared, copied and captioned. (Its key
        # is shorter than a cell's, so the two never collide.)
        key = (size.width(), size.height(), dpr, font_key, bits, values.thumb_state,
               values.favorite, values.usage)
        picture = CELL_CACHE.get(key)
        if picture is None:
            picture = _cell_canvas(size, dpr, view)
            _opaque_painter(picture, rect, bits, values, font, font_key, dpr).end()
            CELL_CACHE.put(key, picture)
        painter = QPainter(result)
        painter.drawPixmap(0, 0, picture)
        painter.setRenderHints(_HINTS)  # as _paint_picture leaves it for the caption
    else:
        painter = _opaque_painter(result, rect, bits, values, font, font_key, dpr)
    _paint_caption(painter, rect, bits, values.title, font, font_key)
    painter.end()
    return result


def _opaque_painter(target: QPixmap, rect: QRect, bits: int, values: CellValues, font: QFont,
                    font_key: str, dpr: float) -> QPainter:
    """Fill ``target`` with the view's background and paint all but the caption on it.

    Returns:
        The painter, still active on ``target``.
    """
    # What the view paints under its cells: the cell's pixmap is opaque, a plain copy.
    target.fill(VIEW_BACKGROUND)
    painter = QPainter(target)
    _paint_picture(painter, rect, bits, values, font, font_key, dpr)
    return painter


def _paint_picture(painter: QPainter, cell: QRect, bits: int, values: CellValues, font: QFont,
                   font_key: str, dpr: float) -> None:
    """Everything but the caption; leaves ``_HINTS`` on and no pen on ``painter``."""
    selected = bool(bits & _SELECTED_BIT)
    hovered = bool(bits & _HOVER_BIT)
    painter.setRenderHints(_HINTS)
    painter.setPen(Qt.PenStyle.NoPen)
    background = VIEW_BACKGROUND
    if selected or hovered:
        fill = SELECTED_FILL if selected else HOVER_COLOR
        background = _SELECTED_BACKGROUND if selected else _HOVER_BACKGROUND
        painter.setBrush(fill)
        painter.drawRoundedRect(QRectF(cell).adjusted(2, 2, -2, -2), CORNER_RADIUS + 3,
                                CORNER_RADIUS + 3)

    tile = image_rect(cell)
    decoration = values.pixmap
    size = QSize()
    if decoration is not None and not decoration.isNull():
        size = fitted_size(decoration.deviceIndependentSize().toSize(), tile.size())
    if size != tile.size():
        # The tile shows around letterboxed images and behind placeholders.
        if dpr == 1.0 or dpr == 2.0:
            painter.drawPixmap(tile.topLeft(), _tile_pixmap(tile.size(), dpr, background))
        else:  # a fractional scale would blit the pixmap off the pixel grid
            painter.setBrush(TILE_COLOR)
            painter.drawRoundedRect(QRectF(tile), CORNER_RADIUS, CORNER_RADIUS)
    if decoration is not None and not size.isEmpty():
        # A letterboxed image's corners lie on the tile; a filling one's on the cell.
        corners = background if size == tile.size() else TILE_COLOR
        target = QRect(QPoint(0, 0), size)
        target.moveCenter(tile.center())
        painter.drawPixmap(target.topLeft(), _rounded_thumbnail(decoration, size, dpr, corners))
    else:
        style = _CAPTION_FONTS.get(font_key) or caption_style(font)
        _paint_placeholder(painter, tile, values.thumb_state, dpr, font, style[1].height())
    if selected:
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QPen(ACCENT, 2.0))
        painter.drawRoundedRect(QRectF(tile).adjusted(-1, -1, 1, 1), CORNER_RADIUS + 1,
                                CORNER_RADIUS + 1)
        painter.setPen(Qt.PenStyle.NoPen)

    if values.favorite or hovered:
        painter.drawPixmap(heart_rect(cell).topLeft(),
                           _heart_button(HEART_SIZE, values.favorite, dpr))
    if values.usage > 0:
        painter.drawPixmap(tile.left() + HEART_MARGIN,
                           tile.bottom() - HEART_MARGIN - BADGE_HEIGHT + 1,
                           _badge_pixmap(values.usage, dpr, font, font_key))


def _paint_placeholder(painter: QPainter, tile: QRect, state: ThumbState, dpr: float,
                       font: QFont, caption_height: int) -> None:
    name, label = _PLACEHOLDERS.get(state, _PLACEHOLDERS[ThumbState.LOADING])
    loading = not label
    color = QColor(PLACEHOLDER_COLOR)
    if loading:
        color.setAlpha(90)  # quiet while it loads: most cells flash through this state
    edge = max(16, min(48, tile.width() // 4))
    glyph = icons.pixmap(name, edge, color, dpr)
    text_h = caption_height if label else 0
    top = tile.center().y() - (edge + (6 + text_h if label else 0)) // 2
    painter.drawPixmap(tile.center().x() - edge // 2, top, glyph)
    if label and tile.width() >= 80:
        painter.drawPixmap(tile.left() + 4, top + edge + 6,
                           _label_pixmap(label, QSize(tile.width() - 8, text_h), dpr, font))


def _paint_caption(painter: QPainter, cell: QRect, bits: int, text: str, font: QFont,
                   font_key: str) -> None:
    if not text:
        return
    small, metrics = _CAPTION_FONTS.get(font_key) or caption_style(font)
    rect = caption_rect(cell, metrics.height())
    painter.setFont(small)
    painter.setPen(CAPTION_SELECTED_COLOR if bits & _SELECTED_BIT else CAPTION_COLOR)
    painter.drawStaticText(rect.topLeft(), _caption_text(text, rect.width(), font_key))


class GalleryDelegate(QStyledItemDelegate):
    """Paints gallery cells from the model's roles; a heart click becomes ``model.setData``.

    Holds no per-item state: everything comes from the index, the option and the view's
    icon size (``option.decorationSize``), so any number of rows costs nothing here.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        if QPixmapCache.cacheLimit() < _PIXMAP_CACHE_KB:
            QPixmapCache.setCacheLimit(_PIXMAP_CACHE_KB)

    def sizeHint(self, option: QStyleOptionViewItem, index: AnyIndex) -> QSize:
        """The cell size for the view's icon size and one caption line."""
        thumb = max(option.decorationSize.width(), option.decorationSize.height(), 32)
        return cell_size(thumb, caption_style(option.font)[1].height())

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        """Draw the cell: background, tile, thumbnail or placeholder, badges, caption.

        At a whole-number device pixel ratio this is one copy from ``CELL_CACHE``, painted
        by ``paint_cell``'s code the first time the cell shows these values.
        """
        values = _cell_values(index) or _values_from_roles(index)
        cell: QRect = option.rect
        bits = option.state.value & _STATE_BITS
        font = option.font
        font_key = _font_key(font)
        device = painter.device()
        dpr = device.devicePixelRatioF() if device is not None else 1.0
        if not dpr.is_integer() or cell.isEmpty():
            # A fractional scale would put the copy off the device pixel grid (and an empty
            # cell has nothing to keep): paint in place.
            _paint_cell(painter, cell, bits, values, font, font_key, dpr)
            return
        decoration = values.pixmap
        key = (cell.width(), cell.height(), dpr, font_key, bits,
               values.thumb_state, values.favorite, values.usage, values.title,
               decoration.cacheKey() if decoration is not None else 0)
        found = CELL_CACHE.get(key)
        if found is None:
            found = _cell_pixmap(cell.size(), bits, values, font, font_key, dpr, option.widget)
            CELL_CACHE.put(key, found)
        painter.drawPixmap(cell.x(), cell.y(), found)

    def editorEvent(self, event: QEvent, model: QAbstractItemModel,
                    option: QStyleOptionViewItem, index: AnyIndex) -> bool:
        """A left click released on the heart toggles the favorite through ``model.setData``."""
        if isinstance(event, QMouseEvent) and event.button() == Qt.MouseButton.LeftButton:
            on_heart = heart_rect(option.rect).contains(event.position().toPoint())
            if on_heart and event.type() == QEvent.Type.MouseButtonRelease:
                current = bool(index.data(ImageRole.IS_FAVORITE))
                model.setData(index, not current, ImageRole.IS_FAVORITE)
                return True
            if on_heart and event.type() == QEvent.Type.MouseButtonDblClick:
                return True  # a quick second click on the heart is a toggle, not "open"
        return super().editorEvent(event, model, option, index)
