"""Decode an image file into a small, upright RGB/RGBA thumbnail with Pillow, safely."""

from __future__ import annotations

import logging
import math
import os
import stat
from typing import cast

from PIL import Image, UnidentifiedImageError

from gallery_desktop.core.errors import ThumbnailError
from gallery_desktop.core.paths import OUTSIDE_REASON
from gallery_desktop.core.records import FilePath

log = logging.getLogger(__name__)

# Refuse to decode more than 8192 x 8192 pixels (64 Mpx, ~256 MB as RGBA), before decoding
# anything. A baseline JPEG counts at the scale draft() decodes it at (down to 1/8 a side),
# so a big photo (a 12000 x 6000 upscale) still gets its thumbnail. A progressive one makes
# libjpeg keep every DCT coefficient of the full image (2 bytes each, whatever the scale):
# those must fit in the same ~256 MB. The limit is below Pillow's own, so a bomb is refused
# here with a clear reason; Pillow's DecompressionBombError (above twice its limit, for any
# format) is caught and reported the same way.
MAX_IMAGE_PIXELS: int = 8192 * 8192
MAX_DECODE_BYTES: int = MAX_IMAGE_PIXELS * 4

# The reason given when the file is not there (the grid shows it as missing).
FILE_NOT_FOUND = "file not found"
NOT_A_FILE = "not a regular file"
# The reasons that mean there is no file to read at all (others: a file that will not decode).
NO_FILE_REASONS = frozenset((FILE_NOT_FOUND, NOT_A_FILE, OUTSIDE_REASON))

# Formats we let Pillow open. Anything else (EPS runs Ghostscript, PSD, FITS, ...) is
# refused: the studio writes PNG/JPEG/WebP, and every extra parser is attack surface.
# Only those this Pillow build registers (older ones list MPO apart from JPEG; AVIF may
# be missing), since Image.open fails on an unknown name.
Image.init()
ALLOWED_FORMATS: tuple[str, ...] = tuple(
    f for f in ("PNG", "JPEG", "MPO", "WEBP", "GIF", "BMP", "TIFF", "AVIF") if f in Image.OPEN)

# Shrink by whole factors first (JPEG: libjpeg's DCT scaling via draft(); others: the
# box filter of reduce()), then resample the last < 2x step with a real filter. Decoding
# is the budget: at 1024 -> 384 a direct bicubic resample costs ~12 ms on top of a
# ~20 ms PNG decode, reduce(2) + bicubic ~6 ms. The Qt loader finishes the last step with
# Qt's smooth scaling instead, which is ~3x faster than Pillow's filters.
_RESAMPLE = Image.Resampling.BICUBIC

# EXIF orientation -> the transpose that makes the image upright (as ImageOps.exif_transpose).
_ORIENTATION_FIX: dict[int, Image.Transpose] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_EXIF_ORIENTATION_TAG = 0x0112


def fit_size(width: int, height: int, edge: int) -> tuple[int, int]:
    """The size of a ``width`` x ``height`` image scaled to fit ``edge``, never upscaled.

    Neither side drops below one pixel, so a 1 x 20000 strip stays drawable.

    Args:
        width: Source width in pixels (> 0).
        height: Source height in pixels (> 0).
        edge: The longest side allowed.

    Returns:
        The target ``(width, height)``.
    """
    longest = max(width, height)
    if longest <= edge:
        return width, height
    scale = edge / longest
    return max(1, min(edge, round(width * scale))), max(1, min(edge, round(height * scale)))


def load_thumbnail(path: FilePath, edge: int) -> Image.Image:
    """Decode ``path`` into a thumbnail whose longest side is at most ``edge``.

    JPEG is decoded at a reduced scale with ``draft()``; other formats are shrunk with
    ``reduce()`` before a bicubic resample. EXIF orientation is applied, animations give
    their first frame, and every mode comes out as RGB or RGBA.

    Args:
        path: The image file.
        edge: The longest side of the thumbnail, in pixels (> 0).

    Returns:
        A loaded RGB or RGBA image, detached from the file.

    Raises:
        ThumbnailError: the file is missing, empty, truncated, corrupt, of an unsupported
            format or too large to decode safely. No other exception escapes.
    """
    image, size = decode_reduced(path, edge)
    if image.size != size:
        image = image.resize(size, _RESAMPLE)
    return image


