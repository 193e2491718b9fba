"""The command line: --version, no display, --snapshot in a real process, data folder choice."""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QWidget

from gallery_desktop import __version__
from gallery_desktop.app import (
    DATA_DIR_ENV,
    NO_DISPLAY_MESSAGE,
    SNAPSHOT_SIZE,
    close_on_termination,
    display_problem,
    resolve_data_dir,
)
from gallery_desktop.qt.theme import WINDOW
from tests.factories import make_run

REPO = Path(__file__).resolve().parents[2]


def app_env(tmp_path: Path, drop: tuple[str, ...] = ()) -> dict[str, str]:
    """The environment for a real app process, with its user folders inside ``tmp_path``."""
    env = {k: v for k, v in os.environ.items() if k not in drop}
    home = tmp_path / "home"
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / "config"),
               XDG_CACHE_HOME=str(home / "cache"), XDG_STATE_HOME=str(home / "state"),
               XDG_DATA_HOME=str(home / "share"),
               PYTHONPATH=os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p))
    env.pop(DATA_DIR_ENV, None)
    return env


def run_app(args: list[str], tmp_path: Path, *, drop: tuple[str, ...] = (),
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``python -m gallery_desktop`` with user folders inside ``tmp_path``."""
    env = app_env(tmp_path, drop)
    return subprocess.run([sys.executable, "-m", "gallery_desktop", *args], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)


def test_version_prints_the_version(tmp_path: Path) -> None:
    result = run_app(["--version"], tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == f"gallery-desktop {__version__}"


def test_without_a_display_it_explains_and_exits_2(tmp_path: Path) -> None:
    result = run_app([], tmp_path, drop=("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines == [NO_DISPLAY_MESSAGE]
    assert "QT_QPA_PLATFORM=offscreen" in lines[0] and "xvfb-run" in lines[0]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigterm_closes_the_window_cleanly(tmp_path: Path) -> None:
    data = tmp_path / "data"
    make_run(data, "2025-11-26T06-54-47-200Z")
    env = app_env(tmp_path)
    env.update(QT_QPA_PLATFORM="offscreen", GALLERY_LOG_DIR=str(tmp_path / "logs"))
    proc = subprocess.Popen([sys.executable, "-m", "gallery_desktop", "--data-dir", str(data)],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    log_file = tmp_path / "logs" / "gallery-desktop.log"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if log_file.exists() and "window shown" in log_file.read_text():
            break
        time.sleep(0.05)  # a separate process: nothing to wait on but its log
    assert proc.poll() is None, proc.communicate()[0]
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, output
    assert "received signal 15: closing" in log_file.read_text()
    # Closing saved the window's settings, as a click on the close button does.
    assert list((tmp_path / "home" / "config").rglob("*.conf")), output


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_signal_closes_the_window_from_the_event_loop(qtbot) -> None:
    """SIGTERM may come between ``show()`` and ``exec()``: a window closed then quits nothing
    (no event loop is running yet to quit), so the app would run on. The close waits for
    the loop."""
    window = QWidget()
    qtbot.addWidget(window)
    window.show()
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        close_on_termination(window)  # type: ignore[arg-type]  (only close() is used)
        os.kill(os.getpid(), signal.SIGTERM)  # its handler runs here, before the next line
        assert window.isVisible()
        qtbot.waitUntil(lambda: not window.isVisible(), timeout=5_000)
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)


def test_a_missing_data_dir_is_a_usage_error(tmp_path: Path) -> None:
    result = run_app(["--data-dir", str(tmp_path / "nope")], tmp_path)
    assert result.returncode == 2 and "no such folder" in result.stderr


def test_snapshot_writes_a_real_picture_of_the_gallery(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for n, color in enumerate(("#e74c3c", "#2ecc71", "#3498db", "#f1c40f")):
        run_id = f"2025-11-2{n}T10-00-00-000Z"
        make_run(data, run_id, [{"index": 1, "text": f"Run {n}", "imagePrompt": color,
                                 "finalImageUrl": f"/data/runs/{run_id}/slide-1.png"}])
    out = tmp_path / "shots" / "shot.png"
    # Even with no display at all: --snapshot renders offscreen by itself.
    result = run_app(["--data-dir", str(data), "--snapshot", str(out)], tmp_path,
                     drop=("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"))
    assert result.returncode == 0, result.stderr
    image = QImage(str(out))
    assert not image.isNull()
    assert (image.width(), image.height()) == SNAPSHOT_SIZE
    samples = [image.pixelColor(x, y).lightness()
               for y in range(0, image.height(), 8) for x in range(0, image.width(), 8)]
    assert statistics.pstdev(samples) > 10  # not blank, not a flat fill
    # Nothing about the snapshot is remembered as the user's settings.
    assert not list((tmp_path / "home" / "config").rglob("*.conf"))


def test_a_snapshot_path_that_cannot_be_made_is_a_usage_error(tmp_path: Path) -> None:
    data = tmp_path / "data"
    make_run(data, "2025-11-26T06-54-47-200Z")
    (tmp_path / "shots").write_text("a file, not a folder")
    result = run_app(["--data-dir", str(data), "--snapshot",
                      str(tmp_path / "shots" / "gallery.png")], tmp_path)
    assert result.returncode == 2
    assert "--snapshot" in result.stderr and "cannot make its folder" in result.stderr
    assert "unexpected error" not in result.stderr


@pytest.mark.parametrize(("env", "platform", "expected"), [
    ({}, "linux", NO_DISPLAY_MESSAGE),
    ({"DISPLAY": ":0"}, "linux", None),
    ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", None),
    ({"QT_QPA_PLATFORM": "offscreen"}, "linux", None),
    ({}, "darwin", None),
    ({}, "win32", None),
])
def test_display_problem(env: dict[str, str], platform: str, expected: str | None) -> None:
    assert display_problem(env, platform) == expected


def test_data_dir_comes_from_cli_then_env_then_last_used_then_cwd(tmp_path: Path) -> None:
    cli, env_dir, last, cwd = (tmp_path / n for n in ("cli", "env", "last", "cwd"))
    for folder in (cli, env_dir, last, cwd / "data"):
        folder.mkdir(parents=True)
    env = {DATA_DIR_ENV: str(env_dir)}
    assert resolve_data_dir(cli, env, last, cwd) == cli
    assert resolve_data_dir(None, env, last, cwd) == env_dir
    assert resolve_data_dir(None, {}, last, cwd) == last
    assert resolve_data_dir(None, {}, None, cwd) == cwd / "data"
    # Folders that went away are passed over; with nothing left there is no folder.
    assert resolve_data_dir(None, {DATA_DIR_ENV: str(tmp_path / "gone")}, last, cwd) == last
    assert resolve_data_dir(None, {}, tmp_path / "gone", cwd) == cwd / "data"
    assert resolve_data_dir(None, {}, None, tmp_path / "empty") is None


def test_application_metadata_and_icon(tmp_path: Path) -> None:
    code = ("from gallery_desktop.app import create_application\n"
            "app = create_application([])\n"
            "print(app.applicationName(), app.applicationDisplayName(), app.organizationName(),"
            " app.applicationVersion(), app.windowIcon().isNull(),"
            " app.palette().window().color().name(), bool(app.styleSheet()), sep='|')\n")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen",
           "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH"))
                                         if p)}
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60, check=True)
    name, display, org, version, icon_null, window, styled = result.stdout.strip().split("|")
    assert (name, display, org, version) == ("gallery-desktop", "Gallery", "gallery-desktop",
                                             __version__)
    assert icon_null == "False" and window == WINDOW and styled == "True"


def test_every_icon_renders_and_the_desktop_entry_is_complete(qapp) -> None:
    from gallery_desktop.qt import icons

    for name in icons.IconName:
        image = icons.render_image(name, 32, None, 2.0)
        assert image.width() == 64
        alpha = [image.pixelColor(x, y).alpha() for y in range(64) for x in range(64)]
        assert max(alpha) == 255 and min(alpha) == 0, name  # drawn, and not a filled square
    entry = (icons.resource_dir() / "gallery-desktop.desktop").read_text(encoding="utf-8")
    lines = dict(line.split("=", 1) for line in entry.splitlines() if "=" in line)
    assert entry.startswith("[Desktop Entry]")
    assert lines["Type"] == "Application" and lines["Exec"] == "gallery-desktop"
    assert lines["Icon"] == "gallery-desktop" and lines["Name"] == "Gallery"
    assert icons.icon_path(icons.IconName.APP).stem == lines["Icon"]


def test_an_unexpected_error_leaves_a_crash_report_and_a_log(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    code = ("import logging, sys\n"
            "from pathlib import Path\n"
            "from gallery_desktop.app import configure_logging, install_crash_handler\n"
            f"logs = Path({str(logs)!r})\n"
            "configure_logging(False, logs)\n"
            "install_crash_handler(logs)\n"
            "logging.getLogger('gallery_desktop.test').info('about to fail')\n"
            "raise RuntimeError('boom in a slot')\n")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen",
           "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH"))
                                         if p)}
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1
    (report,) = logs.glob("crash-*.txt")
    text = report.read_text(encoding="utf-8")
    assert "RuntimeError: boom in a slot" in text and __version__ in text
    assert str(report) in result.stderr
    log_text = (logs / "gallery-desktop.log").read_text(encoding="utf-8")
    assert "about to fail" in log_text and "boom in a slot" in log_text


def test_scripts_run_takes_paths_from_where_it_is_run_and_finds_the_sample_data(
        tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(REPO / "scripts" / "run"), "--verbose", *args],
                              cwd=tmp_path, env=app_env(tmp_path), capture_output=True,
                              text=True, timeout=120, check=False)

    # No --data-dir: the sample data of the checkout, as with no arguments at all.
    result = run("--snapshot", "sample.png")
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "sample.png").is_file()
    assert f"watching {REPO / 'data'}" in result.stderr
    # Relative paths are the caller's, in both spellings.
    studio = tmp_path / "studio" / "data"
    make_run(studio, "2025-11-26T06-54-47-200Z")
    result = run("--data-dir=studio/data", "--snapshot", "shots/studio.png")
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "shots" / "studio.png").is_file()
    assert f"watching {studio.resolve()}" in result.stderr
