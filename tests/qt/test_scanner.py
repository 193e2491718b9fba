"""RunScanner: batches, cancellation on folder switch, per-run refresh with retries, diffs."""

from __future__ import annotations

import errno
import json
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from gallery_desktop.core.records import GalleryImage, RunResult, RunRows, ScanReport
from gallery_desktop.qt import scanner as scanner_module
from gallery_desktop.qt.model import GalleryModel
from gallery_desktop.qt.scanner import RunScanner, index_file_for
from tests.factories import make_run, settle


def run_id(n: int) -> str:
    return f"2025-11-{1 + n // 24:02d}T{n % 24:02d}-00-00-000Z"


def created(n: int) -> str:
    return f"2025-11-{1 + n // 24:02d}T{n % 24:02d}:00:00.000Z"


def posts(rid: str, count: int) -> list[dict]:
    return [{"index": i, "text": f"Slide {i}", "imagePrompt": f"prompt {rid} {i}",
             "finalImageUrl": f"/data/runs/{rid}/slide-{i}.png"} for i in range(1, count + 1)]


def make_runs(data: Path, count: int, per_run: int = 1, start: int = 0,
              images: bool = False) -> list[str]:
    ids = []
    for n in range(start, start + count):
        rid = run_id(n)
        make_run(data, rid, posts(rid, per_run), images=images, createdAt=created(n))
        ids.append(rid)
    return ids


class Recorder:
    """Collects every public signal of a scanner, in order."""

    def __init__(self, scanner: RunScanner) -> None:
        self.events: list[tuple[str, object]] = []
        self.rows: list[GalleryImage] = []
        self.lazy: list[RunRows] = []
        self.changes: dict[str, tuple[GalleryImage, ...]] = {}
        self.problems: list = []
        self.reports: list[tuple[ScanReport, bool]] = []
        scanner.runs_ready.connect(self._runs)
        scanner.runs_changed.connect(self._changes)
        scanner.problems_changed.connect(self._problems)
        scanner.finished.connect(self._finished)

    def _runs(self, runs: list[RunRows]) -> None:
        assert all(isinstance(run, RunRows) and run.ids for run in runs)
        self.events.append(("batch", sum(len(run.ids) for run in runs)))
        for run in runs:
            if run.built:  # read from its meta.json just now
                assert run.search_texts == tuple(img.search_text() for img in run.images)
                self.rows.extend(run.images)
            else:  # from the run index: built when shown
                self.lazy.append(run)

    def all_ids(self) -> list[str]:
        """Every id sent, records and RunRows alike (builds nothing)."""
        return [img.id for img in self.rows] + [i for run in self.lazy for i in run.ids]

    def _changes(self, changes: dict) -> None:
        self.events.append(("changes", sorted(changes)))
        self.changes.update(changes)

    def _problems(self, problems: list) -> None:
        self.problems = list(problems)

    def _finished(self, report: ScanReport, quiet: bool) -> None:
        self.events.append(("finished", quiet))
        self.reports.append((report, quiet))


@pytest.fixture
def scanner(qtbot) -> Iterator[RunScanner]:
    scanner = RunScanner()
    yield scanner
    assert scanner.shutdown(timeout_s=10)


def scan(qtbot, scanner: RunScanner, data: Path, cache: Path | None = None) -> Recorder:
    recorder = Recorder(scanner)
    scanner.open(data, index_file_for(cache, data) if cache else None)
    with qtbot.waitSignal(scanner.finished, timeout=20_000):
        scanner.scan()
    qtbot.waitUntil(lambda: not scanner.is_busy(), timeout=5000)
    return recorder


def test_full_scan_sends_batches_before_it_finishes(qtbot, scanner, tmp_path) -> None:
    data = tmp_path / "data"
    make_runs(data, 60, per_run=5)
    busy: list[bool] = []
    scanner.busy_changed.connect(busy.append)
    progress: list[tuple[int, int]] = []
    scanner.progress.connect(lambda runs, images: progress.append((runs, images)))
    rec = scan(qtbot, scanner, data, tmp_path / "cache")
    kinds = [kind for kind, _ in rec.events]
    assert kinds.count("batch") >= 2 and kinds[-1] == "finished"
    assert sum(n for kind, n in rec.events if kind == "batch") == 300
    assert len({img.id for img in rec.rows}) == 300
    assert progress[-1] == (60, 300)
    report, quiet = rec.reports[0]
    assert report.runs_seen == 60 and report.images == [] and not quiet
    assert busy == [True, False]
    assert index_file_for(tmp_path / "cache", data).is_file()


