"""ThumbnailLoader with real files, a real pool and a real disk cache."""

from __future__ import annotations

import errno
import gc
import io
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, Slot
from PySide6.QtGui import QColor, QImage
from pytestqt.qtbot import QtBot

from gallery_desktop.core.thumbcache import ThumbnailCache, cache_key
from gallery_desktop.qt import thumbnails
from gallery_desktop.qt.qimage_convert import pil_to_qimage, qimage_to_pil
from gallery_desktop.qt.thumbnails import ThumbnailLoader
from tests.factories import make_image

EDGE = 64


class Recorder:
    """Collects every answer of a loader, and the thread each one arrived on."""

    def __init__(self, loader: ThumbnailLoader) -> None:
        self.ready: list[tuple[Path, QImage]] = []
        self.failed: list[tuple[Path, str]] = []
        self.threads: set[QThread] = set()
        loader.thumbnail_ready.connect(self._on_ready)
        loader.thumbnail_failed.connect(self._on_failed)

    def _on_ready(self, path: Path, image: QImage) -> None:
        self.threads.add(QThread.currentThread())
        self.ready.append((path, image))

    def _on_failed(self, path: Path, reason: str) -> None:
        self.threads.add(QThread.currentThread())
        self.failed.append((path, reason))

    def answered(self) -> list[Path]:
        return [p for p, _ in self.ready] + [p for p, _ in self.failed]


class FifoGate:
    """A named pipe that blocks the worker reading it until the test releases it.

    Put where the cache keeps an entry, it holds a real pool thread inside a real read,
    so queue behaviour can be observed without guessing at timing.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.mkfifo(path)
        self.path = path
        self._fd: int | None = None

    def reader_waiting(self) -> bool:
        """True once a worker has opened the pipe (a non-blocking writer can then open)."""
        if self._fd is None:
            try:
                self._fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as err:
                if err.errno != errno.ENXIO:
                    raise
        return self._fd is not None

    def release(self, data: bytes = b"") -> None:
        assert self._fd is not None and len(data) < 65536  # fits the pipe: never blocks
        os.write(self._fd, data)
        os.close(self._fd)
        self._fd = None

    def open_for_good(self) -> None:
        """Replace the pipe by a plain empty file so no later read can block on it."""
        if self.reader_waiting():
            self.release()
        tmp = self.path.with_suffix(".unblock")
        tmp.touch()
        os.replace(tmp, self.path)


class WakeUps(QObject):
    """Counts the loader's wake-ups of the GUI thread, with the answers given by each."""

    def __init__(self, rec: Recorder) -> None:
        super().__init__()
        self._rec = rec
        self.answered: list[int] = []

    @Slot()
    def on_wake_up(self) -> None:
        self.answered.append(len(self._rec.answered()))


@pytest.fixture
def cache(tmp_path: Path) -> ThumbnailCache:
    return ThumbnailCache(tmp_path / "cache")


MakeLoader = Callable[..., ThumbnailLoader]
GateFor = Callable[[ThumbnailCache, Path], FifoGate]


@pytest.fixture
def make_loader(qtbot: QtBot) -> Iterator[MakeLoader]:
    loaders: list[ThumbnailLoader] = []

    def make(cache: ThumbnailCache | None, edge: int = EDGE,
             threads: int | None = None) -> ThumbnailLoader:
        loader = ThumbnailLoader(cache, edge, threads=threads)
        loaders.append(loader)
        return loader

    yield make
    for loader in loaders:
        loader.shutdown()


@pytest.fixture
def gate_for(make_loader: MakeLoader) -> Iterator[GateFor]:
    """Gates on cache entries; any left closed are opened before the loaders shut down."""
    gates: list[FifoGate] = []

    def make(cache: ThumbnailCache, path: Path) -> FifoGate:
        key = cache_key(path, EDGE)
        assert key is not None
        gate = FifoGate(cache.file_for(key, ".jpg"))
        gates.append(gate)
        return gate

    yield make
    for gate in gates:
        gate.open_for_good()


BusyLoader = Callable[[ThumbnailCache], tuple[ThumbnailLoader, Recorder, FifoGate, Path]]


