"""Real processes on one favorites file: our stores, the web server's in-place writer, kill -9."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import threading
from collections import Counter, defaultdict
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from gallery_desktop.core import fsutil
from gallery_desktop.core.favorites import FavoritesStore, lock_path_for
from tests.processes import python_process
from tests.reliability.conftest import record
from tests.reliability.worker import COUNTER, web_state

NAME = "gallery-favorites.json"
# How long the processes hammer the file; CI runs the default, a longer soak can set more.
SECONDS = float(os.environ.get("GALLERY_RELIABILITY_SECONDS", "10"))
KILLS = 50
WEB_RELOAD_EVERY = 10  # the web server re-reads the file at each gallery scan, not per click


def worker(*args: object) -> AbstractContextManager[subprocess.Popen[str]]:
    """Start a worker process; it is killed and reaped however the test ends."""
    return python_process("-m", "tests.reliability.worker", *args)


def line_of(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    return proc.stdout.readline().strip()


def start_together(procs: list[subprocess.Popen[str]]) -> None:
    """Wait until every worker is ready, then let them all go at once."""
    for proc in procs:
        assert line_of(proc) == "ready"
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()


def finished(proc: subprocess.Popen[str]) -> str:
    line = line_of(proc)
    assert proc.wait(timeout=60) == 0, f"worker failed after saying {line!r}"
    return line


class Poller:
    """A thread reading the file as plain JSON, over and over, counting what it saw."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.reads = 0
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Poller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.path.read_bytes()
            except FileNotFoundError:
                continue
            self.reads += 1
            try:
                json.loads(data)
            except ValueError as err:
                self.failures.append(f"{err} in {data[:120]!r}")


# --- Two app-side stores ------------------------------------------------------------------------


def test_two_stores_hammering_one_file_lose_no_update(tmp_path: Path) -> None:
    path = tmp_path / "data" / NAME
    path.parent.mkdir()
    acks = {tag: tmp_path / f"acks-{tag}.txt" for tag in ("a", "b")}
    with ExitStack() as stack, Poller(path) as poller:
        procs = [stack.enter_context(worker("hammer", path, tag, SECONDS, acks[tag]))
                 for tag in acks]
        start_together(procs)
        done = [int(finished(p).split()[1]) for p in procs]

    toggles: Counter[str] = Counter()
    returned: dict[str, list[int]] = defaultdict(list)
    for tag in acks:
        for line in acks[tag].read_text().splitlines():
            op, image_id, value = line.split()
            if op == "toggle":
                toggles[image_id] += 1
            else:
                returned[image_id].append(int(value))
    writes = sum(toggles.values()) + sum(map(len, returned.values()))
    assert writes == sum(done)
    doc = json.loads(path.read_bytes())
    # Toggles commute by parity and increments by sum: whatever the interleaving, the file
    # must hold exactly this.
    assert doc["favorites"] == {i: True for i, n in toggles.items() if n % 2}
    assert doc["usageCounts"] == {i: len(v) for i, v in returned.items()}
    # Each increment returned a different value, 1..n: every one built on all before it.
    for image_id, values in returned.items():
        assert sorted(values) == list(range(1, len(values) + 1)), image_id
    shared = returned["img_shared_count"]
    assert min(done) > 20 and len(shared) > 20  # both really wrote, on the same ids
    assert poller.failures == [] and poller.reads > 100
    record("two_stores", seconds=SECONDS, acknowledged_writes=writes,
           writes_per_process=done, shared_counter=len(shared), plain_reads=poller.reads,
           torn_reads=len(poller.failures), lost_updates=0)


# --- And the web server's writer ----------------------------------------------------------------


@dataclass(frozen=True)
class WebState:
    """The web writer's changes held by one version of the file (see ``worker.web_state``)."""

    n: int
    count: int
    holes: frozenset[int]

    @classmethod
    def parse(cls, n: str, count: str, holes: str) -> WebState:
        return cls(int(n), int(count),
                   frozenset() if holes == "-" else frozenset(map(int, holes.split(","))))

    def within(self, other: WebState) -> bool:
        """Whether ``other`` holds every heart and at least the count this one holds."""
        return (self.n <= other.n and self.count <= other.count
                and not (other.holes - self.holes) & set(range(self.n)))

    @property
    def hearts(self) -> int:
        return self.n - len(self.holes)


@dataclass(frozen=True)
class WebWrite:
    began: int
    done: int
    state: WebState


@dataclass(frozen=True)
class OurWrite:
    op: str
    image_id: str
    value: int
    began: int  # read the file under the lock
    ended: int  # its rename was done
    state: WebState  # what the bytes it wrote held of the web writer's changes


