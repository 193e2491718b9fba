"""Plain, frozen records shared by the core and the Qt layer."""

from __future__ import annotations

import os
import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import accumulate, chain
from pathlib import Path
from typing import NamedTuple, TypeAlias, overload

# A file named by a path string (as records do) or a Path: what the thumbnail code takes.
FilePath: TypeAlias = str | os.PathLike[str]


# Combining marks that accents decompose into (Latin, Greek, Cyrillic and their extensions).
_MARKS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


def fold(text: str) -> str:
    """``text`` as search compares it: case-folded, accents dropped ("Café" -> "cafe"),
    compatibility forms unified (the "fi" ligature, math bold and double-struck letters)."""
    if text.isascii():
        return text.casefold()
    # Decomposed first (compatibility forms can be capitals), folded, decomposed again
    # (folding "İ" gives "i" + a combining dot), then the marks go.
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    return _MARKS.sub("", folded)


class ImageSource(StrEnum):
    """Where a record's image lives, as far as the gallery may know."""

    # A file inside the data folder, by its URL: whether it is there (and readable) is
    # learnt when it is read.
    LOCAL = "local"
    # No file to read: the URL ends in a folder's name ("a/"), or the record was damaged.
    MISSING = "missing"
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
        """The text the search field matches against, ``fold``-ed."""
        parts = (self.prompt, self.slide_text, self.topic, self.model, self.image_model,
                 self.style_preset, self.run_id, self.hook, self.overlay_title,
                 self.overlay_subtitle, self.audience)
        return fold("\n".join(p for p in parts if p))


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
    # Derived, as RunRows has them: the images' ids in post order, and when the run was
    # created (its images share it; 0.0 without images). Kept, as scans ask for them often.
    ids: tuple[str, ...] = field(init=False, repr=False, compare=False)
    created_ts: float = field(init=False, repr=False, compare=False)
    _texts: tuple[str, ...] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        images = self.images
        object.__setattr__(self, "ids", tuple(image.id for image in images))
        object.__setattr__(self, "created_ts", images[0].created_ts if images else 0.0)
        object.__setattr__(self, "_texts", None)

    def search_texts(self) -> tuple[str, ...]:
        """Each image's ``search_text()``, in order (made once: the grid and the run index
        both want them)."""
        texts = self._texts
        if texts is None:
            texts = tuple(image.search_text() for image in self.images)
            object.__setattr__(self, "_texts", texts)
        return texts


