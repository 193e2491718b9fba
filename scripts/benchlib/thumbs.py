"""The thumbnail part: the real ThumbnailLoader, cold cache, against a Pillow decode floor."""

from __future__ import annotations

import gc
import logging
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from PIL import Image

from benchlib.machine import cores

log = logging.getLogger(__name__)


def floor_decode(path: Path, edge: int) -> tuple[int, int]:
    """Decode one file with Pillow and nothing else (no resample, no encode, no cache).

    JPEG uses ``draft`` to the smallest DCT scale that still covers ``edge``, as the
    pipeline itself is meant to: the floor is the least decoding a thumbnail needs.

    Returns:
        The decoded size.
    """
    with Image.open(path) as img:
        if img.format == "JPEG":
            img.draft("RGB", (edge, edge))
        img.load()
        return img.size


def floor_pass(paths: list[Path], edge: int, threads: int) -> int:
    """Decode every path on ``threads`` threads; returns the elapsed nanoseconds."""
    gc.collect()
    start = time.perf_counter_ns()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for _ in pool.map(lambda p: floor_decode(p, edge), paths):
            pass
    return time.perf_counter_ns() - start


def real_pass(paths: list[Path], edge: int, cache_dir: Path,
              timeout_s: float) -> tuple[int, int]:
    """Request every path from a new ThumbnailLoader over a new, empty ThumbnailCache and
    wait until each has been answered.

    Returns:
        Nanoseconds until the last answer, and the tail after it until the loader's pool
        is done (the cache's entries are written once the decode queue is empty).

    Raises:
        RuntimeError: a thumbnail failed, or not all arrived within ``timeout_s``.
    """
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtGui import QImage

    from gallery_desktop.core.thumbcache import ThumbnailCache
    from gallery_desktop.qt.thumbnails import ThumbnailLoader

    shutil.rmtree(cache_dir, ignore_errors=True)
    cache_dir.mkdir(parents=True)
    loader = ThumbnailLoader(ThumbnailCache(cache_dir), edge=edge)
    wanted = set(paths)
    done: set[Path] = set()
    failures: list[str] = []
    loop = QEventLoop()

    def on_ready(path: object, image: QImage) -> None:
        if image.isNull():
            failures.append(f"{path}: null image")
        _answered(path)

    def on_failed(path: object, reason: str) -> None:
        failures.append(f"{path}: {reason}")
        _answered(path)

    def _answered(path: object) -> None:
        done.add(Path(str(path)))
        if wanted <= done:
            loop.quit()

    loader.thumbnail_ready.connect(on_ready)
    loader.thumbnail_failed.connect(on_failed)
    timer = QTimer(singleShot=True, interval=int(timeout_s * 1000))
    timer.timeout.connect(loop.quit)
    gc.collect()
    start = time.perf_counter_ns()
    for path in paths:
        loader.request(path)
    timer.start()
    if not wanted <= done:
        loop.exec()
    elapsed = time.perf_counter_ns() - start
    timer.stop()
    _shutdown(loader)
    tail = time.perf_counter_ns() - start - elapsed
    if failures:
        raise RuntimeError(f"{len(failures)} thumbnails failed, e.g. {failures[0]}")
    if not wanted <= done:
        raise RuntimeError(f"only {len(done)} of {len(wanted)} thumbnails within {timeout_s} s")
    return elapsed, tail


def _shutdown(loader: Any) -> None:
    # Let the loader's pool finish before the next pass so passes never overlap.
    for name in ("shutdown", "cancel_all", "clear"):
        method = getattr(loader, name, None)
        if callable(method):
            method()
            break
    pool = getattr(loader, "pool", None) or getattr(loader, "_pool", None)
    if pool is not None and hasattr(pool, "waitForDone"):
        pool.waitForDone()
    loader.deleteLater()


def part_thumbs(config: dict[str, Any]) -> dict[str, Any]:
    """Interleaved passes, real pipeline and floor, over the PNG and the JPEG sources.

    Args:
        config: ``png`` and ``jpeg`` (lists of paths), ``edge``, ``repeat``, ``cache_root``.

    Returns:
        Per format, ``real_ns`` and ``floor_ns`` sample lists, ``count`` and ``threads``.
    """
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    edge = int(config["edge"])
    threads = cores()
    cache_root = Path(config["cache_root"])
    out: dict[str, Any] = {"threads": threads, "app": type(app).__name__}
    for fmt in ("png", "jpeg"):
        paths = [Path(p) for p in config[fmt]]
        for p in paths:  # the same warm page cache for both contenders
            p.read_bytes()
        # Untimed warm-up of both code paths (imports, codec initialisation, thread start).
        floor_pass(paths[:2], edge, threads)
        real_pass(paths[:2], edge, cache_root / "warmup", timeout_s=60)
        real_ns: list[int] = []
        tail_ns: list[int] = []
        floor_ns: list[int] = []
        for i in range(config["repeat"]):
            order = ("floor", "real") if i % 2 == 0 else ("real", "floor")
            for which in order:
                if which == "floor":
                    floor_ns.append(floor_pass(paths, edge, threads))
                else:
                    cache_dir = cache_root / f"{fmt}-{i}"
                    elapsed, tail = real_pass(paths, edge, cache_dir, timeout_s=600)
                    real_ns.append(elapsed)
                    tail_ns.append(tail)
                    shutil.rmtree(cache_dir, ignore_errors=True)
        out[fmt] = {"real_ns": real_ns, "tail_ns": tail_ns, "floor_ns": floor_ns,
                    "count": len(paths)}
    return out