@pytest.fixture
def busy_loader(qtbot: QtBot, tmp_path: Path, make_loader: MakeLoader,
                gate_for: GateFor) -> BusyLoader:
    """A one-thread loader whose only worker is held reading a gated cache entry.

    Returns the loader, its Recorder, the gate (``release`` lets the worker go on) and the
    source image being held.
    """

    def make(cache: ThumbnailCache) -> tuple[ThumbnailLoader, Recorder, FifoGate, Path]:
        blocker_src = make_image(tmp_path / "blocker.png")
        gate = gate_for(cache, blocker_src)
        loader = make_loader(cache, threads=1)
        rec = Recorder(loader)
        loader.request(blocker_src)
        qtbot.waitUntil(gate.reader_waiting, timeout=10_000)
        return loader, rec, gate, blocker_src

    return make


def jpeg_bytes(color: str, size: tuple[int, int] = (EDGE, EDGE)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "JPEG", quality=95)
    return buf.getvalue()


def near(image: QImage, x: int, y: int, rgb: tuple[int, int, int], tol: int = 16) -> bool:
    c = QColor(image.pixel(x, y))
    return all(abs(a - b) <= tol for a, b in zip((c.red(), c.green(), c.blue()), rgb,
                                                  strict=True))


def test_png_and_jpeg_arrive_as_native_qimages_on_the_gui_thread(
        qtbot: QtBot, tmp_path: Path, cache: ThumbnailCache, make_loader: MakeLoader) -> None:
    loader = make_loader(cache)
    rec = Recorder(loader)
    png = make_image(tmp_path / "a.png", size=(400, 300), color="#ff0000")
    jpg = make_image(tmp_path / "b.jpg", size=(300, 400), color="#0000ff")
    loader.request(png)
    loader.request(jpg)
    qtbot.waitUntil(lambda: len(rec.answered()) == 2, timeout=10_000)
    images = dict(rec.ready)
    assert rec.failed == []
    assert images[png].size().toTuple() == (64, 48)
    assert images[jpg].size().toTuple() == (48, 64)
    assert images[png].format() == QImage.Format.Format_RGB32
    assert near(images[png], 60, 40, (255, 0, 0))
    assert near(images[jpg], 40, 60, (0, 0, 255))
    assert rec.threads == {QCoreApplication.instance().thread()}
    assert loader.pending() == 0


def test_exif_rotated_jpeg_and_thin_strip(qtbot: QtBot, tmp_path: Path,
                                          make_loader: MakeLoader) -> None:
    loader = make_loader(None)
    img = Image.new("RGB", (200, 100), "#00ff00")
    exif = Image.Exif()
    exif[0x0112] = 6
    rotated = tmp_path / "rotated.jpg"
    img.save(rotated, exif=exif)
    strip = tmp_path / "strip.png"
    Image.new("RGB", (1, 20000), "#ff0000").save(strip)
    rec = Recorder(loader)
    loader.request(rotated)
    loader.request(strip)
    qtbot.waitUntil(lambda: len(rec.answered()) == 2, timeout=10_000)
    images = dict(rec.ready)
    assert images[rotated].size().toTuple() == (32, 64)
    assert images[strip].size().toTuple() == (1, 64)
    assert near(images[strip], 0, 30, (255, 0, 0))


def test_transparency_survives(qtbot: QtBot, tmp_path: Path, make_loader: MakeLoader) -> None:
    src = tmp_path / "alpha.png"
    img = Image.new("RGBA", (128, 128), (255, 0, 0, 255))
    img.paste((0, 0, 0, 0), (64, 0, 128, 128))
    img.save(src)
    loader = make_loader(None)
    with qtbot.waitSignal(loader.thumbnail_ready, timeout=10_000) as blocker:
        loader.request(src)
    image: QImage = blocker.args[1]
    assert image.format() == QImage.Format.Format_ARGB32_Premultiplied
    assert QColor(image.pixelColor(10, 10)).alpha() == 255
    assert QColor(image.pixelColor(60, 10)).alpha() == 0


