"""Logging and crash reports: the rotating log file, --verbose, and reports from real crashes."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gallery_desktop import __version__, logsetup
from gallery_desktop.logsetup import FAULT_FILENAME, LOG_FILENAME, setup_logging

REPO = Path(__file__).resolve().parents[1]
CRASH_NAME = re.compile(r"crash-\d{8}T\d{6}Z(-fatal)?(-\d+)?\.txt")


def run_python(code: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter that imports this source tree."""
    full_env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", **env,
                "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH"))
                                              if p)}
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    """The root logger, with its handlers and level put back after the test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield root
    finally:
        for handler in root.handlers:
            if handler not in handlers:
                handler.close()
        root.handlers[:] = handlers
        root.setLevel(level)


def crash_reports(log_dir: Path) -> list[Path]:
    return sorted(p for p in log_dir.glob("crash-*.txt"))


SETUP = ("import logging, sys\n"
         "from pathlib import Path\n"
         "from gallery_desktop.logsetup import setup_logging, install_crash_handler\n"
         "logs = Path(sys.argv[1]) if len(sys.argv) > 1 else Path('logs')\n")


def test_file_gets_info_and_console_stays_quiet_without_verbose(tmp_path: Path) -> None:
    code = SETUP + ("print(setup_logging(logs, verbose=False))\n"
                    "log = logging.getLogger('gallery_desktop.x')\n"
                    "log.debug('a debug line'); log.info('an info line')\n"
                    "log.warning('a warning line')\n")
    result = run_python(code, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(Path("logs") / LOG_FILENAME)
    assert result.stderr == ""
    text = (tmp_path / "logs" / LOG_FILENAME).read_text(encoding="utf-8")
    assert "an info line" in text and "a warning line" in text
    assert "a debug line" not in text
    assert re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO MainThread "
                     r"gallery_desktop\.x: an info line$", text, re.MULTILINE)


def test_verbose_logs_everything_to_the_console_and_the_file(tmp_path: Path) -> None:
    code = SETUP + ("setup_logging(logs, verbose=True)\n"
                    "logging.getLogger('gallery_desktop.x').debug('a debug line')\n")
    result = run_python(code, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == ["DEBUG gallery_desktop.x: a debug line"]
    assert "a debug line" in (tmp_path / "logs" / LOG_FILENAME).read_text(encoding="utf-8")


def test_the_log_file_rotates_and_keeps_a_bounded_history(tmp_path: Path,
                                                          root_logger: logging.Logger) -> None:
    log_file = setup_logging(tmp_path, verbose=False)
    log = logging.getLogger("gallery_desktop.rotation")
    line = "x" * 1000
    for n in range(8000):  # ~8.5 MB through a 1 MB x 5 rotation
        log.info("%05d %s", n, line)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == [LOG_FILENAME] + [f"{LOG_FILENAME}.{n}" for n in range(1, 6)]
    for path in tmp_path.iterdir():
        assert path.stat().st_size <= logsetup.MAX_BYTES
    assert "07999 " in log_file.read_text(encoding="utf-8")  # the newest line is current
    kept = "".join(p.read_text(encoding="utf-8") for p in tmp_path.iterdir())
    assert "00000 " not in kept  # the oldest rolled off the end


def test_a_second_setup_replaces_its_handlers_and_keeps_others(tmp_path: Path,
                                                               root_logger: logging.Logger) -> None:
    other = logging.NullHandler()
    root_logger.addHandler(other)
    setup_logging(tmp_path / "a", verbose=True)
    setup_logging(tmp_path / "b", verbose=False)
    ours = [h for h in root_logger.handlers if getattr(h, "_gallery_desktop_handler", False)]
    assert len(ours) == 1 and isinstance(ours[0], logging.FileHandler)
    assert Path(ours[0].baseFilename) == tmp_path / "b" / LOG_FILENAME
    assert other in root_logger.handlers
    assert root_logger.level == logging.INFO


def test_an_unusable_log_folder_raises_and_warnings_still_reach_stderr(tmp_path: Path) -> None:
    (tmp_path / "logs").write_text("a file where the folder should be")
    code = SETUP + ("try:\n"
                    "    setup_logging(logs, verbose=False)\n"
                    "except OSError as err:\n"
                    "    print(type(err).__name__)\n"
                    "logging.getLogger('gallery_desktop.x').info('quiet')\n"
                    "logging.getLogger('gallery_desktop.x').warning('heard')\n")
    result = run_python(code, tmp_path)
    assert result.stdout.strip() == "FileExistsError"
    assert result.stderr.splitlines() == ["WARNING gallery_desktop.x: heard"]


def test_an_uncaught_exception_writes_a_crash_report(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    code = SETUP + ("setup_logging(logs, verbose=False)\n"
                    "install_crash_handler(logs)\n"
                    "def deep():\n"
                    "    raise ValueError('a real failure')\n"
                    "deep()\n")
    result = run_python(code, tmp_path)
    assert result.returncode == 1
    (report,) = crash_reports(logs)
    assert CRASH_NAME.fullmatch(report.name)
    text = report.read_text(encoding="utf-8")
    assert text.startswith("gallery-desktop crash report\n")
    assert "thread: MainThread" in text
    assert f"gallery-desktop: {__version__}" in text
    assert re.search(r"^Pillow: \d+\.", text, re.MULTILINE)
    assert re.search(r"^PySide6-Essentials: \d+\.", text, re.MULTILINE)
    assert f"python: {sys.version.split()[0]}" in text and "platform: " in text
    assert ', in deep\n' in text  # the whole stack, down to where it was raised
    assert text.rstrip().endswith("ValueError: a real failure")
    assert result.stderr.strip() == (f"gallery-desktop: unexpected error (ValueError: a real "
                                     f"failure), report written to {report.relative_to(tmp_path)}")
    log_text = (logs / LOG_FILENAME).read_text(encoding="utf-8")
    assert "CRITICAL MainThread gallery_desktop.logsetup: unexpected error" in log_text
    assert f"crash report written to {report.relative_to(tmp_path)}" in log_text


def test_an_exception_in_a_thread_is_reported_and_the_process_goes_on(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    code = SETUP + ("import threading\n"
                    "install_crash_handler(logs)\n"
                    "def work():\n"
                    "    raise KeyError('in a worker')\n"
                    "t = threading.Thread(target=work, name='scanner'); t.start(); t.join()\n"
                    "print('still running')\n")
    result = run_python(code, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "still running"
    (report,) = crash_reports(logs)
    text = report.read_text(encoding="utf-8")
    assert "thread: scanner" in text and "KeyError: 'in a worker'" in text


def test_an_exception_in_a_qt_slot_is_reported_and_the_event_loop_goes_on(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    code = SETUP + ("from PySide6.QtCore import QCoreApplication, QTimer\n"
                    "install_crash_handler(logs)\n"
                    "app = QCoreApplication([])\n"
                    "def slot():\n"
                    "    raise RuntimeError('boom in a slot')\n"
                    "QTimer.singleShot(0, slot)\n"
                    "QTimer.singleShot(0, lambda: print('next event handled'))\n"
                    "QTimer.singleShot(0, app.quit)\n"
                    "sys.exit(app.exec())\n")
    result = run_python(code, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "next event handled"
    (report,) = crash_reports(logs)
    assert "RuntimeError: boom in a slot" in report.read_text(encoding="utf-8")


def test_ctrl_c_is_not_a_crash(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    result = run_python(SETUP + "install_crash_handler(logs)\nraise KeyboardInterrupt\n",
                        tmp_path)
    # Python's own handling: the traceback, and death by SIGINT as a shell expects.
    assert result.returncode != 0 and "KeyboardInterrupt" in result.stderr
    assert crash_reports(logs) == []


def test_two_crashes_in_one_second_get_two_reports(tmp_path: Path) -> None:
    first = logsetup.write_crash_report(tmp_path, "one")
    second = logsetup.write_crash_report(tmp_path, "two")
    assert first != second
    assert {first.read_text(), second.read_text()} == {"one", "two"}


@pytest.mark.skipif(sys.platform == "win32", reason="segfaults are POSIX signals here")
def test_a_hard_crash_is_recorded_and_reported_at_the_next_start(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    code = SETUP + ("import ctypes\n"
                    "install_crash_handler(logs)\n"
                    "ctypes.string_at(0)\n")  # a real segfault
    result = run_python(code, tmp_path)
    assert result.returncode < 0 or result.returncode > 128  # killed by the signal
    fatal = (logs / FAULT_FILENAME).read_text(encoding="utf-8")
    assert "Fatal Python error: Segmentation fault" in fatal
    assert crash_reports(logs) == []

    result = run_python(SETUP + "install_crash_handler(logs)\n", tmp_path)
    assert result.returncode == 0, result.stderr
    (report,) = crash_reports(logs)
    assert report.name.endswith("-fatal.txt")
    assert "Fatal Python error: Segmentation fault" in report.read_text(encoding="utf-8")
    assert (logs / FAULT_FILENAME).read_text(encoding="utf-8") == ""


def test_the_app_logs_to_gallery_log_dir_and_to_the_console_with_verbose(tmp_path: Path) -> None:
    logs, home = tmp_path / "logs", tmp_path / "home"
    (tmp_path / "data" / "runs").mkdir(parents=True)
    env = {"GALLERY_LOG_DIR": str(logs), "HOME": str(home),
           "XDG_CONFIG_HOME": str(home / "config"), "XDG_CACHE_HOME": str(home / "cache"),
           "XDG_STATE_HOME": str(home / "state")}
    result = subprocess.run(
        [sys.executable, "-m", "gallery_desktop", "--verbose", "--data-dir",
         str(tmp_path / "data"), "--snapshot", str(tmp_path / "shot.png")],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, **env, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr
    log_text = (logs / LOG_FILENAME).read_text(encoding="utf-8")
    assert f"gallery-desktop {__version__} starting; log file {logs / LOG_FILENAME}" in log_text
    assert "DEBUG" in log_text  # --verbose: details in the file too
    assert "INFO gallery_desktop.app: gallery-desktop" in result.stderr
    assert not (home / "state").exists()  # nothing went to the default log folder


def test_a_crash_naming_a_non_utf8_path_still_leaves_a_report(tmp_path: Path) -> None:
    code = SETUP + ("import os\n"
                    "install_crash_handler(logs)\n"
                    "folder = os.fsdecode(b'/srv/donn\\xe9es')\n"
                    "raise RuntimeError(f'cannot read {folder}/runs')\n")
    result = run_python(code, tmp_path)
    reports = crash_reports(tmp_path / "logs")
    assert reports, result.stderr
    text = reports[0].read_text(encoding="utf-8")
    assert "RuntimeError: cannot read /srv/donn\\udce9es/runs" in text, result.stderr
    assert "Error in sys.excepthook" not in result.stderr


def test_the_log_file_keeps_lines_that_name_a_non_utf8_path(tmp_path: Path,
                                                            root_logger: logging.Logger) -> None:
    log_file = setup_logging(tmp_path / "logs", verbose=False)
    odd = Path(os.fsdecode(b"/srv/studio/donn\xe9es"))
    logging.getLogger("gallery_desktop.x").warning("watching %s", odd)
    for handler in root_logger.handlers:
        handler.flush()
    assert "watching /srv/studio/donn\\udce9es" in log_file.read_text(encoding="utf-8")
