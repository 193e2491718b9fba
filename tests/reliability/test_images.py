"""Strange image files and image URLs: shown, or shown broken with the reason, never a crash."""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtGui import QImage

from gallery_desktop.core.paths import OUTSIDE_REASON
from gallery_desktop.core.records import ImageSource
from gallery_desktop.core.thumbcache import ThumbnailCache
from gallery_desktop.core.thumbnails import FILE_NOT_FOUND, MAX_IMAGE_PIXELS, NOT_A_FILE
from gallery_desktop.qt.qimage_convert import qimage_to_pil
from gallery_desktop.qt.thumbnails import ThumbnailLoader
from tests.factories import make_image
from tests.reliability.conftest import THUMB_EDGE, FullPass, record

REPO = Path(__file__).resolve().parents[2]
RUN = "2025-11-26T06-54-47-200Z"
RED, GREEN, BLUE = (220, 30, 30), (30, 200, 30), (30, 30, 220)
CORRUPT = "corrupt or truncated image: "


# --- Image files, made for real -----------------------------------------------------------------


def encoded(image: Image.Image, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **params)
    return buf.getvalue()


def noisy(size: tuple[int, int]) -> Image.Image:
    """Pixels that do not compress away, so a cut file really misses picture data."""
    return Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def grey_png(width: int, height: int, rows: int | None = None) -> bytes:
    """A valid greyscale PNG header for ``width`` x ``height`` and ``rows`` rows of black
    pixel data (all of them by default); zeros compress ~1000:1."""
    comp = zlib.compressobj(9)
    row = b"\x00" * (width + 1)  # filter byte + one grey byte per pixel
    body = b"".join(comp.compress(row) for _ in range(height if rows is None else rows))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr)
            + png_chunk(b"IDAT", body + comp.flush()) + png_chunk(b"IEND", b""))


