"""File-system helpers: the one place that writes files atomically."""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

TEMP_SUFFIX = ".tmp"

# On Windows os.replace fails with a sharing violation while another process has the
# target open (antivirus, indexers, the web server reading it): retry for a short while.
_REPLACE_RETRIES = 20 if sys.platform == "win32" else 1
_REPLACE_DELAY_S = 0.025


def _umask() -> int:
    """The process umask, read without changing it (os.umask would race other threads)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def _existing(path: Path) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None


def _new_file_mode(existing: os.stat_result | None) -> int:
    """Keep an existing file's permissions; a new file gets what ``open()`` would give it."""
    return stat.S_IMODE(existing.st_mode) if existing is not None else 0o666 & ~_umask()


def _keep_owner(fd: int, existing: os.stat_result | None) -> None:
    """Give the new file the old one's owner and group, as far as we may.

    A file shared with the web server (its account, or a shared group) must stay writable
    for it. Only root can give a file away; anyone can set a group they belong to.
    """
    if existing is None or not hasattr(os, "fchown"):
        return
    mine = os.fstat(fd)
    if (mine.st_uid, mine.st_gid) == (existing.st_uid, existing.st_gid):
        return
    for uid in (existing.st_uid, -1):
        try:
            os.fchown(fd, uid, existing.st_gid)
            return
        except PermissionError:
            continue
        except OSError as err:  # e.g. a file system without owners
            log.debug("cannot keep the owner of %d: %s", fd, err)
            return


def temp_prefix(path: Path) -> str:
    """The prefix of the temp files that ``write_atomic`` makes next to ``path``."""
    return f".{path.name}."


def replace(src: Path | str, dst: Path | str) -> None:
    """``os.replace`` that rides out brief sharing violations on Windows."""
    for attempt in range(_REPLACE_RETRIES):
        try:
            os.replace(src, dst)
            return
        except PermissionError:
            if attempt == _REPLACE_RETRIES - 1:
                raise
            time.sleep(_REPLACE_DELAY_S)


