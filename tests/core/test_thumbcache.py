"""ThumbnailCache on real files: hits, misses, staleness, corrupt entries, LRU bound, threads."""

from __future__ import annotations

import io
import os
import sys
import threading
from pathlib import Path

import pytest
from PIL import Image

from gallery_desktop.core import thumbcache
from gallery_desktop.core.thumbcache import ThumbnailCache, cache_key, looks_complete
from gallery_desktop.core.thumbnails import load_thumbnail
from tests.factories import make_image

EDGE = 96


def thumb_of(path: Path) -> Image.Image:
    return load_thumbnail(path, EDGE)


def decode(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        return im.copy()


def test_miss_then_put_then_hit(tmp_path: Path) -> None:
    src = make_image(tmp_path / "src" / "a.png", size=(300, 200))
    cache = ThumbnailCache(tmp_path / "cache")
    assert cache.get(src, EDGE) is None
    data = cache.put(src, EDGE, thumb_of(src))
    assert data[:2] == b"\xff\xd8" and looks_complete(data)
    assert cache.get(src, EDGE) == data
    assert cache.flush(timeout=10)
    key = cache_key(src, EDGE)
    assert key is not None
    on_disk = tmp_path / "cache" / key[:2] / f"{key}.jpg"
    assert on_disk.read_bytes() == data
    assert decode(data).size == (96, 64)


def test_disk_entry_survives_a_new_cache_object(tmp_path: Path) -> None:
    src = make_image(tmp_path / "a.jpg", size=(300, 200))
    data = ThumbnailCache(tmp_path / "cache", write_behind=False).put(src, EDGE, thumb_of(src))
    fresh = ThumbnailCache(tmp_path / "cache")
    assert fresh.memory_len() == 0
    assert fresh.get(src, EDGE) == data
    assert fresh.memory_len() == 1


def test_transparent_thumb_is_stored_as_png(tmp_path: Path) -> None:
    src = tmp_path / "alpha.png"
    Image.new("RGBA", (200, 100), (10, 20, 30, 100)).save(src)
    cache = ThumbnailCache(tmp_path / "cache")
    data = cache.put(src, EDGE, thumb_of(src))
    assert data.startswith(b"\x89PNG")
    assert cache.flush(timeout=10)
    key = cache_key(src, EDGE)
    assert key is not None and cache.file_for(key, ".png").is_file()
    assert ThumbnailCache(tmp_path / "cache").get(src, EDGE) == data
    assert decode(data).getpixel((5, 5)) == (10, 20, 30, 100)


def test_key_depends_on_edge_path_and_content(tmp_path: Path) -> None:
    a = make_image(tmp_path / "a.png")
    b = make_image(tmp_path / "b.png")
    assert cache_key(a, 96) != cache_key(a, 128)
    assert cache_key(a, 96) != cache_key(b, 96)
    assert cache_key(a, 96) == cache_key(tmp_path / "." / "a.png", 96)
    assert cache_key(tmp_path / "missing.png", 96) is None


def test_key_takes_the_path_as_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a = make_image(tmp_path / "a.png")
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path)
    assert cache_key(Path("a.png"), 96) == cache_key(a, 96)
    assert cache_key(Path("sub") / ".." / "a.png", 96) == cache_key(a, 96)
    assert cache_key(tmp_path / "a\0.png", 96) is None  # a NUL: no such file, no crash


def test_symlinked_spelling_follows_its_target(tmp_path: Path) -> None:
    target = make_image(tmp_path / "a.png", color="#ff0000")
    link = tmp_path / "link.png"
    link.symlink_to(target)
    before = cache_key(link, 96)
    assert before is not None and before != cache_key(target, 96)  # its own entry
    make_image(tmp_path / "b.png", size=(80, 60), color="#0000ff")
    link.unlink()
    link.symlink_to(tmp_path / "b.png")  # same name, another file: another key
    assert cache_key(link, 96) not in (None, before)


def test_folder_where_an_entry_should_be_is_a_miss(tmp_path: Path) -> None:
    src = make_image(tmp_path / "a.png", size=(300, 200))
    cache = ThumbnailCache(tmp_path / "cache", write_behind=False)
    key = cache_key(src, EDGE)
    assert key is not None
    cache.file_for(key, ".jpg").mkdir(parents=True)
    assert cache.get(src, EDGE) is None
    data = cache.put(src, EDGE, thumb_of(src).convert("RGBA"))  # a PNG entry beside it
    assert ThumbnailCache(tmp_path / "cache").get(src, EDGE) == data