@pytest.mark.parametrize(("name", "content", "reason"), [
    ("notes.png", b"plain text, not a picture\n" * 10, "not a supported image"),
    ("empty.jpg", b"", "empty"),
    ("missing.png", None, "not found"),
])
def test_failures_come_with_a_reason(qtbot: QtBot, tmp_path: Path, cache: ThumbnailCache,
                                     make_loader, name: str, content: bytes | None,
                                     reason: str) -> None:
    src = tmp_path / name
    if content is not None:
        src.write_bytes(content)
    loader = make_loader(cache)
    with qtbot.waitSignal(loader.thumbnail_failed, timeout=10_000) as blocker:
        loader.request(src)
    assert blocker.args[0] == src
    assert reason in blocker.args[1]


def test_second_loader_is_served_from_the_disk_cache(qtbot: QtBot, tmp_path: Path,
                                                     make_loader) -> None:
    src = make_image(tmp_path / "a.png", size=(400, 300), color="#ff0000")
    first_cache = ThumbnailCache(tmp_path / "cache")
    first = make_loader(first_cache)
    with qtbot.waitSignal(first.thumbnail_ready, timeout=10_000):
        first.request(src)
    first.shutdown()  # also flushes the cache's writes
    key = cache_key(src, EDGE)
    assert key is not None
    entry = first_cache.file_for(key, ".jpg")
    assert entry.is_file()
    # Swap the entry for a green one: only a cache hit can produce green.
    entry.write_bytes(jpeg_bytes("#00ff00", (64, 48)))
    second = make_loader(ThumbnailCache(tmp_path / "cache"))
    with qtbot.waitSignal(second.thumbnail_ready, timeout=10_000) as blocker:
        second.request(src)
    assert near(blocker.args[1], 30, 20, (0, 255, 0))


def test_entry_that_does_not_decode_is_rebuilt(qtbot: QtBot, tmp_path: Path,
                                               make_loader) -> None:
    src = make_image(tmp_path / "a.png", size=(400, 300), color="#ff0000")
    cache = ThumbnailCache(tmp_path / "cache")
    key = cache_key(src, EDGE)
    assert key is not None
    entry = cache.file_for(key, ".jpg")
    entry.parent.mkdir(parents=True)
    entry.write_bytes(b"\xff\xd8" + b"\x00" * 300 + b"\xff\xd9")  # right markers, no image
    loader = make_loader(cache)
    with qtbot.waitSignal(loader.thumbnail_ready, timeout=10_000) as blocker:
        loader.request(src)
    assert near(blocker.args[1], 60, 40, (255, 0, 0))
    loader.pool.waitForDone()  # the worker fills the cache after emitting
    assert cache.flush(timeout=10)
    with Image.open(entry) as rebuilt:
        assert rebuilt.size == (64, 48)


def test_duplicate_requests_are_answered_once(qtbot: QtBot, tmp_path: Path, cache: ThumbnailCache,
                                              busy_loader: BusyLoader) -> None:
    loader, rec, gate, blocker_src = busy_loader(cache)
    src = make_image(tmp_path / "a.png")
    for _ in range(5):
        loader.request(src)
        loader.request(blocker_src)  # running already: not queued again
    assert loader.pending() == 2
    gate.release()
    qtbot.waitUntil(lambda: loader.pending() == 0, timeout=10_000)
    assert sorted(rec.answered()) == sorted([blocker_src, src])


def test_higher_priority_is_served_first(qtbot: QtBot, tmp_path: Path, cache: ThumbnailCache,
                                         busy_loader: BusyLoader) -> None:
    loader, rec, gate, blocker_src = busy_loader(cache)
    a, b, c, d = (make_image(tmp_path / f"{n}.png") for n in "abcd")
    loader.request(a)
    loader.request(b)
    loader.request(c, priority=5)
    loader.request(d)
    loader.request(b, priority=9)  # asked again, more urgently
    gate.release()
    qtbot.waitUntil(lambda: loader.pending() == 0, timeout=10_000)
    assert rec.answered() == [blocker_src, b, c, a, d]


def test_set_wanted_drops_the_others_and_fronts_the_wanted(
        qtbot: QtBot, tmp_path: Path, cache: ThumbnailCache, busy_loader: BusyLoader) -> None:
    loader, rec, gate, blocker_src = busy_loader(cache)
    srcs = [make_image(tmp_path / "src" / f"{i:02d}.png") for i in range(30)]
    for src in srcs:
        loader.request(src)
    assert loader.pending() == 31
    visible = [srcs[25], srcs[3], srcs[27]]
    loader.set_wanted([*visible, tmp_path / "never-requested.png"])
    assert loader.pending() == 4
    late = make_image(tmp_path / "late.png")
    loader.request(late)  # after set_wanted: behind the wanted ones
    gate.release()
    qtbot.waitUntil(lambda: loader.pending() == 0, timeout=10_000)
    # Drain anything still queued in the event loop before asserting absence.
    qtbot.wait(50)
    assert rec.answered() == [blocker_src, *visible, late]
    assert rec.failed == []


