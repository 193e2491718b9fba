"""The real window for the grid part: MainWindow over a GalleryController, records fed directly."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from benchlib.grid import Subject

log = logging.getLogger(__name__)

# The records are not on disk, so the controller's periodic safety-net re-scan would find
# an empty runs folder and remove them: push it past the end of the measurement.
_NO_PERIODIC_RESCAN_MS = 3_600_000


def write_data_dir(data_dir: Path, records: list[Any]) -> None:
    """An empty ``runs/`` folder and a favorites file holding the records' hearts and counts."""
    (data_dir / "runs").mkdir(parents=True, exist_ok=True)
    body = {"favorites": {r.id: True for r in records if r.is_favorite},
            "usageCounts": {r.id: r.usage_count for r in records if r.usage_count}}
    (data_dir / "gallery-favorites.json").write_text(json.dumps(body, indent=2),
                                                     encoding="utf-8")


def real_subject(data_dir: Path, cache_dir: Path, records: list[Any]) -> Subject:
    """The app's MainWindow and GalleryController, wired as ``gallery_desktop.app`` does.

    The controller opens ``data_dir`` (hearts load from its favorites file, the scan finds
    no runs); ``fill`` then hands all records to the model in one batch, a RunRows per run
    with its records at hand (as the scanner's ``runs_ready`` hands over runs it has just
    read), bypassing the scan.
    """
    from gallery_desktop.app import create_application, wait_until_settled
    from gallery_desktop.core.records import RunResult, RunRows
    from gallery_desktop.qt.actions import ActionId
    from gallery_desktop.qt.controller import GalleryController
    from gallery_desktop.qt.main_window import MainWindow
    from gallery_desktop.qt.roles import ImageRole
    from gallery_desktop.qt.settings import AppSettings

    create_application([])  # names, theme and icon on the running QApplication
    write_data_dir(data_dir, records)
    cache_dir.mkdir(parents=True, exist_ok=True)
    settings = AppSettings.from_file(cache_dir / "bench-settings.ini")
    controller = GalleryController(cache_dir, rescan_interval_ms=_NO_PERIODIC_RESCAN_MS)
    window = MainWindow(controller, settings)
    window.open_data_dir(data_dir)
    favorites_only = window.actions_by_id[ActionId.FAVORITES_ONLY]

    def ready() -> None:
        if not wait_until_settled(window, controller, timeout_s=60):
            raise RuntimeError("the window did not settle on the empty data folder")

    def close() -> None:
        window.close()
        controller.shutdown()

    by_run: dict[str, list[Any]] = {}
    for rec in records:
        by_run.setdefault(rec.run_id, []).append(rec)
    runs = [RunRows.of(RunResult(run_id, data_dir / "runs" / run_id, tuple(images)))
            for run_id, images in by_run.items()]
    for run in runs:
        run.search_texts  # noqa: B018 - made on the scanner's thread in the app

    def fill(given: list[Any]) -> None:
        assert given is records
        controller.model.insert_runs(runs)

    return Subject(window=window, view=window.view, fill=fill,
                   set_favorites_only=favorites_only.setChecked,
                   favorite_role=int(ImageRole.IS_FAVORITE), close=close, ready=ready,
                   idle=controller.is_idle)
