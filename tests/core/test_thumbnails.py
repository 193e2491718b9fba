"""load_thumbnail on real files: formats, modes, orientation, odd shapes, hostile input."""

from __future__ import annotations

import contextlib
import io
import os
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from gallery_desktop.core.errors import ThumbnailError
from gallery_desktop.core.thumbnails import (
    MAX_IMAGE_PIXELS,
    decode_reduced,
    fit_size,
    load_thumbnail,
)
from tests.factories import make_image

EDGE = 128
RED, BLUE, DARK = (255, 0, 0), (0, 0, 255), (0x2C, 0x3E, 0x50)


def close(a: tuple[int, ...], b: tuple[int, ...], tol: int = 12) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b, strict=False))


def noisy_image(size: tuple[int, int]) -> Image.Image:
    """Incompressible content, so that truncating the file cuts into pixel data."""
    return Image.effect_noise(size, 80).convert("RGB")


def png_with_size(path: Path, width: int, height: int) -> Path:
    """A small real PNG whose IHDR claims ``width`` x ``height`` (CRC recomputed)."""
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(buf, "PNG")
    data = bytearray(buf.getvalue())
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("name", ["a.png", "a.jpg", "a.webp", "a.bmp", "a.tif"])
def test_common_formats_fit_the_edge(tmp_path: Path, name: str) -> None:
    src = make_image(tmp_path / name, size=(400, 300))
    thumb = load_thumbnail(src, EDGE)
    assert thumb.mode == "RGB"
    assert thumb.size == (128, 96)


def test_small_image_is_never_upscaled(tmp_path: Path) -> None:
    src = make_image(tmp_path / "small.png", size=(40, 30))
    assert load_thumbnail(src, EDGE).size == (40, 30)


def test_result_is_detached_from_the_file(tmp_path: Path) -> None:
    src = make_image(tmp_path / "small.png", size=(40, 30))
    thumb = load_thumbnail(src, EDGE)
    src.unlink()
    assert thumb.getpixel((39, 29)) == (0xC0, 0x39, 0x2B)


@pytest.mark.parametrize(("size", "expected"), [
    ((1, 20000), (1, 128)), ((20000, 1), (128, 1)), ((3, 5000), (1, 128)),
    ((1000, 999), (128, 128)), ((1001, 1), (128, 1)),
])
def test_extreme_strips_keep_at_least_one_pixel(tmp_path: Path, size: tuple[int, int],
                                                  expected: tuple[int, int]) -> None:
    src = tmp_path / "strip.png"
    Image.new("RGB", size, RED).save(src)
    thumb = load_thumbnail(src, EDGE)
    assert thumb.size == expected
    assert close(thumb.getpixel((0, 0)), RED)


@pytest.mark.parametrize("size", [(1, 1), (7, 3), (129, 128), (300, 17), (17, 300), (4000, 3)])
def test_fit_size_bounds(size: tuple[int, int]) -> None:
    w, h = fit_size(*size, EDGE)
    assert 1 <= w <= EDGE and 1 <= h <= EDGE
    assert max(w, h) == min(EDGE, max(size))


def test_exif_orientation_6_swaps_sides_and_rotates_pixels(tmp_path: Path) -> None:
    # Stored landscape 200x100 with a dark block at the top-left; orientation 6 means
    # "rotate 90 degrees clockwise to display", so the block ends up top-right.
    img = Image.new("RGB", (200, 100), RED)
    img.paste(DARK, (0, 0, 40, 40))
    exif = Image.Exif()
    exif[0x0112] = 6
    src = tmp_path / "rotated.jpg"
    img.save(src, exif=exif, quality=95)
    thumb = load_thumbnail(src, 64)
    assert thumb.size == (32, 64)
    assert close(thumb.getpixel((30, 2)), DARK, tol=30)
    assert close(thumb.getpixel((2, 2)), RED, tol=30)


def test_large_jpeg_uses_draft_and_still_fits(tmp_path: Path) -> None:
    src = tmp_path / "big.jpg"
    noisy_image((1024, 768)).save(src, quality=90)
    thumb = load_thumbnail(src, 200)
    assert thumb.size == (200, 150)


def test_cmyk_jpeg_is_converted_to_rgb(tmp_path: Path) -> None:
    src = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (64, 64), (0, 255, 255, 0)).save(src, quality=95)  # pure red ink
    with Image.open(src) as check:
        assert check.mode == "CMYK"
    thumb = load_thumbnail(src, EDGE)
    assert thumb.mode == "RGB"
    assert close(thumb.getpixel((32, 32)), RED, tol=20)


