"""A separate process that uses FavoritesStore, driven by the multi-process favorites tests.

Run as ``python favorites_worker.py MODE PATH [ARG]``; every line it prints is flushed at
once, so the parent can read it while the process still runs.

Modes:
    mixed PATH TAG: after "go" on stdin, perform ``plan(TAG)`` and print "done".
    writes PATH COUNT: COUNT alternating toggles and increments, then "done".
    hold PATH: start a write and stop inside it, holding the cross-process lock.
    forks PATH ACKS: a fork server, so that many short-lived writers start in
        milliseconds. On "spawn START" it forks a child that, until killed, favorites
        ``img_k<i>`` and counts a use of ``img_counter``, appending "fav <id>" /
        "inc <n>" to the file ACKS after each write has returned; it prints the
        child's pid. On "reap PID" it waits for that child and prints its wait status.
"""

from __future__ import annotations

import itertools
import os
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


def _store(path: Path) -> FavoritesStore:
    store = FavoritesStore(path, lock_timeout=30.0)
    store.load()
    return store


def mixed(path: Path, tag: str) -> None:
    store = _store(path)
    _say("ready")
    sys.stdin.readline()
    for op, image_id in plan(tag):
        if op == "toggle":
            store.toggle_favorite(image_id)
        else:
            store.increment_usage(image_id)
    _say("done")


def writes(path: Path, count: int) -> None:
    store = _store(path)
    for k in range(count):
        if k % 2:
            store.increment_usage(COUNTER_ID)
        else:
            store.toggle_favorite(f"img_{k % 10}")
    _say("done")


def hold(path: Path) -> None:
    def stuck(target: Path, data: bytes, *rest: object) -> object:
        _say("holding")
        threading.Event().wait()  # until killed
        raise AssertionError("unreachable")

    store = _store(path)
    fsutil.write_atomic = stuck  # type: ignore[assignment]
    store.set_favorite("img_held", True)


def forks(path: Path, acks: Path) -> None:
    _say("ready")
    for command in iter(sys.stdin.readline, ""):
        verb, arg = command.split()
        if verb == "reap":
            _say(str(os.waitpid(int(arg), 0)[1]))
            continue
        pid = os.fork()
        if pid == 0:
            try:
                _acknowledged_writes(path, acks, int(arg))
            finally:
                os._exit(1)  # never return into the server's loop
        _say(str(pid))


def _acknowledged_writes(path: Path, acks: Path, start: int) -> None:
    store = _store(path)
    # Unbuffered appends: once os.write returns, the line survives the process's death.
    fd = os.open(acks, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    for i in itertools.count(start):
        image_id = f"img_k{i}"
        store.set_favorite(image_id, True)
        os.write(fd, f"fav {image_id}\n".encode())
        os.write(fd, f"inc {store.increment_usage(COUNTER_ID)}\n".encode())


def main(argv: list[str]) -> int:
    mode, path = argv[0], Path(argv[1])
    if mode == "mixed":
        mixed(path, argv[2])
    elif mode == "writes":
        writes(path, int(argv[2]))
    elif mode == "hold":
        hold(path)
    elif mode == "forks":
        forks(path, Path(argv[2]))
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
