"""The background scanner: full scans in batches, and per-run refreshes applied as diffs."""

from __future__ import annotations

import hashlib
import logging
import os
import queue
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal, Slot

from gallery_desktop.core.index import RunIndex
from gallery_desktop.core.records import (
    GalleryImage,
    Run,
    RunResult,
    RunRows,
    ScanReport,
    SkippedItem,
)
from gallery_desktop.core.runs import (
    NO_DATA_FOLDER,
    NO_RUNS_FOLDER,
    RUNS_DIRNAME,
    iter_runs,
    read_run,
)

log = logging.getLogger(__name__)

BATCH_IMAGES = 200
BATCH_SECONDS = 0.05
# The rows of runs the index knew come cheaper still than those read now (no search text
# to make, no record): they count this much less towards a batch's size.
LAZY_ROWS_PER_ROW = 10
# Batches sent but not yet handled by the GUI thread, at most. Qt hands over every queued
# call waiting when it gets to them in one go, with no paint or timer in between: a worker
# that runs ahead (a warm start reads runs far faster than rows go in) would freeze the
# window for the whole backlog (~0.5 s at 30,000 images), where two batches are ~10 ms.
BATCHES_IN_FLIGHT = 2
# A meta.json caught half-written is read again this often before it counts as bad.
PARTIAL_RETRIES = 5
PARTIAL_RETRY_S = 0.2
# How often one refresh may read a run (runs sharing an image id hand it over).
REFRESH_VISITS = 4
# The problem shown when the runs folder could not be listed, by iter_runs' reason.
FOLDER_REASONS = {NO_RUNS_FOLDER: "no runs folder in the data folder",
                  NO_DATA_FOLDER: "the data folder is not there"}

Changes = dict[str, tuple[GalleryImage, ...]]
# What the worker sent of a run: its records, or the RunRows they are built from.
_Sent = tuple[GalleryImage, ...] | RunRows


def _images(sent: Sequence[GalleryImage] | RunRows) -> tuple[GalleryImage, ...]:
    return sent.images if isinstance(sent, RunRows) else tuple(sent)


def _ids(sent: _Sent) -> tuple[str, ...] | list[str]:
    return sent.ids if isinstance(sent, RunRows) else [image.id for image in sent]


def _same(a: _Sent, b: _Sent) -> bool:
    """Whether two sendings of a run show the same images."""
    return a is b or _images(a) == _images(b)


def index_file_for(cache_dir: Path, data_dir: Path) -> Path:
    """Where the run index of ``data_dir`` lives: named by a hash of its resolved path."""
    digest = hashlib.sha256(str(data_dir.resolve()).encode("utf-8", "surrogateescape"))
    return cache_dir / "run-index" / f"{digest.hexdigest()[:20]}.idx"


@dataclass(slots=True)
class _State:
    """What the worker knows of one data folder; mirrors the rows it sent."""

    data_dir: Path
    index_file: Path | None
    index: RunIndex | None = None
    known: dict[str, _Sent] = field(default_factory=dict)
    # image id -> the run showing it: of the runs that have it, the greatest run id (the
    # first that a full pass, newest run ids first, comes to).
    owner: dict[str, str] = field(default_factory=dict)
    # image id -> runs that have it too, but do not show it (another run owns it).
    shadowed: dict[str, set[str]] = field(default_factory=dict)
    problems: dict[str, tuple[SkippedItem, ...]] = field(default_factory=dict)


@dataclass(slots=True)
class _Job:
    session: int
    kind: str  # "open", "fill", "rescan" or "refresh"
    quiet: bool = False
    run_ids: tuple[str, ...] = ()
    state: _State | None = None  # "open" only: the folder the worker switches to


