"""Entry point: command line, display check, logging, application metadata, wiring, snapshots."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from PySide6.QtCore import (
    QEventLoop,
    QMessageLogContext,
    QStandardPaths,
    QTimer,
    QtMsgType,
    qInstallMessageHandler,
)
from PySide6.QtWidgets import QApplication

from gallery_desktop import __version__, logsetup
from gallery_desktop.logsetup import install_crash_handler
from gallery_desktop.qt import icons
from gallery_desktop.qt.controller import GalleryController
from gallery_desktop.qt.main_window import MainWindow
from gallery_desktop.qt.settings import AppSettings
from gallery_desktop.qt.theme import apply_theme

log = logging.getLogger(__name__)

APP_NAME = "gallery-desktop"
DISPLAY_NAME = "Gallery"
ORGANIZATION = "gallery-desktop"
DATA_DIR_ENV = "GALLERY_DATA_DIR"
LOG_DIR_ENV = "GALLERY_LOG_DIR"
SNAPSHOT_SIZE = (1280, 800)
SNAPSHOT_TIMEOUT_S = 60.0
EXIT_NO_DISPLAY = 2
EXIT_USAGE = 2

NO_DISPLAY_MESSAGE = (
    "gallery-desktop: no display found (DISPLAY and WAYLAND_DISPLAY are not set); "
    "start it from a desktop session, or run headless with QT_QPA_PLATFORM=offscreen "
    "(e.g. with --snapshot) or under xvfb-run.")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line (``--version`` prints and exits here).

    Args:
        argv: the arguments without the program name; None means ``sys.argv[1:]``.

    Returns:
        The namespace with ``data_dir``, ``snapshot`` and ``verbose``.
    """
    parser = argparse.ArgumentParser(
        prog=APP_NAME,
        description="A desktop gallery for the images an AI content studio writes to "
                    "<data>/runs/<runId>/, with hearts shared through "
                    "<data>/gallery-favorites.json.")
    parser.add_argument("--data-dir", type=Path, metavar="DIR",
                        help=f"the studio's data folder (default: ${DATA_DIR_ENV}, else the "
                             "folder used last, else ./data)")
    parser.add_argument("--snapshot", type=Path, metavar="PNG",
                        help="render the window offscreen once the images are shown, save it "
                             "as PNG and exit")
    parser.add_argument("--verbose", "-v", action="store_true",
                        help="log details to the console")
    parser.add_argument("--version", action="version", version=f"{APP_NAME} {__version__}")
    return parser.parse_args(argv)


def display_problem(env: Mapping[str, str], platform: str = sys.platform) -> str | None:
    """Why Qt could not open a window here, or None when it can.

    On Linux and other X11/Wayland systems a GUI needs ``DISPLAY`` or ``WAYLAND_DISPLAY``,
    unless ``QT_QPA_PLATFORM`` picks a platform that needs neither (offscreen, vnc…).
    Without this check Qt aborts with a core dump.
    """
    if platform in ("win32", "darwin") or platform.startswith("cygwin"):
        return None
    if any(env.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")):
        return None
    return NO_DISPLAY_MESSAGE


def resolve_data_dir(cli: Path | None, env: Mapping[str, str], last_used: Path | None,
                     cwd: Path) -> Path | None:
    """Choose the data folder: ``--data-dir``, ``$GALLERY_DATA_DIR``, last used, ``./data``.

    A remembered or environment folder that no longer exists is passed over; the command
    line is taken as given (the caller checks it).

    Returns:
        The folder, or None when there is none (the window then offers to open one).
    """
    if cli is not None:
        return cli.expanduser()
    from_env = env.get(DATA_DIR_ENV, "").strip()
    if from_env:
        path = Path(from_env).expanduser()
        if path.is_dir():
            return path
        log.warning("%s=%s is not a folder; ignoring it", DATA_DIR_ENV, from_env)
    if last_used is not None and last_used.is_dir():
        return last_used
    default = cwd / "data"
    return default if default.is_dir() else None


def user_dir(kind: str) -> Path:
    """The app's folder for ``kind`` ("cache" or "logs") under the user's standard folders."""
    # Generic locations plus our name: Qt's app-specific ones would repeat the name, since
    # the organization and the application are both "gallery-desktop".
    loc = (QStandardPaths.StandardLocation.GenericCacheLocation if kind == "cache"
           else QStandardPaths.StandardLocation.GenericStateLocation)
    base = QStandardPaths.writableLocation(loc) or tempfile.gettempdir()
    path = Path(base) / APP_NAME
    return path / "logs" if kind == "logs" else path


def log_dir_for(env: Mapping[str, str]) -> Path:
    """The log folder: ``$GALLERY_LOG_DIR`` when set, else the user's log folder."""
    from_env = env.get(LOG_DIR_ENV, "").strip()
    return Path(from_env).expanduser() if from_env else user_dir("logs")


def configure_logging(verbose: bool, log_dir: Path | None) -> Path | None:
    """Log to a rotating file in ``log_dir``, and to the console with ``verbose``.

    Returns:
        The log file, or None when there is no usable log folder (then warnings, or
        everything with ``verbose``, go to stderr).
    """
    if log_dir is None:
        logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING,
                            format=logsetup.CONSOLE_FORMAT)
        return None
    try:
        return logsetup.setup_logging(log_dir, verbose=verbose)
    except OSError as err:
        log.warning("not logging to a file in %s: %s", log_dir, err)
        return None