def test_invalidate_drops_the_stale_result(qtbot: QtBot, tmp_path: Path, cache: ThumbnailCache,
                                           make_loader: MakeLoader, gate_for: GateFor) -> None:
    src = make_image(tmp_path / "a.png", size=(64, 48), color="#ff0000")
    gate = gate_for(cache, src)
    loader = make_loader(cache, threads=1)
    rec = Recorder(loader)
    loader.request(src)
    qtbot.waitUntil(gate.reader_waiting, timeout=10_000)
    # The file is replaced while its old version is being read.
    make_image(src, size=(60, 48), color="#0000ff")
    loader.invalidate(src)
    loader.request(src)
    assert loader.pending() == 2
    gate.release(jpeg_bytes("#ff0000", (64, 48)))  # the old, now stale, thumbnail
    qtbot.waitUntil(lambda: loader.pending() == 0, timeout=10_000)
    qtbot.wait(50)
    assert len(rec.ready) == 1
    path, image = rec.ready[0]
    assert path == src and image.size().toTuple() == (60, 48)
    assert near(image, 30, 30, (0, 0, 255))


def test_shutdown_cancels_queued_work(qtbot: QtBot, tmp_path: Path, cache: ThumbnailCache,
                                      busy_loader: BusyLoader) -> None:
    loader, rec, gate, _ = busy_loader(cache)
    for i in range(10):
        loader.request(make_image(tmp_path / f"{i}.png"))
    releaser = threading.Timer(0.05, gate.release)
    releaser.start()
    loader.shutdown()  # returns once the blocked decode has finished
    releaser.join()
    assert loader.pending() == 0
    loader.request(make_image(tmp_path / "after.png"))
    assert loader.pending() == 0
    qtbot.wait(100)
    assert rec.answered() == []


def test_many_requests_across_the_pool(qtbot: QtBot, tmp_path: Path,
                                       cache: ThumbnailCache, make_loader: MakeLoader) -> None:
    srcs = [make_image(tmp_path / f"{i}.{'png' if i % 2 else 'jpg'}", size=(90, 70))
            for i in range(40)]
    loader = make_loader(cache)
    rec = Recorder(loader)
    for src in srcs:
        loader.request(src)
    qtbot.waitUntil(lambda: len(rec.answered()) == len(srcs), timeout=30_000)
    assert sorted(rec.answered()) == sorted(srcs)
    assert all(img.size().toTuple() == (64, 50) for _, img in rec.ready)


def test_pil_qimage_round_trip() -> None:
    for mode, color in (("RGB", (10, 200, 30)), ("RGBA", (10, 200, 30, 255))):
        img = Image.new(mode, (37, 23), color)
        back = qimage_to_pil(pil_to_qimage(img))
        assert back.mode == mode and back.size == (37, 23)
        assert back.getpixel((36, 22)) == color


def test_pil_to_qimage_gives_native_formats_that_outlive_the_source() -> None:
    rgb = Image.frombytes("RGB", (37, 23), os.urandom(37 * 23 * 3))
    rgba = Image.new("RGBA", (5, 4), (200, 100, 50, 128))
    expected_rgb = rgb.tobytes()
    q_rgb, q_rgba = pil_to_qimage(rgb), pil_to_qimage(rgba)
    del rgb, rgba
    gc.collect()
    assert q_rgb.format() == QImage.Format.Format_RGB32
    assert q_rgba.format() == QImage.Format.Format_ARGB32_Premultiplied
    assert qimage_to_pil(q_rgb).tobytes() == expected_rgb
    assert q_rgba.pixelColor(4, 3).getRgb() == pytest.approx((200, 100, 50, 128), abs=2)
    q_rgb.fill(Qt.GlobalColor.red)  # writing detaches from the packed bytes
    assert q_rgb.pixelColor(0, 0).getRgb() == (255, 0, 0, 255)


