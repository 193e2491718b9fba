"""The run index: hits skip reading meta.json, changes are noticed, damage means a fresh start."""

from __future__ import annotations

import json
import logging
import marshal
import os
import shutil
import time
import zlib
from pathlib import Path
from typing import Any

import pytest

from gallery_desktop.core.index import RunIndex, join_file, split_file
from gallery_desktop.core.records import ImageSource, RunResult, RunRows, SkippedItem
from gallery_desktop.core.runs import iter_runs, parse_run, scan_runs
from tests.factories import make_image, make_run, settle


def read_runs(cache: Path) -> tuple[Any, list[list[Any]]]:
    """The index file's header, and each run's row with its texts and records as bytes in
    place of their offsets."""
    header, rows, blob = split_file(cache.read_bytes())
    return header, [[*row[:8], bytes(blob[row[8]:row[9]]), bytes(blob[row[9]:row[10]])]
                    for row in rows]


def write_runs(cache: Path, header: Any, runs: list[list[Any]]) -> None:
    """The inverse of ``read_runs`` (with checksums that match the texts and records)."""
    rows, pieces, at = [], [], 0
    for *head, texts, records in runs:
        rows.append((*head, at, at + len(texts), at + len(texts) + len(records),
                     zlib.crc32(texts), zlib.crc32(records)))
        pieces += [texts, records]
        at += len(texts) + len(records)
    cache.write_bytes(join_file(header, rows, pieces))

def metas_opened(opened: list[Path]) -> list[str]:
    return sorted(p.parent.name for p in opened if p.name == "meta.json")


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """Three runs, one with a problem and one whose second image file is not there."""
    data = tmp_path / "data"
    make_run(data, "run-a")
    make_run(data, "run-b", [{"index": 1, "finalImageUrl": "/data/runs/run-b/one.png"},
                             {"index": 2, "finalImageUrl": "/data/runs/run-b/two.png"}],
             images=False, topic=17)
    make_image(data / "runs" / "run-b" / "one.png")
    make_run(data, "run-c", raw=b"{broken")
    settle(data)
    return data


def test_store_and_lookup(tmp_path: Path, data: Path) -> None:
    index = RunIndex(tmp_path / "cache" / "index.bin")
    run_dir = data / "runs" / "run-a"
    result = parse_run(run_dir, data)
    index.store(run_dir, 10, 20, result)
    assert index.lookup(run_dir, 10, 20) is result
    assert index.lookup(run_dir, 11, 20) is None  # touched
    assert index.lookup(run_dir, 10, 21) is None  # grew
    assert index.lookup(data / "runs" / "run-b", 10, 20) is None
    index.prune([data / "runs" / "run-b"])
    assert index.lookup(run_dir, 10, 20) is None and len(index) == 0


def test_save_and_load_round_trip(tmp_path: Path, data: Path) -> None:
    cache = tmp_path / "cache" / "index.bin"
    index = RunIndex(cache)
    index.load()  # no file yet: empty, no error
    first = list(iter_runs(data, index=index))
    index.save()
    assert cache.is_file() and not index.dirty
    loaded = RunIndex(cache)
    loaded.load()
    assert len(loaded) == 3  # run-c is stored too: its broken meta.json is not re-read either
    again = list(iter_runs(data, index=loaded))
    assert all(isinstance(run, RunRows) for run in again)
    assert not any(run.built for run in again)  # built when the grid shows them
    assert [run.result() if isinstance(run, RunRows) else run for run in again] == first
    # run-c's broken meta.json may be a write in progress: that survives the round trip.
    assert [r.run_id for r in again if r.incomplete] == ["run-c"]
    images = [i for r in again for i in r.images]
    assert {type(i.image_path) for i in images} == {str}
    assert [i.source for i in images] == [ImageSource.LOCAL] * 3  # two.png is named only
    assert all(type(i.source) is ImageSource for i in images)
    assert any("topic is a number" in s.reason for r in again for s in r.skipped)
    assert not loaded.dirty  # nothing changed: nothing to write


def test_hits_do_not_read_meta_json(tmp_path: Path, data: Path,
                                    opened_files: list[Path]) -> None:
    index = RunIndex(tmp_path / "index.bin")
    scan_runs(data, index=index)
    assert metas_opened(opened_files) == ["run-a", "run-b", "run-c"]
    opened_files.clear()
    report = scan_runs(data, index=index)
    assert metas_opened(opened_files) == []
    assert len(report.images) == 3


