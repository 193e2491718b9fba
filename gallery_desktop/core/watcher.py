"""Watch a data folder with watchdog and report what changed as plain WatchEvents."""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch
from watchdog.observers.polling import PollingObserver

log = logging.getLogger(__name__)

# A folder renamed inside the watched tree keeps its inotify watch; watchdog then adds the
# same callback to that watch under the new path and warns that it "will be Overwritten"
# (with itself). Nothing is lost, so the warning is only noise in the log.
warnings.filterwarnings("ignore", message=r"Callback with id '[^']*' already exists for watch",
                        category=RuntimeWarning)

WatchKind = Literal["run", "favorites", "image", "data_dir"]

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff",
                            ".avif"})
RUNS_DIR = "runs"
# Polling re-lists the whole tree each time; this keeps changes within about a second.
DEFAULT_POLL_INTERVAL_S = 0.5

# How often the data folder's identity is checked even without an event.
RECHECK_INTERVAL_S = 2.0

# Event types that say nothing changed (reads, including our own thumbnail reads) or that
# repeat what the events about the entries themselves say (a folder's mtime moving).
_IGNORED_TYPES = frozenset({"opened", "closed_no_write"})
_IN_ATTRIB = 0x00000004  # the cheapest inotify mask, for probing the watch limit
# A failing inotify set-up means "use polling"; a vanished folder means "watch its parent".
_GONE_ERRNOS = frozenset({errno.ENOENT, errno.ENOTDIR})


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """One change in the data folder, as the gallery cares about it.

    ``kind`` is "run" (something under ``runs/<run_id>/``), "image" (an image file, with
    ``run_id`` when it is inside a run), "favorites" (the favorites file) or "data_dir"
    (the data folder or its ``runs`` folder vanished, appeared or was replaced: rescan).
    """

    kind: WatchKind
    path: Path
    run_id: str | None = None


