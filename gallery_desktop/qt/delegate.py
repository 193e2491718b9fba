"""Paints one gallery cell (thumbnail, placeholder, heart, badge, caption); forwards clicks."""

from __future__ import annotations

import logging

from PySide6.QtCore import (
    QAbstractItemModel,
    QEvent,
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    QRectF,
    QSize,
    Qt,
)
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPixmap,
    QPixmapCache,
)
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from gallery_desktop.qt import icons
from gallery_desktop.qt.icons import IconName
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

# Scaled, rounded thumbnails are cached by Qt's global pixmap cache, which is small by default.
_PIXMAP_CACHE_KB = 128 * 1024


def caption_font(base: QFont) -> QFont:
    """The caption's font: the view's, a little smaller."""
    font = QFont(base)
    if font.pointSizeF() > 0:
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.92))
    return font


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


def _rounded_thumbnail(source: QPixmap, size: QSize, dpr: float) -> QPixmap:
    """``source`` scaled to ``size`` logical pixels with rounded corners, via the pixmap cache."""
    key = f"gd-thumb:{source.cacheKey()}:{size.width()}x{size.height()}@{dpr}"
    found = QPixmap()
    if QPixmapCache.find(key, found):
        return found
    result = QPixmap(round(size.width() * dpr), round(size.height() * dpr))
    result.setDevicePixelRatio(dpr)
    result.fill(Qt.GlobalColor.transparent)
    painter = QPainter(result)
    painter.setRenderHints(QPainter.RenderHint.Antialiasing
                           | QPainter.RenderHint.SmoothPixmapTransform)
    path = QPainterPath()
    path.addRoundedRect(QRectF(0, 0, size.width(), size.height()), CORNER_RADIUS, CORNER_RADIUS)
    painter.setClipPath(path)
    painter.drawPixmap(QRect(0, 0, size.width(), size.height()), source)
    painter.end()
    QPixmapCache.insert(key, result)
    return result


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
        return cell_size(thumb, QFontMetrics(caption_font(option.font)).height())

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        """Draw the cell: background, tile, thumbnail or placeholder, badges, caption."""
        painter.save()
        try:
            self._paint(painter, option, index)
        finally:
            painter.restore()

    def _paint(self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        cell: QRect = option.rect
        state = option.state
        selected = bool(state & QStyle.StateFlag.State_Selected)
        hovered = bool(state & QStyle.StateFlag.State_MouseOver)
        painter.setRenderHints(QPainter.RenderHint.Antialiasing
                               | QPainter.RenderHint.SmoothPixmapTransform)
        painter.setPen(Qt.PenStyle.NoPen)
        frame = QRectF(cell).adjusted(2, 2, -2, -2)
        if selected:
            painter.setBrush(SELECTED_FILL)
            painter.drawRoundedRect(frame, CORNER_RADIUS + 3, CORNER_RADIUS + 3)
        elif hovered:
            painter.setBrush(HOVER_COLOR)
            painter.drawRoundedRect(frame, CORNER_RADIUS + 3, CORNER_RADIUS + 3)

        tile = image_rect(cell)
        painter.setBrush(TILE_COLOR)
        painter.drawRoundedRect(QRectF(tile), CORNER_RADIUS, CORNER_RADIUS)
        dpr = painter.device().devicePixelRatioF() if painter.device() else 1.0
        decoration = index.data(Qt.ItemDataRole.DecorationRole)
        if isinstance(decoration, QPixmap) and not decoration.isNull():
            logical = decoration.deviceIndependentSize().toSize()
            size = fitted_size(logical, tile.size())
            target = QRect(0, 0, size.width(), size.height())
            target.moveCenter(tile.center())
            painter.drawPixmap(target.topLeft(), _rounded_thumbnail(decoration, size, dpr))
        else:
            self._paint_placeholder(painter, tile, index.data(ImageRole.THUMB_STATE), dpr,
                                    option.font)

        if selected:
            painter.setBrush(Qt.BrushStyle.NoBrush)
            pen = painter.pen()
            pen.setColor(ACCENT)
            pen.setWidthF(2.0)
            pen.setStyle(Qt.PenStyle.SolidLine)
            painter.setPen(pen)
            painter.drawRoundedRect(QRectF(tile).adjusted(-1, -1, 1, 1), CORNER_RADIUS + 1,
                                    CORNER_RADIUS + 1)
            painter.setPen(Qt.PenStyle.NoPen)

        favorite = bool(index.data(ImageRole.IS_FAVORITE))
        if favorite or hovered:
            self._paint_heart(painter, heart_rect(cell), favorite, dpr)
        usage = index.data(ImageRole.USAGE_COUNT)
        if isinstance(usage, int) and usage > 0:
            self._paint_usage_badge(painter, tile, usage, dpr, option.font)
        self._paint_caption(painter, cell, index, option.font, selected)

    def _paint_placeholder(self, painter: QPainter, tile: QRect, state: object, dpr: float,
                           font: QFont) -> None:
        name, label = _PLACEHOLDERS.get(state if isinstance(state, int) else ThumbState.LOADING,
                                        _PLACEHOLDERS[ThumbState.LOADING])
        loading = not label
        color = QColor(PLACEHOLDER_COLOR)
        if loading:
            color.setAlpha(90)  # quiet while it loads: most cells flash through this state
        edge = max(16, min(48, tile.width() // 4))
        glyph = icons.pixmap(name, edge, color, dpr)
        text_h = QFontMetrics(caption_font(font)).height() if label else 0
        top = tile.center().y() - (edge + (6 + text_h if label else 0)) // 2
        painter.drawPixmap(tile.center().x() - edge // 2, top, glyph)
        if label and tile.width() >= 80:
            painter.setFont(caption_font(font))
            painter.setPen(PLACEHOLDER_COLOR)
            text_rect = QRect(tile.left() + 4, top + edge + 6, tile.width() - 8, text_h)
            metrics = QFontMetrics(painter.font())
            painter.drawText(text_rect, Qt.AlignmentFlag.AlignCenter,
                             metrics.elidedText(label, Qt.TextElideMode.ElideRight,
                                                text_rect.width()))
            painter.setPen(Qt.PenStyle.NoPen)

    def _paint_heart(self, painter: QPainter, rect: QRect, favorite: bool, dpr: float) -> None:
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(icons.HEART_COLOR if favorite else HEART_IDLE_FILL)
        painter.drawEllipse(QRectF(rect))
        edge = round(rect.width() * 0.56)
        name = IconName.HEART_FILLED if favorite else IconName.HEART_OUTLINE
        glyph = icons.pixmap(name, edge, QColor("white"), dpr)
        painter.drawPixmap(rect.left() + (rect.width() - edge) // 2,
                           rect.top() + (rect.height() - edge) // 2 + 1, glyph)

    def _paint_usage_badge(self, painter: QPainter, tile: QRect, usage: int, dpr: float,
                           font: QFont) -> None:
        small = caption_font(font)
        small.setBold(True)
        metrics = QFontMetrics(small)
        text = f"{usage}"
        glyph_edge = 12
        width = 8 + glyph_edge + 4 + metrics.horizontalAdvance(text) + 8
        badge = QRect(tile.left() + HEART_MARGIN, tile.bottom() - HEART_MARGIN - BADGE_HEIGHT + 1,
                      width, BADGE_HEIGHT)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(BADGE_FILL)
        painter.drawRoundedRect(QRectF(badge), BADGE_HEIGHT / 2, BADGE_HEIGHT / 2)
        painter.drawPixmap(badge.left() + 8, badge.top() + (BADGE_HEIGHT - glyph_edge) // 2,
                           icons.pixmap(IconName.COPY, glyph_edge, QColor("#e6e8ec"), dpr))
        painter.setFont(small)
        painter.setPen(QColor("#e6e8ec"))
        painter.drawText(badge.adjusted(8 + glyph_edge + 4, 0, 0, 0),
                         Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, text)
        painter.setPen(Qt.PenStyle.NoPen)

    def _paint_caption(self, painter: QPainter, cell: QRect, index: AnyIndex, font: QFont,
                       selected: bool) -> None:
        text = index.data(Qt.ItemDataRole.DisplayRole)
        if not text:
            return
        small = caption_font(font)
        metrics = QFontMetrics(small)
        rect = caption_rect(cell, metrics.height())
        painter.setFont(small)
        painter.setPen(CAPTION_SELECTED_COLOR if selected else CAPTION_COLOR)
        line = " ".join(str(text).split())  # one line: newlines and runs of spaces collapse
        painter.drawText(rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         metrics.elidedText(line, Qt.TextElideMode.ElideRight, rect.width()))

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
