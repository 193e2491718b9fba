"""The viewer's image area: one image fitted to the window or at 100%, or a placeholder."""

from __future__ import annotations

from enum import StrEnum

from PySide6.QtCore import QPoint, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent, QPixmap
from PySide6.QtWidgets import QSizePolicy, QWidget

from gallery_desktop.qt import icons
from gallery_desktop.qt.icons import IconName

CANVAS_COLOR = QColor("#101114")
FIT_MARGIN = 16  # room around a fitted image, so it does not touch the window edges


class ZoomMode(StrEnum):
    """How the viewer sizes the image."""

    FIT = "fit"  # the whole image, as large as the window allows
    ACTUAL = "actual"  # one image pixel per screen pixel; drag to pan


class ImageCanvas(QWidget):
    """Paints one image fitted or at 100% (dragging pans), or a placeholder message."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("imageCanvas")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(200, 200)
        self._pixmap = QPixmap()
        self._fit_cache = QPixmap()
        self._mode = ZoomMode.FIT
        self._offset = QPointF(0, 0)
        self._drag_from: QPoint | None = None
        self._message: tuple[IconName, str] | None = (IconName.IMAGE_LOADING, "")

    def set_image(self, image: QImage) -> None:
        """Show ``image`` (its pixels map 1:1 to device pixels at 100%)."""
        self._pixmap = QPixmap.fromImage(image)
        self._pixmap.setDevicePixelRatio(self.devicePixelRatioF())
        self._fit_cache = QPixmap()
        self._offset = QPointF(0, 0)
        self._message = None
        self.update()

    def set_message(self, glyph: IconName, text: str) -> None:
        """Show a placeholder glyph and text instead of an image ("" text: loading)."""
        self._pixmap = QPixmap()
        self._fit_cache = QPixmap()
        self._message = (glyph, text)
        self.update()

    def has_image(self) -> bool:
        """Whether an image (not a placeholder) is shown."""
        return not self._pixmap.isNull()

    def message(self) -> str:
        """The placeholder text shown, or "" when an image is shown."""
        return self._message[1] if self._message else ""

    def set_mode(self, mode: ZoomMode) -> None:
        """Fit to the window or show at 100%."""
        self._mode = mode
        self._offset = QPointF(0, 0)
        self.setCursor(Qt.CursorShape.OpenHandCursor if mode is ZoomMode.ACTUAL
                       else Qt.CursorShape.ArrowCursor)
        self.update()

    def mode(self) -> ZoomMode:
        """The zoom mode."""
        return self._mode

    def scale(self) -> float:
        """Displayed size over actual size (1.0 at 100%; the fitting factor otherwise)."""
        if self._pixmap.isNull() or self._mode is ZoomMode.ACTUAL:
            return 1.0
        logical = self._pixmap.deviceIndependentSize()
        if logical.width() <= 0 or logical.height() <= 0:
            return 1.0
        width = max(1, self.width() - 2 * FIT_MARGIN)
        height = max(1, self.height() - 2 * FIT_MARGIN)
        return min(width / logical.width(), height / logical.height())

    def _target(self) -> QRectF:
        logical = self._pixmap.deviceIndependentSize()
        scale = self.scale()
        size = QSize(max(1, round(logical.width() * scale)),
                     max(1, round(logical.height() * scale)))
        rect = QRectF(0, 0, size.width(), size.height())
        rect.moveCenter(QRectF(self.rect()).center() + self._offset)
        return rect

    def _clamp_offset(self) -> None:
        logical = self._pixmap.deviceIndependentSize()
        max_x = max(0.0, (logical.width() - self.width()) / 2)
        max_y = max(0.0, (logical.height() - self.height()) / 2)
        self._offset = QPointF(max(-max_x, min(max_x, self._offset.x())),
                               max(-max_y, min(max_y, self._offset.y())))

    def paintEvent(self, event: QPaintEvent) -> None:
        """Draw the image (or the placeholder) centred on a dark canvas."""
        painter = QPainter(self)
        painter.fillRect(self.rect(), CANVAS_COLOR)
        if self._pixmap.isNull():
            self._paint_message(painter)
            return
        target = self._target()
        if self._mode is ZoomMode.FIT and self.scale() != 1.0:
            dpr = self.devicePixelRatioF()
            want = QSize(round(target.width() * dpr), round(target.height() * dpr))
            if self._fit_cache.size() != want:
                # Scale once per size with a good filter; painting then is a plain blit.
                self._fit_cache = self._pixmap.scaled(want, Qt.AspectRatioMode.IgnoreAspectRatio,
                                                      Qt.TransformationMode.SmoothTransformation)
                self._fit_cache.setDevicePixelRatio(dpr)
            painter.drawPixmap(target.topLeft(), self._fit_cache)
        else:
            painter.drawPixmap(target.topLeft(), self._pixmap)

    def _paint_message(self, painter: QPainter) -> None:
        if self._message is None:
            return
        glyph, text = self._message
        color = QColor("#5b606b")
        edge = 64
        pixmap = icons.pixmap(glyph, edge, color, self.devicePixelRatioF())
        center = self.rect().center()
        painter.drawPixmap(center.x() - edge // 2, center.y() - edge, pixmap)
        if text:
            painter.setPen(QColor("#9ea3ad"))
            painter.drawText(QRectF(0, center.y() + 12, self.width(), 48),
                             Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop
                             | Qt.TextFlag.TextWordWrap, text)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        """Start panning (at 100%)."""
        if self._mode is ZoomMode.ACTUAL and event.button() == Qt.MouseButton.LeftButton:
            self._drag_from = event.position().toPoint()
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        """Pan with the pointer."""
        if self._drag_from is not None:
            now = event.position().toPoint()
            self._offset += QPointF(now - self._drag_from)
            self._drag_from = now
            self._clamp_offset()
            self.update()
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        """Stop panning."""
        if self._drag_from is not None:
            self._drag_from = None
            self.setCursor(Qt.CursorShape.OpenHandCursor)
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        """Double-click switches between fit and 100%."""
        self.set_mode(ZoomMode.ACTUAL if self._mode is ZoomMode.FIT else ZoomMode.FIT)
