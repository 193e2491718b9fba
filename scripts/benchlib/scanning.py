"""The scan part: scan_runs cold, warm and with the index, against bare read/stat loops."""

from __future__ import annotations

import gc
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchlib.machine import drop_page_cache

log = logging.getLogger(__name__)


def floor_read_json(runs_dir: Path, loads: Callable[[bytes], Any] = json.loads) -> int:
    """The warm-scan floor: list the runs folder, read and ``json.loads`` every meta.json.

    Returns:
        The number of posts seen (so the work cannot be optimised away, and as a check).
    """
    posts = 0
    with os.scandir(runs_dir) as entries:
        for entry in entries:
            if not entry.is_dir():
                continue
            try:
                with open(os.path.join(entry.path, "meta.json"), "rb") as f:
                    meta = loads(f.read())
            except (OSError, ValueError):
                continue
            if isinstance(meta, dict) and isinstance(meta.get("posts"), list):
                posts += len(meta["posts"])
    return posts


def floor_read_orjson(runs_dir: Path) -> int:
    """``floor_read_json`` with orjson, the parser the app's scan uses (for reference)."""
    import orjson

    return floor_read_json(runs_dir, orjson.loads)


def floor_stat(runs_dir: Path) -> int:
    """The indexed-scan floor: list the runs folder and ``os.stat`` every meta.json.

    Returns:
        The sum of the sizes seen (a check that every file was reached).
    """
    total = 0
    with os.scandir(runs_dir) as entries:
        for entry in entries:
            if not entry.is_dir():
                continue
            try:
                total += os.stat(os.path.join(entry.path, "meta.json")).st_size
            except OSError:
                continue
    return total


def _timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[int, Any]:
    gc.collect()
    start = time.perf_counter_ns()
    result = fn(*args, **kwargs)
    return time.perf_counter_ns() - start, result


def _scan(data_dir: Path, index: Any = None) -> int:
    from gallery_desktop.core.runs import scan_runs

    report = scan_runs(data_dir, index=index)
    # The count, not the records: runs loaded from the index are built when first shown, as
    # the grid does (it takes them as RunRows and builds the records of the rows it paints).
    return len(report.images)


def _unmarshal(path: Path) -> int:
    """Read the saved index and turn its table into plain tuples and strings, and nothing
    more (each run's texts and records stay in the file's bytes, as a warm start leaves
    them)."""
    from gallery_desktop.core.index import split_file

    _header, rows, _blob = split_file(path.read_bytes())
    return sum(len(row[4]) for row in rows)


def part_cold(config: dict[str, Any]) -> dict[str, Any]:
    """One cold pass in this fresh process: drop the page cache, then scan or run the floor.

    Args:
        config: ``data_dir``, ``which`` ("scan" or "floor") and ``drop`` (try to drop caches).

    Returns:
        ``ns`` for the pass, ``count`` as a check, ``cache_note`` when caches stayed warm.
    """
    data_dir = Path(config["data_dir"])
    if config["which"] == "scan":
        import gallery_desktop.core.runs  # noqa: F401  (import cost is not the scan's)
    note = drop_page_cache() if config["drop"] else "page cache not dropped (--quick)"
    if config["which"] == "scan":
        ns, count = _timed(_scan, data_dir)
    else:
        ns, count = _timed(floor_read_json, data_dir / "runs")
    return {"ns": ns, "count": count, "cache_note": note}


def part_warm(config: dict[str, Any]) -> dict[str, Any]:
    """Warm passes, no index, interleaved with the read+json floor (and, for reference, the
    same loop with orjson) in the same process.

    Args:
        config: ``data_dir`` and ``repeat``.

    Returns:
        ``scan_ns``, ``floor_ns`` and ``orjson_floor_ns`` sample lists, ``images`` and
        ``posts`` as checks.
    """
    data_dir = Path(config["data_dir"])
    runs_dir = data_dir / "runs"
    posts = floor_read_json(runs_dir)  # warm the page cache for all
    if floor_read_orjson(runs_dir) != posts:
        raise RuntimeError("the orjson floor saw other posts than the json one")
    images = _scan(data_dir)
    samples: dict[str, list[int]] = {"scan": [], "floor": [], "orjson_floor": []}
    passes = {"scan": (_scan, data_dir), "floor": (floor_read_json, runs_dir),
              "orjson_floor": (floor_read_orjson, runs_dir)}
    for i in range(config["repeat"]):
        # Rotate the order so that drift on a shared machine hits all three alike.
        names = ("floor", "scan", "orjson_floor")
        for which in names[i % 3:] + names[:i % 3]:
            fn, arg = passes[which]
            samples[which].append(_timed(fn, arg)[0])
    return {"scan_ns": samples["scan"], "floor_ns": samples["floor"],
            "orjson_floor_ns": samples["orjson_floor"], "images": images, "posts": posts}


def part_indexed(config: dict[str, Any]) -> dict[str, Any]:
    """Scans with a RunIndex filled by an earlier pass, against the bare stat loop.

    Measures, interleaved: the stat floor; a scan with the index already in memory (the
    periodic re-scan); loading the saved index from disk in a new RunIndex; and a scan with
    that freshly loaded index (a warm start: load + scan).

    Args:
        config: ``data_dir``, ``cache_dir`` and ``repeat``.

    Returns:
        Sample lists ``floor_ns``, ``scan_ns``, ``load_ns``, ``scan_after_load_ns``, and
        ``index_bytes`` (the size of the saved index).
    """
    from gallery_desktop.core.index import RunIndex

    data_dir = Path(config["data_dir"])
    runs_dir = data_dir / "runs"
    cache_file = Path(config["cache_dir"]) / "bench-index"
    index = RunIndex(cache_file)
    index.load()
    images = _scan(data_dir, index)  # fills the index: the "previous pass"
    index.save()
    floor_stat(runs_dir)
    out: dict[str, list[int]] = {"floor_ns": [], "scan_ns": [], "load_ns": [],
                                 "scan_after_load_ns": [], "unmarshal_ns": []}
    for i in range(config["repeat"]):
        steps = ["floor", "scan", "load"]
        if i % 2:
            steps.reverse()
        for step in steps:
            if step == "floor":
                out["floor_ns"].append(_timed(floor_stat, runs_dir)[0])
            elif step == "scan":
                out["scan_ns"].append(_timed(_scan, data_dir, index)[0])
            else:
                fresh = RunIndex(cache_file)
                out["load_ns"].append(_timed(fresh.load)[0])
                out["scan_after_load_ns"].append(_timed(_scan, data_dir, fresh)[0])
                # A breakdown, not a floor: reading the saved file and turning its table
                # into Python objects, the least a warm start from this index pays on top
                # of the stat loop.
                out["unmarshal_ns"].append(_timed(_unmarshal, cache_file)[0])
    size = sum(p.stat().st_size for p in cache_file.parent.iterdir() if p.is_file())
    return {**out, "images": images, "index_bytes": size}
