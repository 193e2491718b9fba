"""The gallery model's custom roles, thumbnail states and sort modes."""

from __future__ import annotations

from enum import IntEnum, StrEnum, auto

from PySide6.QtCore import QByteArray, Qt


class ImageRole(IntEnum):
    """Custom item data roles of ``GalleryModel`` (names in ``ROLE_NAMES``)."""

    RECORD = int(Qt.ItemDataRole.UserRole) + 1
    IMAGE_ID = auto()
    IS_FAVORITE = auto()
    USAGE_COUNT = auto()
    PROMPT = auto()
    SLIDE_TEXT = auto()
    RUN_ID = auto()
    IMAGE_PATH = auto()
    THUMB_STATE = auto()
    CREATED_TS = auto()
    SEARCH_TEXT = auto()
    THUMB_ERROR = auto()


class ThumbState(IntEnum):
    """What the delegate can draw for a cell right now."""

    LOADING = 0  # a local file whose thumbnail is not decoded (yet)
    READY = 1  # DecorationRole holds the pixmap
    BROKEN = 2  # the file exists but could not be decoded (THUMB_ERROR says why)
    MISSING = 3  # no file: not there, or the URL points outside the data folder
    REMOTE = 4  # an http(s) URL, never fetched


class SortMode(StrEnum):
    """Orders the proxy offers; the source model itself is always newest first."""

    NEWEST = "newest"
    OLDEST = "oldest"
    MOST_USED = "most-used"


# Role names as QML and tests see them; the camelCase mirrors the web gallery's fields.
ROLE_NAMES: dict[int, QByteArray] = {
    ImageRole.RECORD: QByteArray(b"record"),
    ImageRole.IMAGE_ID: QByteArray(b"imageId"),
    ImageRole.IS_FAVORITE: QByteArray(b"isFavorite"),
    ImageRole.USAGE_COUNT: QByteArray(b"usageCount"),
    ImageRole.PROMPT: QByteArray(b"prompt"),
    ImageRole.SLIDE_TEXT: QByteArray(b"slideText"),
    ImageRole.RUN_ID: QByteArray(b"runId"),
    ImageRole.IMAGE_PATH: QByteArray(b"imagePath"),
    ImageRole.THUMB_STATE: QByteArray(b"thumbState"),
    ImageRole.CREATED_TS: QByteArray(b"createdTs"),
    ImageRole.SEARCH_TEXT: QByteArray(b"searchText"),
    ImageRole.THUMB_ERROR: QByteArray(b"thumbError"),
}
