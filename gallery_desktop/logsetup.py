"""Logging to a rotating file in the user's log folder, and crash reports for unexpected errors."""

from __future__ import annotations

import contextlib
import faulthandler
import logging
import logging.handlers
import os
import platform
import sys
import threading
import traceback
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from types import TracebackType
from typing import IO

log = logging.getLogger(__name__)

APP_NAME = "gallery-desktop"
LOG_FILENAME = f"{APP_NAME}.log"
# faulthandler's output for crashes Python cannot report itself (segfaults, aborts in Qt).
FAULT_FILENAME = "fatal-errors.log"
MAX_BYTES = 1024 * 1024
BACKUP_COUNT = 5
FILE_FORMAT = "%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"
CONSOLE_FORMAT = "%(levelname)s %(name)s: %(message)s"
# The distributions whose versions a crash report names (the app's own comes first).
REPORTED_PACKAGES = ("gallery-desktop", "PySide6-Essentials", "Pillow", "watchdog", "filelock",
                     "orjson")

_OURS = "_gallery_desktop_handler"  # marks the handlers set up here, so a second call replaces them
_fault_file: IO[str] | None = None  # kept open for faulthandler for the life of the process


def _mark(handler: logging.Handler) -> logging.Handler:
    setattr(handler, _OURS, True)
    return handler


def _remove_ours(root: logging.Logger) -> None:
    for handler in [h for h in root.handlers if getattr(h, _OURS, False)]:
        root.removeHandler(handler)
        handler.close()


def setup_logging(log_dir: Path, *, verbose: bool, max_bytes: int = MAX_BYTES,
                  backup_count: int = BACKUP_COUNT) -> Path:
    """Log to a rotating file in ``log_dir``, and to the console with ``verbose``.

    The file gets INFO and above (everything with ``verbose``); the console (stderr) is
    used only with ``verbose``. Calling it again replaces the handlers it set up before and
    leaves any others alone.

    Args:
        log_dir: The folder for the log file; created when missing.
        verbose: Log DEBUG too, and echo everything to stderr.
        max_bytes: Size at which the log file rolls over.
        backup_count: How many rolled-over files to keep.

    Returns:
        The log file (``gallery-desktop.log`` in ``log_dir``).

    Raises:
        OSError: ``log_dir`` or the log file cannot be created. Warnings (everything with
            ``verbose``) then still reach stderr, so nothing is lost silently.
    """
    root = logging.getLogger()
    _remove_ours(root)
    level = logging.DEBUG if verbose else logging.INFO
    root.setLevel(level)
    console = _mark(logging.StreamHandler(sys.stderr))
    console.setFormatter(logging.Formatter(CONSOLE_FORMAT))
    if verbose:
        console.setLevel(logging.DEBUG)
        root.addHandler(console)
    log_file = log_dir / LOG_FILENAME
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
        # backslashreplace: a file name that is not UTF-8 (kept by Python as surrogate
        # escapes) must not cost the whole line.
        handler = logging.handlers.RotatingFileHandler(
            log_file, maxBytes=max_bytes, backupCount=backup_count, encoding="utf-8",
            errors="backslashreplace")
    except OSError:
        if not verbose:
            # Without a file, warnings and errors are all a person will get to see.
            console.setLevel(logging.WARNING)
            root.addHandler(console)
        raise
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter(FILE_FORMAT))
    root.addHandler(_mark(handler))
    return log_file


def package_versions() -> dict[str, str]:
    """The installed versions of the app and its main dependencies ("not installed" if not)."""
    versions: dict[str, str] = {}
    for name in REPORTED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    if versions[REPORTED_PACKAGES[0]] == "not installed":
        # Run from a source tree without being installed: the package knows its version.
        from gallery_desktop import __version__

        versions[REPORTED_PACKAGES[0]] = f"{__version__} (not installed)"
    return versions


def crash_report_text(kind: type[BaseException], value: BaseException | None,
                      tb: TracebackType | None, thread_name: str) -> str:
    """The text of a crash report: when, where, which versions, and the traceback.

    Args:
        kind: The exception's type.
        value: The exception.
        tb: Its traceback.
        thread_name: The thread it was raised in.

    Returns:
        The report, ending with the formatted traceback.
    """
    lines = [
        f"{APP_NAME} crash report",
        f"time: {datetime.now(UTC).isoformat(timespec='seconds')}",
        f"thread: {thread_name}",
        f"process: {os.getpid()} {sys.argv!r}",
        f"python: {sys.version.replace(chr(10), ' ')} ({sys.executable})",
        f"platform: {platform.platform()}",
        *(f"{name}: {version}" for name, version in package_versions().items()),
        "",
        "".join(traceback.format_exception(kind, value, tb)),
    ]
    return "\n".join(lines)