def test_16_bit_png_is_scaled_not_clipped(tmp_path: Path) -> None:
    src = tmp_path / "deep.png"
    Image.new("I;16", (50, 40), 40000).save(src)
    with Image.open(src) as check:
        assert check.mode.startswith("I;16")
    thumb = load_thumbnail(src, EDGE)
    assert thumb.mode == "RGB"
    # 40000 / 257 = 155.6: a plain convert() would clip this to white.
    assert close(thumb.getpixel((10, 10)), (155, 155, 155), tol=2)


def test_palette_with_transparency_keeps_alpha(tmp_path: Path) -> None:
    img = Image.new("P", (60, 60), 0)
    img.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    img.paste(1, (30, 0, 60, 60))
    src = tmp_path / "pal.png"
    img.save(src, transparency=1)
    thumb = load_thumbnail(src, EDGE)
    assert thumb.mode == "RGBA"
    assert thumb.getpixel((5, 5)) == (255, 0, 0, 255)
    assert thumb.getpixel((55, 5))[3] == 0


def test_grey_with_alpha_becomes_rgba(tmp_path: Path) -> None:
    img = Image.new("LA", (300, 100), (200, 255))
    img.paste((50, 0), (150, 0, 300, 100))
    src = tmp_path / "la.png"
    img.save(src)
    thumb = load_thumbnail(src, EDGE)
    assert thumb.mode == "RGBA" and thumb.size == (128, 43)
    assert thumb.getpixel((5, 20)) == (200, 200, 200, 255)
    assert thumb.getpixel((120, 20))[3] == 0


def test_opaque_rgba_comes_back_as_rgb(tmp_path: Path) -> None:
    src = tmp_path / "opaque.png"
    Image.new("RGBA", (64, 64), (1, 2, 3, 255)).save(src)
    assert load_thumbnail(src, EDGE).mode == "RGB"


@pytest.mark.parametrize("fmt", ["GIF", "WEBP"])
def test_animation_gives_its_first_frame(tmp_path: Path, fmt: str) -> None:
    frames = [Image.new("RGB", (80, 60), c) for c in (RED, BLUE, (0, 255, 0))]
    src = tmp_path / f"anim.{fmt.lower()}"
    frames[0].save(src, format=fmt, save_all=True, append_images=frames[1:], duration=50,
                   loop=0, **({"lossless": True} if fmt == "WEBP" else {}))
    with Image.open(src) as check:
        assert getattr(check, "n_frames", 1) == 3
    thumb = load_thumbnail(src, EDGE)
    assert thumb.size == (80, 60)
    assert close(thumb.convert("RGB").getpixel((40, 30)), RED)


def test_png_named_jpg_still_decodes(tmp_path: Path) -> None:
    src = make_image(tmp_path / "really-a-png.jpg", size=(64, 48), fmt="PNG")
    assert load_thumbnail(src, EDGE).size == (64, 48)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ThumbnailError, match="not found"):
        load_thumbnail(tmp_path / "nope.png", EDGE)


def test_zero_byte_file(tmp_path: Path) -> None:
    src = tmp_path / "empty.png"
    src.touch()
    with pytest.raises(ThumbnailError, match="empty"):
        load_thumbnail(src, EDGE)


def test_text_file_named_png(tmp_path: Path) -> None:
    src = tmp_path / "notes.png"
    src.write_text("this is not an image\n" * 20)
    with pytest.raises(ThumbnailError, match="not a supported image"):
        load_thumbnail(src, EDGE)