def stat_image_file(path: FilePath) -> os.stat_result:
    """The ``stat`` of an image file about to be opened (symlinks followed).

    Raises:
        ThumbnailError: it is not there (``FILE_NOT_FOUND``), cannot be looked at, or is
            not a regular file (``NOT_A_FILE``: a folder, or a FIFO whose open would hang).
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ThumbnailError(FILE_NOT_FOUND) from None
    except OSError as err:
        raise ThumbnailError(f"cannot read file: {err.strerror or err}") from None
    if not stat.S_ISREG(st.st_mode):
        raise ThumbnailError(NOT_A_FILE)
    return st


def decode_reduced(path: FilePath, edge: int) -> tuple[Image.Image, tuple[int, int]]:
    """Everything ``load_thumbnail`` does except the final resample.

    For callers with a faster resampler of their own: the image is upright, RGB or
    RGBA, and shrunk by whole factors only (``draft``, ``reduce``), so each side is at
    least the thumbnail's and less than twice it (or the source's, when smaller).

    Args:
        path: The image file.
        edge: The longest side of the thumbnail, in pixels (> 0).

    Returns:
        ``(image, size)``: the reduced image and the thumbnail size to resample it to
        (equal to ``image.size`` when no resample is needed).

    Raises:
        ThumbnailError: as ``load_thumbnail``.
    """
    if edge <= 0:
        raise ValueError(f"edge must be positive, got {edge}")
    size = stat_image_file(path).st_size
    if size == 0:
        raise ThumbnailError("empty file (0 bytes)")
    try:
        fp = open(path, "rb")  # noqa: SIM115 - closed by the with block below
    except OSError as err:
        raise ThumbnailError(f"cannot read file: {err.strerror or err}") from None
    try:
        # Only the file is closed, never the image: a closed image loses its pixels, so
        # handing out the decoded one as is would otherwise take a copy, a fresh buffer
        # per thumbnail (~0.35 ms of page faults alone at 256 px). The pixels are all
        # loaded by then, and the file is closed here whatever the image kept of it.
        with fp:
            return _reduced(Image.open(fp, formats=ALLOWED_FORMATS), edge)
    except ThumbnailError:
        raise
    except UnidentifiedImageError:
        raise ThumbnailError("not a supported image format") from None
    except Image.DecompressionBombError as err:
        raise ThumbnailError(f"image too large to decode safely ({err})") from None
    except MemoryError:
        raise ThumbnailError("not enough memory to decode the image") from None
    except Exception as err:
        # Pillow's plugins report malformed input with whatever they hit (OSError,
        # SyntaxError, struct.error, ValueError, IndexError, EOFError...): all of them
        # mean "this file is broken", and none may take a worker thread down.
        log.debug("cannot decode %s: %r", path, err)
        raise ThumbnailError(f"corrupt or truncated image: {err}") from None


def _reduced(im: Image.Image, edge: int) -> tuple[Image.Image, tuple[int, int]]:
    """Decode, convert, shrink by whole factors and orient an opened image."""
    width, height = im.size
    if width <= 0 or height <= 0:
        raise ThumbnailError(f"invalid image size {width}x{height}")
    target = fit_size(width, height, edge)
    if im.format in ("JPEG", "MPO") and target != im.size:
        # Let libjpeg scale in the DCT domain (1/2, 1/4, 1/8) to no less than the target:
        # far cheaper than a full decode, and as sharp as a proper downscale.
        im.draft(None, target)
    if im.width * im.height > MAX_IMAGE_PIXELS:  # the pixels load() would decode
        raise ThumbnailError(
            f"image too large to decode safely ({width}x{height} pixels, "
            f"limit {MAX_IMAGE_PIXELS})")
    if im.info.get("progressive") and _coefficient_bytes(im, width, height) > MAX_DECODE_BYTES:
        raise ThumbnailError(
            f"image too large to decode safely ({width}x{height} pixels, progressive JPEG)")
    im.load()
    # Read EXIF only after load(): PNG keeps it after the pixels, so getexif() would load
    # the image itself and swallow a truncation error that load() must raise.
    orientation = _orientation(im)
    # Convert before shrinking: palette and 16-bit images cannot be filtered correctly.
    rgb = _to_rgb_or_rgba(im)
    fx, fy = rgb.width // target[0], rgb.height // target[1]
    if fx > 1 or fy > 1:
        # Per axis, so that a 1 x 20000 strip shrinks too.
        rgb = rgb.reduce((max(1, fx), max(1, fy)))
    if orientation in _ORIENTATION_FIX:
        # Orient the reduced image, not the source: same result, a fraction of the work.
        rgb = rgb.transpose(_ORIENTATION_FIX[orientation])
        if orientation >= 5:  # the transposing ones
            target = (target[1], target[0])
    if rgb.mode == "RGBA" and _alpha_is_opaque(rgb):
        rgb = rgb.convert("RGB")
    return rgb, target


def _coefficient_bytes(im: Image.Image, width: int, height: int) -> int:
    """What libjpeg holds to decode a progressive JPEG of ``width`` x ``height``: 2 bytes
    per DCT coefficient of every component, at that component's sampling."""
    layers = getattr(im, "layer", None) or [(0, 1, 1, 0)] * len(im.getbands())
    h_max = max(layer[1] for layer in layers) or 1
    v_max = max(layer[2] for layer in layers) or 1
    return sum(2 * math.ceil(width * layer[1] / h_max) * math.ceil(height * layer[2] / v_max)
               for layer in layers)