def test_a_changed_run_is_read_again(tmp_path: Path, data: Path,
                                     opened_files: list[Path]) -> None:
    index = RunIndex(tmp_path / "index.bin")
    scan_runs(data, index=index)
    meta_path = data / "runs" / "run-a" / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["posts"][0]["text"] = "edited"
    before = meta_path.stat()
    meta_path.write_text(json.dumps(meta))
    os.utime(meta_path, ns=(before.st_atime_ns, before.st_mtime_ns))  # same mtime, new size
    (data / "runs" / "run-c" / "meta.json").write_text('{"posts": []}')
    opened_files.clear()
    report = scan_runs(data, index=index)
    assert metas_opened(opened_files) == ["run-a", "run-c"]
    assert [i.slide_text for i in report.images if i.run_id == "run-a"] == ["edited"]
    assert not any(s.path.endswith(os.path.join("run-c", "meta.json")) for s in report.skipped)


def test_a_meta_json_rewritten_in_the_same_tick_at_the_same_size_is_read_again(
        tmp_path: Path, opened_files: list[Path]) -> None:
    """File times tick every few milliseconds: a rewrite of the same size within one tick
    leaves (mtime_ns, size) as they were. A run stored moments after its meta.json was
    written is therefore not trusted, in memory or saved, until the file has settled."""
    data = tmp_path / "data"
    meta = make_run(data, "run-a", images=False) / "meta.json"  # written just now
    index = RunIndex(tmp_path / "index.bin")

    def rewrite(caption: str) -> None:
        before = meta.stat()
        body = json.loads(meta.read_text())
        body["posts"][0]["text"] = caption
        meta.write_text(json.dumps(body, indent=2))
        os.utime(meta, ns=(before.st_atime_ns, before.st_mtime_ns))  # the same tick
        assert meta.stat().st_size == before.st_size

    def captions(index: RunIndex) -> list[str]:
        return [i.slide_text for i in scan_runs(data, index=index).images]

    assert captions(index) == ["A caption"]
    rewrite("B caption")
    assert captions(index) == ["B caption"]
    index.save()
    rewrite("C caption")
    loaded = RunIndex(tmp_path / "index.bin")
    loaded.load()
    assert captions(loaded) == ["C caption"]
    # Settled (written an hour ago): read once more, then trusted.
    settle(data)
    assert captions(loaded) == ["C caption"]
    opened_files.clear()
    assert captions(loaded) == ["C caption"]
    assert metas_opened(opened_files) == []


def test_a_meta_json_dated_ahead_is_trusted(tmp_path: Path, opened_files: list[Path]) -> None:
    """A file copied from a machine whose clock ran ahead: a rewrite here gets another mtime,
    so the entry is trusted (kept racy, every look would read it and rewrite the index)."""
    data = tmp_path / "data"
    meta = make_run(data, "run-a", images=False) / "meta.json"
    ahead = time.time_ns() + 3600 * 10**9
    os.utime(meta, ns=(ahead, ahead))
    index = RunIndex(tmp_path / "index.bin")
    scan_runs(data, index=index)
    index.save()
    opened_files.clear()
    assert len(scan_runs(data, index=index).images) == 1
    assert metas_opened(opened_files) == [] and not index.dirty


def test_deleted_runs_are_pruned_after_a_full_scan(tmp_path: Path, data: Path) -> None:
    cache = tmp_path / "index.bin"
    index = RunIndex(cache)
    scan_runs(data, index=index)
    index.save()
    shutil.rmtree(data / "runs" / "run-a")
    scan_runs(data, index=index)
    assert len(index) == 2 and index.dirty
    assert index.lookup(data / "runs" / "run-a", 0, 0) is None
    index.save()
    reloaded = RunIndex(cache)
    reloaded.load()
    assert len(reloaded) == 2


def test_a_cancelled_scan_prunes_nothing(tmp_path: Path, data: Path) -> None:
    index = RunIndex(tmp_path / "index.bin")
    scan_runs(data, index=index)
    assert [r.run_id for r in iter_runs(data, index=index, cancelled=lambda: True)] == []
    assert len(index) == 3
    runs = iter_runs(data, index=index)
    next(runs)
    runs.close()  # a consumer that stops early is like a cancel
    assert len(index) == 3