def test_cache_writes_wait_until_the_queue_is_idle(qtbot: QtBot, tmp_path: Path,
                                                   cache: ThumbnailCache, make_loader: MakeLoader,
                                                   gate_for: GateFor) -> None:
    first = make_image(tmp_path / "first.png", size=(200, 150))
    blocker_src = make_image(tmp_path / "blocker.png")
    gate = gate_for(cache, blocker_src)
    loader = make_loader(cache, threads=1)
    rec = Recorder(loader)
    loader.request(first)
    loader.request(blocker_src)
    qtbot.waitUntil(lambda: rec.answered() == [first], timeout=10_000)
    qtbot.waitUntil(gate.reader_waiting, timeout=10_000)
    key = cache_key(first, EDGE)
    assert key is not None
    # The only worker is busy with the next request: the first entry stays unwritten
    # (a writer left free would have encoded and written it within a few milliseconds).
    qtbot.wait(300)
    assert not cache.file_for(key, ".jpg").exists() and cache.memory_len() == 0
    gate.release()  # an empty entry: a miss, so the blocker is decoded
    qtbot.waitUntil(lambda: len(rec.answered()) == 2, timeout=10_000)
    # The queue ran dry: the writer goes ahead without any flush.
    qtbot.waitUntil(cache.file_for(key, ".jpg").is_file, timeout=10_000)
    assert rec.failed == []


def shown_and_cached(qtbot: QtBot, loader: ThumbnailLoader, src: Path) -> tuple[QImage, str]:
    """The thumbnail ``loader`` shows for ``src``, and its cache key once the loader has shut
    down (so its cache entry is written)."""
    with qtbot.waitSignal(loader.thumbnail_ready, timeout=10_000) as blocker:
        loader.request(src)
    shown: QImage = blocker.args[1]
    loader.shutdown()
    key = cache_key(src, EDGE)
    assert key is not None
    return shown, key


@pytest.mark.parametrize("size", [(4 * EDGE, 3 * EDGE), (5 * EDGE, 4 * EDGE)],
                         ids=["exact-scale", "resampled"])
