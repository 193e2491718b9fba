"""The real grid for the grid part: GalleryView + GalleryDelegate + GalleryModel + GalleryProxy."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from benchlib.grid import Subject

log = logging.getLogger(__name__)


def real_subject(data_dir: Path, cache_dir: Path) -> Subject:
    """The product's own view, delegate, model and proxy in a QMainWindow.

    Records go straight into the model, as the scanner's batches do, bypassing the scan.
    """
    from PySide6.QtWidgets import QMainWindow

    from gallery_desktop.qt.gallery_view import GalleryView
    from gallery_desktop.qt.model import GalleryModel
    from gallery_desktop.qt.proxy import GalleryProxy
    from gallery_desktop.qt.roles import ImageRole

    model = GalleryModel()
    proxy = GalleryProxy()
    proxy.setSourceModel(model)
    window = QMainWindow()
    view = GalleryView(window)
    view.setModel(proxy)
    window.setCentralWidget(view)

    def fill(records: list[Any]) -> None:
        model.apply_favorites({r.id for r in records if r.is_favorite},
                              {r.id: r.usage_count for r in records if r.usage_count})
        model.insert_images(records)

    return Subject(window=window, view=view, fill=fill,
                   set_favorites_only=proxy.set_favorites_only,
                   favorite_role=int(ImageRole.IS_FAVORITE), close=window.close)