class RunRows:
    """A run's images known by id, order and search text, their records built on first use.

    What a warm start takes from the run index: enough for the grid to place, filter and
    search every row, while the records themselves (26 fields each) are built only for the
    runs that are shown. ``images`` builds them once; any thread may ask (two threads asking
    at once may both build, with equal results). Where they come from is a subclass's
    business: ``_make_images`` and ``_make_search_texts``.
    """

    __slots__ = ("_images", "_run_dir", "_texts", "created_ts", "damaged", "ids", "incomplete",
                 "orders", "run_id", "skipped")

    def __init__(self, run_id: str, run_dir: Path | str, created_ts: float,
                 ids: tuple[str, ...], orders: tuple[int, ...],
                 skipped: tuple[SkippedItem, ...] = (), incomplete: bool = False) -> None:
        self.run_id = run_id
        self._run_dir = run_dir  # a string until a Path is asked for
        self.created_ts = created_ts
        self.ids = ids
        self.orders = orders
        self.skipped = skipped
        self.incomplete = incomplete
        # Set when the stored records could not be built: whoever owns the index reads the
        # run again instead of trusting it.
        self.damaged = False
        self._texts: tuple[str, ...] | None = None
        self._images: tuple[GalleryImage, ...] | None = None

    def _make_images(self) -> tuple[GalleryImage, ...] | None:
        """Build the records (None: they cannot be had)."""
        raise NotImplementedError

    def _make_search_texts(self) -> tuple[str, ...]:
        """Each image's ``search_text()`` (the default builds the records for it)."""
        return tuple(image.search_text() for image in self.images)

    @property
    def run_dir(self) -> Path:
        """The run folder."""
        run_dir = self._run_dir
        if isinstance(run_dir, str):
            run_dir = self._run_dir = Path(run_dir)
        return run_dir

    @property
    def search_texts(self) -> tuple[str, ...]:
        """Each image's ``search_text()``, in order (made on first use)."""
        texts = self._texts
        if texts is None:
            texts = self._make_search_texts()
            if len(texts) != len(self.ids):  # damaged: the records say it (and it is re-read)
                self.damaged = True
                texts = tuple(image.search_text() for image in self.images)
            self._texts = texts
        return texts

    @property
    def built(self) -> bool:
        """Whether the records exist already."""
        return self._images is not None

    @property
    def images(self) -> tuple[GalleryImage, ...]:
        """The records, in post order (built now if need be).

        Records that cannot be built, or that do not match the ids, orders and instant the
        rows were placed by (a damaged cache entry), come back as placeholders that show the
        image as missing, and ``damaged`` is set.
        """
        images = self._images
        if images is not None:
            return images
        built = self._make_images()
        # The records must sit where the rows were placed: same ids, orders and instant.
        if (built is None or tuple(image.id for image in built) != self.ids
                or tuple(image.post_order for image in built) != self.orders
                or any(image.created_ts != self.created_ts for image in built)):
            self.damaged = True
            built = tuple(GalleryImage(image_id, self.run_id, "", "", None,
                                       created_ts=self.created_ts, post_order=order,
                                       source=ImageSource.MISSING)
                          for image_id, order in zip(self.ids, self.orders, strict=True))
        self._images = built
        return built

    def result(self) -> RunResult:
        """The run as a RunResult (building the records)."""
        return RunResult(self.run_id, self.run_dir, self.images, self.skipped, self.incomplete)

    @classmethod
    def of(cls, result: RunResult, images: Sequence[GalleryImage] | None = None) -> RunRows:
        """A run whose records are at hand (read from its meta.json just now), as RunRows.

        Args:
            result: The run.
            images: Its images to show, when not all of them (in post order).

        Raises:
            ValueError: the images do not share the run's ``created_ts`` (as every run read
                by the data contract does): rows are placed by the run's instant.
        """
        shown = result.images if images is None else tuple(images)
        if any(image.created_ts != result.created_ts for image in shown):
            raise ValueError(f"the images of run {result.run_id!r} do not share its instant")
        rows = cls(result.run_id, result.run_dir, result.created_ts,
                   result.ids if images is None else tuple(image.id for image in shown),
                   tuple(image.post_order for image in shown), result.skipped,
                   result.incomplete)
        rows._images = shown
        if images is None:
            rows._texts = result.search_texts()
        return rows


Run: TypeAlias = RunResult | RunRows


class ScanImages(Sequence[GalleryImage]):
    """The images of sorted runs as one sequence; a run's records are built when reached."""

    __slots__ = ("_runs", "_starts")

    def __init__(self, runs: Sequence[Run]) -> None:
        self._runs = list(runs)
        self._starts = [0, *accumulate(len(run.ids) for run in self._runs)]

    def __len__(self) -> int:
        return self._starts[-1]

    @overload
    def __getitem__(self, i: int) -> GalleryImage: ...

    @overload
    def __getitem__(self, i: slice) -> list[GalleryImage]: ...

    def __getitem__(self, i: int | slice) -> GalleryImage | list[GalleryImage]:
        if isinstance(i, slice):
            return list(self)[i]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        at = bisect_right(self._starts, i) - 1
        return self._runs[at].images[i - self._starts[at]]

    def __iter__(self) -> Iterator[GalleryImage]:
        for run in self._runs:
            yield from run.images

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable-looking, like a list

    def __repr__(self) -> str:
        return f"ScanImages({len(self)} images in {len(self._runs)} runs)"

    def ids(self) -> Iterator[str]:
        """Every image's id, in order (no record is built)."""
        return chain.from_iterable(run.ids for run in self._runs)


@dataclass(slots=True)
class ScanReport:
    """The outcome of scanning a data folder.

    ``images`` may be a ``ScanImages``: its records are built as they are reached.
    """

    data_dir: Path
    runs_seen: int = 0
    images: Sequence[GalleryImage] = field(default_factory=list)
    skipped: list[SkippedItem] = field(default_factory=list)