# Qt warnings that say nothing about this app (the offscreen platform used for snapshots
# and tests cannot resize windows to their hints).
_QT_NOISE = ("This plugin does not support propagateSizeHints()",)
_QT_LEVELS = {
    QtMsgType.QtDebugMsg: logging.DEBUG,
    QtMsgType.QtInfoMsg: logging.INFO,
    QtMsgType.QtWarningMsg: logging.WARNING,
    QtMsgType.QtCriticalMsg: logging.ERROR,
    QtMsgType.QtFatalMsg: logging.CRITICAL,
}


def _qt_message(kind: QtMsgType, context: QMessageLogContext, message: str) -> None:
    level = logging.DEBUG if message in _QT_NOISE else _QT_LEVELS.get(kind, logging.WARNING)
    logging.getLogger("qt").log(level, "%s", message)


def route_qt_messages() -> None:
    """Send Qt's own messages through ``logging`` (so they reach the log file, not just stderr)."""
    qInstallMessageHandler(_qt_message)


def create_application(argv: Sequence[str]) -> QApplication:
    """The QApplication with the app's names, version, icon and look.

    Args:
        argv: arguments for Qt (after the program name).
    """
    QApplication.setApplicationName(APP_NAME)
    QApplication.setOrganizationName(ORGANIZATION)
    QApplication.setApplicationVersion(__version__)
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication([APP_NAME, *argv])
    app.setApplicationDisplayName(DISPLAY_NAME)
    app.setDesktopFileName(APP_NAME)  # matches resources/gallery-desktop.desktop
    app.setWindowIcon(icons.app_icon())
    apply_theme(app)
    return app


def wait_until_settled(window: MainWindow, controller: GalleryController,
                       timeout_s: float = SNAPSHOT_TIMEOUT_S) -> bool:
    """Run the event loop until the scan and the visible thumbnails are done.

    "Done" must hold on two checks in a row, so a report of visible rows or a thumbnail
    still queued between threads cannot slip through.

    Returns:
        True when settled, False when ``timeout_s`` ran out first.
    """
    deadline = time.monotonic() + timeout_s
    loop = QEventLoop()
    streak = 0
    settled = False

    def check() -> None:
        nonlocal streak, settled
        busy = (controller.data_dir() is not None and not controller.is_idle()) \
            or window.view.has_pending_visible_rows()
        streak = 0 if busy else streak + 1
        if streak >= 2:
            settled = True
            loop.quit()
        elif time.monotonic() > deadline:
            loop.quit()

    timer = QTimer()
    timer.setInterval(50)
    timer.timeout.connect(check)
    timer.start()
    loop.exec()
    timer.stop()
    return settled


