"""The shipped SVG icons, found inside the installed package or the source tree, and tinted."""

from __future__ import annotations

import importlib.resources
import logging
from enum import StrEnum
from functools import cache
from pathlib import Path

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPixmap, QPixmapCache
from PySide6.QtSvg import QSvgRenderer

log = logging.getLogger(__name__)

# Light grey that reads well on the dark window and toolbar.
DEFAULT_TINT = QColor("#d4d6dc")
# The studio's web gallery marks favorites in purple (Tailwind purple-500): keep the habit.
HEART_COLOR = QColor("#a855f7")

_ICON_SIZES = (16, 20, 24, 32, 48, 64)


class IconName(StrEnum):
    """File stems of the SVGs in ``resources/icons``."""

    APP = "gallery-desktop"
    HEART_FILLED = "heart-filled"
    HEART_OUTLINE = "heart-outline"
    IMAGE_BROKEN = "image-broken"
    IMAGE_MISSING = "image-missing"
    IMAGE_REMOTE = "image-remote"
    IMAGE_LOADING = "image-loading"
    FOLDER_OPEN = "folder-open"
    REFRESH = "refresh"
    SEARCH = "search"
    WARNING = "warning"
    COPY = "copy"
    ZOOM_FIT = "zoom-fit"
    ZOOM_ORIGINAL = "zoom-original"
    PREVIOUS = "chevron-left"
    NEXT = "chevron-right"


@cache
def resource_dir() -> Path:
    """The folder holding the resources: the installed package, else the source checkout.

    Returns:
        ``gallery_desktop/resources`` of an installed wheel, or ``<repo>/resources``.
    """
    try:
        installed = Path(str(importlib.resources.files("gallery_desktop.resources")))
        if (installed / "icons").is_dir():
            return installed
    except ModuleNotFoundError:
        pass  # running from a source tree that was never installed
    return Path(__file__).resolve().parents[2] / "resources"


def icon_path(name: IconName) -> Path:
    """The SVG file of icon ``name``."""
    return resource_dir() / "icons" / f"{name}.svg"


@cache
def _renderer(name: IconName) -> QSvgRenderer:
    renderer = QSvgRenderer(str(icon_path(name)))
    if not renderer.isValid():
        log.warning("icon %s could not be loaded from %s", name, icon_path(name))
    return renderer


def render_image(name: IconName, size: int, color: QColor | None = None,
                 dpr: float = 1.0) -> QImage:
    """Render an icon into a transparent image, optionally tinted one colour.

    Args:
        name: the icon.
        size: edge length in logical pixels.
        color: tint for the monochrome icons; None keeps the SVG's own colours.
        dpr: device pixel ratio, so the result is crisp on HiDPI screens.

    Returns:
        A premultiplied ARGB image of ``size * dpr`` pixels with ``dpr`` set.
    """
    edge = max(1, round(size * dpr))
    image = QImage(edge, edge, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    _renderer(name).render(painter, QRectF(0, 0, edge, edge))
    if color is not None:
        # SourceIn keeps the icon's alpha (its shape) and replaces its colour.
        painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_SourceIn)
        painter.fillRect(image.rect(), color)
    painter.end()
    image.setDevicePixelRatio(dpr)
    return image


def pixmap(name: IconName, size: int, color: QColor | None = DEFAULT_TINT,
           dpr: float = 1.0) -> QPixmap:
    """A rendered icon from Qt's pixmap cache (GUI thread only), rendering it when absent.

    Args:
        name: the icon.
        size: edge length in logical pixels.
        color: tint, or None for the SVG's own colours.
        dpr: device pixel ratio of the target.

    Returns:
        The pixmap, with its device pixel ratio set.
    """
    key = f"gd-icon:{name}:{size}:{color.name(QColor.NameFormat.HexArgb) if color else '-'}:{dpr}"
    found = QPixmap()
    if QPixmapCache.find(key, found):
        return found
    result = QPixmap.fromImage(render_image(name, size, color, dpr))
    QPixmapCache.insert(key, result)
    return result


def icon(name: IconName, color: QColor | None = DEFAULT_TINT,
         checked: tuple[IconName, QColor] | None = None) -> QIcon:
    """A QIcon of an SVG, tinted, with pixmaps for the usual sizes at 1x and 2x.

    Args:
        name: the icon for the normal (unchecked) state.
        color: tint, or None for the SVG's own colours.
        checked: icon and colour for the checked ("on") state of checkable actions.

    Returns:
        The icon.
    """
    result = QIcon()
    disabled = QColor(color) if color is not None else None
    if disabled is not None:
        disabled.setAlphaF(0.35)
    for size in _ICON_SIZES:
        for dpr in (1.0, 2.0):
            result.addPixmap(pixmap(name, size, color, dpr), QIcon.Mode.Normal, QIcon.State.Off)
            if disabled is not None:
                result.addPixmap(pixmap(name, size, disabled, dpr), QIcon.Mode.Disabled)
            if checked is not None:
                on_name, on_color = checked
                result.addPixmap(pixmap(on_name, size, on_color, dpr), QIcon.Mode.Normal,
                                 QIcon.State.On)
    return result


def app_icon() -> QIcon:
    """The application's own full-colour icon (scalable, from the SVG)."""
    result = QIcon(str(icon_path(IconName.APP)))
    if result.isNull():
        log.warning("application icon missing at %s", icon_path(IconName.APP))
    return result


def heart_icon() -> QIcon:
    """The heart for checkable favorite actions: outline when off, filled purple when on."""
    return icon(IconName.HEART_OUTLINE, checked=(IconName.HEART_FILLED, HEART_COLOR))


def icon_size(edge: int) -> QSize:
    """A square QSize, for ``setIconSize``."""
    return QSize(edge, edge)