def test_a_web_server_writing_in_place_beside_our_stores(tmp_path: Path) -> None:
    path = tmp_path / "data" / NAME
    path.parent.mkdir()
    FavoritesStore(path).set_favorite("img_seed", True)
    web_log = tmp_path / "web.txt"
    acks = {tag: tmp_path / f"acks-{tag}.txt" for tag in ("a", "b")}
    with ExitStack() as stack:
        web = stack.enter_context(worker("web", path, SECONDS, web_log, WEB_RELOAD_EVERY))
        ours = [stack.enter_context(worker("setter", path, tag, SECONDS, acks[tag]))
                for tag in acks]
        reader = stack.enter_context(worker("reader", path, SECONDS))
        start_together([web, *ours, reader])
        for proc in ours:
            finished(proc)
        finished(web)
        read_line = finished(reader).split()

    webs = [WebWrite(int(began), int(done), WebState.parse(*state))
            for line in web_log.read_text().splitlines()
            for began, done, *state in (line.split(),)]
    mine = [OurWrite(op, image_id, int(value), int(began), int(ended), WebState.parse(*state))
            for tag in acks for line in acks[tag].read_text().splitlines()
            for op, image_id, value, began, ended, *state in (line.split(),)]
    intervals = sorted((o.began, o.ended) for o in mine)

    # 1. Our reader always got a whole file, retrying when it caught the web server mid-write.
    reads, torn, failed = int(read_line[1]), int(read_line[3]), int(read_line[5])
    assert failed == 0, " ".join(read_line)
    assert reads > 20

    # 2. No write of ours overwrote a change the web server had finished before it began.
    # A web write that overlapped one of ours raced it (it had no lock): a change it made then
    # may be lost either way, so only the others count. Each clean one must be in every file
    # that any of our later writes produced.
    def raced(w: WebWrite) -> bool:
        return any(began < w.done and ended > w.began for began, ended in intervals)

    clean = sorted((w for w in webs if not raced(w)), key=lambda w: w.done)
    assert len(clean) > 10, "the web writer never wrote without racing us: nothing was checked"
    checked = 0
    for o in mine:
        before = [w for w in clean if w.done < o.began]
        if before:
            checked += 1
            assert all(w.state.within(o.state) for w in before), o
    assert checked > 20

    # 3. What the web server's stale overwrites cost us is counted (by design, not zero), and
    # each loss is explained by a web write that finished after our write had begun.
    doc = json.loads(path.read_bytes())
    lost_favorites = [o for o in mine if o.op == "fav" and o.image_id not in doc["favorites"]]
    for o in lost_favorites:
        assert any(w.done > o.began for w in webs), o
    lost_uses = 0
    for tag in acks:
        uses = sum(1 for o in mine if o.op == "inc" and o.image_id == f"{tag}_count")
        lost_uses += uses - doc["usageCounts"].get(f"{tag}_count", 0)
    assert lost_uses >= 0
    final = WebState.parse(*web_state(doc["favorites"], doc["usageCounts"]).split())
    assert all(w.state.within(final) for w in clean)
    last_web = webs[-1].state
    record("web_server_writer", seconds=SECONDS, our_acknowledged_writes=len(mine),
           web_writes=len(webs), web_writes_racing_ours=len(webs) - len(clean),
           our_writes_checked_against_earlier_web_writes=checked, reader_reads=reads,
           reader_torn_reads_retried=torn, reader_failed_reads=failed,
           our_hearts_lost_to_web_overwrites=len(lost_favorites),
           our_uses_lost_to_web_overwrites=lost_uses,
           web_hearts_in_its_last_write=last_web.hearts,
           web_hearts_in_final_file=final.hearts, web_count_in_its_last_write=last_web.count,
           web_count_in_final_file=final.count)


# --- kill -9 ----------------------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the writers are forked")
def test_kill_9_at_random_moments_keeps_every_acknowledged_write(tmp_path: Path) -> None:
    path, acks = tmp_path / "data" / NAME, tmp_path / "acks.txt"
    path.parent.mkdir()
    rng = random.Random(20251126)
    acked: set[str] = set()
    counts: list[int] = []
    unacked = 0  # a killed writer may have made one increment it had no time to acknowledge
    mid_write = 0
    temp_files: set[str] = set()
    with worker("forks", path, acks) as server:
        assert line_of(server) == "ready"
        assert server.stdin is not None
        for kill in range(KILLS):
            server.stdin.write(f"spawn {kill * 1_000_000}\n")
            server.stdin.flush()
            pid = int(line_of(server))
            # Anywhere from before its first write to dozens of writes in.
            threading.Event().wait(rng.uniform(0.002, 0.08))
            os.kill(pid, signal.SIGKILL)
            server.stdin.write(f"reap {pid}\n")
            server.stdin.flush()
            status = int(line_of(server))
            assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL

            lines = acks.read_text().splitlines() if acks.exists() else []
            acks.unlink(missing_ok=True)
            unacked += 1
            for line in lines:
                kind, value = line.split()
                if kind == "fav":
                    acked.add(value)
                else:
                    counts.append(int(value))
                    unacked = 1
            now_temp = {p.name for p in path.parent.glob(
                f"{fsutil.temp_prefix(path)}*{fsutil.TEMP_SUFFIX}")}
            mid_write += bool(now_temp - temp_files)  # killed between temp file and rename
            temp_files = now_temp
            if not path.exists():
                assert not acked  # killed before its first write: nothing was promised
                continue
            doc = json.loads(path.read_bytes())  # always whole: plain JSON, no retry
            assert acked <= doc["favorites"].keys()
            if counts:
                assert counts[-1] <= doc["usageCounts"][COUNTER] <= counts[-1] + unacked

    assert counts == sorted(set(counts))  # each acknowledged count built on the one before
    assert len(counts) > 10  # the writers really wrote between the kills
    leftovers = {p.name for p in path.parent.iterdir()} - {NAME, lock_path_for(path).name}
    assert leftovers == temp_files  # temp files at most, never anything half-renamed
    store = FavoritesStore(path)
    store.load()
    assert store.problem is None and acked <= store.favorites()
    record("kill_9", kills=KILLS, acknowledged_writes=len(acked) + len(counts),
           kills_between_temp_file_and_rename=mid_write, acknowledged_writes_lost=0)
