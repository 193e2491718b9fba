"""gallery-desktop: a desktop gallery for the images an AI content studio generates."""

from __future__ import annotations

from gallery_desktop.core.favorites import FavoritesStore
from gallery_desktop.core.records import GalleryImage, ScanReport
from gallery_desktop.core.runs import scan_runs

__version__ = "0.1.0"
__all__ = ["FavoritesStore", "GalleryImage", "ScanReport", "__version__", "scan_runs"]