def test_batches_stay_small_for_a_timely_first_paint(qtbot, tmp_path) -> None:
    data = tmp_path / "data"
    make_runs(data, 30)
    scanner = RunScanner(batch_images=4)
    try:
        rec = scan(qtbot, scanner, data)
        batches = [n for kind, n in rec.events if kind == "batch"]
        assert len(batches) >= 7 and max(batches) <= 4
        # Newest runs first: the first batch holds the newest images.
        assert [img.run_id for img in rec.rows[:4]] == [run_id(n) for n in (29, 28, 27, 26)]
    finally:
        scanner.shutdown()


def test_a_warm_start_sends_a_screenful_first_then_bigger_batches(qtbot, tmp_path) -> None:
    """Runs from the index cost little per row, so their batches are big; the first one
    is not, so the grid paints before the worker has gone through a big batch."""
    data, cache = tmp_path / "data", tmp_path / "cache"
    make_runs(data, 40, per_run=3, images=True)
    settle(data)
    cold_scanner = RunScanner()
    scan(qtbot, cold_scanner, data, cache)
    assert cold_scanner.shutdown(timeout_s=10)
    warm_scanner = RunScanner(batch_images=5, batch_seconds=60)
    try:
        warm = scan(qtbot, warm_scanner, data, cache)
        batches = [n for kind, n in warm.events if kind == "batch"]
        assert len(warm.lazy) == 40 and sum(batches) == 120
        assert batches[0] == 6  # two runs: the first to reach five rows
        assert batches[1] == 51  # ten times as many rows from the index
    finally:
        warm_scanner.shutdown()


def scan_until_stalled(scanner: RunScanner, data: Path) -> tuple[Recorder, threading.Semaphore]:
    """Start a scan and wait, without running the event loop, until the worker has sent as
    many batches as may wait for the GUI thread. Returns the recorder and the semaphore
    released for each batch as it leaves the worker."""
    sent = threading.Semaphore(0)
    scanner._w_batch.connect(lambda *_: sent.release(), Qt.ConnectionType.DirectConnection)
    rec = Recorder(scanner)
    scanner.open(data)
    scanner.scan()
    for _ in range(scanner_module.BATCHES_IN_FLIGHT):
        assert sent.acquire(timeout=10)
    return rec, sent


def test_the_worker_runs_at_most_two_batches_ahead_of_the_gui_thread(qtbot, tmp_path) -> None:
    data = tmp_path / "data"
    make_runs(data, 40)
    scanner = RunScanner(batch_images=1)
    try:
        rec, sent = scan_until_stalled(scanner, data)
        assert not sent.acquire(timeout=0.5)  # the worker waits for a free slot
        with qtbot.waitSignal(scanner.finished, timeout=20_000):
            pass  # the event loop runs: batches are taken, the worker goes on
        assert len(rec.rows) == 40
        assert [img.run_id for img in rec.rows[:3]] == [run_id(n) for n in (39, 38, 37)]
    finally:
        scanner.shutdown()


