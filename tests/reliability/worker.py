"""Separate processes for the reliability suite: app-side stores, the web server's writer, readers.

Run as ``python -m tests.reliability.worker MODE PATH [ARGS...]`` from the repository root.
Every acknowledged operation is appended to an ack file with an unbuffered ``os.write``, so
it survives the process being killed the moment after. Summary lines go to stdout, flushed.

Modes:
    hammer PATH TAG SECONDS ACKS: after "go" on stdin, toggle and count uses of shared and
        own ids through a FavoritesStore for SECONDS; ack lines are "<op> <id> <new value>".
    setter PATH TAG SECONDS ACKS: after "go", heart new ids ``<TAG>_<n>`` and count uses of
        ``<TAG>_count``; ack lines also carry when each write read and replaced the file and
        which of the web writer's changes the written file held (see ``_setter``).
    web PATH SECONDS LOG RELOAD_EVERY: after "go", behave like the studio's web server (the
        design note's FavoritesService): read the file only at start and every RELOAD_EVERY
        operations (its gallery scans), change its memory, and write the whole memory back in
        place with no lock and no rename. LOG lines: "<start> <done> <web state>" (see
        ``web_state``).
    reader PATH SECONDS: after "go", read the file over and over as plain bytes and, when
        those do not parse, through FavoritesStore's retrying reader; prints the counts.
    hold PATH: take the store's cross-process lock, print "holding", wait to be killed.
    forks PATH ACKS: a fork server for kill -9 tests (see ``_forks``).
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from filelock import FileLock

from gallery_desktop.core import favorites as favorites_module
from gallery_desktop.core import fsutil
from gallery_desktop.core.favorites import FavoritesStore, lock_path_for

SHARED_IDS = 5
OWN_IDS = 50
COUNTER = "img_counter"
WEB_PREFIX = "web_"
WEB_COUNTER = "web_count"
# The web writer writes in pieces, as a large writeFile does, so a reader can see it torn.
WEB_CHUNK = 4096
# Setters pause between clicks, so that some web writes happen while none of ours is in
# flight: only those can show whether we overwrite the web server's finished changes.
SETTER_PAUSE_S = 0.01


def say(line: str) -> None:
    """Print one line for the parent, at once."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _acks(path: Path) -> int:
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)


def _store(path: Path) -> FavoritesStore:
    store = FavoritesStore(path, lock_timeout=60.0)
    store.load()
    return store


def _wait_for_go() -> None:
    say("ready")
    sys.stdin.readline()


def hammer_op(tag: str, k: int) -> tuple[str, str]:
    """The k-th operation of ``hammer``: ("toggle" | "inc", image id)."""
    kind = k % 4
    if kind == 0:
        return "toggle", f"img_shared_{k // 4 % SHARED_IDS}"
    if kind == 1:
        return "inc", "img_shared_count"
    if kind == 2:
        return "toggle", f"img_{tag}_{k // 4 % OWN_IDS}"
    return "inc", f"img_{tag}_count"


def _hammer(path: Path, tag: str, seconds: float, acks: Path) -> None:
    store = _store(path)
    fd = _acks(acks)
    _wait_for_go()
    deadline = time.monotonic() + seconds
    done = 0
    for k in itertools.count():
        if time.monotonic() >= deadline:
            break
        op, image_id = hammer_op(tag, k)
        value = (int(store.toggle_favorite(image_id)) if op == "toggle"
                 else store.increment_usage(image_id))
        os.write(fd, f"{op} {image_id} {value}\n".encode())
        done += 1
    say(f"done {done}")


def web_state(favorites: dict[str, Any], counts: dict[str, Any]) -> str:
    """The web writer's changes in a document, compactly: "<n> <count> <holes>", where its
    hearts are web_0 .. web_<n-1> less the (comma-separated, or "-") holes that races left."""
    present = {int(k[len(WEB_PREFIX):]) for k in favorites if k.startswith(WEB_PREFIX)}
    n = max(present, default=-1) + 1
    holes = ",".join(str(i) for i in range(n) if i not in present) or "-"
    return f"{n} {counts.get(WEB_COUNTER, 0)} {holes}"


def _web_state(data: bytes) -> str:
    doc = json.loads(data)
    return web_state(doc.get("favorites", {}), doc.get("usageCounts", {}))


