"""The shared favorites file: hearts and usage counts, safe across threads, processes, crashes."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from gallery_desktop.core import fsutil
from gallery_desktop.core.errors import FavoritesWriteError
from gallery_desktop.core.favorites_disk import (
    Signature,
    Snapshot,
    WriterLock,
    lock_path_for,
    look,
    set_aside,
)
from gallery_desktop.core.favorites_format import (
    FAVORITES_KEY,
    USAGE_KEY,
    FavoritesData,
    render,
)

__all__ = ["LOCK_TIMEOUT_S", "PARSE_RETRY_S", "FavoritesStore", "lock_path_for"]

log = logging.getLogger(__name__)

LOCK_TIMEOUT_S = 5.0
# How often a write is made again because the file changed while it was being made (the
# web server writes without our lock); the last attempt replaces the file regardless.
WRITE_ATTEMPTS = 3
PARSE_RETRY_S = 1.0


class FavoritesStore:
    """Hearts and usage counts in ``gallery-favorites.json``, shared with the web studio.

    Readers (``is_favorite``, ``favorites`` ...) only look at memory and are cheap on any
    thread. Writers apply their change as an operation on what is on disk now, under a
    cross-process lock, and update memory only once the file is safely replaced; on
    failure they raise ``FavoritesWriteError`` and leave memory and file as they were.
    ``load`` and ``reload_if_changed`` read the disk: call them off the GUI thread.

    A file that stays unparseable is never overwritten silently: the store keeps what
    it knew (nothing, on a first load), reports it in ``problem`` and, just before its
    next write, moves the file aside to ``gallery-favorites.corrupt-<UTC time>.json``.
    A blank file holds nothing to lose and is simply replaced. The parsing rules are in
    ``favorites_format.parse``.
    """

    def __init__(self, path: Path, *, lock_timeout: float = LOCK_TIMEOUT_S,
                 parse_retry_s: float = PARSE_RETRY_S) -> None:
        """Create a store; nothing is read until ``load``.

        Args:
            path: The favorites file (``<data>/gallery-favorites.json``).
            lock_timeout: Seconds a write waits for another process's lock.
            parse_retry_s: Seconds a read keeps retrying a file that does not parse,
                since the web server rewrites it in place and may be half-way through.
        """
        self._path = Path(path)
        self._lock_timeout = lock_timeout
        self._parse_retry_s = parse_retry_s
        # Next to the file that is written, not the link to it: two links to one file
        # (two data folders, two spellings) must share one lock. Re-made when the link
        # is pointed elsewhere.
        self._file_lock = WriterLock(lock_path_for(self._written_path()))
        self._io_lock = threading.Lock()  # one disk operation at a time; held across I/O
        self._state_lock = threading.Lock()  # guards memory; never held across I/O
        self._doc = FavoritesData()
        self._frozen: frozenset[str] | None = None
        self._sig: Signature | None = None
        self._data: bytes | None = None  # the bytes behind _sig, for racy comparisons
        self._problem: str | None = None
        self._bad_on_disk = False
        self._external_change = False  # merged by a write, not yet reported by a reload

    @property
    def path(self) -> Path:
        """The favorites file."""
        return self._path

    @property
    def problem(self) -> str | None:
        """Why the file could not be used, for people; None when all is well."""
        with self._state_lock:
            return self._problem

    # -- readers: memory only ------------------------------------------------------------

    def is_favorite(self, image_id: str) -> bool:
        """Whether ``image_id`` has a heart."""
        with self._state_lock:
            return image_id in self._doc.favorites

    def get_usage_count(self, image_id: str) -> int:
        """How often ``image_id`` was used (0 when never)."""
        with self._state_lock:
            return self._doc.usage.get(image_id, 0)

    def favorites(self) -> frozenset[str]:
        """The ids with a heart."""
        with self._state_lock:
            if self._frozen is None:
                self._frozen = frozenset(self._doc.favorites)
            return self._frozen

    def usage_counts(self) -> dict[str, int]:
        """A copy of all usage counts."""
        with self._state_lock:
            return dict(self._doc.usage)

    # -- reading the disk ----------------------------------------------------------------

    def load(self) -> None:
        """(Re)read the file; never raises for bad content or I/O trouble (see ``problem``).

        Also removes temp files that crashed writers left behind.
        """
        with self._io_lock:
            fsutil.remove_stale_temp_files(self._written_path())
            self._sig = None  # force a full read
            self._refresh()

    def reload_if_changed(self) -> bool:
        """Re-read the file if it changed on disk since we last read or wrote it.

        Returns:
            True when favorites or usage counts in memory changed, by this reload or by
            another process's changes that one of our writes merged since the last call.
        """
        with self._io_lock:
            return self._refresh()

    def _refresh(self) -> bool:
        try:
            disk = look(self._path, self._sig, self._data, self._parse_retry_s)
        except OSError as err:
            self._set_problem(self._describe(err))
            return self._take_external_change()
        if disk.unchanged:
            return self._take_external_change()
        if disk.bad is not None:
            self._sig, self._data, self._bad_on_disk = disk.sig, disk.data, True
            self._set_problem(self._describe_bad(disk.bad))
            return self._take_external_change()
        changed = self._adopt(disk)
        return self._take_external_change() or changed

    def _take_external_change(self) -> bool:
        changed, self._external_change = self._external_change, False
        return changed

    def _set_problem(self, problem: str) -> None:
        log.warning("%s", problem)
        with self._state_lock:
            self._problem = problem

    def _describe(self, err: OSError) -> str:
        reason = err.strerror or str(err)
        return f"The favorites file {self._path} cannot be used: {reason}."

    def _describe_bad(self, reason: str) -> str:
        kept = f"{self._path.stem}.corrupt-<time>{self._path.suffix}"
        with self._state_lock:
            known = bool(self._doc.favorites or self._doc.usage)
        if known:  # read well before: those hearts stay, and the next change writes them
            return (f"The favorites file {self._path} could not be read: {reason}. The "
                    f"hearts and use counts read before stay; at the first change the file "
                    f"will be kept as {kept} and they are written back with it.")
        return (f"The favorites file {self._path} could not be read: {reason}. Starting "
                f"with no favorites; the file will be kept as {kept} at the first change.")

    # -- writers -------------------------------------------------------------------------

    def set_favorite(self, image_id: str, value: bool) -> bool:
        """Give ``image_id`` a heart or take it away (idempotent: no write when already so).

        Returns:
            The new value.

        Raises:
            FavoritesWriteError: the change could not be saved; nothing changed.
        """
        return bool(self._write(FAVORITES_KEY, image_id, lambda doc: bool(value)))

    def toggle_favorite(self, image_id: str) -> bool:
        """Flip ``image_id``'s heart as it is on disk now.

        Returns:
            The new value.

        Raises:
            FavoritesWriteError: the change could not be saved; nothing changed.
        """
        return bool(self._write(FAVORITES_KEY, image_id,
                                lambda doc: image_id not in doc.favorites))

    def increment_usage(self, image_id: str) -> int:
        """Count one more use of ``image_id``, on top of the count on disk now.

        Returns:
            The new count.

        Raises:
            FavoritesWriteError: the change could not be saved; nothing changed.
        """
        return int(self._write(USAGE_KEY, image_id,
                               lambda doc: doc.usage.get(image_id, 0) + 1))

    def _write(self, section: str, image_id: str,
               decide: Callable[[FavoritesData], int]) -> int:
        with self._io_lock:
            try:
                self._path.parent.mkdir(parents=True, exist_ok=True)
                with self._locked():
                    for attempt in range(1, WRITE_ATTEMPTS + 1):
                        try:
                            return self._commit(section, image_id, decide,
                                                check=attempt < WRITE_ATTEMPTS)
                        except fsutil.Superseded:
                            log.info("%s changed during our write: merging again", self._path)
                    raise AssertionError("unreachable: the last attempt is not checked")
            except FavoritesWriteError:
                raise
            except OSError as err:
                raise self._write_error(err.strerror or str(err), err) from err

    def _written_path(self) -> Path:
        """The file writes replace: ``path``, or the file it links to (see write_atomic)."""
        return Path(os.path.realpath(self._path)) if self._path.is_symlink() else self._path

    @contextmanager
    def _locked(self) -> Iterator[None]:
        lock_path = lock_path_for(self._written_path())
        if lock_path != self._file_lock.path:
            self._file_lock = WriterLock(lock_path)
        if not self._file_lock.acquire(self._lock_timeout):
            reason = (f"another gallery-desktop process has held "
                      f"{lock_path.name} for over {self._lock_timeout:g} s")
            raise self._write_error(reason, TimeoutError(reason))
        try:
            yield
        finally:
            self._file_lock.release()

    def _write_error(self, reason: str, cause: OSError) -> FavoritesWriteError:
        error = FavoritesWriteError(f"Could not save favorites to {self._path}: {reason}")
        error.errno = cause.errno
        return error

    def _commit(self, section: str, image_id: str, decide: Callable[[FavoritesData], int],
                check: bool = True) -> int:
        """Apply one change on top of the file as it is now; the file lock is held.

        Raises:
            fsutil.Superseded: ``check`` is on and the file changed while the new one was
                being written (nothing was replaced: merge again).
        """
        disk = look(self._path, self._sig, self._data, self._parse_retry_s)
        if disk.unchanged or disk.bad is not None:
            doc, merged = self._doc, None
        else:
            doc, merged = disk.doc or FavoritesData(), disk
        bad = self._bad_on_disk if disk.unchanged else disk.bad is not None
        new = decide(doc)
        if section == FAVORITES_KEY:
            old, value = int(image_id in doc.favorites), "true" if new else None
        else:
            old, value = doc.usage.get(image_id, 0), str(new)
        if new == old:  # e.g. set_favorite to what it already is: nothing to write
            if merged is not None and self._adopt(merged):
                self._external_change = True
            return new
        # The section caches only mirror doc's dicts, so filling them changes nothing.
        change = doc.section(section).planned(image_id, value)
        data = render(doc, (section, change))
        # A file with entries we could not read loses them by this write: keep it, as a bad one.
        lossy = not bad and doc.unread > 0
        aside = (set_aside(self._path, disk.data or self._data or b"") if bad or lossy
                 else None)
        base = disk.sig  # the version the new content is made from (None: there was none)
        if aside is not None and base is not None:
            # Keeping it by a hard link gave the file a new ctime: the same file (inode,
            # size, mtime) is still the version read, under its ctime from now on.
            with suppress(OSError):
                now = self._stat_signature()
                if now is not None and base.same_file(now):
                    base = now
        try:
            written = fsutil.write_atomic(self._path, data,
                                          (lambda: self._still(base)) if check else None)
        except BaseException:
            if aside is not None:  # the bad file itself is still in place
                with suppress(OSError):
                    aside.unlink()
            raise
        if aside is not None and lossy:
            log.warning("kept a copy of the favorites file %s as %s: %d entries in it could "
                        "not be read and are not written back", self._path, aside, doc.unread)
        elif aside is not None:
            log.warning("moved the unreadable favorites file %s aside to %s", self._path, aside)
        self._sig = Signature.written(written)
        self._data = data
        self._bad_on_disk = False
        with self._state_lock:
            if merged is not None and not self._external_change:
                self._external_change = (doc.favorites != self._doc.favorites
                                         or doc.usage != self._doc.usage)
            if section == FAVORITES_KEY:
                if new:
                    doc.favorites[image_id] = True
                else:
                    del doc.favorites[image_id]
                self._frozen = None
            else:
                doc.usage[image_id] = new
            doc.section(section).apply(image_id, value, change)
            doc.unread = 0  # the file now holds only what we could read
            if doc is not self._doc:
                self._frozen = None
            self._doc, self._problem = doc, None
        return new

    def _stat_signature(self) -> Signature | None:
        """The file's signature from a fresh stat (None: there is no file).

        Raises:
            OSError: the stat failed otherwise.
        """
        try:
            return Signature.of(os.stat(self._path), time.time_ns())
        except FileNotFoundError:
            return None

    def _still(self, base: Signature | None) -> bool:
        """Whether the file is still the version ``base`` describes (a fresh stat)."""
        try:
            now = self._stat_signature()
        except OSError:
            return True  # the write itself will say what is wrong
        if now is None or base is None:
            return now is base
        return base.same_file(now) and base.ctime_ns == now.ctime_ns

    def _adopt(self, disk: Snapshot) -> bool:
        """Make what ``look`` read the memory; True when favorites or counts changed."""
        self._sig, self._data, self._bad_on_disk = disk.sig, disk.data, False
        new = disk.doc or FavoritesData()
        with self._state_lock:
            old = self._doc
            changed = new.favorites != old.favorites or new.usage != old.usage
            self._doc, self._frozen, self._problem = new, None, None
        return changed
