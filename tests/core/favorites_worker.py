"""A separate process that uses FavoritesStore, driven by the multi-process favorites tests.

Run as ``python favorites_worker.py MODE PATH [ARG]``; every line it prints is flushed at
once, so the parent can read acknowledgements up to the moment it kills the process.

Modes:
    mixed PATH TAG: after "go" on stdin, perform ``plan(TAG)`` and print "done".
    ack PATH START: forever, favorite ``img_k<i>`` then count a use of ``img_counter``,
        printing "fav <id>" / "inc <n>" after each write has returned.
    writes PATH COUNT: COUNT alternating toggles and increments, then "done".
    hold PATH: start a write and stop inside it, holding the cross-process lock.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from gallery_desktop.core import fsutil
from gallery_desktop.core.favorites import FavoritesStore

SHARED_IDS = 5
COUNTER_ID = "img_counter"


def plan(tag: str, count: int = 300) -> list[tuple[str, str]]:
    """The operations ``mixed`` performs: (``toggle`` | ``inc``, image id) pairs.

    Toggles and increments alternate; half of each go to ids both processes share, so
    the processes really collide, and half to ids of their own.
    """
    ops: list[tuple[str, str]] = []
    for k in range(count):
        shared = k % 4 < 2
        if k % 2 == 0:
            image_id = f"img_shared_{k // 4 % SHARED_IDS}" if shared else f"img_{tag}_{k}"
            ops.append(("toggle", image_id))
        else:
            ops.append(("inc", "img_shared_count" if shared else f"img_{tag}_count"))
    return ops


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main(argv: list[str]) -> int:
    mode, path = argv[0], Path(argv[1])
    store = FavoritesStore(path, lock_timeout=30.0)
    store.load()
    if mode == "mixed":
        _say("ready")
        sys.stdin.readline()
        for op, image_id in plan(argv[2]):
            if op == "toggle":
                store.toggle_favorite(image_id)
            else:
                store.increment_usage(image_id)
        _say("done")
    elif mode == "ack":
        _say("ready")
        i = int(argv[2])
        while True:
            image_id = f"img_k{i}"
            store.set_favorite(image_id, True)
            _say(f"fav {image_id}")
            _say(f"inc {store.increment_usage(COUNTER_ID)}")
            i += 1
    elif mode == "writes":
        for k in range(int(argv[2])):
            if k % 2:
                store.increment_usage(COUNTER_ID)
            else:
                store.toggle_favorite(f"img_{k % 10}")
        _say("done")
    elif mode == "hold":
        def stuck(target: Path, data: bytes) -> object:
            _say("holding")
            threading.Event().wait()  # until killed
            raise AssertionError("unreachable")

        fsutil.write_atomic = stuck  # type: ignore[assignment]
        store.set_favorite("img_held", True)
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