def test_cache_entry_matches_the_thumbnail(qtbot: QtBot, tmp_path: Path,
                                           size: tuple[int, int], make_loader: MakeLoader) -> None:
    src = tmp_path / "a.png"
    img = Image.new("RGBA", size, (200, 40, 40, 255))
    img.paste((30, 60, 200, 128), (0, 0, size[0] // 2, size[1]))  # left half see-through
    img.save(src)
    cache = ThumbnailCache(tmp_path / "cache")
    shown, key = shown_and_cached(qtbot, make_loader(cache), src)
    entry = cache.file_for(key, ".png")  # transparency: PNG
    with Image.open(entry) as cached:
        cached.load()
        assert cached.mode == "RGBA" and cached.size == (shown.width(), shown.height())
        w, h = cached.size
        right = cached.getpixel((w * 3 // 4, h // 2))
        left = cached.getpixel((w // 4, h // 2))
    assert isinstance(right, tuple) and isinstance(left, tuple)
    assert right == (200, 40, 40, 255)
    assert all(abs(a - b) <= 3 for a, b in zip(left, (30, 60, 200, 128), strict=True))


@pytest.mark.parametrize("size", [(4 * EDGE, 3 * EDGE), (5 * EDGE, 4 * EDGE)],
                         ids=["exact-scale", "resampled"])
def test_opaque_cache_entry_matches_the_thumbnail(qtbot: QtBot, tmp_path: Path,
                                                  size: tuple[int, int],
                                                  make_loader: MakeLoader) -> None:
    # The entry is made from the QImage that was shown, after the decodes: same pixels.
    src = tmp_path / "a.jpg"
    img = Image.new("RGB", size, (200, 40, 40))
    img.paste((30, 60, 200), (0, 0, size[0] // 2, size[1]))
    img.save(src, quality=95)
    cache = ThumbnailCache(tmp_path / "cache")
    shown, key = shown_and_cached(qtbot, make_loader(cache), src)
    with Image.open(cache.file_for(key, ".jpg")) as cached:
        cached.load()
        assert cached.mode == "RGB" and cached.size == (shown.width(), shown.height())
        w, h = cached.size
        for x in (w // 4, w * 3 // 4):
            got = cached.getpixel((x, h // 2))
            assert isinstance(got, tuple)
            assert near(shown, x, h // 2, got[:3], tol=8)


def test_qimage_to_pil_keeps_every_pixel_of_a_native_image() -> None:
    noise = Image.frombytes("RGB", (37, 23), os.urandom(37 * 23 * 3))
    qimage = pil_to_qimage(noise)
    assert qimage.format() == QImage.Format.Format_RGB32
    back = qimage_to_pil(qimage)
    assert back.mode == "RGB" and back.tobytes() == noise.tobytes()
    del qimage  # the copy owns its pixels
    assert back.tobytes() == noise.tobytes()


def test_results_that_wait_for_a_busy_gui_thread_come_in_one_wake_up(
        qtbot: QtBot, tmp_path: Path, make_loader: MakeLoader) -> None:
    srcs = [make_image(tmp_path / f"{i}.png", size=(90, 70)) for i in range(12)]
    loader = make_loader(None)
    rec = Recorder(loader)
    wake_ups = WakeUps(rec)
    # Queued after the loader's own slot, on the GUI thread: it sees what each wake-up
    # answered.
    loader._signals.delivered.connect(wake_ups.on_wake_up)
    for src in srcs:
        loader.request(src)
    # The GUI thread runs no events meanwhile: every result waits, decoded, in the queue.
    assert loader.pool.waitForDone(10_000)
    assert rec.answered() == [] and loader.pending() == len(srcs)
    qtbot.waitUntil(lambda: len(rec.answered()) == len(srcs), timeout=10_000)
    assert sorted(rec.answered()) == sorted(srcs) and loader.pending() == 0
    assert wake_ups.answered == [len(srcs)]


def test_a_burst_is_collected_by_the_drain_timer_but_its_end_is_not_held_back(
        qtbot: QtBot, tmp_path: Path, cache: ThumbnailCache, make_loader: MakeLoader,
        gate_for: GateFor, monkeypatch: pytest.MonkeyPatch) -> None:
    # A timer far beyond the test's waits: whatever arrives was woken for, not drained.
    monkeypatch.setattr(thumbnails, "DRAIN_MS", 600_000)
    first, gated, c, d = (make_image(tmp_path / f"{n}.png") for n in ("a", "b", "c", "d"))
    gate = gate_for(cache, gated)
    loader = make_loader(cache, threads=1)
    rec = Recorder(loader)
    wake_ups = WakeUps(rec)
    loader._signals.delivered.connect(wake_ups.on_wake_up)
    for src in (first, gated, c, d):
        loader.request(src)
    # The first result after a pause wakes the GUI thread at once; the worker is still
    # busy then, so what follows waits for the drain timer...
    qtbot.waitUntil(lambda: rec.answered() == [first], timeout=10_000)
    qtbot.waitUntil(gate.reader_waiting, timeout=10_000)
    gate.release()
    # ...except the result after which nothing is left to decode: it wakes it for all.
    qtbot.waitUntil(lambda: len(rec.answered()) == 4, timeout=10_000)
    assert rec.answered() == [first, gated, c, d]
    assert wake_ups.answered == [1, 4]


def test_a_receiver_can_invalidate_or_shut_down_in_the_middle_of_a_batch(
        qtbot: QtBot, tmp_path: Path, make_loader: MakeLoader) -> None:
    srcs = [make_image(tmp_path / f"{i}.png") for i in range(4)]
    loader = make_loader(None, threads=1)
    seen: list[Path] = []

    def on_ready(path: Path, _image: QImage) -> None:
        seen.append(path)
        if path == srcs[0]:
            loader.invalidate(srcs[1])  # replaced on disk: its decoded result is stale
        elif path == srcs[2]:
            loader.shutdown()

    loader.thumbnail_ready.connect(on_ready)
    for src in srcs:
        loader.request(src)
    assert loader.pool.waitForDone(10_000)  # all four decoded, none delivered yet
    qtbot.waitUntil(lambda: len(seen) == 2, timeout=10_000)
    qtbot.wait(50)
    assert seen == [srcs[0], srcs[2]]
