"""Pillow images to QImages in the raster engine's native formats, and back."""

from __future__ import annotations

import sys
from typing import cast

from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

# Format_RGB32 is 0xffRRGGBB in native byte order: B, G, R, 0xff in memory on little-endian.
_RGB32_RAWMODE = "BGRX" if sys.byteorder == "little" else "XRGB"


def pil_to_qimage(image: Image.Image) -> QImage:
    """Convert an RGB/RGBA Pillow image into a QImage that owns its pixels.

    The result is in the raster engine's native format (RGB32, or premultiplied ARGB32),
    so the GUI thread's ``QPixmap.fromImage`` needs no conversion. Measured at 384x384:
    wrapping ``tobytes()`` and converting costs ~0.15 ms, encoding to JPEG and
    ``QImage.fromData`` ~2.3 ms. Packing straight into Qt's 32-bit layout
    (``tobytes("raw", "BGRX")``) and wrapping those bytes was measured too: Pillow's
    BGRX packer is ~3x slower than its RGB one, and with the results kept alive (as the
    grid keeps them) it came out ~40 % slower at 256 px than this.

    Args:
        image: An RGB or RGBA image (other modes are converted to RGB first).

    Returns:
        A QImage independent of ``image``.
    """
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGB")
    w, h = image.size
    data = image.tobytes()
    if image.mode == "RGBA":
        wrapped = QImage(data, w, h, 4 * w, QImage.Format.Format_RGBA8888)
        return wrapped.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)
    wrapped = QImage(data, w, h, 3 * w, QImage.Format.Format_RGB888)
    # convertToFormat copies, so the result no longer points into ``data``.
    return wrapped.convertToFormat(QImage.Format.Format_RGB32)


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
