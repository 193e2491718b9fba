"""Image URLs of a run's meta.json mapped to files inside the data folder, and nowhere else."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote

from gallery_desktop.core.records import ImageSource

log = logging.getLogger(__name__)

# The web server serves the data folder under this prefix ("/data/runs/<runId>/slide-1.png").
SERVER_PREFIX = "/data/"
RELATIVE_DATA_PREFIX = "data/"

# "file:", "data:", "javascript:" ... and Windows drive letters ("C:") all look like a scheme.
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_REMOTE_PREFIXES = ("http://", "https://")
_RUNS_PREFIX = SERVER_PREFIX + "runs/"
# Characters that send a file name through the general path (decoding, stripping, escapes).
_UNSAFE = frozenset("%?#\\\x00")
_NOT_NAMES = ("", ".", "..")


def is_plain_name(name: str) -> bool:
    """Whether the last part of a URL path is a file name as it stands: not empty, "." or
    "..", and nothing to decode, strip or escape (no "%", "?", "#", backslash or NUL)."""
    return name not in _NOT_NAMES and _UNSAFE.isdisjoint(name)


def _child_path(parent: Path, name: str) -> Path:
    return parent / name


# ``make_child(parent, name)`` is ``parent / name`` for one clean name (no separators, not
# "." or ".."), for the run folders a scan or an index load names (10,000 in a big library).
# CPython's own directory walkers use this shortcut, about 4x faster than ``/``. Fall back
# where it does not exist.
make_child: Callable[[Path, str], Path] = getattr(Path, "_make_child_relpath", _child_path)


class ImageLocator:
    """Resolves image URLs against one data folder, remembering what it learnt about folders.

    The data folder is resolved once; folders already known to be real (no symlink on the
    way) and inside it are remembered, so a typical URL costs no system call. A locator is
    meant for one scan: it does not notice folders that become symlinks later.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.root = data_dir.resolve()
        self.root_str = str(self.root)
        self._root_prefix = self.root_str.rstrip(os.sep) + os.sep
        # The folder as given (it may run through a symlink), for absolute paths spelt that way.
        self._data_abs = os.path.abspath(data_dir)
        self._data_prefix = self._data_abs.rstrip(os.sep) + os.sep
        # Folder (as an absolute string) -> whether it is real and inside the root.
        self._dirs: dict[str, bool] = {self.root_str: True}
        # Run folder as given -> its real location as a string.
        self._run_bases: dict[str, str] = {}
        # "/data/runs/<runId>" of the run folders known to be real -> their real location.
        self._server_dirs: dict[str, str] = {}
        self._runs_str = os.path.join(self.root_str, "runs")

    def is_inside(self, real_path: str) -> bool:
        """Whether an already resolved absolute path lies inside the data folder."""
        return real_path == self.root_str or real_path.startswith(self._root_prefix)

    def add_run_dir(self, given: str, real: str) -> None:
        """Record a run folder known to be real (no symlink on the way) and inside the root.

        Args:
            given: The run folder as callers will pass it as ``run_dir``, as a string.
            real: Its real location, as a string.
        """
        self._dirs[real] = True
        self._run_bases[given] = real
        parent, _, name = real.rpartition(os.sep)
        if parent == self._runs_str:
            self._server_dirs[_RUNS_PREFIX + name] = real

    def server_folder(self, run_id: str) -> tuple[str, str] | None:
        """For a run folder this locator was told of (``add_run_dir``): the URL prefix of
        its files, ``"/data/runs/<runId>/"``, and its real folder with a trailing separator.
        A URL of that prefix followed by a name ``is_plain_name`` takes (no "/") names that
        file of the folder, as ``resolve`` would say."""
        folder = self._server_dirs.get(_RUNS_PREFIX + run_id)
        if folder is None:
            return None
        return _RUNS_PREFIX + run_id + "/", folder if folder.endswith(os.sep) else folder + os.sep

    def resolve(self, url: str, run_dir: Path) -> tuple[str | None, ImageSource]:
        """Map one image URL to a file inside the data folder; see ``resolve_image_url``."""
        if url.__class__ is str and url.startswith(_RUNS_PREFIX):
            # The common case, "/data/runs/<runId>/slide-1.png" in a run folder this locator
            # has been told about, without the general checks.
            head, _, name = url.rpartition("/")
            known = self._server_dirs.get(head)
            if known is not None and is_plain_name(name):
                return self._file_in(known, name)
        return self._resolve(url, run_dir)

    def _resolve(self, url: str, run_dir: Path) -> tuple[str | None, ImageSource]:
        """The general case of ``resolve``: every kind of URL and escape."""
        if not isinstance(url, str) or not url or "\x00" in url:
            return None, ImageSource.OUTSIDE
        if url[:8].lower().startswith(_REMOTE_PREFIXES) or url.startswith("//"):
            return None, ImageSource.REMOTE
        if url.startswith("\\\\") or (":" in url and _SCHEME.match(url)):
            return None, ImageSource.OUTSIDE  # UNC share, file://, C:\, data: ...
        path = url
        for mark in ("?", "#"):
            if mark in path:
                path = path.partition(mark)[0]
        if "%" in path:
            # surrogateescape keeps undecodable bytes, so "%FF" finds a non-UTF-8 file name.
            path = unquote(path, errors="surrogateescape")
            if "\x00" in path or path.startswith(("//", "\\\\")) or _SCHEME.match(path):
                return None, ImageSource.OUTSIDE
        if "\\" in path:
            path = path.replace("\\", "/")
            if path.startswith("//"):
                return None, ImageSource.OUTSIDE
        base, rel = self._base_and_rest(path, run_dir)
        if base is None:
            return None, ImageSource.OUTSIDE
        pieces = rel.split("/")
        segments = [s for s in pieces if s and s != "."]
        if ".." not in segments and pieces[-1] in ("", "."):  # "a/", "a/.": a folder's name
            return os.path.normpath(os.path.join(base, *segments)), ImageSource.MISSING
        if ".." in segments:
            return self._resolve_slow(os.path.join(base, *segments))
        parent_str = base if len(segments) == 1 else os.path.join(base, *segments[:-1])
        if not self._is_real_dir(parent_str):
            return self._resolve_slow(os.path.join(parent_str, segments[-1]))
        return self._file_in(parent_str, segments[-1])

    def _file_in(self, parent: str, name: str) -> tuple[str | None, ImageSource]:
        """``name`` in a folder known to be real and inside the root.

        The file itself is not looked at: whether it is there, and a regular file, is learnt
        when it is read (a thumbnail, the viewer), which also checks where a link leads.
        A scan names 100,000 images; an ``lstat`` each would cost it a third of the time
        of parsing their meta.json files, and far more with a cold disk.
        """
        return (parent if parent.endswith(os.sep) else parent + os.sep) + name, ImageSource.LOCAL

    def _base_and_rest(self, path: str, run_dir: Path) -> tuple[str | None, str]:
        """The folder a URL path is relative to (None: outside), and the rest of the path."""
        if path.startswith(SERVER_PREFIX):
            return self.root_str, path[len(SERVER_PREFIX):]
        if path.startswith(RELATIVE_DATA_PREFIX):
            return self.root_str, path[len(RELATIVE_DATA_PREFIX):]
        if not path.startswith("/"):
            return self._run_base(run_dir), path
        # Another absolute path: a server path below the data folder ("/runs/X/a.png") when
        # its first part exists there; a file-system path ("/etc/passwd") when it exists at
        # the file-system root instead, which is only allowed when it lies inside the root.
        first = path.lstrip("/").partition("/")[0]
        if not first or os.path.lexists(os.path.join(self.root_str, first)):
            return self.root_str, path
        normal = os.path.normpath(path)
        if (self.is_inside(normal) or normal == self._data_abs
                or normal.startswith(self._data_prefix)):
            return os.sep, path
        if os.path.lexists(os.path.join(os.sep, first)):
            return None, path
        return self.root_str, path

    def _run_base(self, run_dir: Path) -> str:
        """The real location of a run folder, as a string (computed once per folder)."""
        key = str(run_dir)
        base = self._run_bases.get(key)
        if base is None:
            base = os.path.realpath(key)
            self._run_bases[key] = base
        return base

    def _is_real_dir(self, directory: str) -> bool:
        """Whether ``directory`` is real (no symlink on the way) and inside the root."""
        found = self._dirs.get(directory)
        if found is None:
            real = os.path.realpath(directory)
            found = self._dirs[directory] = real == directory and self.is_inside(real)
        return found

    def _resolve_slow(self, candidate: str) -> tuple[str | None, ImageSource]:
        """Follow every symlink and ``..`` as the OS would, then check where it ended up."""
        real = os.path.realpath(candidate)
        if not self.is_inside(real):
            log.debug("image path %r resolves outside the data folder", candidate)
            return None, ImageSource.OUTSIDE
        return real, ImageSource.LOCAL