def fsync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable (a no-op where directories can't be opened)."""
    if sys.platform == "win32":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# Windows cannot rename a file that is open, and its st_ctime is the creation time.
_KEEP_OPEN_ACROSS_RENAME = sys.platform != "win32"


def _probe_clock(fd: int, mode: int) -> os.stat_result:
    """Stat the fsynced temp file after stamping its ctime with the file system's clock.

    The chmod changes nothing (same mode) but the ctime, taken from the same clock that
    stamps mtimes. A ctime later than the mtime proves that clock had moved past the mtime
    before the rename: whoever writes the file after the rename stamps a later mtime. (The
    fstat before it marks the timestamps as seen, so a multigrain file system, Linux 6.13+,
    stamps the chmod finely instead of within the same coarse tick.)
    """
    if not _KEEP_OPEN_ACROSS_RENAME:
        return os.fstat(fd)
    os.fstat(fd)
    os.fchmod(fd, mode)
    return os.fstat(fd)


def _after_rename(fd: int, before: os.stat_result) -> os.stat_result:
    """The stat of the renamed file: the rename stamped its ctime, which later checks see."""
    if not settled(before):
        return before  # nothing is proven: the caller compares content
    try:
        after = os.fstat(fd)
    except OSError:
        return before  # the write is done all the same; ``before`` only means a re-read
    if (after.st_mtime_ns, after.st_size) != (before.st_mtime_ns, before.st_size):
        # Another process wrote the file in the instant since the rename: what is there is
        # not ours, and ``before`` no longer describes it, as a caller will find.
        return before
    return after


def settled(written: os.stat_result) -> bool:
    """Whether no later write can give the file ``written``'s mtime (a coarse clock could).

    Args:
        written: What ``write_atomic`` returned.

    Returns:
        True when the file system's clock had passed the mtime before the rename, so an
        unchanged (mtime, size, inode, ctime) means unchanged content; False where that is
        unknown (a coarse clock within one tick, or Windows) and content must be compared.
    """
    return _KEEP_OPEN_ACROSS_RENAME and written.st_ctime_ns > written.st_mtime_ns


class Superseded(Exception):
    """``write_atomic``'s ``still_current`` said the file changed while the write was made:
    nothing was replaced."""


def write_atomic(path: Path, data: bytes,
                 still_current: Callable[[], bool] | None = None) -> os.stat_result:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never a mix.

    Writes a temp file in the same folder (with ``path``'s permissions, owner and group
    as far as allowed, or the umask's for a new file), fsyncs it, renames it over
    ``path`` and fsyncs the folder. On any failure the temp file is removed and ``path``
    is untouched. Once the rename is done the write counts as done: a failing folder
    fsync is only logged.

    Args:
        path: The file to (re)place; its folder must exist. A symlink stays a link: the
            file it points to is replaced, with the temp file in that file's folder.
        data: The complete new content.
        still_current: Asked once the temp file is written and fsynced, right before the
            rename: False (the file changed since ``data`` was made from it, by a writer
            that takes no lock) removes the temp file and raises ``Superseded``. The fsync
            is most of a write's time; this leaves such a writer a window of microseconds.

    Returns:
        The ``stat`` of the written file through its own descriptor, never a second, racy
        ``stat`` of ``path``: so a caller can tell its own write from a later one by another
        process. When ``settled`` says so, nobody can later give the file this same mtime.

    Raises:
        OSError: the write, the fsync or the rename failed.
        Superseded: ``still_current`` returned False.
    """
    if os.path.islink(path):
        # Renaming over the link would turn it into a plain file here and leave the file it
        # names (on a synced drive, say) behind with stale content.
        path = Path(os.path.realpath(path))
    existing = _existing(path)
    mode = _new_file_mode(existing)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=temp_prefix(path), suffix=TEMP_SUFFIX)
    try:
        try:
            if hasattr(os, "fchmod"):
                # mkstemp makes 0600 files: other readers (the web server, when it runs
                # as another user) would lose access after our first write.
                _keep_owner(fd, existing)  # first: a change of owner may clear mode bits
                os.fchmod(fd, mode)
            # Raw os.write: no extra buffer copy of large payloads, and a full disk
            # surfaces here as OSError(ENOSPC) rather than later on close.
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
            written = _probe_clock(fd, mode)
            if still_current is not None and not still_current():
                raise Superseded(f"{path} changed while it was being written")
            if _KEEP_OPEN_ACROSS_RENAME:
                replace(tmp, path)
                written = _after_rename(fd, written)
        finally:
            os.close(fd)
        if not _KEEP_OPEN_ACROSS_RENAME:
            replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(tmp).unlink(missing_ok=True)
        raise
    try:
        fsync_dir(path.parent)
    except OSError as err:
        # The new file is complete, fsynced and in place: reporting failure now would make
        # callers believe nothing changed. Only the rename's survival of a power cut is open.
        log.warning("could not fsync folder %s after replacing %s: %s", path.parent, path.name, err)
    return written


def remove_stale_temp_files(path: Path, older_than_s: float = 60.0) -> list[Path]:
    """Delete temp files that an earlier, crashed ``write_atomic`` left next to ``path``.

    Args:
        path: The file whose temp files to look for.
        older_than_s: Only files at least this old go, so a write in progress in another
            process keeps its temp file.

    Returns:
        The paths removed.
    """
    removed: list[Path] = []
    now = time.time()
    try:
        candidates = list(path.parent.glob(temp_prefix(path) + "*" + TEMP_SUFFIX))
    except OSError:
        return removed
    for candidate in candidates:
        try:
            if now - candidate.stat().st_mtime >= older_than_s:
                candidate.unlink()
                removed.append(candidate)
        except OSError:
            continue
    return removed