class DataWatcher:
    """Watches ``data_dir`` recursively and calls ``on_event`` for what changed.

    Handles watchdog's traps: atomic replaces arrive as moves (both ends are looked at);
    a deleted and recreated data folder is re-armed (the parent is watched too, and a
    missing data folder is waited for there); an inotify set-up that fails (the
    ``ENOSPC`` watch limit, ``EMFILE``) falls back to polling.

    ``on_event`` runs on watchdog's threads: it must be quick and thread-safe, and must
    not touch Qt objects (hand the event over by a signal instead).

    ``start`` returns at once and the watches are set up on the watcher's own thread:
    inotify needs one watch per folder, and adding them for 10,000 run folders takes
    about half a second, which must not freeze the caller (a GUI thread). What changes
    before they are in place is not reported: ``on_armed`` says when they are, so the
    caller can look again (rescan) to cover that gap.
    """

    def __init__(self, data_dir: Path, on_event: Callable[[WatchEvent], None], *,
                 favorites_name: str = "gallery-favorites.json",
                 poll_interval_s: float = DEFAULT_POLL_INTERVAL_S,
                 on_armed: Callable[[], None] | None = None) -> None:
        """Prepare a watcher; nothing is watched before ``start``.

        Args:
            data_dir: The data folder (it need not exist yet; a symlink is resolved now).
            on_event: Called with each WatchEvent, on a watchdog thread.
            favorites_name: The favorites file's name inside ``data_dir``.
            poll_interval_s: Seconds between polls when polling.
            on_armed: Called once, on the watcher's thread, when the watches are first
                in place (not if it is stopped before).
        """
        # Resolved: watchdog watches a symlink itself, not the folder it points to, and
        # reports paths under the folder it was given.
        self._data_dir = Path(os.path.realpath(data_dir))
        self._on_event = on_event
        self._on_armed = on_armed
        self._armed = threading.Event()
        self._favorites_name = favorites_name
        self._favorites_stem = Path(favorites_name).stem
        self._poll_interval_s = poll_interval_s
        self._lock = threading.Lock()  # guards the arming state below
        self._observer: BaseObserver | None = None
        self._retired: list[BaseObserver] = []
        self._polling = False
        self._data_watch: ObservedWatch | None = None
        self._data_ident: tuple[int, int] | None = None
        self._anchor_watch: ObservedWatch | None = None
        self._anchor: Path | None = None
        self._armed_once = False
        self._started = False
        self._stopped = False
        # Re-arming runs on its own thread: watchdog calls handlers while holding its
        # observer lock, and re-arming takes that lock, so doing it in a handler could
        # deadlock against start()/stop(). Handlers only set these two flags.
        self._wake = threading.Event()
        self._data_watch_died = False
        self._control: threading.Thread | None = None
        self._data_handler = _Handler(self._on_data_event)
        self._anchor_handler = _Handler(self._on_anchor_event)
        # A favorites file that is a symlink is written where it points (the web server
        # writes through the link, we replace its target): that folder is watched too.
        self._fav_target: Path | None = None
        self._fav_watch: ObservedWatch | None = None
        self._fav_handler = _Handler(self._on_fav_target_event)
        # Run folders that are symlinks to folders elsewhere in the data folder: watchdog
        # reports their changes under the target, so targets map back to run ids. Looked
        # up again when an entry of runs/ itself comes or goes. Replaced whole, never
        # changed in place: watchdog's threads read it.
        self._linked_runs: dict[Path, str] = {}
        self._links_stale = True
        # Folders created while watching natively: watchdog adds their watches itself and
        # swallows a refusal (ENOSPC, the watch limit), so each is checked here.
        self._new_dirs: list[Path] = []

    @property
    def data_dir(self) -> Path:
        """The watched folder (absolute, symlinks resolved): event paths lie under it."""
        return self._data_dir

    @property
    def polling(self) -> bool:
        """True when it fell back to a PollingObserver."""
        return self._polling

    def start(self) -> None:
        """Start watching (the data folder, or the nearest existing parent until it exists).

        Returns at once; the watches are set up on the watcher's thread (see the class).

        Raises:
            RuntimeError: it was started before.
        """
        with self._lock:
            if self._started:
                raise RuntimeError("a DataWatcher can be started once")
            self._started = True
            self._observer = self._new_observer()
            self._observer.start()
        self._control = threading.Thread(target=self._control_loop, name="data-watcher-control",
                                         daemon=True)
        self._control.start()

    def wait_armed(self, timeout: float | None = None) -> bool:
        """Wait until the watches are first in place; returns whether they are."""
        return self._armed.wait(timeout)

    def stop(self) -> None:
        """Stop watching and join watchdog's threads; calling it again does nothing."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            observers = [o for o in (self._observer, *self._retired) if o is not None]
            self._observer = None
            self._retired = []
        self._wake.set()
        me = threading.current_thread()
        if self._control is not None and self._control is not me:
            self._control.join()
        for observer in observers:
            observer.stop()
        for observer in observers:
            if observer is not me and observer.is_alive():
                observer.join()

    # -- arming (under self._lock) ---------------------------------------------------------

    def _new_observer(self) -> BaseObserver:
        if self._polling:
            return PollingObserver(timeout=self._poll_interval_s)
        try:
            return Observer()
        except OSError as err:  # e.g. inotify_init hitting the instance limit (EMFILE)
            log.warning("native file watching unavailable (%s); polling instead", err)
            self._polling = True
            return PollingObserver(timeout=self._poll_interval_s)

    def _fall_back_to_polling(self, err: OSError) -> None:
        log.warning("cannot watch %s natively (%s); polling every %.1f s instead",
                    self._data_dir, err, self._poll_interval_s)
        old = self._observer
        self._polling = True
        self._data_watch = self._anchor_watch = self._fav_watch = None
        self._fav_target = None
        self._data_ident = None
        self._anchor = None
        self._observer = PollingObserver(timeout=self._poll_interval_s)
        self._observer.start()
        if old is not None:
            old.stop()  # joined in stop(), not here under the lock
            self._retired.append(old)

    def _schedule(self, path: Path, handler: FileSystemEventHandler,
                  recursive: bool) -> ObservedWatch | None:
        """Schedule a watch, falling back to polling once if the native one fails."""
        for _attempt in range(2):
            assert self._observer is not None
            try:
                return self._observer.schedule(handler, str(path), recursive=recursive)
            except OSError as err:
                if err.errno in _GONE_ERRNOS:
                    self._wake.set()  # it vanished meanwhile: look again
                    return None
                if self._polling:
                    log.warning("cannot watch %s: %s", path, err)
                    return None
                self._fall_back_to_polling(err)
        return None

    def _unschedule(self, watch: ObservedWatch | None) -> None:
        if watch is None or self._observer is None:
            return
        try:
            self._observer.unschedule(watch)
        except (KeyError, OSError) as err:  # already gone with its emitter
            log.debug("unscheduling %s: %r", watch, err)

    def _reconcile_locked(self) -> None:
        """Make the watches match the file system: data folder and its anchor."""
        if self._stopped or self._observer is None:
            return
        changed = False
        for _attempt in range(3):  # a fall-back to polling resets the watches: redo
            was_polling = self._polling
            changed = self._arm_data_dir() or changed
            self._arm_anchor()
            self._arm_favorites_target()
            if self._polling == was_polling:
                break
        if self._links_stale:
            self._links_stale = False
            self._linked_runs = self._find_linked_runs()
        if changed and self._armed_once:
            self._emit(WatchEvent("data_dir", self._data_dir))
        self._armed_once = True

    def _arm_data_dir(self) -> bool:
        """(Re)schedule the recursive watch when the folder changed; True if it did."""
        ident = _dir_ident(self._data_dir)
        died, self._data_watch_died = self._data_watch_died, False
        if (ident == self._data_ident and not died
                and (self._data_watch is not None or ident is None)):
            return False
        self._unschedule(self._data_watch)
        self._data_watch = None
        if ident is not None:
            self._data_watch = self._schedule(self._data_dir, self._data_handler, True)
        changed = ident != self._data_ident or died
        self._data_ident = ident
        return changed

    def _arm_anchor(self) -> None:
        """Watch, non-recursively, the folder where the data folder appears or vanishes."""
        anchor = self._data_dir.parent
        while not anchor.is_dir() and anchor != anchor.parent:
            anchor = anchor.parent
        if anchor == self._anchor and self._anchor_watch is not None:
            return
        self._unschedule(self._anchor_watch)
        self._anchor_watch = self._schedule(anchor, self._anchor_handler, False)
        self._anchor = anchor if self._anchor_watch is not None else None

    def _arm_favorites_target(self) -> None:
        """Watch the folder of the file a symlinked favorites file points to (not recursive)."""
        link = self._data_dir / self._favorites_name
        target = Path(os.path.realpath(link)) if link.is_symlink() else None
        if target == self._fav_target and (target is None or self._fav_watch is not None):
            return
        self._unschedule(self._fav_watch)
        self._fav_watch = None
        self._fav_target = target
        if target is not None and target.parent.is_dir():
            self._fav_watch = self._schedule(target.parent, self._fav_handler, False)

    def _find_linked_runs(self) -> dict[Path, str]:
        """Targets of the symlinked run folders that lie inside the data folder, by run id."""
        runs = self._data_dir / RUNS_DIR
        linked: dict[Path, str] = {}
        try:
            with os.scandir(runs) as entries:
                for entry in entries:
                    if entry.is_symlink() and not entry.name.startswith("."):
                        target = Path(os.path.realpath(entry.path))
                        if target.is_relative_to(self._data_dir) and target != runs / entry.name:
                            linked[target] = entry.name
        except OSError:
            pass  # no runs folder (yet): nothing is linked
        return linked

    def _check_watch_limit_locked(self) -> None:
        """Fall back to polling when inotify refused a new folder its watch (see __init__)."""
        new, self._new_dirs = self._new_dirs, []
        if self._polling or not new:
            return
        refused = _watch_limit_reached(new[-1])  # one probe covers the burst
        if refused is None:
            return
        self._fall_back_to_polling(refused)
        self._reconcile_locked()
        # What was written in the folders nobody watched is found by a rescan.
        self._emit(WatchEvent("data_dir", self._data_dir))

    def _control_loop(self) -> None:
        with self._lock:
            if self._stopped:
                return
            try:
                self._reconcile_locked()
            except Exception:  # the periodic re-check below tries again
                log.exception("arming the watch on %s failed", self._data_dir)
        log.info("watching %s%s", self._data_dir, " (polling)" if self._polling else "")
        if self._on_armed is not None:
            try:
                self._on_armed()
            except Exception:  # the caller's bug must not end the re-arming below
                log.exception("the armed callback of the watch on %s failed", self._data_dir)
        self._armed.set()
        while True:
            # Also look now and then unasked: a safety net for anything the events of
            # the parent folder did not show (it costs a couple of stat calls).
            self._wake.wait(timeout=RECHECK_INTERVAL_S)
            self._wake.clear()
            with self._lock:
                if self._stopped:
                    return
                try:
                    self._reconcile_locked()
                    self._check_watch_limit_locked()
                except Exception:  # keep watching what we can; the next event retries
                    log.exception("re-arming the watch on %s failed", self._data_dir)

    # -- events (on watchdog's threads) ----------------------------------------------------

    def _on_anchor_event(self, event: FileSystemEvent) -> None:
        # Any type: a poller that misses a quick delete + mkdir (same inode) still sees
        # the folder's mtime move, and a spurious re-check costs one stat.
        if event.event_type in _IGNORED_TYPES:
            return
        for raw in _event_paths(event):
            path = Path(raw)
            if path == self._data_dir or path in self._data_dir.parents:
                self._wake.set()

    def _on_fav_target_event(self, event: FileSystemEvent) -> None:
        target = self._fav_target
        if target is None or event.event_type in _IGNORED_TYPES:
            return
        if any(Path(raw) == target for raw in _event_paths(event)):
            self._emit(WatchEvent("favorites", self._data_dir / self._favorites_name))

    def _on_data_event(self, event: FileSystemEvent) -> None:
        kind = event.event_type
        if kind in _IGNORED_TYPES or (event.is_directory and kind in ("modified", "attrib")):
            return
        for raw in _event_paths(event):
            path = Path(raw)
            if path == self._data_dir:
                if kind in ("deleted", "moved"):  # the watch on it just ended
                    self._data_watch_died = True
                    self._wake.set()
                continue
            if event.is_directory and kind in ("created", "moved") and not self._polling:
                self._new_dirs.append(path)
                self._wake.set()
            for watch_event in self.classify(path, is_directory=event.is_directory):
                if watch_event.kind == "favorites":
                    self._wake.set()  # the link may point elsewhere now: look again
                elif watch_event.kind == "run" and path.parent == self._data_dir / RUNS_DIR:
                    self._links_stale = True  # runs/<id> itself came or went: a link?
                    self._wake.set()
                self._emit(watch_event)

    def classify(self, path: Path, *, is_directory: bool = False) -> list[WatchEvent]:
        """The WatchEvents a change to ``path`` (inside the data folder) stands for.

        Args:
            path: An absolute path inside the data folder.
            is_directory: Whether it is (or was) a folder.

        Returns:
            Zero, one or two events ("run" and "image" for an image inside a run).
        """
        try:
            parts = path.relative_to(self._data_dir).parts
        except ValueError:
            return []
        if not parts:
            return []
        top = parts[0]
        is_image = not is_directory and path.suffix.lower() in IMAGE_SUFFIXES
        if len(parts) == 1:
            if top == self._favorites_name:
                return [WatchEvent("favorites", path)]
            if top.startswith(("." + self._favorites_name, self._favorites_stem + ".")):
                return []  # our temp and lock files, Node's lock folder, set-aside copies
            if top == RUNS_DIR:
                return [WatchEvent("data_dir", path)]
        if top == RUNS_DIR:
            run_id = parts[1]
            if run_id.startswith("."):
                return []  # .DS_Store and friends: not a run
            events = [WatchEvent("run", path, run_id)]
            if is_image:
                events.append(WatchEvent("image", path, run_id))
            return events
        if top.startswith(("." + self._favorites_name, self._favorites_stem + ".")):
            return []
        for target, run_id in self._linked_runs.items():
            if path.is_relative_to(target):  # inside a run folder reached through a link
                events = [WatchEvent("run", path, run_id)]
                if is_image:
                    events.append(WatchEvent("image", path, run_id))
                return events
        return [WatchEvent("image", path)] if is_image else []

    def _emit(self, event: WatchEvent) -> None:
        if self._stopped:
            return
        try:
            self._on_event(event)
        except Exception:  # an exception here would end watchdog's thread
            log.exception("watch event handler failed on %s", event)


class _Handler(FileSystemEventHandler):
    """Forwards every watchdog event to one callable."""

    def __init__(self, callback: Callable[[FileSystemEvent], None]) -> None:
        super().__init__()
        self._callback = callback

    def dispatch(self, event: FileSystemEvent) -> None:
        self._callback(event)


def _event_paths(event: FileSystemEvent) -> list[str]:
    """Both ends of a move (atomic replaces arrive as moves), else the one path."""
    paths = [os.fsdecode(event.src_path)] if event.src_path else []
    if event.dest_path:
        paths.append(os.fsdecode(event.dest_path))
    return paths


def _watch_limit_reached(folder: Path) -> OSError | None:
    """The error when inotify refuses one more watch (its per-user limit), else None.

    Probes with an inotify instance of its own, closed at once. Only ENOSPC counts;
    anything else (no inotify here, a folder gone meanwhile) says nothing about the limit.
    """
    try:
        from watchdog.observers import inotify_c
    except Exception:  # not Linux: no inotify, no limit to probe
        return None
    fd = inotify_c.inotify_init()
    if fd < 0:
        return None
    try:
        if inotify_c.inotify_add_watch(fd, os.fsencode(folder), _IN_ATTRIB) >= 0:
            return None
        if ctypes.get_errno() != errno.ENOSPC:
            return None
        return OSError(errno.ENOSPC, "inotify watch limit reached")
    finally:
        os.close(fd)  # and the probe's watch with it


def _dir_ident(path: Path) -> tuple[int, int] | None:
    """(device, inode) of a folder, or None when it is missing or not a folder."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not os.path.isdir(path):
        return None
    return st.st_dev, st.st_ino
