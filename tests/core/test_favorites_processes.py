"""FavoritesStore against real concurrent processes: no lost updates, no torn files, kill -9."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from gallery_desktop.core.errors import FavoritesWriteError
from gallery_desktop.core.favorites import FavoritesStore, lock_path_for
from tests.core.favorites_worker import COUNTER_ID, plan
from tests.processes import python_process

WORKER = Path(__file__).with_name("favorites_worker.py")


def worker(*args: str) -> AbstractContextManager[subprocess.Popen[str]]:
    """Start the favorites worker script; it is killed and reaped however the test ends."""
    return python_process(WORKER, *args)


def expect_line(proc: subprocess.Popen[str], expected: str) -> None:
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    assert line == expected, f"worker said {line!r}, expected {expected!r}"


def test_two_processes_lose_no_update(tmp_path: Path) -> None:
    path = tmp_path / "gallery-favorites.json"
    with worker("mixed", str(path), "a") as a, worker("mixed", str(path), "b") as b:
        expect_line(a, "ready")
        expect_line(b, "ready")
        for proc in (a, b):
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        expect_line(a, "done")
        expect_line(b, "done")

    # Toggles commute by parity and increments by sum, so the end state is exact
    # whatever the interleaving was.
    toggles: Counter[str] = Counter()
    uses: Counter[str] = Counter()
    for op, image_id in plan("a") + plan("b"):
        (toggles if op == "toggle" else uses)[image_id] += 1
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["favorites"] == {i: True for i, n in toggles.items() if n % 2}
    assert doc["usageCounts"] == dict(uses)
    assert sum(uses.values()) == 300  # both processes' increments, every one of them
    assert any(n > 1 for n in toggles.values())  # the processes did collide on ids


def wait_for_acks(acks: Path, count: int, timeout_s: float = 10.0) -> None:
    """Wait until the writer has appended ``count`` acknowledgements to ``acks``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if acks.exists() and len(acks.read_text().splitlines()) >= count:
            return
        time.sleep(0.002)
    raise AssertionError(f"the writer acknowledged fewer than {count} writes in {timeout_s} s")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the writers are forked")
def test_kill_9_during_writes_keeps_every_acknowledged_write(tmp_path: Path) -> None:
    path, acks = tmp_path / "gallery-favorites.json", tmp_path / "acks.txt"
    rng = random.Random(1126)
    acked_favorites: set[str] = set()
    acked_counts: list[int] = []
    unacked_runs = 0  # each killed writer may have made one increment it never acknowledged
    with worker("forks", str(path), str(acks)) as server:
        expect_line(server, "ready")
        assert server.stdin is not None and server.stdout is not None
        for run in range(30):
            server.stdin.write(f"spawn {run * 100_000}\n")
            server.stdin.flush()
            pid = int(server.stdout.readline())
            # Let it acknowledge a few writes (however slow the disk's fsync is today),
            # then die at a random moment of the next ones.
            wait_for_acks(acks, rng.randint(1, 3))
            time.sleep(rng.uniform(0.0, 0.03))
            os.kill(pid, signal.SIGKILL)
            server.stdin.write(f"reap {pid}\n")
            server.stdin.flush()
            status = int(server.stdout.readline())
            assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL

            unacked_runs += 1
            lines = acks.read_text().splitlines() if acks.exists() else []
            acks.unlink(missing_ok=True)
            for line in lines:
                kind, value = line.split()
                if kind == "fav":
                    acked_favorites.add(value)
                else:
                    acked_counts.append(int(value))
                    unacked_runs = 1
            if not path.exists():  # killed before its first write: fine, if unacknowledged
                assert not acked_favorites
                continue
            doc = json.loads(path.read_text(encoding="utf-8"))  # always whole and valid
            assert acked_favorites <= doc["favorites"].keys()
            if acked_counts:
                count = doc["usageCounts"][COUNTER_ID]
                assert acked_counts[-1] <= count <= acked_counts[-1] + unacked_runs

    assert len(acked_counts) > 30, "the writers hardly wrote anything before being killed"
    # Every acknowledged increment built on the one before: none was lost to a kill.
    assert acked_counts == sorted(set(acked_counts))
    # Killed writers may leave temp files, never anything else, and the store still works.
    leftovers = {p.name for p in tmp_path.iterdir()} - {path.name, lock_path_for(path).name}
    assert all(name.startswith(".gallery-favorites.json.") and name.endswith(".tmp")
               for name in leftovers)
    store = FavoritesStore(path)
    store.load()
    assert store.problem is None
    assert store.increment_usage(COUNTER_ID) == doc["usageCounts"][COUNTER_ID] + 1


def test_reader_never_sees_a_torn_file_during_1000_writes(tmp_path: Path) -> None:
    path = tmp_path / "gallery-favorites.json"
    FavoritesStore(path).increment_usage(COUNTER_ID)
    reads: list[int] = []
    failures: list[str] = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            data = path.read_bytes()
            try:
                reads.append(json.loads(data)["usageCounts"][COUNTER_ID])
            except (ValueError, KeyError) as err:
                failures.append(f"{err!r} in {data[:200]!r}")

    reader = threading.Thread(target=poll)
    reader.start()
    try:
        with worker("writes", str(path), "1000") as proc:
            expect_line(proc, "done")
    finally:
        stop.set()
        reader.join()
    assert failures == []
    assert len(reads) > 100
    assert reads == sorted(reads)  # never an older version after a newer one
    assert json.loads(path.read_bytes())["usageCounts"][COUNTER_ID] == 1 + 500


def test_lock_left_by_a_killed_process_does_not_block(tmp_path: Path) -> None:
    path = tmp_path / "gallery-favorites.json"
    store = FavoritesStore(path, lock_timeout=0.3)
    store.load()
    with worker("hold", str(path)) as proc:
        expect_line(proc, "holding")
        # While the other process sits inside its write, ours must wait, then give up.
        with pytest.raises(FavoritesWriteError, match="held"):
            store.set_favorite("img_mine", True)
        assert not path.exists()
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert lock_path_for(path).exists()  # the lock file stays behind, its lock died
    assert store.set_favorite("img_mine", True) is True
    assert json.loads(path.read_bytes())["favorites"] == {"img_mine": True}


def test_kill_9_leaves_no_lock_on_a_fresh_store_in_another_process(tmp_path: Path) -> None:
    path = tmp_path / "gallery-favorites.json"
    with worker("hold", str(path)) as proc:
        expect_line(proc, "holding")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    with worker("writes", str(path), "2") as proc:
        expect_line(proc, "done")
    assert json.loads(path.read_bytes()) == {"favorites": {"img_0": True},
                                             "usageCounts": {COUNTER_ID: 1}}
