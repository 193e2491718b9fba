"""The thumbnail cache stays within its budget: oldest entries go, young and foreign files stay."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from PIL import Image

from gallery_desktop.core.thumbcache import ThumbnailCache, cache_key
from gallery_desktop.core.thumbprune import KEEP_FRACTION, prune_cache

DAY = 86400.0


def entry(cache_dir: Path, n: int, size: int, age_s: float, suffix: str = ".jpg") -> Path:
    key = f"{n:040x}"
    path = cache_dir / key[:2] / f"{key}{suffix}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\xff\xd8" + bytes(size - 4) + b"\xff\xd9")
    when = time.time() - age_s
    os.utime(path, (when, when))
    return path


def test_nothing_goes_while_the_cache_is_within_budget(tmp_path: Path) -> None:
    files = [entry(tmp_path, n, 1000, DAY * n) for n in range(10)]
    result = prune_cache(tmp_path, budget_bytes=10_000)
    assert (result.files, result.size, result.removed_files) == (10, 10_000, 0)
    assert all(f.exists() for f in files)


def test_the_oldest_go_down_to_the_keep_fraction(tmp_path: Path) -> None:
    # Ages in a shuffled order: the order on disk must not matter, only the age.
    ages = [3, 9, 1, 7, 5, 2, 8, 4, 6, 10]
    files = {age: entry(tmp_path, n, 1000, DAY * age, ".png" if n % 2 else ".jpg")
             for n, age in enumerate(ages)}
    result = prune_cache(tmp_path, budget_bytes=8_000)
    kept = int(8_000 * KEEP_FRACTION) // 1000
    assert result.removed_files == 10 - kept and result.removed_size == (10 - kept) * 1000
    assert sorted(age for age, f in files.items() if f.exists()) == list(range(1, kept + 1))


def test_young_entries_stay_even_over_budget(tmp_path: Path) -> None:
    old = [entry(tmp_path, n, 1000, DAY) for n in range(3)]
    young = [entry(tmp_path, 100 + n, 1000, 60) for n in range(5)]
    result = prune_cache(tmp_path, budget_bytes=1_000, min_age_s=3600)
    assert result.removed_files == 3
    assert not any(f.exists() for f in old) and all(f.exists() for f in young)


def test_temp_files_and_foreign_files_are_left_alone(tmp_path: Path) -> None:
    old = entry(tmp_path, 1, 1000, DAY)
    shard = old.parent
    temp = shard / f".{old.name}.abc123.tmp"
    temp.write_bytes(bytes(5000))
    other = shard / "notes.txt"
    other.write_bytes(bytes(5000))
    index = tmp_path / "run-index.idx"
    index.write_bytes(bytes(5000))
    for f in (temp, other, index):
        os.utime(f, (time.time() - 9 * DAY, time.time() - 9 * DAY))
    result = prune_cache(tmp_path, budget_bytes=10)
    assert result.files == 1 and not old.exists()
    assert temp.exists() and other.exists() and index.exists()


def test_a_missing_cache_folder_is_an_empty_cache(tmp_path: Path) -> None:
    assert prune_cache(tmp_path / "nothing-here", budget_bytes=0).files == 0


def test_cancel_stops_the_pass(tmp_path: Path) -> None:
    files = [entry(tmp_path, n, 1000, DAY * (n + 1)) for n in range(6)]

    def cancelled() -> bool:
        return sum(not f.exists() for f in files) >= 2  # once two are gone

    result = prune_cache(tmp_path, budget_bytes=1_000, cancelled=cancelled)
    assert result.removed_files == 2
    assert sum(f.exists() for f in files) == 4


def test_an_entry_that_cannot_be_removed_is_logged_and_skipped(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    stuck = entry(tmp_path, 0x10 << 152, 1000, 9 * DAY)  # shard "10"
    free = entry(tmp_path, 0x20 << 152, 1000, 8 * DAY)  # shard "20"
    if os.geteuid() == 0:
        # Root deletes from read-only folders: only an injected refusal can stand in.
        real_unlink = os.unlink

        def refuse(path: str) -> None:
            if path == str(stuck):
                raise PermissionError(13, "Permission denied", path)
            real_unlink(path)

        monkeypatch.setattr(os, "unlink", refuse)
    stuck.parent.chmod(0o500)
    try:
        result = prune_cache(tmp_path, budget_bytes=500)
    finally:
        stuck.parent.chmod(0o700)
    assert stuck.exists() and not free.exists()
    assert result.removed_files == 1
    assert "cannot remove the cached thumbnail" in caplog.text


def test_a_pruned_thumbnail_is_a_miss_and_is_made_again(tmp_path: Path) -> None:
    source = tmp_path / "a.png"
    Image.new("RGB", (64, 48), "#3366aa").save(source)
    cache = ThumbnailCache(tmp_path / "cache", memory_items=0)
    made = cache.put(source, 32, Image.new("RGB", (32, 24), "#3366aa"))
    cache.flush()
    key = cache_key(source, 32)
    assert key is not None and cache.get(source, 32) == made
    past = time.time() - 9 * DAY
    for f in (tmp_path / "cache").rglob("*.jpg"):
        os.utime(f, (past, past))
    assert prune_cache(tmp_path / "cache", budget_bytes=1).removed_files == 1
    assert cache.get(source, 32) is None
    cache.put(source, 32, Image.new("RGB", (32, 24), "#3366aa"))
    cache.flush()
    assert cache.get(source, 32) == made


def test_cancel_while_listing_removes_nothing(tmp_path: Path) -> None:
    files = [entry(tmp_path, n << 152, 1000, DAY * (n + 1)) for n in range(1, 6)]  # 5 shards
    asked = []

    def cancelled() -> bool:
        asked.append(1)
        return len(asked) > 2  # during the listing: after two of the five folders

    result = prune_cache(tmp_path, budget_bytes=1_000, cancelled=cancelled)
    assert result.removed_files == 0 and len(asked) == 3
    assert all(f.exists() for f in files)
