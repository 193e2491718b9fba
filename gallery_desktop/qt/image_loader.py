"""Full-size image loading for the viewer and the clipboard, off the GUI thread."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtGui import QImage, QImageReader

from gallery_desktop.core.errors import ThumbnailError
from gallery_desktop.core.paths import OUTSIDE_REASON, lies_inside, real_root
from gallery_desktop.core.records import FilePath
from gallery_desktop.core.thumbnails import FILE_NOT_FOUND, stat_image_file

log = logging.getLogger(__name__)

# QImageReader refuses images whose decoded size would exceed this (decompression bombs).
# 1 GiB allows a 16k x 16k RGBA image, far above what the studio renders.
ALLOCATION_LIMIT_MB = 1024


def read_image(path: FilePath, allocation_limit_mb: int = ALLOCATION_LIMIT_MB,
               root: str | None = None) -> tuple[QImage, str]:
    """Decode one image file with EXIF orientation applied (any thread).

    Args:
        path: the file.
        allocation_limit_mb: refuse images needing more memory than this.
        root: read only a file that lies inside this folder (``core.paths.real_root``).

    Returns:
        ``(image, "")`` on success, ``(null image, reason)`` on failure.
    """
    if not lies_inside(path, root):
        log.warning("could not load %s: %s", path, OUTSIDE_REASON)
        return QImage(), OUTSIDE_REASON
    try:
        stat_image_file(path)
    except ThumbnailError as err:
        return QImage(), str(err)
    reader = QImageReader(os.fspath(path))
    reader.setAutoTransform(True)
    reader.setAllocationLimit(allocation_limit_mb)
    image = reader.read()
    if image.isNull():
        if reader.error() is QImageReader.ImageReaderError.FileNotFoundError:
            reason = FILE_NOT_FOUND  # deleted since the check above
        else:
            reason = reader.errorString() or "unknown error"
        log.info("could not load %s: %s", path, reason)
        return image, reason
    return image, ""


class _LoadJob(QRunnable):
    """Decodes one file; skips the work if the request was superseded before it started."""

    def __init__(self, loader: ImageLoader, path: FilePath, generation: int) -> None:
        super().__init__()
        self._loader = loader
        self._path = path
        self._generation = generation

    def run(self) -> None:
        if not self._loader.is_current(self._generation):
            return
        image, reason = read_image(self._path, self._loader.allocation_limit_mb,
                                   self._loader.root)
        if not self._loader.is_current(self._generation):
            return
        try:
            if image.isNull():
                self._loader.image_failed.emit(self._path, reason)
            else:
                self._loader.image_loaded.emit(self._path, image)
        except RuntimeError:
            pass  # the loader was deleted while we decoded: nobody is waiting any more


class ImageLoader(QObject):
    """Loads full images on a small thread pool and hands back ``QImage`` by path.

    Each consumer (the viewer, the clipboard copier) owns its own loader; ``cancel()``
    makes queued and running requests emit nothing, so quickly stepping through images
    decodes only the one that is wanted.

    Signals:
        image_loaded(object path, QImage image)
        image_failed(object path, str reason)
    """

    image_loaded = Signal(object, QImage)
    image_failed = Signal(object, str)

    _shared_pool: QThreadPool | None = None

    def __init__(self, parent: QObject | None = None, pool: QThreadPool | None = None,
                 allocation_limit_mb: int = ALLOCATION_LIMIT_MB) -> None:
        super().__init__(parent)
        self._pool = pool if pool is not None else self.shared_pool()
        self.allocation_limit_mb = allocation_limit_mb
        self._lock = threading.Lock()
        self._generation = 0
        self.root: str | None = None  # see set_root; read by the jobs

    def set_root(self, root: Path | None) -> None:
        """Read only files that lie inside ``root`` once symlinks are followed (None: any)."""
        self.root = real_root(root)

    @classmethod
    def shared_pool(cls) -> QThreadPool:
        """The pool full-size loads share: two threads, so thumbnails keep their cores."""
        if cls._shared_pool is None:
            cls._shared_pool = QThreadPool()
            cls._shared_pool.setMaxThreadCount(2)
        return cls._shared_pool

    def is_current(self, generation: int) -> bool:
        """Whether a request of ``generation`` is still wanted (called from workers)."""
        with self._lock:
            return generation == self._generation

    def cancel(self) -> None:
        """Drop every request made so far: they finish silently or never start."""
        with self._lock:
            self._generation += 1

    def load(self, path: FilePath, replace: bool = True) -> None:
        """Start decoding ``path``; ``image_loaded`` or ``image_failed`` follows.

        Args:
            path: the image file.
            replace: cancel earlier requests first (the usual case for a viewer).
        """
        if replace:
            self.cancel()
        with self._lock:
            generation = self._generation
        self._pool.start(_LoadJob(self, path, generation))