class RunScanner(QObject):
    """Scans one data folder at a time on a worker thread and reports in GUI-thread signals.

    Every public signal is emitted on the GUI thread and only for the current folder:
    once ``open`` switched folders, nothing of the old one arrives any more.

    Signals:
        runs_ready(object runs): rows of a full scan, a batch at a time (a list of RunRows,
            their search texts made here so the GUI thread does not have to). Runs read
            from their meta.json come built; runs the index knew build their records when
            shown.
        progress(int runs_done, int images_so_far): during a full scan.
        runs_changed(object dict[str, tuple[GalleryImage, ...]]): runs whose images differ
            from what was sent before (empty tuple: the run is gone); apply as a diff.
        problems_changed(object list[SkippedItem]): everything now wrong in the runs.
        finished(object ScanReport, bool quiet): a full scan or a rescan ended.
        busy_changed(bool): whether jobs are queued or running.
    """

    runs_ready = Signal(object)
    progress = Signal(int, int)
    runs_changed = Signal(object)
    problems_changed = Signal(object)
    finished = Signal(object, bool)
    busy_changed = Signal(bool)

    # Worker -> GUI thread; queued because the receiver (self) lives in the GUI thread.
    _w_batch = Signal(int, object, int, int)
    _w_changes = Signal(int, object)
    _w_problems = Signal(int, object)
    _w_finished = Signal(int, object, bool)
    _w_job_done = Signal(int)

    def __init__(self, parent: QObject | None = None, *, batch_images: int = BATCH_IMAGES,
                 batch_seconds: float = BATCH_SECONDS) -> None:
        super().__init__(parent)
        self._batch_images = batch_images
        self._batch_seconds = batch_seconds
        self._session = 0
        self._state: _State | None = None  # worker thread only
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._outstanding = 0
        self._batch_slots = threading.Semaphore(BATCHES_IN_FLIGHT)
        self._w_batch.connect(self._on_batch, Qt.ConnectionType.QueuedConnection)
        self._w_changes.connect(self._on_changes, Qt.ConnectionType.QueuedConnection)
        self._w_problems.connect(self._on_problems, Qt.ConnectionType.QueuedConnection)
        self._w_finished.connect(self._on_finished, Qt.ConnectionType.QueuedConnection)
        self._w_job_done.connect(self._on_job_done, Qt.ConnectionType.QueuedConnection)

    # -- GUI-thread API --------------------------------------------------------------------

    def open(self, data_dir: Path | None, index_file: Path | None = None) -> None:
        """Switch to ``data_dir`` (None: no folder); cancels whatever ran for the old one."""
        self._session += 1
        self._wake.set()  # cut short a retry wait of the old folder
        state = None if data_dir is None else _State(data_dir, index_file)
        # The state travels in the queue, so the worker swaps folders in job order.
        self._submit(_Job(self._session, "open", state=state))
        if self._outstanding:
            self._outstanding = 0
            self.busy_changed.emit(False)

    def scan(self) -> None:
        """Scan the whole folder, sending rows in batches (the model starts empty)."""
        self._submit(_Job(self._session, "fill"))

    def rescan(self, *, quiet: bool = False) -> None:
        """Scan again (stat-only where the index knows a run) and send only the differences.

        Args:
            quiet: a periodic check: ``finished`` says so, so no progress is shown.
        """
        self._submit(_Job(self._session, "rescan", quiet=quiet))

    def refresh(self, run_ids: Iterable[str]) -> None:
        """Re-read just these runs and send what changed."""
        # Newest run ids first, as a full pass goes.
        ids = tuple(sorted(set(run_ids), reverse=True))
        if ids:
            self._submit(_Job(self._session, "refresh", run_ids=ids))

    def is_busy(self) -> bool:
        """Whether jobs for the current folder are queued or running."""
        return self._outstanding > 0

    def shutdown(self, timeout_s: float = 5.0) -> bool:
        """Cancel everything and stop the worker; returns whether it stopped in time."""
        self._session += 1
        self._wake.set()
        thread, self._thread = self._thread, None
        if thread is None:
            return True
        self._jobs.put(None)
        thread.join(timeout_s)
        return not thread.is_alive()

    def _submit(self, job: _Job) -> None:
        if job.kind != "open":
            self._outstanding += 1
            if self._outstanding == 1:
                self.busy_changed.emit(True)
        self._jobs.put(job)
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="gallery-scanner",
                                            daemon=True)
            self._thread.start()

    # -- worker thread ---------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            try:
                self._do(job)
            except Exception:  # a bug: log it and keep the worker alive for the next job
                log.exception("scanner job %s failed", job.kind)
            finally:
                if job.kind != "open":
                    self._w_job_done.emit(job.session)

    def _do(self, job: _Job) -> None:
        if job.kind == "open":
            self._state = job.state
            self._wake.clear()  # set by open() to cut short a wait of the old folder
            return
        state = self._state
        if state is None or job.session != self._session:
            return
        if state.index is None and state.index_file is not None:
            state.index = RunIndex(state.index_file)
            state.index.load()  # a bad cache file just leaves it empty
        if job.kind == "fill":
            self._fill(job, state)
        elif job.kind == "rescan":
            self._rescan(job, state)
        else:
            self._refresh(job, state)

    def _cancelled(self, job: _Job) -> bool:
        return job.session != self._session

    def _fill(self, job: _Job, state: _State) -> None:
        batch: list[RunRows] = []
        size = runs = images = 0
        last = time.monotonic()
        # The first batch is a screenful, so the grid shows something at once; later ones
        # are bigger, as each costs the GUI thread a pass of the filter proxies.
        limit = self._batch_images
        listing: list[SkippedItem] = []
        for result in iter_runs(state.data_dir, index=state.index,
                                cancelled=lambda: self._cancelled(job), problems=listing):
            runs += 1
            fresh = self._take(state, result)
            if isinstance(fresh, RunRows):
                count = len(fresh.ids)
                size += count
            else:  # read just now: its records are at hand
                count = len(fresh)
                size += count * LAZY_ROWS_PER_ROW
                read = result if isinstance(result, RunResult) else result.result()
                fresh = RunRows.of(read, None if len(fresh) == len(read.images) else fresh)
            if count:
                batch.append(fresh)
            images += count
            if size >= limit or time.monotonic() - last >= self._batch_seconds:
                self._send_batch(job, batch, runs, images)
                batch, size, last = [], 0, time.monotonic()
                limit = self._batch_images * LAZY_ROWS_PER_ROW
        if self._cancelled(job):
            return
        self._send_batch(job, batch, runs, images)
        self._finish(job, state, runs, images, listing)

    def _send_batch(self, job: _Job, batch: list[RunRows], runs: int, images: int) -> None:
        for run in batch:
            run.search_texts  # noqa: B018 - made here, so the GUI thread does not have to
        # Wait for the GUI thread to take an earlier batch (see BATCHES_IN_FLIGHT).
        while not self._batch_slots.acquire(timeout=0.05):
            if self._cancelled(job):
                return
        self._w_batch.emit(job.session, batch, runs, images)

    def _rescan(self, job: _Job, state: _State) -> None:
        old = state.known
        state.known, state.owner, state.problems, state.shadowed = {}, {}, {}, {}
        runs = images = 0
        listing: list[SkippedItem] = []
        for result in iter_runs(state.data_dir, index=state.index,
                                cancelled=lambda: self._cancelled(job), problems=listing):
            runs += 1
            if result.incomplete and result.run_id in old:
                result = RunResult(result.run_id, result.run_dir, _images(old[result.run_id]),
                                   result.skipped)  # keep what it showed; a writer is busy
            taken = self._take(state, result)
            images += len(taken.ids) if isinstance(taken, RunRows) else len(taken)
        if self._cancelled(job):
            return
        # A run the index hands out unchanged is the very object sent before: no records
        # are built to see that it is the same.
        changes = {run_id: _images(state.known.get(run_id, ()))
                   for run_id in old.keys() | state.known.keys()
                   if not _same(old.get(run_id, ()), state.known.get(run_id, ()))}
        if changes:
            self._w_changes.emit(job.session, changes)
        self._finish(job, state, runs, images, listing)

    def _refresh(self, job: _Job, state: _State) -> None:
        changes: Changes = {}
        runs_dir = state.data_dir / RUNS_DIRNAME
        todo = list(job.run_ids)
        visits: dict[str, int] = {}
        while todo:
            run_id = todo.pop(0)
            visits[run_id] = visits.get(run_id, 0) + 1
            if visits[run_id] > REFRESH_VISITS:  # a bug, not data: never loop for ever
                log.warning("run %s changed owners too often in one refresh", run_id)
                continue
            # Runs that now must show or stop showing an id this one shared with them.
            todo.extend(self._refresh_run(job, state, runs_dir, run_id, changes))
            if self._cancelled(job):
                return
        if changes:
            self._w_changes.emit(job.session, changes)
        self._w_problems.emit(job.session, self._problem_list(state))

    def _refresh_run(self, job: _Job, state: _State, runs_dir: Path, run_id: str,
                     changes: Changes) -> list[str]:
        """Read one run again and note in ``changes`` what it shows now.

        Returns:
            The runs to read again as well: those whose copy of an id this run no longer
            shows (so one of them shows it), and those this run took an id from.
        """
        had = _ids(state.known.get(run_id, ()))
        lost: set[str] = set()
        if not os.path.lexists(runs_dir / run_id):  # deleted or renamed away: no problem
            if run_id in state.known:
                changes[run_id] = ()
            self._release(state, run_id)
            return self._heirs(state, had)
        result, mtime_ns, size = read_run(runs_dir / run_id, state.data_dir)
        for _ in range(PARTIAL_RETRIES):
            if not result.incomplete or self._cancelled(job):
                break
            self._wake.wait(PARTIAL_RETRY_S)
            result, mtime_ns, size = read_run(runs_dir / run_id, state.data_dir)
        if self._cancelled(job):
            return []
        if state.index is not None and mtime_ns >= 0 and not result.incomplete:
            # What a rescan finds in the index must agree with this reading (an image
            # found gone stays gone), under the stat of the meta.json that was read.
            state.index.store(runs_dir / run_id, mtime_ns, size, result)
        old = _images(state.known.get(run_id, ()))
        if result.incomplete and old:
            result = RunResult(run_id, result.run_dir, old, result.skipped)
        self._release(state, run_id)
        new = _images(self._take(state, result, lost))
        if new != old:
            changes[run_id] = new
        return self._heirs(state, had) + sorted(lost, reverse=True)

    @staticmethod
    def _heirs(state: _State, had: Iterable[str]) -> list[str]:
        """The runs that have an id of ``had`` no run shows any more (greatest first)."""
        heirs: set[str] = set()
        for image_id in had:
            if image_id not in state.owner:
                heirs |= state.shadowed.pop(image_id, set())
        return sorted(heirs, reverse=True)

    def _finish(self, job: _Job, state: _State, runs: int, images: int,
                listing: list[SkippedItem]) -> None:
        """Report the end of a full pass; ``listing`` says why the runs folder was unusable."""
        if not listing:
            state.problems.pop("", None)
        else:
            reason = FOLDER_REASONS.get(listing[0].reason, listing[0].reason)
            # The runs folder may be unreadable, or the data folder itself.
            state.problems[""] = (SkippedItem(str(state.data_dir / RUNS_DIRNAME), reason),)
        if state.index is not None:
            state.index.save()  # logs, never raises: it is only a cache
        problems = self._problem_list(state)
        self._w_problems.emit(job.session, problems)
        report = ScanReport(state.data_dir, runs_seen=runs, images=[], skipped=problems)
        self._w_finished.emit(job.session, report, job.quiet)

    def _take(self, state: _State, result: Run,
              lost: set[str] | None = None) -> list[GalleryImage] | RunRows:
        """Record a run's result; returns its images minus ids another run owns (a
        RunRows as it is when it owns all of its ids, as nearly every run does).

        Of the runs that have an id, the greatest run id owns it. A full pass takes runs in
        that order, so only a refresh takes an id from a run that owned it: that run goes
        into ``lost``, to be read again.
        """
        run_id = result.run_id
        if result.skipped:
            state.problems[run_id] = result.skipped
        else:
            state.problems.pop(run_id, None)
        owners = state.owner
        owned: list[bool] = []
        for image_id in result.ids:
            holder = owners.setdefault(image_id, run_id)
            if holder == run_id:
                owned.append(True)
            elif holder < run_id and lost is not None:
                owners[image_id] = run_id
                lost.add(holder)
                owned.append(True)
            else:
                state.shadowed.setdefault(image_id, set()).add(run_id)
                owned.append(False)
        if isinstance(result, RunRows) and all(owned):
            if owned:
                state.known[run_id] = result
            else:
                state.known.pop(run_id, None)
            return result
        mine = [img for img, own in zip(result.images, owned, strict=True) if own]
        if mine:
            state.known[run_id] = tuple(mine)
        else:
            state.known.pop(run_id, None)
        return mine

    def _release(self, state: _State, run_id: str) -> None:
        for image_id in _ids(state.known.pop(run_id, ())):
            if state.owner.get(image_id) == run_id:
                del state.owner[image_id]
        state.problems.pop(run_id, None)

    @staticmethod
    def _problem_list(state: _State) -> list[SkippedItem]:
        return [item for items in state.problems.values() for item in items]

    # -- back on the GUI thread ------------------------------------------------------------

    @Slot(int, object, int, int)
    def _on_batch(self, session: int, batch: list[RunRows], runs: int, count: int) -> None:
        try:
            if session == self._session:
                if batch:
                    self.runs_ready.emit(batch)
                self.progress.emit(runs, count)
        finally:
            self._batch_slots.release()  # even for an old folder's batch: its slot is free

    @Slot(int, object)
    def _on_changes(self, session: int, changes: Changes) -> None:
        if session == self._session:
            self.runs_changed.emit(changes)

    @Slot(int, object)
    def _on_problems(self, session: int, problems: list[SkippedItem]) -> None:
        if session == self._session:
            self.problems_changed.emit(problems)

    @Slot(int, object, bool)
    def _on_finished(self, session: int, report: ScanReport, quiet: bool) -> None:
        if session == self._session:
            self.finished.emit(report, quiet)

    @Slot(int)
    def _on_job_done(self, session: int) -> None:
        if session == self._session and self._outstanding > 0:
            self._outstanding -= 1
            if self._outstanding == 0:
                self.busy_changed.emit(False)