def write_crash_report(log_dir: Path, text: str, suffix: str = "") -> Path:
    """Write ``text`` to a new ``crash-<UTC timestamp><suffix>.txt`` in ``log_dir``.

    Args:
        log_dir: The log folder; created when missing.
        text: The report.
        suffix: Appended to the timestamp (e.g. ``-fatal``).

    Returns:
        The new file; a second report in the same second gets ``-2``, ``-3``...

    Raises:
        OSError: the report could not be written.
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    n = 1
    while True:
        path = log_dir / f"crash-{stamp}{suffix}{'' if n == 1 else f'-{n}'}.txt"
        try:
            with open(path, "x", encoding="utf-8", errors="backslashreplace") as f:
                f.write(text)
            return path
        except FileExistsError:
            n += 1


def _report(log_dir: Path, kind: type[BaseException], value: BaseException | None,
            tb: TracebackType | None, thread_name: str) -> None:
    """Log an unexpected exception and leave a crash report; never raises."""
    try:
        text = crash_report_text(kind, value, tb, thread_name)
    except Exception:  # a failing report must not hide the error itself
        text = "".join(traceback.format_exception(kind, value, tb))
    log.critical("unexpected error in thread %s:\n%s", thread_name,
                 "".join(traceback.format_exception(kind, value, tb)))
    try:
        path = write_crash_report(log_dir, text)
    except Exception as err:  # the hook must never raise
        log.error("could not write a crash report to %s: %s", log_dir, err)
        _tell(f"{APP_NAME}: unexpected error ({kind.__name__}: {value}); no crash report "
              f"could be written to {log_dir}: {err}")
        return
    log.critical("crash report written to %s", path)
    _tell(f"{APP_NAME}: unexpected error ({kind.__name__}: {value}), report written to {path}")


def _tell(message: str) -> None:
    """Print to stderr whatever its encoding (a non-UTF-8 file name may be in it)."""
    with contextlib.suppress(Exception):
        stream = sys.stderr
        encoding = getattr(stream, "encoding", None) or "utf-8"
        print(message.encode(encoding, "backslashreplace").decode(encoding), file=stream)


def _collect_hard_crash(fault_path: Path) -> Path | None:
    """Turn what faulthandler wrote during an earlier run into a crash report."""
    try:
        if fault_path.stat().st_size == 0:
            return None
        text = fault_path.read_text(encoding="utf-8", errors="replace")
        path = write_crash_report(
            fault_path.parent,
            f"{APP_NAME} crash report\nan earlier run stopped with a fatal error:\n\n{text}",
            "-fatal")
        fault_path.unlink()
    except OSError:
        return None
    log.warning("an earlier run stopped with a fatal error; report: %s", path)
    return path


def install_crash_handler(log_dir: Path) -> None:
    """Report unexpected exceptions in a crash file in ``log_dir`` instead of vanishing.

    Uncaught exceptions of the main thread (``sys.excepthook``, which also sees
    exceptions escaping Qt slots) and of other threads (``threading.excepthook``) are
    logged and written to ``crash-<UTC timestamp>.txt`` with the traceback, versions and
    platform, and the report's path is printed on stderr. Hard crashes (segfaults,
    aborts) are written by ``faulthandler`` to ``fatal-errors.log`` there, which the next
    start turns into a ``crash-<UTC timestamp>-fatal.txt``.

    Args:
        log_dir: The log folder; created when missing.
    """
    global _fault_file

    def on_exception(kind: type[BaseException], value: BaseException,
                     tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, value, tb)
            return
        _report(log_dir, kind, value, tb, threading.current_thread().name)

    def on_thread_exception(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return  # a thread's normal way to stop, as the default hook treats it
        name = args.thread.name if args.thread is not None else "unknown"
        _report(log_dir, args.exc_type, args.exc_value, args.exc_traceback, name)

    sys.excepthook = on_exception
    threading.excepthook = on_thread_exception
    fault_path = log_dir / FAULT_FILENAME
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
        _collect_hard_crash(fault_path)
        previous, _fault_file = _fault_file, open(fault_path, "a", encoding="utf-8")  # noqa: SIM115
        faulthandler.enable(file=_fault_file, all_threads=True)
        if previous is not None:
            previous.close()
    except OSError as err:
        log.warning("fatal errors will not be recorded in %s: %s", log_dir, err)