def test_format_outside_the_allowed_list_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "image.png"
    Image.new("RGB", (20, 20), RED).save(src, format="PPM")  # Pillow reads PPM; we do not
    with pytest.raises(ThumbnailError, match="not a supported image"):
        load_thumbnail(src, EDGE)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_file(tmp_path: Path, fmt: str) -> None:
    buf = io.BytesIO()
    noisy_image((256, 256)).save(buf, format=fmt)
    data = buf.getvalue()
    src = tmp_path / f"cut.{fmt.lower()}"
    src.write_bytes(data[: len(data) // 2])
    with pytest.raises(ThumbnailError, match="corrupt or truncated"):
        load_thumbnail(src, 64)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP"])
def test_any_truncation_or_bit_flip_raises_only_thumbnail_error(tmp_path: Path, fmt: str) -> None:
    buf = io.BytesIO()
    noisy_image((96, 64)).save(buf, format=fmt)
    data = buf.getvalue()
    src = tmp_path / f"fuzz.{fmt.lower()}"
    cuts = sorted({1, 8, 16, 33, 60, 100} | set(range(0, len(data), max(1, len(data) // 25))))
    for cut in cuts:
        src.write_bytes(data[:cut])
        with contextlib.suppress(ThumbnailError):  # success is fine too; nothing else is
            load_thumbnail(src, 32)
    for pos in range(8, len(data), max(1, len(data) // 25)):
        flipped = bytearray(data)
        flipped[pos] ^= 0xFF
        src.write_bytes(bytes(flipped))
        with contextlib.suppress(ThumbnailError):  # success is fine too; nothing else is
            load_thumbnail(src, 32)


def test_header_just_over_the_limit_is_refused_before_decoding(tmp_path: Path) -> None:
    # The file holds 8x8 pixels of data: were it decoded, the error would be a truncation.
    src = png_with_size(tmp_path / "bomb.png", 8193, 8192)
    assert MAX_IMAGE_PIXELS < 8193 * 8192
    with pytest.raises(ThumbnailError, match="too large"):
        load_thumbnail(src, EDGE)


# Pillow warns (once) on its way to our refusal; that warning is expected here.
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize("side", [10_000, 100_000])
def test_decompression_bomb_beyond_pillows_own_limits_is_refused(tmp_path: Path,
                                                                 side: int) -> None:
    # 10000^2 is above Pillow's warning threshold, 100000^2 above its error threshold.
    src = png_with_size(tmp_path / "bomb.png", side, side)
    with pytest.raises(ThumbnailError, match="too large"):
        load_thumbnail(src, EDGE)


def test_real_solid_colour_bomb_is_refused(tmp_path: Path) -> None:
    # A genuinely valid PNG of 12000 x 6000 (72 Mpx): a single colour compresses to a few
    # hundred kilobytes, but decoding it would need ~200 MB.
    src = tmp_path / "solid.png"
    width, height = 12000, 6000
    raw_row = b"\x00" + b"\x00" * width  # filter byte + one grey byte per pixel
    comp = zlib.compressobj(9)
    idat = b"".join(comp.compress(raw_row) for _ in range(height)) + comp.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body)))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    src.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat)
                    + chunk(b"IEND", b""))
    assert src.stat().st_size < 1_000_000
    with pytest.raises(ThumbnailError, match="too large"):
        load_thumbnail(src, EDGE)


def test_directory_is_not_an_image(tmp_path: Path) -> None:
    (tmp_path / "folder.png").mkdir()
    with pytest.raises(ThumbnailError):
        load_thumbnail(tmp_path / "folder.png", EDGE)


@pytest.mark.parametrize(("name", "size"), [
    ("big.png", (1024, 768)), ("big.jpg", (1024, 768)), ("huge.jpg", (2600, 1900)),
    ("odd.png", (1000, 999)), ("strip.png", (3, 5000)), ("small.png", (100, 60)),
])
def test_decode_reduced_stays_between_the_target_and_twice_it(
        tmp_path: Path, name: str, size: tuple[int, int]) -> None:
    src = tmp_path / name
    noisy_image(size).save(src)
    image, target = decode_reduced(src, EDGE)
    assert target == fit_size(*size, EDGE)
    assert image.mode == "RGB"
    for got, want in zip(image.size, target, strict=True):
        assert want <= got < max(2 * want, want + 2)


def test_decode_reduced_orients_image_and_target(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 8
    src = tmp_path / "rotated.jpg"
    noisy_image((800, 400)).save(src, exif=exif)
    image, target = decode_reduced(src, EDGE)
    assert target == (64, 128)
    assert image.width < image.height and image.height >= 128


def _open_fds_to(path: Path) -> list[str]:
    fds = Path("/proc/self/fd")
    found = []
    for fd in fds.iterdir():
        with contextlib.suppress(OSError):
            if os.readlink(fd) == str(path):
                found.append(fd.name)
    return found


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc/self/fd")
@pytest.mark.parametrize(("name", "size"), [("exact.jpg", (4 * EDGE, 2 * EDGE)),
                                             ("exact.png", (EDGE, EDGE // 2)),
                                             ("animated.gif", (EDGE, EDGE // 2))])
def test_decoded_image_keeps_its_pixels_and_not_its_file(tmp_path: Path, name: str,
                                                         size: tuple[int, int]) -> None:
    # An exact DCT scale (or no scaling at all) hands out the very image Pillow decoded:
    # it must hold its pixels without holding the file open.
    src = make_image(tmp_path / name, size=size, color="#ff0000")
    image, target = decode_reduced(src, EDGE)
    assert image.size == target
    assert _open_fds_to(src) == []
    make_image(tmp_path / "other.png", size=size, color="#0000ff").replace(src)
    src.unlink()
    assert close(image.convert("RGB").getpixel((target[0] - 1, target[1] - 1)), RED)
    assert close(image.convert("RGB").getpixel((0, 0)), DARK)
