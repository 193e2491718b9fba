"""The package's error hierarchy: a GalleryError is an expected, user-reportable failure."""

from __future__ import annotations


class GalleryError(Exception):
    """Expected, user-reportable failure."""


class FavoritesError(GalleryError):
    """The favorites file could not be read or written."""


class FavoritesWriteError(FavoritesError, OSError):
    """A change to the favorites file could not be persisted; nothing was changed."""


class ThumbnailError(GalleryError):
    """An image could not be turned into a thumbnail."""
