"""Shared tools of the reliability suite: disk snapshots, a whole read pass, the counts report."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from gallery_desktop.core.errors import ThumbnailError
from gallery_desktop.core.favorites import FavoritesStore
from gallery_desktop.core.index import RunIndex
from gallery_desktop.core.paths import OUTSIDE_REASON, lies_inside, real_root
from gallery_desktop.core.records import GalleryImage, ImageSource, ScanReport
from gallery_desktop.core.runs import scan_runs
from gallery_desktop.core.thumbnails import load_thumbnail

REPORT_ENV = "GALLERY_RELIABILITY_REPORT"
THUMB_EDGE = 128
GOOD_RUN = "2020-01-01T00-00-00-000Z"  # oldest, so it sorts after every case's own run


# --- Nothing on disk changes that should not --------------------------------------------------


def tree_state(root: Path) -> dict[str, tuple[Any, ...]]:
    """Every entry under ``root`` (symlinks not followed) with its type, mode, mtime, content.

    Access times are left out: reading a file may change them, and that is no change.
    """
    state: dict[str, tuple[Any, ...]] = {}
    if not os.path.lexists(root):
        return state
    # listdir + lstat rather than scandir: cases make os.scandir fail on purpose.
    pending = [str(root)]
    while pending:
        folder = pending.pop()
        for name in os.listdir(folder):
            path = os.path.join(folder, name)
            st = os.lstat(path)
            rel = os.path.relpath(path, root)
            if stat.S_ISLNK(st.st_mode):
                state[rel] = ("link", os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                state[rel] = ("dir", stat.S_IMODE(st.st_mode), st.st_mtime_ns)
                pending.append(path)
            elif stat.S_ISREG(st.st_mode):
                digest = hashlib.sha256()
                with open(path, "rb") as f:
                    while chunk := f.read(1 << 20):
                        digest.update(chunk)
                state[rel] = ("file", stat.S_IMODE(st.st_mode), st.st_mtime_ns, st.st_size,
                              digest.hexdigest())
            else:
                state[rel] = ("other", stat.S_IFMT(st.st_mode), st.st_mtime_ns)
    return state


def good_run(data_dir: Path) -> str:
    """A plain, valid run beside each case's bad input: it must come through untouched."""
    from tests.factories import make_run

    make_run(data_dir, GOOD_RUN, createdAt="2020-01-01T00:00:00.000Z")
    return f"img_{GOOD_RUN}_slide-1"


# --- A whole read pass, as the app makes it ---------------------------------------------------


@dataclass
class PassResult:
    """What one scan + favorites load + thumbnail pass over a data folder gave."""

    report: ScanReport
    thumbs: dict[str, tuple[int, int] | str] = field(default_factory=dict)  # id -> size/reason
    opened: list[Path] = field(default_factory=list)
    favorites_problem: str | None = None

    def image(self, image_id: str) -> GalleryImage:
        """The image with this id (fails the test when there is none)."""
        found = [i for i in self.report.images if i.id == image_id]
        assert len(found) == 1, f"{image_id} not among {[i.id for i in self.report.images]}"
        return found[0]

    @property
    def ids(self) -> list[str]:
        """The ids of every image shown, in the gallery's order."""
        return [i.id for i in self.report.images]

    @property
    def reasons(self) -> str:
        """Every skipped item's reason, one per line."""
        return "\n".join(s.reason for s in self.report.skipped)


FullPass = Callable[[Path], PassResult]


def _inside(path: Path, roots: tuple[str, ...]) -> bool:
    real = os.path.realpath(path)
    return any(real == r or real.startswith(r + os.sep) for r in roots)


@pytest.fixture
def full_pass(opened_files: list[Path], tmp_path: Path) -> FullPass:
    """Read a data folder as the app does, and check the invariants every case shares.

    Loads the favorites store, scans (cold with a run index, then warm from it: both must
    agree), and decodes a thumbnail of every local image. Asserts that nothing in the data
    folder changed and that no file outside it (and the index's cache folder) was opened.
    """

    def run(data_dir: Path) -> PassResult:
        cache = tmp_path / "reliability-cache"
        before = tree_state(data_dir)
        opened_files.clear()
        store = FavoritesStore(data_dir / "gallery-favorites.json")
        store.load()
        index = RunIndex(cache / "runs.index")
        cold = scan_runs(data_dir, store, index=index)
        index.save()
        warm_index = RunIndex(cache / "runs.index")
        warm_index.load()
        warm = scan_runs(data_dir, store, index=warm_index)
        assert warm.images == cold.images
        assert warm.skipped == cold.skipped
        result = PassResult(cold, favorites_problem=store.problem)
        root = real_root(data_dir)
        for image in cold.images:
            if image.source is ImageSource.LOCAL:
                assert image.image_path is not None
                if not lies_inside(image.image_path, root):  # as the app's thumbnailer checks
                    result.thumbs[image.id] = OUTSIDE_REASON
                    continue
                try:
                    result.thumbs[image.id] = load_thumbnail(image.image_path, THUMB_EDGE).size
                except ThumbnailError as err:
                    result.thumbs[image.id] = str(err)
            else:
                assert image.source is not ImageSource.LOCAL
        result.opened = list(opened_files)
        roots = (os.path.realpath(data_dir), os.path.realpath(cache))
        outside = [p for p in result.opened if not _inside(p, roots)
                   and not str(p).startswith(("/proc/", "/dev/"))
                   and "site-packages" not in str(p) and "lib/python" not in str(p)]
        assert outside == [], f"opened outside the data folder: {outside}"
        assert tree_state(data_dir) == before, "the data folder changed"
        return result

    return run


# --- The counts the suite reports ----------------------------------------------------------


def record(section: str, **counts: Any) -> None:
    """Add counts to the JSON report named by $GALLERY_RELIABILITY_REPORT (if set).

    Args:
        section: The part of the suite (e.g. "two_stores").
        **counts: Numbers (or short texts) to report under it.
    """
    target = os.environ.get(REPORT_ENV)
    if not target:
        return
    path = Path(target)
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        report = {}
    report.setdefault(section, {}).update(counts)
    path.write_text(json.dumps(report, indent=2, sort_keys=True), encoding="utf-8")


@pytest.fixture
def outside_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder beside the data folder holding things that must never be read."""
    folder = tmp_path / "outside"
    folder.mkdir()
    yield folder