def _setter(path: Path, tag: str, seconds: float, acks: Path) -> None:
    """Ack lines: "<op> <id> <value> <read ns> <written ns> <web state>": when the
    write read the file under the lock and when its rename was done (the window in which
    another writer's change can be lost), and what of the web writer's changes the very
    bytes it wrote held (captured on their way to the disk)."""
    seen = threading.local()
    real_look, real_write = favorites_module.look, fsutil.write_atomic

    def timed_look(*args: Any, **kwargs: Any) -> Any:
        seen.read_at = time.monotonic_ns()  # the last look before a write is its commit's
        return real_look(*args, **kwargs)

    def capturing_write(target: Path, data: bytes, *rest: Any) -> os.stat_result:
        result = real_write(target, data, *rest)
        seen.written_at = time.monotonic_ns()
        seen.data = data
        return result

    favorites_module.look = timed_look  # type: ignore[assignment]
    fsutil.write_atomic = capturing_write  # type: ignore[assignment]
    store = _store(path)
    fd = _acks(acks)
    _wait_for_go()
    deadline = time.monotonic() + seconds
    done = 0
    for k in itertools.count():
        if time.monotonic() >= deadline:
            break
        seen.data = None
        if k % 2 == 0:
            image_id = f"{tag}_{k // 2}"
            value = int(store.set_favorite(image_id, True))
            op = "fav"
        else:
            image_id = f"{tag}_count"
            value = store.increment_usage(image_id)
            op = "inc"
        assert seen.data is not None, "every operation here changes the file"
        os.write(fd, f"{op} {image_id} {value} {seen.read_at} {seen.written_at} "
                     f"{_web_state(seen.data)}\n".encode())
        done += 1
        time.sleep(SETTER_PAUSE_S)
    say(f"done {done}")


class _WebServer:
    """The design note's FavoritesService, as the studio's Node server runs it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, Any] = {"favorites": {}, "usageCounts": {}}

    def load(self) -> None:
        try:
            self.data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            # "File doesn't exist yet, use defaults" - whatever the reason was.
            self.data = {"favorites": {}, "usageCounts": {}}

    def save(self) -> None:
        text = json.dumps(self.data, indent=2, ensure_ascii=False).encode()
        with open(self.path, "wb") as f:  # fs.writeFile: truncate, then write, in place
            for start in range(0, len(text), WEB_CHUNK):
                f.write(text[start:start + WEB_CHUNK])
                f.flush()


def _web(path: Path, seconds: float, log: Path, reload_every: int) -> None:
    server = _WebServer(path)
    server.load()
    fd = _acks(log)
    _wait_for_go()
    deadline = time.monotonic() + seconds
    n = 0
    for k in itertools.count():
        if time.monotonic() >= deadline:
            break
        if k and k % reload_every == 0:
            server.load()  # a gallery scan
        if k % 2 == 0:
            server.data.setdefault("favorites", {})[f"{WEB_PREFIX}{n}"] = True
            n += 1
        else:
            counts = server.data.setdefault("usageCounts", {})
            counts[WEB_COUNTER] = counts.get(WEB_COUNTER, 0) + 1
        began = time.monotonic_ns()
        server.save()
        done = time.monotonic_ns()
        state = web_state(server.data.get("favorites", {}), server.data.get("usageCounts", {}))
        os.write(fd, f"{began} {done} {state}\n".encode())
        time.sleep(0.002)  # a busy person clicking, not a tight loop starving the others
    say(f"done {k}")


def _reader(path: Path, seconds: float) -> None:
    store = FavoritesStore(path)
    _wait_for_go()
    deadline = time.monotonic() + seconds
    reads = torn = failed = 0
    first_failure = ""
    while time.monotonic() < deadline:
        reads += 1
        try:
            json.loads(path.read_bytes())
            continue
        except ValueError:
            torn += 1  # caught the web writer half-way: read as the store does
        except FileNotFoundError:
            continue
        store.load()
        if store.problem is not None:
            failed += 1
            first_failure = first_failure or store.problem
    say(f"reads {reads} torn {torn} failed {failed} {first_failure}".rstrip())


def _hold(path: Path) -> None:
    lock = FileLock(str(lock_path_for(path)))
    lock.acquire()
    say("holding")
    threading.Event().wait()  # until killed


def _forks(path: Path, acks: Path) -> None:
    """On "spawn START": fork a child that, until killed, hearts ``img_k<i>`` (i from START)
    and counts a use of ``img_counter``, acking "fav <id>" / "inc <n>"; print its pid.
    On "reap PID": wait for it and print its wait status."""
    say("ready")
    for command in iter(sys.stdin.readline, ""):
        verb, arg = command.split()
        if verb == "reap":
            say(str(os.waitpid(int(arg), 0)[1]))
            continue
        pid = os.fork()
        if pid == 0:
            try:
                store = _store(path)
                fd = _acks(acks)
                for i in itertools.count(int(arg)):
                    store.set_favorite(f"img_k{i}", True)
                    os.write(fd, f"fav img_k{i}\n".encode())
                    os.write(fd, f"inc {store.increment_usage(COUNTER)}\n".encode())
            finally:
                os._exit(1)  # never return into the server's loop
        say(str(pid))


def main(argv: list[str]) -> int:
    mode, path = argv[0], Path(argv[1])
    if mode == "hammer":
        _hammer(path, argv[2], float(argv[3]), Path(argv[4]))
    elif mode == "setter":
        _setter(path, argv[2], float(argv[3]), Path(argv[4]))
    elif mode == "web":
        _web(path, float(argv[2]), Path(argv[3]), int(argv[4]))
    elif mode == "reader":
        _reader(path, float(argv[2]))
    elif mode == "hold":
        _hold(path)
    elif mode == "forks":
        _forks(path, Path(argv[2]))
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
