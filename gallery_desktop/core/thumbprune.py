"""Keeps the thumbnail disk cache within a size budget: the entries written longest ago go."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gallery_desktop.core.thumbcache import ENTRY_SUFFIXES

log = logging.getLogger(__name__)

# 100,000 thumbnails at 256 px take about 1.5 GB: room for a big library and its edits.
DEFAULT_BUDGET_BYTES = 2 * 1024**3
# Pruning goes down to this share of the budget, so that it is rare rather than constant.
KEEP_FRACTION = 0.8
# Younger entries are left alone: they were just made for what is on screen.
MIN_AGE_S = 3600.0


@dataclass(frozen=True, slots=True)
class PruneResult:
    """What one pass over the cache found and removed."""

    files: int = 0
    size: int = 0
    removed_files: int = 0
    removed_size: int = 0


def _entries(cache_dir: Path, cancelled: Callable[[], bool] | None
             ) -> list[tuple[int, int, str]] | None:
    """(mtime_ns, size, path) of every cache entry: ``<2 hex>/<key>.jpg|.png`` files.

    None when ``cancelled`` said so between two shard folders.
    """
    found: list[tuple[int, int, str]] = []
    try:
        shards = [e for e in os.scandir(cache_dir)
                  if len(e.name) == 2 and e.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        return found
    for shard in shards:
        if cancelled is not None and cancelled():
            return None
        try:
            with os.scandir(shard.path) as it:
                for entry in it:
                    name = entry.name
                    # Temp files of writes in progress start with "." (see fsutil).
                    if name.startswith(".") or not name.endswith(ENTRY_SUFFIXES):
                        continue
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except FileNotFoundError:
                        continue
                    if entry.is_file(follow_symlinks=False):
                        found.append((st.st_mtime_ns, st.st_size, entry.path))
        except FileNotFoundError:
            continue
    return found


def prune_cache(cache_dir: Path, budget_bytes: int = DEFAULT_BUDGET_BYTES, *,
                min_age_s: float = MIN_AGE_S,
                cancelled: Callable[[], bool] | None = None) -> PruneResult:
    """Remove the oldest thumbnails while the cache holds more than ``budget_bytes``.

    The cache's keys change with a source's mtime and size, so edited and deleted images
    leave entries nobody asks for again; without this the folder only grows. Oldest written
    go first, down to ``KEEP_FRACTION`` of the budget; a removed thumbnail that is still
    wanted is simply made again. Safe while the cache is in use: a reader finding an entry
    gone treats it as a miss, and temp files of writes in progress are never touched.

    Args:
        cache_dir: The thumbnail cache's folder.
        budget_bytes: The most the cache may hold.
        min_age_s: Entries written more recently than this stay, whatever the budget.
        cancelled: Asked between folders and between removals; the pass stops (having
            removed nothing, or less) when it returns True.

    Returns:
        What was found and what was removed.

    Raises:
        OSError: the cache folder exists but cannot be listed.
    """
    entries = _entries(cache_dir, cancelled)
    if entries is None:
        return PruneResult()
    total = sum(size for _, size, _ in entries)
    result = PruneResult(len(entries), total)
    if total <= budget_bytes:
        return result
    entries.sort()
    goal = int(budget_bytes * KEEP_FRACTION)
    young_from = time.time_ns() - int(min_age_s * 1e9)
    removed = removed_size = 0
    for mtime_ns, size, path in entries:
        if total - removed_size <= goal or mtime_ns >= young_from:
            break  # sorted by age: everything after this one is younger still
        if cancelled is not None and cancelled():
            break
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as err:
            log.warning("cannot remove the cached thumbnail %s: %s", path, err)
            continue
        removed += 1
        removed_size += size
    log.info("thumbnail cache %s: %d files, %.1f MB; removed the %d oldest (%.1f MB) to stay "
             "under %.0f MB", cache_dir, len(entries), total / 1e6, removed, removed_size / 1e6,
             budget_bytes / 1e6)
    return PruneResult(len(entries), total, removed, removed_size)