def jpeg_claiming(width: int, height: int) -> bytes:
    """A small real JPEG whose frame header (SOF0) claims ``width`` x ``height``."""
    data = bytearray(encoded(Image.new("RGB", (16, 16), RED), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def progressive_jpeg_claiming(width: int, height: int) -> bytes:
    """A small real progressive JPEG (no chroma subsampling) whose frame header (SOF2)
    claims ``width`` x ``height``: decoding it at any scale needs every DCT coefficient of
    that size, 6 bytes a pixel."""
    data = bytearray(encoded(Image.new("RGB", (64, 64), RED), "JPEG", progressive=True,
                             subsampling=0))
    sof = data.index(b"\xff\xc2")
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def gif_claiming(width: int, height: int) -> bytes:
    """A small real GIF whose logical screen claims ``width`` x ``height``."""
    data = bytearray(encoded(Image.new("P", (16, 16), 1), "GIF"))
    data[6:10] = struct.pack("<HH", width, height)
    return bytes(data)


def animated(fmt: str) -> bytes:
    frames = [Image.new("RGB", (40, 30), c) for c in (RED, GREEN, BLUE)]
    return encoded(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100,
                   loop=0, **({"lossless": True} if fmt == "WEBP" else {}))


def exif_rotated() -> bytes:
    """80x40 as stored, with a marker in the stored top-left corner and orientation 6 (shown
    rotated 90 degrees clockwise: 40x80, the marker top-right)."""
    image = Image.new("RGB", (80, 40), RED)
    image.paste(BLUE, (0, 0, 20, 10))
    exif = Image.Exif()
    exif[0x0112] = 6
    return encoded(image, "JPEG", exif=exif.tobytes(), quality=95)


def sixteen_bit() -> bytes:
    """A 16-bit greyscale gradient from black (left) to white (right)."""
    image = Image.new("I;16", (256, 8))
    image.putdata([x * 257 for _ in range(8) for x in range(256)])
    return encoded(image, "PNG")


def cmyk() -> bytes:
    return encoded(Image.new("CMYK", (40, 30), (0, 255, 255, 0)), "JPEG", quality=95)


@dataclass(frozen=True)
class Case:
    """One image file and what its thumbnail must be."""

    name: str
    data: Callable[[], bytes]
    size: tuple[int, int] | None = None  # the thumbnail's size; None: no thumbnail
    reason: str = ""  # the reason shown (a prefix when it ends in ": ")
    check: Callable[[Image.Image], None] | None = None


def pixel_is(xy: tuple[int, int], colour: tuple[int, int, int],
             tolerance: int = 40) -> Callable[[Image.Image], None]:
    def check(image: Image.Image) -> None:
        got = image.convert("RGB").getpixel(xy)
        assert isinstance(got, tuple)
        assert all(abs(a - b) <= tolerance for a, b in zip(got, colour, strict=True)), got
    return check


def gradient(image: Image.Image) -> None:
    left = image.convert("L").getpixel((0, 0))
    right = image.convert("L").getpixel((image.width - 1, 0))
    assert isinstance(left, int) and isinstance(right, int)
    assert left < 10 and right > 245  # scaled from 16 bits, not clipped to white


def too_large(w: int, h: int) -> str:
    return f"image too large to decode safely ({w}x{h} pixels, limit {MAX_IMAGE_PIXELS})"


# Beyond twice its own limit Pillow refuses at open, in its own words.
REFUSED_BY_PILLOW = "image too large to decode safely (Image size ("


CASES = [
    Case("plain.png", lambda: encoded(Image.new("RGB", (300, 150), GREEN), "PNG"), (128, 64),
         check=pixel_is((64, 32), GREEN)),
    Case("zero-bytes.png", lambda: b"", reason="empty file (0 bytes)"),
    Case("truncated.png", lambda: encoded(noisy((256, 256)), "PNG")[:60_000], reason=CORRUPT),
    Case("truncated.jpg", lambda: encoded(noisy((256, 256)), "JPEG")[:9_000], reason=CORRUPT),
    # Cut inside the header: Pillow cannot even tell it is a PNG.
    Case("header-only.png", lambda: encoded(noisy((64, 64)), "PNG")[:30],
         reason="not a supported image format"),
    Case("png-named.jpg", lambda: encoded(Image.new("RGB", (64, 64), BLUE), "PNG"), (64, 64),
         check=pixel_is((10, 10), BLUE)),
    Case("jpeg-named.png", lambda: encoded(Image.new("RGB", (64, 64), RED), "JPEG"), (64, 64),
         check=pixel_is((10, 10), RED)),
    Case("text-named.png", lambda: b"this is not an image\n" * 20,
         reason="not a supported image format"),
    Case("html-named.jpg", lambda: b"<!doctype html><title>404</title>",
         reason="not a supported image format"),
    Case("animated.gif", lambda: animated("GIF"), (40, 30), check=pixel_is((20, 15), RED)),
    Case("animated.webp", lambda: animated("WEBP"), (40, 30), check=pixel_is((20, 15), RED)),
    Case("cmyk.jpg", cmyk, (40, 30), check=pixel_is((20, 15), (255, 0, 0), 50)),
    Case("sixteen-bit.png", sixteen_bit, (128, 4), check=gradient),
    Case("exif-rotated.jpg", exif_rotated, (40, 80),
         check=lambda im: (pixel_is((36, 3), BLUE)(im), pixel_is((3, 3), RED)(im))[0]),
    Case("strip-tall.png", lambda: encoded(Image.new("RGB", (1, 20_000), RED), "PNG"), (1, 128),
         check=pixel_is((0, 64), RED)),
    Case("strip-wide.png", lambda: encoded(Image.new("RGB", (20_000, 1), RED), "PNG"), (128, 1),
         check=pixel_is((64, 0), RED)),
    Case("bomb.png", lambda: grey_png(9_000, 9_000), reason=too_large(9_000, 9_000)),
    Case("bomb-header.png", lambda: grey_png(100_000, 100_000, rows=4),
         reason=REFUSED_BY_PILLOW),
    Case("bomb.jpg", lambda: jpeg_claiming(65_000, 65_000), reason=REFUSED_BY_PILLOW),
    Case("bomb.gif", lambda: gif_claiming(65_535, 65_535), reason=REFUSED_BY_PILLOW),
    # 70 Mpx, over the limit for a full decode, but a JPEG is decoded at 1/8 a side.
    Case("large.jpg", lambda: encoded(Image.new("L", (10_000, 7_000), 200), "JPEG"), (128, 90),
         check=pixel_is((64, 45), (200, 200, 200), 2)),
    # Progressive: its coefficients (140 MB) fit in the budget, so it is shown too.
    Case("large-progressive.jpg",
         lambda: encoded(Image.new("L", (10_000, 7_000), 200), "JPEG", progressive=True),
         (128, 90), check=pixel_is((64, 45), (200, 200, 200), 2)),
    Case("bomb-progressive.jpg", lambda: progressive_jpeg_claiming(13_000, 13_000),
         reason="image too large to decode safely (13000x13000 pixels, progressive JPEG)"),
    Case("a-folder.png", lambda: b"", reason=NOT_A_FILE),
    Case("a-fifo.png", lambda: b"", reason=NOT_A_FILE),  # opening it would hang a worker
]


def write_case(folder: Path, case: Case) -> Path:
    path = folder / case.name
    if case.name == "a-folder.png":
        path.mkdir(parents=True)
    elif case.name == "a-fifo.png":
        os.mkfifo(path)
    else:
        path.write_bytes(case.data())
    return path


def assert_outcome(case: Case, got: tuple[int, int] | str, image: Image.Image | None = None
                   ) -> None:
    if case.size is not None:
        assert got == case.size, case.name
        if case.check is not None and image is not None:
            case.check(image)
    elif case.reason.endswith((": ", "(")):
        assert isinstance(got, str) and got.startswith(case.reason), (case.name, got)
    else:
        assert got == case.reason, case.name


# --- Through the whole read pass ----------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_image_is_shown_or_shown_broken_with_its_reason(tmp_path: Path,
                                                             full_pass: FullPass,
                                                             case: Case) -> None:
    data = tmp_path / "data"
    run_dir = data / "runs" / RUN
    run_dir.mkdir(parents=True)
    (run_dir / "meta.json").write_text(json.dumps(
        {"posts": [{"index": 1, "finalImageUrl": case.name},
                   {"index": 2, "finalImageUrl": "after.png"}]}))
    write_case(run_dir, case)
    make_image(run_dir / "after.png")
    result = full_pass(data)
    image_id = f"img_{RUN}_slide-1"
    assert result.image(image_id).source is ImageSource.LOCAL  # the scan names files only
    assert_outcome(case, result.thumbs[image_id])
    assert result.thumbs[f"img_{RUN}_slide-2"] == (64, 48)  # the next image is unaffected


# --- Through the Qt loader the app uses -----------------------------------------------------


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_the_qt_loader_answers_every_file_and_keeps_working(qtbot, tmp_path: Path) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    paths = {write_case(folder, case): case for case in CASES}
    cache = ThumbnailCache(tmp_path / "cache")
    for attempt in ("cold", "cached"):
        loader = ThumbnailLoader(cache, edge=THUMB_EDGE)
        answers: dict[Path, tuple[int, int] | str] = {}
        images: dict[Path, Image.Image] = {}

        def ready(path: Path, qimage: QImage, answers: dict[Path, object] = answers,
                  images: dict[Path, Image.Image] = images) -> None:
            images[path] = qimage_to_pil(qimage)
            answers[path] = images[path].size

        loader.thumbnail_ready.connect(ready)
        loader.thumbnail_failed.connect(lambda path, reason, answers=answers:
                                        answers.__setitem__(path, reason))
        for path in paths:
            loader.request(path)
        qtbot.waitUntil(lambda answers=answers: len(answers) == len(paths), timeout=30_000)
        for path, case in paths.items():
            assert_outcome(case, answers[path], images.get(path))
        # After all of that, it still works.
        good = make_image(folder / f"good-after-{attempt}.png")
        with qtbot.waitSignal(loader.thumbnail_ready, timeout=10_000) as blocker:
            loader.request(good)
        assert blocker.args[0] == good
        loader.shutdown()
    record("images", files=len(CASES), shown=sum(1 for c in CASES if c.size),
           shown_broken=sum(1 for c in CASES if not c.size))


# --- Decompression bombs: refused, not decoded ---------------------------------------------------


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """The size of every image Pillow's ``load()`` decodes while the test runs."""
    sizes: list[tuple[int, int]] = []
    real_load = Image.Image.load

    def spying_load(self: Image.Image) -> object:
        sizes.append(self.size)
        return real_load(self)

    monkeypatch.setattr(Image.Image, "load", spying_load)
    return sizes


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize("name", ["bomb.png", "bomb-header.png", "bomb.jpg", "bomb.gif",
                                  "bomb-progressive.jpg"])
def test_a_bomb_is_refused_before_any_pixel_is_decoded(tmp_path: Path, name: str,
                                                       loads: list[tuple[int, int]]) -> None:
    from gallery_desktop.core.errors import ThumbnailError
    from gallery_desktop.core.thumbnails import load_thumbnail

    case = next(c for c in CASES if c.name == name)
    path = write_case(tmp_path, case)
    loads.clear()  # making the file is not the decode under test
    with pytest.raises(ThumbnailError) as caught:
        load_thumbnail(path, THUMB_EDGE)
    assert_outcome(case, str(caught.value))
    assert loads == []  # the header was enough to refuse it


def test_a_large_jpeg_is_decoded_at_a_reduced_scale(tmp_path: Path,
                                                    loads: list[tuple[int, int]]) -> None:
    """Over the full-decode limit, yet libjpeg decodes 1/8 of each side: a thumbnail, from
    1.1 Mpx decoded instead of 70."""
    from gallery_desktop.core.thumbnails import MAX_IMAGE_PIXELS, load_thumbnail

    path = write_case(tmp_path, next(c for c in CASES if c.name == "large.jpg"))
    assert MAX_IMAGE_PIXELS < 10_000 * 7_000
    loads.clear()
    assert load_thumbnail(path, THUMB_EDGE).size == (128, 90)
    assert loads and loads[0] == (1_250, 875)


def test_a_real_bomb_does_not_raise_memory_use(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(grey_png(9_000, 9_000))  # 81 Mpx: 81 MB as grey, 243 MB as RGB
    assert bomb.stat().st_size < 200_000
    code = ("import resource, sys\n"
            "from pathlib import Path\n"
            "from gallery_desktop.core.errors import ThumbnailError\n"
            "from gallery_desktop.core.thumbnails import load_thumbnail\n"
            "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
            "try:\n"
            "    load_thumbnail(Path(sys.argv[1]), 384)\n"
            "except ThumbnailError as err:\n"
            "    print(err)\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n")
    result = subprocess.run([sys.executable, "-c", code, str(bomb)], cwd=REPO,
                            capture_output=True, text=True, timeout=60, check=True)
    reason, grown_kb = result.stdout.splitlines()
    assert reason == too_large(9_000, 9_000)
    assert int(grown_kb) < 20_000  # decoding would have taken at least 81,000 kB
    record("images", bomb_peak_memory_growth_kb=int(grown_kb))


# --- Image URLs that lead out of the data folder ------------------------------------------------


def test_no_image_url_ever_opens_a_file_outside_the_data_folder(
        tmp_path: Path, full_pass: FullPass, outside_dir: Path, qtbot) -> None:
    secret = make_image(outside_dir / "secret.png")
    make_image(outside_dir / "runs" / RUN / "slide-1.png")  # where a "../" walk would land
    data = tmp_path / "data"
    run_dir = data / "runs" / RUN
    run_dir.mkdir(parents=True)
    (run_dir / "link-out.png").symlink_to(secret)
    (run_dir / "link-folder").symlink_to(outside_dir)
    (data / "runs" / "2025-11-25T00-00-00-000Z").symlink_to(outside_dir / "runs" / RUN)
    urls = {
        "dotdot": "../../../outside/secret.png",
        "server-dotdot": "/data/runs/../../outside/secret.png",
        "deep-dotdot": "/data/" + "../" * 30 + str(secret).lstrip("/"),
        "absolute": str(secret),
        "file-url": secret.as_uri(),
        "file-url-host": f"file://localhost{secret}",
        "percent-dotdot": "%2e%2e/%2e%2e/%2e%2e/outside/secret.png",
        "percent-slash": "..%2f..%2f..%2foutside%2fsecret.png",
        "percent-backslash": "..%5c..%5c..%5coutside%5csecret.png",
        "backslash": "..\\..\\..\\outside\\secret.png",
        "double-encoded": "%252e%252e/%252e%252e/%252e%252e/outside/secret.png",
        "symlink-file": "link-out.png",
        "symlink-folder": "link-folder/secret.png",
        "unc": "\\\\server\\share\\secret.png",
        "scheme-less-host": "//example.com/secret.png",
        "data-url": "data:image/png;base64,iVBORw0KGgo=",
        "nul": "slide.png\x00../../outside/secret.png",
        "remote": "https://example.com/secret.png",
    }
    posts = [{"index": i, "finalImageUrl": url} for i, url in enumerate(urls.values(), 1)]
    (run_dir / "meta.json").write_text(json.dumps({"posts": posts}))
    result = full_pass(data)  # asserts nothing outside the data folder was opened
    shown = {name: result.image(f"img_{RUN}_slide-{i}")
             for i, name in enumerate(urls, 1)}
    # A literal "%2e%2e" folder inside (not there), and a file that links out: both named,
    # and reading them finds nothing, or refuses the link before opening it.
    named = {"double-encoded", "symlink-file"}
    assert {n for n, i in shown.items() if i.image_path is not None} == named
    assert {shown[n].source for n in named} == {ImageSource.LOCAL}
    assert result.thumbs == {shown["double-encoded"].id: FILE_NOT_FOUND,
                             shown["symlink-file"].id: OUTSIDE_REASON}
    assert shown["remote"].source is ImageSource.REMOTE
    assert shown["scheme-less-host"].source is ImageSource.REMOTE
    outside = {n for n, i in shown.items() if i.source is ImageSource.OUTSIDE}
    assert outside == set(urls) - named - {"remote", "scheme-less-host"}
    # The linked run folder leads outside too: skipped, never read.
    assert "run folder links outside the data folder" in result.reasons
    assert not any(str(p).startswith(str(outside_dir)) for p in result.opened)
    record("images", escaping_urls=len(urls))