def test_changed_source_is_a_miss(tmp_path: Path) -> None:
    src = make_image(tmp_path / "a.png", size=(300, 200), color="#ff0000")
    cache = ThumbnailCache(tmp_path / "cache")
    cache.put(src, EDGE, thumb_of(src))
    # Same size on disk is possible; the mtime alone must be enough.
    st = src.stat()
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert cache.get(src, EDGE) is None
    # Replaced by different content: a miss too, and the new thumb is what comes back.
    make_image(src, size=(300, 200), color="#0000ff")
    assert cache.get(src, EDGE) is None
    data = cache.put(src, EDGE, thumb_of(src))
    r, _g, b = decode(data).getpixel((90, 60))
    assert b > 200 and r < 50


def test_corrupt_entry_is_a_miss_and_gets_replaced(tmp_path: Path) -> None:
    src = make_image(tmp_path / "a.png", size=(300, 200))
    data = ThumbnailCache(tmp_path / "cache", write_behind=False).put(src, EDGE, thumb_of(src))
    key = cache_key(src, EDGE)
    assert key is not None
    entry = tmp_path / "cache" / key[:2] / f"{key}.jpg"
    entry.write_bytes(data[: len(data) // 2])  # a torn write
    cache = ThumbnailCache(tmp_path / "cache")
    assert cache.get(src, EDGE) is None
    entry.write_bytes(b"")
    assert cache.get(src, EDGE) is None
    entry.write_bytes(b"garbage" * 100)
    assert cache.get(src, EDGE) is None
    again = cache.put(src, EDGE, thumb_of(src))
    assert cache.flush(timeout=10)
    assert entry.read_bytes() == again
    assert ThumbnailCache(tmp_path / "cache").get(src, EDGE) == again


def test_discard_forgets_memory_and_disk(tmp_path: Path) -> None:
    src = make_image(tmp_path / "a.png", size=(300, 200))
    cache = ThumbnailCache(tmp_path / "cache")
    cache.put(src, EDGE, thumb_of(src))
    assert cache.flush(timeout=10)
    cache.discard(src, EDGE)
    assert cache.get(src, EDGE) is None
    assert not list((tmp_path / "cache").rglob("*.jpg"))


def test_memory_part_is_a_bounded_lru(tmp_path: Path) -> None:
    cache = ThumbnailCache(tmp_path / "cache", memory_items=3)
    srcs = [make_image(tmp_path / f"{i}.png", size=(50, 40)) for i in range(5)]
    for src in srcs[:3]:
        cache.put(src, EDGE, thumb_of(src))
    assert cache.get(srcs[0], EDGE) is not None  # 0 is now the most recently used
    cache.put(srcs[3], EDGE, thumb_of(srcs[3]))  # evicts 1
    cache.put(srcs[4], EDGE, thumb_of(srcs[4]))  # evicts 2
    assert cache.memory_len() == 3
    assert cache.flush(timeout=10)
    # Without the disk copies only what memory holds can still be found.
    for f in (tmp_path / "cache").rglob("*.jpg"):
        f.unlink()
    found = [cache.get(src, EDGE) is not None for src in srcs]
    assert found == [True, False, False, True, True]


def test_memory_part_is_bounded_in_bytes_too(tmp_path: Path) -> None:
    srcs = [make_image(tmp_path / f"{i}.png", size=(300, 200)) for i in range(6)]
    sizes = []
    cache = ThumbnailCache(tmp_path / "cache", memory_items=100, memory_bytes=1)
    for src in srcs:
        sizes.append(len(cache.put(src, EDGE, thumb_of(src))))
    assert cache.memory_len() == 0 and cache.memory_size() == 0  # none fits
    budget = sizes[0] + sizes[1] + sizes[2] // 2  # two and a half entries
    cache = ThumbnailCache(tmp_path / "cache2", memory_items=100, memory_bytes=budget)
    for src in srcs:
        cache.put(src, EDGE, thumb_of(src))
        assert cache.memory_size() <= budget
    assert cache.memory_len() == 2
    assert cache.memory_size() == sum(sizes[-2:])
    cache.discard(srcs[-1], EDGE)
    assert cache.memory_len() == 1 and cache.memory_size() == sizes[-2]
    assert cache.flush(timeout=10)


def test_zero_memory_items_still_uses_disk(tmp_path: Path) -> None:
    src = make_image(tmp_path / "a.png")
    cache = ThumbnailCache(tmp_path / "cache", memory_items=0)
    data = cache.put(src, EDGE, thumb_of(src))
    assert cache.flush(timeout=10)
    assert cache.memory_len() == 0
    assert cache.get(src, EDGE) == data


def test_unwritable_cache_folder_still_returns_the_thumb(tmp_path: Path) -> None:
    src = make_image(tmp_path / "a.png", size=(300, 200))
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")
    cache = ThumbnailCache(blocker)
    data = cache.put(src, EDGE, thumb_of(src))
    assert looks_complete(data)
    assert cache.flush(timeout=10)  # the failed write is logged, not left pending
    assert cache.get(src, EDGE) == data  # served from memory
    assert blocker.read_text().startswith("a file")


def test_missing_source(tmp_path: Path) -> None:
    src = make_image(tmp_path / "a.png")
    thumb = thumb_of(src)
    src.unlink()
    cache = ThumbnailCache(tmp_path / "cache")
    assert cache.get(src, EDGE) is None
    assert looks_complete(cache.put(src, EDGE, thumb))
    assert not (tmp_path / "cache").exists()


def test_key_taken_before_decoding_wins(tmp_path: Path) -> None:
    # A file replaced while its old version was being decoded must not have the old
    # pixels filed under the new version's key.
    src = make_image(tmp_path / "a.png", size=(300, 200), color="#ff0000")
    old_key = cache_key(src, EDGE)
    old_thumb = thumb_of(src)
    make_image(src, size=(310, 200), color="#0000ff")
    cache = ThumbnailCache(tmp_path / "cache")
    cache.put(src, EDGE, old_thumb, key=old_key)
    assert cache.get(src, EDGE) is None
    assert cache.get(src, EDGE, key=old_key) is not None


def test_threads_share_one_cache(tmp_path: Path) -> None:
    srcs = [make_image(tmp_path / "src" / f"{i}.png", size=(120, 80)) for i in range(24)]
    thumbs = {src: thumb_of(src) for src in srcs}
    cache = ThumbnailCache(tmp_path / "cache", memory_items=10)
    errors: list[BaseException] = []

    def work(offset: int) -> None:
        try:
            for i in range(len(srcs) * 3):
                src = srcs[(i + offset) % len(srcs)]
                data = cache.get(src, EDGE)
                if data is None:
                    data = cache.put(src, EDGE, thumbs[src])
                assert looks_complete(data)
        except BaseException as err:  # surfaced below, in the test's thread
            errors.append(err)

    threads = [threading.Thread(target=work, args=(n * 5,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert cache.flush(timeout=30)
    assert cache.memory_len() == 10
    assert len(list((tmp_path / "cache").rglob("*.jpg"))) == len(srcs)
    assert not list((tmp_path / "cache").rglob("*.tmp"))


def test_write_behind_queue_overflow_writes_in_the_caller(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    srcs = [make_image(tmp_path / "src" / f"{i}.png", size=(60, 40)) for i in range(12)]
    cache = ThumbnailCache(tmp_path / "cache")
    monkeypatch.setattr(thumbcache, "WRITE_QUEUE_MAX_BYTES", 1)  # room for one entry
    for src in srcs:
        cache.put(src, EDGE, thumb_of(src))
    assert cache.flush(timeout=30)
    fresh = ThumbnailCache(tmp_path / "cache", memory_items=0)
    assert all(fresh.get(src, EDGE) is not None for src in srcs)


def test_writer_thread_ends_when_idle_and_restarts(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(thumbcache, "_WRITER_IDLE_S", 0.05)
    src = make_image(tmp_path / "a.png")
    cache = ThumbnailCache(tmp_path / "cache", memory_items=0)
    cache.put(src, EDGE, thumb_of(src))
    assert cache.flush(timeout=10)
    idle = threading.Event()
    for _ in range(500):
        if not cache._writer_alive:
            break
        idle.wait(0.01)
    assert not cache._writer_alive
    make_image(src, size=(70, 40))
    cache.put(src, EDGE, thumb_of(src))
    assert cache.flush(timeout=10)
    assert cache.get(src, EDGE) is not None


def test_stale_temp_files_of_interrupted_writes_are_swept(tmp_path: Path) -> None:
    folder = tmp_path / "cache" / "ab"
    folder.mkdir(parents=True)
    stale = folder / ".ab12.jpg.x1y2z3.tmp"
    fresh = folder / ".ab34.jpg.q1w2e3.tmp"  # another process may be writing it right now
    stale.write_bytes(b"half a jpeg")
    fresh.write_bytes(b"half a jpeg")
    old = stale.stat().st_mtime - 3600
    os.utime(stale, (old, old))
    src = make_image(tmp_path / "a.png")
    cache = ThumbnailCache(tmp_path / "cache")
    cache.put(src, EDGE, thumb_of(src))
    assert cache.flush(timeout=10)
    assert not stale.exists()
    assert fresh.exists()


def test_put_later_encodes_and_writes_on_the_writer_thread(tmp_path: Path) -> None:
    src = make_image(tmp_path / "a.png", size=(300, 200))
    thumb = thumb_of(src)
    made_on: list[str] = []

    def make() -> Image.Image:
        made_on.append(threading.current_thread().name)
        return thumb

    cache = ThumbnailCache(tmp_path / "cache")
    cache.put_later(src, EDGE, make)
    assert cache.flush(timeout=10)
    assert made_on == ["thumbcache-writer"]
    data = cache.get(src, EDGE)
    assert data is not None and decode(data).size == (96, 64)
    assert ThumbnailCache(tmp_path / "cache").get(src, EDGE) == data
    if sys.platform == "linux":
        writers = [t for t in threading.enumerate() if t.name == "thumbcache-writer"]
        assert writers, "the writer lingers a while after its last job"
        assert all(os.getpriority(os.PRIO_PROCESS, t.native_id) >= thumbcache.WRITER_NICE
                   for t in writers if t.native_id is not None)


def test_put_later_without_write_behind_happens_at_once(tmp_path: Path) -> None:
    src = make_image(tmp_path / "a.png", size=(300, 200))
    cache = ThumbnailCache(tmp_path / "cache", write_behind=False)
    cache.put_later(src, EDGE, lambda: thumb_of(src))
    key = cache_key(src, EDGE)
    assert key is not None and cache.file_for(key).is_file()


def test_put_later_failure_is_logged_not_fatal(tmp_path: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    src = make_image(tmp_path / "a.png")
    cache = ThumbnailCache(tmp_path / "cache")

    def broken() -> Image.Image:
        raise ValueError("cannot convert")

    cache.put_later(src, EDGE, broken)
    assert cache.flush(timeout=10)
    assert cache.get(src, EDGE) is None
    assert "cache writer failed" in caplog.text
    cache.put_later(src, EDGE, lambda: thumb_of(src))  # the writer carries on
    assert cache.flush(timeout=10)
    assert cache.get(src, EDGE) is not None


def test_entries_are_written_whole_without_fsync(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    src = make_image(tmp_path / "a.png", size=(300, 200))
    cache = ThumbnailCache(tmp_path / "cache", write_behind=False)
    data = cache.put(src, EDGE, thumb_of(src))
    key = cache_key(src, EDGE)
    assert key is not None and cache.file_for(key).read_bytes() == data
    assert synced == []
    assert [p.name for p in cache.file_for(key).parent.iterdir()] == [f"{key}.jpg"]


def test_held_writes_start_no_writer_until_released(tmp_path: Path) -> None:
    src = make_image(tmp_path / "a.png", size=(300, 200))
    cache = ThumbnailCache(tmp_path / "cache")
    cache.hold_writes()
    cache.put_later(src, EDGE, lambda: thumb_of(src))
    # Nothing to do while held: no thread competes with the decoders for the GIL.
    assert not cache._writer_alive
    cache.release_writes()
    assert cache.flush(timeout=10)
    assert ThumbnailCache(tmp_path / "cache").get(src, EDGE) is not None


def test_held_writes_wait_and_flush_lifts_the_hold(tmp_path: Path) -> None:
    srcs = [make_image(tmp_path / f"{i}.png", size=(300, 200)) for i in range(3)]
    cache = ThumbnailCache(tmp_path / "cache")
    made = threading.Event()

    def make(src: Path) -> Image.Image:
        made.set()
        return thumb_of(src)

    cache.hold_writes()
    cache.hold_writes()  # holds nest
    for src in srcs[:2]:
        cache.put_later(src, EDGE, lambda s=src: make(s))
    cache.release_writes()
    # Still held once: nothing is encoded while the writer waits.
    assert not made.wait(0.2)
    assert ThumbnailCache(tmp_path / "cache").get(srcs[0], EDGE) is None
    # A flush overrides the hold and waits for every queued entry.
    assert cache.flush(timeout=10)
    fresh = ThumbnailCache(tmp_path / "cache")
    assert all(fresh.get(src, EDGE) is not None for src in srcs[:2])
    # Still held after the flush: a new entry waits again until released.
    made.clear()
    cache.put_later(srcs[2], EDGE, lambda: make(srcs[2]))
    assert not made.wait(0.2)
    cache.release_writes()
    assert made.wait(10)
    assert cache.flush(timeout=10)
    assert ThumbnailCache(tmp_path / "cache").get(srcs[2], EDGE) is not None
