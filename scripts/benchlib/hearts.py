"""The favorites-write part: FavoritesStore writes against a bare atomic JSON write."""

from __future__ import annotations

import gc
import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from benchlib.datasets import favorites_body, image_ids

log = logging.getLogger(__name__)


def floor_write(path: Path, data: bytes) -> None:
    """The floor of one durable favorites write: the bytes already serialised, then temp
    file + fsync + rename + fsync of the folder (no lock, no re-read, no merge)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".floor.", suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def part_store_writes(config: dict[str, Any]) -> dict[str, Any]:
    """Time ``FavoritesStore.set_favorite`` on a file with ``entries`` ids, interleaved with
    the floor writing the store's current bytes to a sibling file.

    Each store write un-hearts or re-hearts one existing id, so the file keeps about
    ``entries`` ids throughout.

    Args:
        config: ``work_dir`` (on the same disk as the data), ``entries`` and ``writes``.

    Returns:
        ``store_ns`` and ``floor_ns`` sample lists, ``file_bytes`` (the file's size) and
        ``first_write_ns`` (the untimed first write after the load, for reference).
    """
    from gallery_desktop.core.favorites import FavoritesStore

    work = Path(config["work_dir"])
    work.mkdir(parents=True, exist_ok=True)
    ids = image_ids(config["entries"])
    store_path = work / "gallery-favorites.json"
    store_path.write_text(json.dumps(favorites_body(ids), indent=2), encoding="utf-8")
    floor_dir = work / "floor"
    floor_dir.mkdir(exist_ok=True)
    floor_path = floor_dir / "gallery-favorites.json"
    store = FavoritesStore(store_path)
    store.load()
    # One untimed write each: first-write work (lock file creation, the store rendering
    # the file's sections once after a load) is reported apart, as first_write_ns. The
    # last id goes off and on again, so the file ends as it began. (A set_favorite to
    # the value an id already has writes nothing, so it cannot serve here.)
    start = time.perf_counter_ns()
    if store.set_favorite(ids[-1], False) is not False:
        raise RuntimeError(f"set_favorite({ids[-1]!r}, False) did not clear it")
    first_write_ns = time.perf_counter_ns() - start
    store.set_favorite(ids[-1], True)
    floor_write(floor_path, store_path.read_bytes())
    store_ns: list[int] = []
    floor_ns: list[int] = []
    for i in range(config["writes"]):
        img = ids[(i // 2 * 7919) % len(ids)]  # spread over the file, deterministically
        value = i % 2 == 1  # off, then back on
        order = ("store", "floor") if i % 2 == 0 else ("floor", "store")
        for which in order:
            gc.collect()
            if which == "store":
                start = time.perf_counter_ns()
                result = store.set_favorite(img, value)
                store_ns.append(time.perf_counter_ns() - start)
                if result != value:
                    raise RuntimeError(f"set_favorite({img!r}, {value}) returned {result!r}")
            else:
                data = store_path.read_bytes()  # untimed: the floor only writes
                start = time.perf_counter_ns()
                floor_write(floor_path, data)
                floor_ns.append(time.perf_counter_ns() - start)
    on_disk = json.loads(store_path.read_text(encoding="utf-8"))
    if len(on_disk.get("favorites", {})) < len(ids) - 1:
        raise RuntimeError("the store lost entries during the benchmark")
    return {"store_ns": store_ns, "floor_ns": floor_ns, "file_bytes": store_path.stat().st_size,
            "first_write_ns": first_write_ns}