def _orientation(im: Image.Image) -> int:
    """The EXIF orientation (1 when absent or unreadable)."""
    try:
        value = im.getexif().get(_EXIF_ORIENTATION_TAG, 1)
    except Exception:  # a broken EXIF block must not cost us the picture
        return 1
    return value if isinstance(value, int) else 1


def _to_rgb_or_rgba(im: Image.Image) -> Image.Image:
    """Convert any Pillow mode to RGB, or RGBA when the image carries transparency."""
    mode = im.mode
    if mode in ("RGB", "RGBA"):
        return im
    if mode in ("LA", "PA", "RGBa", "La") or (
            mode in ("P", "L", "RGB") and "transparency" in im.info):
        return im.convert("RGBA")
    if mode.startswith("I;16"):
        return im.convert("I").point(lambda v: v * (1 / 257)).convert("RGB")
    if mode in ("I", "F"):
        return _scale_to_8bit(im).convert("RGB")
    # CMYK (including Adobe's inverted JPEGs, which Pillow's decoder already undoes),
    # YCbCr, LAB, HSV, 1, L and P without transparency.
    return im.convert("RGB")


def _scale_to_8bit(im: Image.Image) -> Image.Image:
    """Map a 32-bit integer or float image onto 0..255 (mode ``L``)."""
    # Single-band modes: getextrema() gives (min, max).
    extrema = cast("tuple[float, float]", im.getextrema())
    low, high = float(extrema[0]), float(extrema[1])
    if im.mode == "F" and low >= 0.0 and high <= 1.0:
        return im.point(lambda v: v * 255.0).convert("L")
    if low >= 0.0 and high <= 255.0:
        return im.convert("L")
    if low >= 0.0 and high <= 65535.0:
        return im.point(lambda v: v * (1 / 257)).convert("L")
    span = high - low if math.isfinite(high - low) and high > low else 1.0
    return im.point(lambda v: (v - low) * (255.0 / span)).convert("L")


def _alpha_is_opaque(im: Image.Image) -> bool:
    """Whether an RGBA image's alpha channel is fully opaque (then RGB is smaller to cache)."""
    low, _high = cast("tuple[int, int]", im.getchannel("A").getextrema())
    return low == 255
