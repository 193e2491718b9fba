"""Plain, frozen records shared by the core and the Qt layer."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import NamedTuple, TypeAlias

# A file named by a path string (as records do) or a Path: what the thumbnail code takes.
FilePath: TypeAlias = str | os.PathLike[str]


class ImageSource(StrEnum):
    """Where a record's image lives, as far as the gallery may know."""

    LOCAL = "local"  # a file inside the data folder (it may still be unreadable)
    MISSING = "missing"  # the URL resolves inside the data folder but no file is there
    REMOTE = "remote"  # an http(s) URL: shown as a placeholder, never fetched
    OUTSIDE = "outside"  # the URL escapes the data folder (or is unusable): never read


class GalleryImage(NamedTuple):
    """One image of one post of one run, as the studio's web gallery describes it.

    Field names are the snake_case twins of the web gallery's ``GalleryImage``.
    ``created_at`` is the ISO-8601 string shown to people; ``created_ts`` is the
    same instant as a POSIX timestamp used for stable sorting.

    A named tuple rather than a dataclass: a scan or an index load builds one per image
    (100,000 in a big library), and a tuple is built in one C call where a frozen dataclass
    sets each of its 26 fields through Python. Change one with ``_replace``.

    ``image_path`` is the file's absolute path as a string (None when the image is not a
    file of the data folder): plain data, like every other field. A ``Path`` per image
    would cost a scan ~3 us to build, the grid ~3 us more to hash as a dict key, and memory
    for its parts; ``path`` makes one for the few places that want it.
    """

    id: str
    run_id: str
    slide_id: str
    image_url: str
    image_path: str | None
    prompt: str = ""
    slide_text: str = ""
    created_at: str = ""
    aspect_ratio: str = "1:1"
    composition: str = "single"
    model: str | None = None
    topic: str | None = None
    audience: str | None = None
    usage_count: int = 0
    is_favorite: bool = False
    # Extras for display and search.
    created_ts: float = 0.0
    post_order: int = 0
    source: ImageSource = ImageSource.LOCAL
    status: str | None = None
    mode: str | None = None
    image_model: str | None = None
    style_preset: str | None = None
    hook: str | None = None
    overlay_title: str | None = None
    overlay_subtitle: str | None = None
    scheduled_date: str | None = None

    @property
    def path(self) -> Path | None:
        """``image_path`` as a Path (made on each call), or None."""
        return None if self.image_path is None else Path(self.image_path)

    @property
    def sort_key(self) -> tuple[float, str, int]:
        """Newest first, then run id, then post order (use with ``sorted``)."""
        return (-self.created_ts, self.run_id, self.post_order)

    def search_text(self) -> str:
        """Lower-cased text that the search field matches against."""
        parts = (self.prompt, self.slide_text, self.topic, self.model, self.image_model,
                 self.style_preset, self.run_id, self.hook, self.overlay_title,
                 self.overlay_subtitle, self.audience)
        return "\n".join(p for p in parts if p).casefold()


@dataclass(frozen=True, slots=True)
class SkippedItem:
    """Something the scan passed over, and why (shown to people as is)."""

    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class RunResult:
    """What parsing one run folder produced."""

    run_id: str
    run_dir: Path
    images: tuple[GalleryImage, ...] = ()
    skipped: tuple[SkippedItem, ...] = ()
    # meta.json was empty, not UTF-8 or not valid JSON: it may be caught mid-write (the studio
    # writes it in place), so it is worth reading again before its images are taken away.
    incomplete: bool = False


@dataclass(slots=True)
class ScanReport:
    """The outcome of scanning a data folder."""

    data_dir: Path
    runs_seen: int = 0
    images: list[GalleryImage] = field(default_factory=list)
    skipped: list[SkippedItem] = field(default_factory=list)