def take_snapshot(window: MainWindow, controller: GalleryController, out: Path,
                  timeout_s: float = SNAPSHOT_TIMEOUT_S) -> int:
    """Show the window, wait until it settled, save it as PNG.

    Returns:
        The exit status: 0 when saved, 1 when the file could not be written.
    """
    window.resize(*SNAPSHOT_SIZE)
    window.show()
    if not wait_until_settled(window, controller, timeout_s):
        print(f"{APP_NAME}: still loading after {timeout_s:.0f} s; saving what is shown",
              file=sys.stderr)
    QApplication.processEvents()
    if not window.grab().save(str(out), "PNG"):
        print(f"{APP_NAME}: could not write {out}", file=sys.stderr)
        return 1
    log.info("snapshot saved to %s", out)
    return 0


def close_on_termination(window: MainWindow) -> QTimer:
    """Close ``window`` on SIGTERM or Ctrl+C, as if the user had closed it.

    Closing saves the settings and quits the event loop, after which pending heart writes are
    flushed (``aboutToQuit``), instead of the process dying with them queued.

    Returns:
        The timer that wakes the interpreter, parented to ``window``.
    """
    def on_signal(signum: int, _frame: object) -> None:
        log.info("received signal %d: closing", signum)
        # Closed from the event loop: a signal can arrive before ``exec()`` starts it, and a
        # quit asked for then (the last window closed) is lost, leaving the app running.
        QTimer.singleShot(0, window.close)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)
    # Python runs its signal handlers between bytecodes only; while Qt's C++ event loop waits,
    # a short timer gives the interpreter a turn.
    timer = QTimer(window)
    timer.setInterval(200)
    timer.timeout.connect(lambda: None)
    timer.start()
    return timer


def main(argv: Sequence[str] | None = None) -> int:
    """Run the app.

    Args:
        argv: command-line arguments without the program name (None: ``sys.argv[1:]``).

    Returns:
        The process exit status.
    """
    args = parse_args(argv)
    if args.snapshot is not None:
        # Snapshots never need a screen, whatever the environment says.
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    problem = display_problem(os.environ)
    if problem is not None:
        print(problem, file=sys.stderr)
        return EXIT_NO_DISPLAY
    if args.data_dir is not None and not args.data_dir.expanduser().is_dir():
        print(f"{APP_NAME}: --data-dir {args.data_dir}: no such folder", file=sys.stderr)
        return EXIT_USAGE
    if args.snapshot is not None:
        # Before the scan is waited for: a path that cannot be written is a usage error.
        try:
            args.snapshot.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            print(f"{APP_NAME}: --snapshot {args.snapshot}: cannot make its folder "
                  f"({err.strerror or err})", file=sys.stderr)
            return EXIT_USAGE

    app = create_application([])
    log_dir = log_dir_for(os.environ)
    log_file = configure_logging(args.verbose, log_dir)
    install_crash_handler(log_dir)
    route_qt_messages()
    log.info("%s %s starting; log file %s", APP_NAME, __version__, log_file)

    with tempfile.TemporaryDirectory(prefix=f"{APP_NAME}-") as scratch:
        # A snapshot is reproducible: default view settings, and nothing remembered after.
        settings = (AppSettings.from_file(Path(scratch) / "snapshot.ini")
                    if args.snapshot is not None else AppSettings())
        data_dir = resolve_data_dir(args.data_dir, os.environ, settings.last_data_dir,
                                    Path.cwd())
        controller = GalleryController(user_dir("cache"))
        window = MainWindow(controller, settings)
        app.aboutToQuit.connect(controller.shutdown)
        if data_dir is not None:
            window.open_data_dir(data_dir)
        if args.snapshot is not None:
            try:
                return take_snapshot(window, controller, args.snapshot)
            finally:
                window.close()
                controller.shutdown()
        close_on_termination(window)
        window.show()
        log.info("window shown")
        return app.exec()