def test_a_worker_waiting_for_the_gui_thread_is_cancelled_by_a_folder_switch(
        qtbot, tmp_path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    make_runs(old, 20)
    make_runs(new, 3, start=100)
    scanner = RunScanner(batch_images=1)
    try:
        rec, _ = scan_until_stalled(scanner, old)
        scanner.open(new)  # the old scan is stuck waiting: it must give up, not deliver
        with qtbot.waitSignal(scanner.finished, timeout=20_000):
            scanner.scan()
        assert {img.run_id for img in rec.rows} == {run_id(n) for n in (100, 101, 102)}
    finally:
        scanner.shutdown()


def test_switching_folder_mid_scan_sends_only_the_new_folder(qtbot, scanner, tmp_path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    make_runs(old, 60, per_run=5)
    make_runs(new, 3, start=100)
    rec = Recorder(scanner)
    switched: list[bool] = []

    def switch(_runs: list) -> None:
        if not switched:
            switched.append(True)
            rec.rows.clear()
            scanner.open(new)
            scanner.scan()

    scanner.open(old)
    scanner.runs_ready.connect(switch)
    with qtbot.waitSignal(scanner.finished, timeout=20_000):
        scanner.scan()
    assert switched
    assert {img.run_id for img in rec.rows} == {run_id(n) for n in (100, 101, 102)}
    assert len(rec.reports) == 1 and rec.reports[0][0].data_dir == new


def test_refresh_sends_new_changed_and_deleted_runs(qtbot, scanner, tmp_path) -> None:
    data = tmp_path / "data"
    ids = make_runs(data, 3, per_run=2)
    rec = scan(qtbot, scanner, data)
    make_run(data, ids[0], posts(ids[0], 3), images=False, createdAt=created(0))  # grew
    shutil.rmtree(data / "runs" / ids[1])  # deleted
    fresh = make_runs(data, 1, start=50)[0]  # new
    with qtbot.waitSignal(scanner.runs_changed, timeout=5000) as blocker:
        scanner.refresh([ids[0], ids[1], ids[2], fresh, "never-existed"])
    changes = blocker.args[0]
    assert set(changes) == {ids[0], ids[1], fresh}  # ids[2] did not change: not sent
    assert [img.slide_id for img in changes[ids[0]]] == ["slide-1", "slide-2", "slide-3"]
    assert changes[ids[1]] == ()
    assert [img.run_id for img in changes[fresh]] == [fresh]
    qtbot.waitUntil(lambda: not scanner.is_busy(), timeout=5000)
    assert rec.problems == []  # a deleted run is no problem


def test_a_half_written_meta_json_is_read_again(qtbot, scanner, tmp_path, monkeypatch) -> None:
    data = tmp_path / "data"
    rid = make_runs(data, 1)[0]
    rec = scan(qtbot, scanner, data)
    meta = data / "runs" / rid / "meta.json"
    full = json.dumps({"createdAt": created(0), "posts": posts(rid, 2)}).encode()
    meta.write_bytes(full[: len(full) // 2])  # a writer is half-way
    seen: list[bool] = []
    real = scanner_module.read_run

    def writer_finishes_after_first_read(run_dir: Path,
                                         data_dir: Path) -> tuple[RunResult, int, int]:
        result = real(run_dir, data_dir)
        seen.append(result[0].incomplete)
        if len(seen) == 1:
            meta.write_bytes(full)
        return result

    monkeypatch.setattr(scanner_module, "read_run", writer_finishes_after_first_read)
    with qtbot.waitSignal(scanner.runs_changed, timeout=5000) as blocker:
        scanner.refresh([rid])
    assert seen == [True, False]
    assert [img.slide_id for img in blocker.args[0][rid]] == ["slide-1", "slide-2"]
    qtbot.waitUntil(lambda: not scanner.is_busy(), timeout=5000)
    assert rec.problems == []


def test_meta_json_that_stays_broken_is_reported_and_keeps_its_rows(qtbot, scanner, tmp_path,
                                                                     monkeypatch) -> None:
    monkeypatch.setattr(scanner_module, "PARTIAL_RETRY_S", 0.01)
    data = tmp_path / "data"
    rid = make_runs(data, 1, per_run=2)[0]
    rec = scan(qtbot, scanner, data)
    (data / "runs" / rid / "meta.json").write_text('{"posts": [', encoding="utf-8")
    with qtbot.waitSignal(scanner.problems_changed, timeout=5000) as blocker:
        scanner.refresh([rid])
    assert [p.reason.startswith("meta.json is not valid JSON") for p in blocker.args[0]] == [True]
    assert rid not in rec.changes  # what it showed stays until the file is readable again
    recheck = Recorder(scanner)
    with qtbot.waitSignal(scanner.finished, timeout=5000):
        scanner.rescan()
    assert recheck.changes == {} and len(recheck.problems) == 1


def test_rescan_sends_only_differences_and_says_when_quiet(qtbot, scanner, tmp_path) -> None:
    data = tmp_path / "data"
    ids = make_runs(data, 5)
    scan(qtbot, scanner, data, tmp_path / "cache")
    rec = Recorder(scanner)
    with qtbot.waitSignal(scanner.finished, timeout=5000) as blocker:
        scanner.rescan(quiet=True)
    assert rec.changes == {} and blocker.args[1] is True
    shutil.rmtree(data / "runs" / ids[2])
    make_run(data, ids[4], posts(ids[4], 2), images=False, createdAt=created(4))
    with qtbot.waitSignal(scanner.finished, timeout=5000):
        scanner.rescan()
    assert set(rec.changes) == {ids[2], ids[4]}
    assert rec.changes[ids[2]] == () and len(rec.changes[ids[4]]) == 2


def test_a_warm_start_sends_the_indexed_runs_unbuilt(qtbot, tmp_path) -> None:
    data, cache = tmp_path / "data", tmp_path / "cache"
    make_runs(data, 30, per_run=3, images=True)  # none missing: nothing to look for again
    make_run(data, run_id(35), [], images=False)  # no images: stored, never sent as rows
    settle(data)
    cold_scanner = RunScanner()
    cold = scan(qtbot, cold_scanner, data, cache)
    assert cold_scanner.shutdown(timeout_s=10)
    assert cold.lazy == [] and len(cold.rows) == 90
    make_runs(data, 1, per_run=2, start=40)  # new since: read, and sent as records
    warm_scanner = RunScanner()
    try:
        warm = scan(qtbot, warm_scanner, data, cache)
        assert len(warm.lazy) == 30 and not any(run.built for run in warm.lazy)
        assert [img.run_id for img in warm.rows] == [run_id(40)] * 2
        assert sorted(warm.all_ids()) == sorted([img.id for img in cold.rows]
                                                + [img.id for img in warm.rows])
        # Search texts travel ready (read on the worker thread), and match the records'.
        texts = {i: t for run in warm.lazy for i, t in zip(run.ids, run.search_texts,
                                                          strict=True)}
        assert texts == {img.id: img.search_text() for img in cold.rows}
        # A rescan finds the same runs unchanged without building them.
        again = Recorder(warm_scanner)
        with qtbot.waitSignal(warm_scanner.finished, timeout=10_000):
            warm_scanner.rescan(quiet=True)
        assert again.changes == {} and not any(run.built for run in warm.lazy)
        # A run changed on disk is read again and sent as a diff against what was sent.
        changed = run_id(7)
        make_run(data, changed, posts(changed, 1), createdAt=created(7))
        with qtbot.waitSignal(warm_scanner.finished, timeout=10_000):
            warm_scanner.rescan()
        assert list(again.changes) == [changed] and len(again.changes[changed]) == 1
        warm_scanner.refresh([run_id(8)])  # unchanged: nothing to send
        qtbot.waitUntil(lambda: not warm_scanner.is_busy(), timeout=10_000)
        assert list(again.changes) == [changed]
    finally:
        assert warm_scanner.shutdown(timeout_s=10)


def test_problems_name_bad_runs_and_a_missing_runs_folder(qtbot, scanner, tmp_path) -> None:
    data = tmp_path / "data"
    make_runs(data, 2)
    make_run(data, run_id(9), raw=[1, 2, 3])
    rec = scan(qtbot, scanner, data)
    assert len(rec.problems) == 1
    assert "not an object" in rec.problems[0].reason and run_id(9) in rec.problems[0].path
    empty = tmp_path / "empty"
    empty.mkdir()
    rec = scan(qtbot, scanner, empty)
    assert [p.reason for p in rec.problems] == ["no runs folder in the data folder"]


def test_an_unreadable_runs_folder_is_named_as_a_problem(qtbot, scanner, tmp_path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    make_runs(data, 2)
    runs = str(data / "runs")
    real_scandir = os.scandir

    def refuse(path: str) -> object:
        # Root reads through permission bits: stand in for a folder it may not list.
        if os.fspath(path) == runs:
            raise PermissionError(errno.EACCES, "Permission denied", runs)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", refuse)
    rec = scan(qtbot, scanner, data)
    assert rec.rows == []
    assert [p.reason for p in rec.problems] == ["cannot list the runs folder: Permission denied"]


def test_a_duplicate_id_keeps_the_first_run(qtbot, scanner, tmp_path) -> None:
    data = tmp_path / "data"
    make_run(data, "a_b", [{"index": 1, "finalImageUrl": "/data/runs/a_b/slide-1.png"}],
             images=False)
    make_run(data, "a", [{"index": 1, "finalImageUrl": "/data/runs/a/x.png",
                          "momPost": {"id": "b_slide-1"}}], images=False)
    rec = scan(qtbot, scanner, data)
    assert [(img.id, img.run_id) for img in rec.rows] == [("img_a_b_slide-1", "a_b")]


def test_nothing_arrives_after_shutdown(qtbot, tmp_path) -> None:
    data = tmp_path / "data"
    make_runs(data, 60, per_run=5)
    scanner = RunScanner()
    rec = Recorder(scanner)
    scanner.open(data)
    scanner.scan()
    assert scanner.shutdown(timeout_s=10)
    with qtbot.assertNotEmitted(scanner.finished, wait=200):
        pass
    assert rec.reports == []


# Two runs whose image ids meet: run "a_b" post 1 and run "a" with momPost.id "b_slide-1"
# both give this id. Of the runs that have an id, the greatest run id shows it.
SHARED = "img_a_b_slide-1"


def write_sharing_run(data: Path, run: str, *, with_shared: bool = True) -> None:
    if run == "a_b":
        posts = [{"index": 2, "finalImageUrl": "/data/runs/a_b/slide-2.png"}]
        if with_shared:
            posts.insert(0, {"index": 1, "imagePrompt": "from a_b",
                             "finalImageUrl": "/data/runs/a_b/slide-1.png"})
    else:
        posts = [{"index": 1, "imagePrompt": "from a", "finalImageUrl": "/data/runs/a/x.png",
                  "momPost": {"id": "b_slide-1"}}]
    make_run(data, run, posts, images=False)


@pytest.fixture
def wired(qtbot, tmp_path) -> Iterator[tuple[Path, RunScanner, GalleryModel]]:
    """A scanner feeding a model, as the controller wires them, on an empty folder."""
    data = tmp_path / "data"
    (data / "runs").mkdir(parents=True)
    scanner = RunScanner()
    model = GalleryModel()
    scanner.runs_ready.connect(model.insert_runs)
    scanner.runs_changed.connect(model.replace_runs)
    scanner.open(data)
    with qtbot.waitSignal(scanner.finished, timeout=10_000):
        scanner.scan()
    yield data, scanner, model
    assert scanner.shutdown(timeout_s=10)


def refresh(qtbot, scanner: RunScanner, run_ids: list[str]) -> None:
    scanner.refresh(run_ids)
    qtbot.waitUntil(lambda: not scanner.is_busy(), timeout=10_000)


def settle_by_rescan(qtbot, scanner: RunScanner) -> None:
    with qtbot.waitSignal(scanner.finished, timeout=10_000):
        scanner.rescan(quiet=True)
    qtbot.waitUntil(lambda: not scanner.is_busy(), timeout=10_000)


@pytest.mark.parametrize("order", [["a", "a_b"], ["a_b", "a"], ["a_b+a"]])
def test_a_shared_id_is_shown_by_the_same_run_whatever_order_runs_arrive_in(
        qtbot, wired, order: list[str]) -> None:
    data, scanner, model = wired
    for step in order:  # runs appearing one watcher report apart, or in one report
        runs = step.split("+")
        for run in runs:
            write_sharing_run(data, run)
        refresh(qtbot, scanner, runs)
    assert model.get(SHARED).prompt == "from a_b"
    assert model.rowCount() == 2  # a_b's two images; a's only one is a_b's
    settle_by_rescan(qtbot, scanner)  # a full pass agrees: nothing moves
    assert model.get(SHARED).prompt == "from a_b" and model.rowCount() == 2


@pytest.mark.parametrize("change", ["deleted", "post removed"])
def test_a_shared_id_passes_to_the_other_run_when_its_owner_lets_go(
        qtbot, wired, change: str) -> None:
    data, scanner, model = wired
    write_sharing_run(data, "a_b")
    write_sharing_run(data, "a")
    refresh(qtbot, scanner, ["a", "a_b"])
    assert model.get(SHARED).prompt == "from a_b"
    if change == "deleted":
        shutil.rmtree(data / "runs" / "a_b")
    else:
        write_sharing_run(data, "a_b", with_shared=False)
    refresh(qtbot, scanner, ["a_b"])  # what the watcher reports
    assert model.get(SHARED) is not None and model.get(SHARED).prompt == "from a"
    assert model.rowCount() == (1 if change == "deleted" else 2)
    settle_by_rescan(qtbot, scanner)
    assert model.get(SHARED).prompt == "from a"
