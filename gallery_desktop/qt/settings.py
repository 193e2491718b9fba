"""One small typed wrapper over QSettings: what the app remembers between launches."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from gallery_desktop.qt.roles import SortMode

log = logging.getLogger(__name__)

DEFAULT_THUMB_SIZE = 200
MIN_THUMB_SIZE = 96
MAX_THUMB_SIZE = 384

_GEOMETRY = "window/geometry"
_STATE = "window/state"
_VIEWER_GEOMETRY = "viewer/geometry"
_THUMB_SIZE = "view/thumbnailSize"
_SORT = "view/sortMode"
_FAVORITES_ONLY = "view/favoritesOnly"
_DATA_DIR = "data/lastFolder"


def _to_bool(value: object) -> bool:
    # INI files hand booleans back as the strings "true"/"false".
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)


class AppSettings:
    """Typed access to the persisted settings.

    Args:
        settings: where to keep them; by default the application's QSettings
            (organization "gallery-desktop", application "gallery-desktop"). Tests pass an
            INI file in a temporary folder so they never touch the real user config.
    """

    def __init__(self, settings: QSettings | None = None) -> None:
        self._settings = settings if settings is not None else QSettings()

    @classmethod
    def from_file(cls, path: Path) -> AppSettings:
        """Settings kept in the INI file at ``path`` (for tests and snapshots)."""
        return cls(QSettings(str(path), QSettings.Format.IniFormat))

    def qsettings(self) -> QSettings:
        """The underlying QSettings."""
        return self._settings

    def sync(self) -> None:
        """Write pending changes to storage now."""
        self._settings.sync()

    def _bytes(self, key: str) -> QByteArray:
        value = self._settings.value(key)
        return value if isinstance(value, QByteArray) else QByteArray()

    @property
    def window_geometry(self) -> QByteArray:
        """``QWidget.saveGeometry()`` of the main window (empty when never saved)."""
        return self._bytes(_GEOMETRY)

    @window_geometry.setter
    def window_geometry(self, value: QByteArray) -> None:
        self._settings.setValue(_GEOMETRY, value)

    @property
    def window_state(self) -> QByteArray:
        """``QMainWindow.saveState()``: toolbar placement (empty when never saved)."""
        return self._bytes(_STATE)

    @window_state.setter
    def window_state(self, value: QByteArray) -> None:
        self._settings.setValue(_STATE, value)

    @property
    def viewer_geometry(self) -> QByteArray:
        """Geometry of the image viewer window (empty when never saved)."""
        return self._bytes(_VIEWER_GEOMETRY)

    @viewer_geometry.setter
    def viewer_geometry(self, value: QByteArray) -> None:
        self._settings.setValue(_VIEWER_GEOMETRY, value)

    @property
    def thumbnail_size(self) -> int:
        """Thumbnail edge in logical pixels, clamped to the slider's range."""
        raw = self._settings.value(_THUMB_SIZE, DEFAULT_THUMB_SIZE)
        try:
            size = int(str(raw))
        except ValueError:
            return DEFAULT_THUMB_SIZE
        return max(MIN_THUMB_SIZE, min(MAX_THUMB_SIZE, size))

    @thumbnail_size.setter
    def thumbnail_size(self, value: int) -> None:
        self._settings.setValue(_THUMB_SIZE, int(value))

    @property
    def sort_mode(self) -> SortMode:
        """The grid's sort order (newest first unless changed)."""
        raw = str(self._settings.value(_SORT, SortMode.NEWEST.value))
        try:
            return SortMode(raw)
        except ValueError:
            return SortMode.NEWEST

    @sort_mode.setter
    def sort_mode(self, value: SortMode) -> None:
        self._settings.setValue(_SORT, SortMode(value).value)

    @property
    def favorites_only(self) -> bool:
        """Whether the grid shows only favorites."""
        return _to_bool(self._settings.value(_FAVORITES_ONLY, False))

    @favorites_only.setter
    def favorites_only(self, value: bool) -> None:
        self._settings.setValue(_FAVORITES_ONLY, bool(value))

    @property
    def last_data_dir(self) -> Path | None:
        """The data folder opened last, or None."""
        raw = self._settings.value(_DATA_DIR, "")
        if isinstance(raw, QByteArray):  # a name that is not UTF-8, as bytes
            data = bytes(raw.data())
            return Path(os.fsdecode(data)) if data else None
        return Path(str(raw)) if raw else None

    @last_data_dir.setter
    def last_data_dir(self, value: Path | None) -> None:
        if value is None:
            self._settings.remove(_DATA_DIR)
            return
        text = str(value)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            # Bytes that are not UTF-8 live on in Python as lone surrogates, which a
            # QString drops: keep the file system's own bytes instead.
            self._settings.setValue(_DATA_DIR, QByteArray(os.fsencode(value)))
        else:
            self._settings.setValue(_DATA_DIR, text)
