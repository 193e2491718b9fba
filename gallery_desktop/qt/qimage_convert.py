"""Pillow images to QImages in the raster engine's native formats, and back."""

from __future__ import annotations

import sys
from typing import cast

from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

# Format_RGB32 is 0xffRRGGBB in native byte order: B, G, R, 0xff in memory on little-endian.
# Format_ARGB32_Premultiplied likewise, with premultiplied colours ("BGRa" in Pillow's terms).
_LITTLE = sys.byteorder == "little"
_RGB32_RAWMODE = "BGRX" if _LITTLE else "XRGB"


def pil_to_qimage(image: Image.Image) -> QImage:
    """Convert an RGB/RGBA Pillow image into a QImage in the raster engine's native format.

    The result is RGB32 (or premultiplied ARGB32), so the GUI thread's ``QPixmap.fromImage``
    needs no conversion. Pillow packs its pixels straight into that layout and the QImage
    wraps those bytes, keeping a reference to them (PySide6 does; a write to the QImage
    detaches it first, as the bytes are read-only). At 256 px that is ~0.2 ms, half of
    packing to 24-bit RGB and converting in Qt, since Pillow keeps RGB in 32-bit pixels.

    Args:
        image: An RGB or RGBA image (other modes are converted to RGB first).

    Returns:
        A QImage that stays valid whatever becomes of ``image``.
    """
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGB")
    w, h = image.size
    if image.mode == "RGB":
        return QImage(image.tobytes("raw", _RGB32_RAWMODE), w, h, 4 * w,
                      QImage.Format.Format_RGB32)
    if _LITTLE:
        return QImage(image.tobytes("raw", "BGRa"), w, h, 4 * w,
                      QImage.Format.Format_ARGB32_Premultiplied)
    wrapped = QImage(image.tobytes(), w, h, 4 * w, QImage.Format.Format_RGBA8888)
    return wrapped.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)


def qimage_to_pil(image: QImage) -> Image.Image:
    """Convert a QImage into an RGB (opaque) or RGBA Pillow image, for the disk cache.

    Args:
        image: Any QImage.

    Returns:
        A Pillow image that owns its pixels.
    """
    size = (image.width(), image.height())
    if image.format() == QImage.Format.Format_RGB32:
        # What every opaque thumbnail is: Pillow unpacks the 32-bit pixels straight from
        # Qt's buffer into a copy of its own (~0.08 ms at 256 px, where converting to
        # RGBX8888 first and copying the bytes out takes ~0.4 ms).
        # Any buffer will do at run time; Pillow's stubs list fewer types than it takes.
        bits = cast("bytes", image.constBits())
        return Image.frombuffer("RGB", size, bits, "raw", _RGB32_RAWMODE,
                                image.bytesPerLine(), 1)
    alpha = image.hasAlphaChannel()
    # RGBA8888 / RGBX8888 have the same byte order on every platform.
    fmt = QImage.Format.Format_RGBA8888 if alpha else QImage.Format.Format_RGBX8888
    if image.format() != fmt:
        image = image.convertToFormat(fmt)
    raw = bytes(image.constBits())
    if alpha:
        return Image.frombytes("RGBA", size, raw, "raw", "RGBA", image.bytesPerLine())
    return Image.frombytes("RGB", size, raw, "raw", "RGBX", image.bytesPerLine())


def scaled_thumbnail(image: Image.Image, size: tuple[int, int]) -> QImage:
    """Turn a reduced image (see ``decode_reduced``) into the final QImage of ``size``.

    Qt's smooth scaling (area averaging) does the last < 2x step: at 512 -> 384 it costs
    ~1 ms where Pillow's bilinear filter takes ~3 ms, a cost paid on every cold thumbnail.

    Args:
        image: An RGB or RGBA image at least ``size``.
        size: The thumbnail's size.

    Returns:
        The thumbnail, in the native raster format.
    """
    qimage = pil_to_qimage(image)
    if image.size != size:  # Pillow's size: asking the QImage is two more Qt calls
        qimage = qimage.scaled(size[0], size[1], Qt.AspectRatioMode.IgnoreAspectRatio,
                               Qt.TransformationMode.SmoothTransformation)
    return qimage


def display_format(image: QImage) -> QImage:
    """``image`` in the native raster format (a no-op for JPEG thumbnails)."""
    wanted = (QImage.Format.Format_ARGB32_Premultiplied if image.hasAlphaChannel()
              else QImage.Format.Format_RGB32)
    return image if image.format() == wanted else image.convertToFormat(wanted)