# Why a file is not opened: it lies (or now links) outside the data folder.
OUTSIDE_REASON = "the file links outside the data folder: not read"


def real_root(data_dir: Path | str | None) -> str | None:
    """``data_dir`` resolved, as ``lies_inside`` takes it (None stays None)."""
    return None if data_dir is None else os.path.realpath(data_dir)


def lies_inside(path: str | os.PathLike[str], root: str | None) -> bool:
    """Whether ``path``, with every symlink followed, lies inside ``root`` (a path
    ``real_root`` gave); with no root, everything does.

    Checked again when a file is opened: the run index keeps where an image was found
    when its run was read, and the file may have become a link to elsewhere since.
    """
    if root is None:
        return True
    real = os.path.realpath(path)
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)


def resolve_image_url(url: str, data_dir: Path, run_dir: Path) -> tuple[str | None, ImageSource]:
    """Map an image URL of meta.json to a file inside data_dir (never outside).

    ``/data/runs/X/a.png`` and ``data/runs/X/a.png`` name ``data_dir/runs/X/a.png``; other
    relative URLs are relative to ``run_dir``; other absolute server paths (``/runs/X/a.png``)
    are relative to ``data_dir``. Query strings and fragments are dropped, percent-escapes
    decoded and backslashes read as slashes before ``..`` and symlinks on the way are
    followed. The file itself is not looked at (see ``ImageLocator._file_in``).

    Args:
        url: The ``finalImageUrl`` or ``rawImageUrl`` of a post.
        data_dir: The data folder; nothing outside it is ever returned.
        run_dir: The run folder that relative URLs start from.

    Returns:
        ``(None, REMOTE)`` for http(s) URLs; ``(None, OUTSIDE)`` for anything that escapes the
        data folder or cannot be a local path there (``file://``, drive letters, NUL bytes,
        absolute file-system paths elsewhere); ``(path, MISSING)`` when the URL names a
        folder; else the path of the file and ``LOCAL``, whether or not a file is there yet.
        Paths are absolute strings.
    """
    return ImageLocator(data_dir).resolve(url, run_dir)