def test_a_cut_short_or_damaged_cache_file_means_an_empty_index(
        tmp_path: Path, data: Path, caplog: pytest.LogCaptureFixture) -> None:
    cache = tmp_path / "index.bin"
    index = RunIndex(cache)
    scan_runs(data, index=index)
    index.save()
    whole = cache.read_bytes()
    start = whole.index(b"\n") + 1  # after the signature line
    table_end = start + 12 + int.from_bytes(whole[start:start + 8], "little")
    cut_short = [whole[:n] for n in (start + 1, len(whole) // 2, len(whole) - 1)]
    # A flipped bit anywhere in the checksum or the table.
    flipped = [whole[:at] + bytes([whole[at] ^ 0x20]) + whole[at + 1:]
               for at in range(start, table_end, max(1, table_end // 97))]
    for n, damaged_bytes in enumerate(cut_short + flipped):
        cache.write_bytes(damaged_bytes)
        damaged = RunIndex(cache)
        with caplog.at_level(logging.INFO, logger="gallery_desktop.core.index"):
            caplog.clear()
            damaged.load()
        assert len(damaged) == 0, n
        assert [r.levelno for r in caplog.records] == [logging.WARNING], n  # "damaged"


@pytest.mark.parametrize("content", [
    b"", b"garbage", b"\x00" * 100, marshal.dumps(("gallery-desktop run index",)),
    marshal.dumps((("gallery-desktop run index", 5, (3, 11), ()), [])),  # an older format
    marshal.dumps((None, [("k", 1, 2, ("run", ((1, 2),), ()))])),
    b"gallery-desktop run index 7\n" + bytes(40),
    b"gallery-desktop run index 8\n" + bytes(40),
    b"gallery-desktop run index 999\n" + bytes(40),
    join_file(("gallery-desktop run index",), [], []),  # this format, another header
    join_file(("gallery-desktop run index", 8, (3, 10), ()), [], []),
])
def test_a_file_of_another_format_is_put_aside_quietly(
        tmp_path: Path, data: Path, content: bytes, caplog: pytest.LogCaptureFixture) -> None:
    cache = tmp_path / "index.bin"
    cache.write_bytes(content)
    index = RunIndex(cache)
    with caplog.at_level(logging.INFO, logger="gallery_desktop.core.index"):
        index.load()
    assert len(index) == 0
    assert [(r.levelno, "another format" in r.getMessage()) for r in caplog.records] == [
        (logging.INFO, True)]
    report = scan_runs(data, index=index)  # and it works as a cold index
    assert len(report.images) == 3 and len(index) == 3


def test_a_damaged_entry_shows_as_missing_and_that_run_is_read_again(
        tmp_path: Path, data: Path, opened_files: list[Path]) -> None:
    cache = tmp_path / "index.bin"
    index = RunIndex(cache)
    expected = list(scan_runs(data, index=index).images)
    index.save()
    header, runs = read_runs(cache)
    at = next(i for i, run in enumerate(runs) if run[4])  # a run with images
    *head, records = runs[at]
    key, ids = head[0], head[4]
    run_id, images, skipped, incomplete = marshal.loads(records)
    for bad_run in [(run_id, (bad_image,), skipped, incomplete) for bad_image in (
            images[0][:-1], (*images[0], "extra"), ("x",) * len(images[0]))] + [
            (run_id, images), "not a run"]:
        runs[at] = [*head, marshal.dumps(bad_run)]
        write_runs(cache, header, runs)
        damaged = RunIndex(cache)
        damaged.load()
        assert len(damaged) == 3
        opened_files.clear()
        # The rows are all there; the damaged run's records, once built, say "missing".
        shown = list(scan_runs(data, index=damaged).images)
        assert metas_opened(opened_files) == []
        assert [i.id for i in shown] == [i.id for i in expected]
        assert {i.source for i in shown if i.id in ids} == {ImageSource.MISSING}
        assert [i for i in shown if i.id not in ids] == [i for i in expected if i.id not in ids]
        # The next scan reads that run again (and only that one).
        assert scan_runs(data, index=damaged).images == expected
        assert metas_opened(opened_files) == [Path(key).name]
        assert damaged.dirty and len(damaged) == 3
        # Asked for by lookup, the damaged entry is no result at all.
        again = RunIndex(cache)
        again.load()
        st = (Path(key) / "meta.json").stat()
        assert again.lookup(Path(key), st.st_mtime_ns, st.st_size) is None
        assert len(again) == 2 and again.dirty


@pytest.mark.parametrize(("part", "old", "new"), [
    ("records", b"a prompt", b"b prompt"), ("records", b"slide-1.png", b"slide-2.png"),
    ("texts", b"a prompt", b"b prompt")])
def test_bytes_changed_in_a_run_s_texts_or_records_are_caught_by_their_checksum(
        tmp_path: Path, data: Path, part: str, old: bytes, new: bytes) -> None:
    """A change that still unmarshals to well-formed records (another prompt, another
    file) is damage all the same: the run is not trusted but read again."""
    cache = tmp_path / "index.bin"
    index = RunIndex(cache)
    expected = list(scan_runs(data, index=index).images)
    index.save()
    header, rows, blob = split_file(cache.read_bytes())
    row = next(r for r in rows if r[0].endswith("run-a"))
    start, end = (row[9], row[10]) if part == "records" else (row[8], row[9])
    piece = bytes(blob[start:end])
    assert old in piece
    changed = bytes(blob[:start]) + piece.replace(old, new) + bytes(blob[end:])
    cache.write_bytes(join_file(header, rows, [changed]))  # the table is as it was
    damaged = RunIndex(cache)
    damaged.load()
    shown = {run.run_id: run for run in iter_runs(data, index=damaged)}["run-a"]
    assert isinstance(shown, RunRows)
    if part == "records":
        assert {i.source for i in shown.images} == {ImageSource.MISSING}
    else:
        assert shown.search_texts == tuple(i.search_text() for i in shown.images)
    assert shown.damaged
    assert scan_runs(data, index=damaged).images == expected  # read again


def test_damaged_search_texts_come_from_the_records_and_the_run_is_read_again(
        tmp_path: Path, data: Path, opened_files: list[Path]) -> None:
    cache = tmp_path / "index.bin"
    index = RunIndex(cache)
    expected = list(scan_runs(data, index=index).images)
    index.save()
    header, runs = read_runs(cache)
    at = next(i for i, run in enumerate(runs) if run[4])
    runs[at][8] = marshal.dumps(("just one text",) * (len(runs[at][4]) + 1))
    write_runs(cache, header, runs)
    damaged = RunIndex(cache)
    damaged.load()
    shown = [run for run in iter_runs(data, index=damaged) if run.ids == runs[at][4]]
    assert isinstance(shown[0], RunRows)
    assert shown[0].search_texts == tuple(
        i.search_text() for i in expected if i.id in runs[at][4])
    assert shown[0].damaged
    opened_files.clear()
    assert scan_runs(data, index=damaged).images == expected
    assert metas_opened(opened_files) == [Path(runs[at][0]).name]


@pytest.mark.parametrize("change", ["orders", "created_ts"])
def test_records_that_do_not_sit_where_their_rows_were_placed_are_damaged(
        tmp_path: Path, data: Path, change: str) -> None:
    cache = tmp_path / "index.bin"
    index = RunIndex(cache)
    scan_runs(data, index=index)
    index.save()
    header, runs = read_runs(cache)
    at = next(i for i, run in enumerate(runs) if run[4])
    if change == "orders":
        runs[at][5] = tuple(o + 1 for o in runs[at][5])
    else:
        runs[at][3] += 60.0
    write_runs(cache, header, runs)
    loaded = RunIndex(cache)
    loaded.load()
    run = next(r for r in iter_runs(data, index=loaded) if r.ids == runs[at][4])
    assert isinstance(run, RunRows)
    assert {i.source for i in run.images} == {ImageSource.MISSING} and run.damaged


def test_save_writes_only_when_changed_and_survives_a_failed_write(
        tmp_path: Path, data: Path, caplog: pytest.LogCaptureFixture) -> None:
    cache = tmp_path / "deep" / "er" / "index.bin"
    index = RunIndex(cache)
    index.save()
    assert not cache.exists()  # nothing to save
    scan_runs(data, index=index)
    index.save()
    written = cache.stat().st_mtime_ns
    scan_runs(data, index=index)
    index.save()
    assert cache.stat().st_mtime_ns == written
    assert [p.name for p in cache.parent.iterdir()] == ["index.bin"]  # no temp file left

    blocked = RunIndex(tmp_path / "a-file" / "index.bin")
    (tmp_path / "a-file").write_text("not a folder")
    blocked.store(data / "runs" / "run-a", 1, 2, RunResult("run-a", data / "runs" / "run-a",
                                                            (), (SkippedItem("p", "r"),)))
    with caplog.at_level(logging.WARNING, logger="gallery_desktop.core.index"):
        blocked.save()  # a cache that can't be written is not an error for the app
    assert "cannot save the run index" in caplog.text
    assert blocked.dirty


def test_favorites_are_not_frozen_into_the_index(tmp_path: Path, data: Path) -> None:
    from gallery_desktop.core.favorites import FavoritesStore

    store = FavoritesStore(data / "gallery-favorites.json")
    store.load()
    index = RunIndex(tmp_path / "index.bin")
    image_id = "img_run-a_slide-1"
    store.set_favorite(image_id, True)
    assert [i.is_favorite for i in scan_runs(data, store, index=index).images
            if i.id == image_id] == [True]
    store.set_favorite(image_id, False)
    assert [i.is_favorite for i in scan_runs(data, store, index=index).images
            if i.id == image_id] == [False]


def test_odd_names_survive_a_round_trip(tmp_path: Path) -> None:
    data = tmp_path / "data"
    odd = os.fsdecode(b"caf\xe9.png")  # not UTF-8: reachable as %E9
    posts = [{"index": 1, "finalImageUrl": "caf%E9.png", "text": "\u00e9t\u00e9 \U0001f600"},
             {"index": 2, "finalImageUrl": "https://cdn.example.com/a.png"}]
    run_dir = make_run(data, "run-\u00e9", posts, images=False)
    make_image(run_dir / odd, fmt="PNG")
    cache = tmp_path / "index.bin"
    index = RunIndex(cache)
    first = scan_runs(data, index=index)
    index.save()
    loaded = RunIndex(cache)
    loaded.load()
    assert len(loaded) == 1
    again = scan_runs(data, index=loaded)
    assert again.images == first.images
    assert [(i.image_path, i.source) for i in again.images] == [
        (str(run_dir / odd), ImageSource.LOCAL), (None, ImageSource.REMOTE)]


def test_a_loaded_index_gives_the_same_runs_in_any_order(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for i in range(600):  # more than one chunk of records built at a time
        make_run(data, f"run-{i:04d}", [{"index": 1, "finalImageUrl": "a.png"},
                                         {"index": 2, "finalImageUrl": "b.png"}], images=False)
    settle(data)
    cache = tmp_path / "index.bin"
    index = RunIndex(cache)
    first = {r.run_dir: r for r in iter_runs(data, index=index)}
    index.save()
    for order in (sorted(first), sorted(first, reverse=True)):
        loaded = RunIndex(cache)
        loaded.load()
        for run_dir in order:
            st = (run_dir / "meta.json").stat()
            assert loaded.lookup(run_dir, st.st_mtime_ns, st.st_size) == first[run_dir]


def test_images_beside_and_away_from_the_run_folder_survive_a_round_trip(
        tmp_path: Path) -> None:
    data = tmp_path.resolve() / "data"  # run folders and image paths spelt alike
    posts = [{"index": 1, "finalImageUrl": "a.png"},
             {"index": 2, "finalImageUrl": "sub/b.png"},
             {"index": 3, "finalImageUrl": "/data/shared/c.png"},
             {"index": 4, "finalImageUrl": "sub"},  # a folder: reading it says so
             {"index": 5, "finalImageUrl": "gone.png"}]
    run_dir = make_run(data, "run-x", posts, images=False)
    make_image(run_dir / "a.png")
    make_image(run_dir / "sub" / "b.png")
    make_image(data / "shared" / "c.png")
    cache = tmp_path / "index.bin"
    index = RunIndex(cache)
    first = scan_runs(data, index=index)
    index.save()
    # Files in the run folder are stored by name, all others by their whole path.
    _header, runs = read_runs(cache)
    stored = [row[4] for row in marshal.loads(runs[0][-1])[1]]
    root = data.resolve()
    assert stored == ["a.png", str(root / "runs" / "run-x" / "sub" / "b.png"),
                      str(root / "shared" / "c.png"), "sub", "gone.png"]
    loaded = RunIndex(cache)
    loaded.load()
    again = scan_runs(data, index=loaded)
    assert again.images == first.images
    assert [(i.image_path, i.source) for i in again.images] == [
        (str(root / "runs" / "run-x" / "a.png"), ImageSource.LOCAL),
        (str(root / "runs" / "run-x" / "sub" / "b.png"), ImageSource.LOCAL),
        (str(root / "shared" / "c.png"), ImageSource.LOCAL),
        (str(root / "runs" / "run-x" / "sub"), ImageSource.LOCAL),
        (str(root / "runs" / "run-x" / "gone.png"), ImageSource.LOCAL)]
