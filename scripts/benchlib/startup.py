"""The app-start part: the real window opening a data folder, with and without a run index."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

WINDOW_SIZE = (1280, 800)
TIMEOUT_MS = 300_000


def part_app_start(config: dict[str, Any]) -> dict[str, Any]:
    """Open ``data_dir`` in the app's MainWindow and time it, in this fresh process.

    The window is shown (offscreen) first; the clock starts at ``open_data_dir`` and stops
    when the controller says the scan finished: by then every batch the scanner sent is in
    the model (queued signals arrive in order) and the run index is saved.

    Args:
        config: ``data_dir`` and ``cache_dir`` (a cache folder with a saved run index makes
            this a warm start; an empty one a cold start).

    Returns:
        ``ns`` (open to scan finished), ``first_ns`` (open to the first grid cell painted),
        ``rows`` (in the model) and ``built`` (how many rows had their record built by then:
        the rows painted, and their runs).
    """
    from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer
    from PySide6.QtTest import QTest

    from benchlib.grid import count_delegate_paints
    from gallery_desktop.app import create_application
    from gallery_desktop.qt.controller import GalleryController
    from gallery_desktop.qt.main_window import MainWindow
    from gallery_desktop.qt.settings import AppSettings

    create_application([])
    cache_dir = Path(config["cache_dir"])
    cache_dir.mkdir(parents=True, exist_ok=True)
    settings = AppSettings.from_file(cache_dir / "bench-settings.ini")
    controller = GalleryController(cache_dir)
    window = MainWindow(controller, settings)
    window.resize(*WINDOW_SIZE)
    window.show()
    QTest.qWaitForWindowExposed(window)
    first: list[int] = []
    count_delegate_paints(window.view, first)
    loop = QEventLoop()
    finished: list[int] = []

    def on_finished(_report: object) -> None:
        finished.append(time.perf_counter_ns())
        loop.quit()

    controller.scan_finished.connect(on_finished)
    QTimer.singleShot(TIMEOUT_MS, loop.quit)
    start = time.perf_counter_ns()
    window.open_data_dir(Path(config["data_dir"]))
    loop.exec()
    if not finished:
        raise RuntimeError("the scan did not finish in time")
    if not first:
        # A small folder can finish scanning before the first paint event is handled.
        deadline = time.monotonic() + 30.0
        while not first and time.monotonic() < deadline:
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
    model = controller.model
    rows = model.rowCount()
    built = model.built_count()
    window.close()
    controller.shutdown()
    if not first:
        raise RuntimeError("no grid cell was painted")
    return {"ns": finished[0] - start, "first_ns": first[0] - start, "rows": rows,
            "built": built}
