"""Reading the studio's run folders (``<data>/runs/<runId>/meta.json``) into gallery records."""

from __future__ import annotations

import codecs
import gc
import json
import logging
import math
import os
import re
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from gallery_desktop.core.paths import ImageLocator, is_plain_name, make_child
from gallery_desktop.core.records import (
    GalleryImage,
    ImageSource,
    Run,
    RunResult,
    ScanImages,
    ScanReport,
    SkippedItem,
)

if TYPE_CHECKING:
    from gallery_desktop.core.index import RunIndex

log = logging.getLogger(__name__)

RUNS_DIRNAME = "runs"
# Why a scan found no run folder to list at all.
NO_RUNS_FOLDER = "no runs folder"
NO_DATA_FOLDER = "no data folder"
META_FILENAME = "meta.json"
# A meta.json is a few kB; one this big is not a run, and reading it would stall the scan.
MAX_META_BYTES = 64 * 1024 * 1024

# O_NONBLOCK: a FIFO named meta.json must not hang the scan. O_NOFOLLOW: a symlinked meta.json
# takes the slow path that checks where it points. O_BINARY: no newline translation on Windows.
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_OPEN_FLAGS = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
               | getattr(os, "O_BINARY", 0))

# The instant in a run id: JavaScript's toISOString() with ":" and "." replaced by "-".
_RUN_ID_INSTANT = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d)-(\d\d)-(\d\d)(?:-(\d{1,6}))?Z?")
# json.loads joins escaped surrogate pairs, so any surrogate left in a string is a lone one.
_SURROGATE = re.compile("[\ud800-\udfff]")
_NOT_PARSED = object()
_NOT_UTF8 = "folder name is not valid UTF-8, so its images would have no stable id"


class FavoritesLookup(Protocol):
    """What ``scan_runs`` needs from a favorites store."""

    def is_favorite(self, image_id: str) -> bool: ...

    def get_usage_count(self, image_id: str) -> int: ...


class _Skip(Exception):
    """A run's meta.json cannot be used; the message says why."""


@contextmanager
def gc_paused() -> Iterator[None]:
    """Hold off the cyclic garbage collector while building many long-lived records.

    Each collection walks every live container, and a scan or an index load creates tens of
    thousands that all survive: collections then cost up to a third of the time. The work
    makes no reference cycles, so nothing waits to be collected meanwhile. Restores the
    collector only if it was on (the app may have turned it off itself).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def display_name(name: str) -> str:
    """A file name safe to show and to encode: undecodable bytes become U+FFFD."""
    if name.isascii():
        return name
    return os.fsencode(name).decode("utf-8", "replace")


def is_inline_image(url: str) -> bool:
    """Whether ``url`` is an inline ``data:`` image rather than a file's address."""
    return url[:5].lower() == "data:"


def short_url(url: str, limit: int = 160) -> str:
    """``url`` as a message shows it: a long one (an inline ``data:`` image runs to
    megabytes) cut in the middle, with its length."""
    if len(url) <= limit:
        return url
    return f"{url[:limit - 40]}…{url[-30:]} ({len(url):,} characters)"


def _is_utf8(text: str) -> bool:
    """Whether a string can be written as UTF-8 (no surrogate escapes or lone surrogates)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _json_kind(value: object) -> str:
    """How a JSON value is called in messages ("a list", "null" ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _iso(ts: float) -> str:
    """A POSIX timestamp as JavaScript's ``toISOString()`` writes it."""
    try:
        dt = datetime.fromtimestamp(ts, UTC)
    except (OverflowError, OSError, ValueError):
        return ""
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _parse_instant(text: str) -> float | None:
    """An ISO-8601 date or date-time as a POSIX timestamp; without an offset it is UTC."""
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    if dt.tzinfo is None:
        # The studio writes UTC ("...Z"); reading a bare time as UTC keeps the order the same
        # on every machine, where local time would shift it with the time zone.
        dt = dt.replace(tzinfo=UTC)
    try:
        return dt.timestamp()
    except (OverflowError, OSError, ValueError):
        return None


def run_id_instant(run_id: str) -> float | None:
    """The instant encoded in a run id like ``2025-11-26T06-54-47-200Z`` (None if there is none)."""
    m = _RUN_ID_INSTANT.match(run_id)
    if m is None:
        return None
    year, month, day, hour, minute, second, frac = m.groups()
    try:
        dt = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second),
                      int((frac or "0").ljust(6, "0")), tzinfo=UTC)
        return dt.timestamp()
    except (ValueError, OverflowError):
        return None


def created_timestamp(meta: dict[str, Any], run_id: str, meta_mtime: float) -> tuple[str, float]:
    """When a run was created, as shown (ISO-8601) and as a POSIX timestamp for sorting.

    Never "now", so the order stays stable between scans.

    Args:
        meta: The run's parsed meta.json.
        run_id: The run folder's name.
        meta_mtime: meta.json's modification time (POSIX seconds).

    Returns:
        ``createdAt`` as written when it parses as a date; else the instant encoded in the run
        id; else meta.json's mtime.
    """
    created = meta.get("createdAt")
    if isinstance(created, str):
        ts = _parse_instant(created)
        if ts is not None:
            return created, ts
    ts = run_id_instant(run_id)
    if ts is None:
        ts = meta_mtime
    return _iso(ts), ts


# GalleryImage's fields in the order the fast builder below fills them.
_IMAGE_FIELDS = (
    "id", "run_id", "slide_id", "image_url", "image_path", "prompt", "slide_text",
    "created_at", "aspect_ratio", "composition", "model", "topic", "audience", "usage_count",
    "is_favorite", "created_ts", "post_order", "source", "status", "mode", "image_model",
    "style_preset", "hook", "overlay_title", "overlay_subtitle", "scheduled_date")
_TEXT_TYPES = frozenset((str, type(None)))
_PLAIN_COUNTS = frozenset((int, type(None)))
_PLAIN_CONFIGS = frozenset((dict, type(None)))
_NOTHING: dict[str, Any] = {}
_POST_KEYS = ("finalImageUrl", "rawImageUrl", "imagePrompt", "text", "scheduledDate")
_MOM_KEYS = ("imagePrompt", "caption", "hook", "overlayTitle", "overlaySubtitle")
_META_KEYS = ("mode", "topic", "status")
_CONFIG_KEYS = ("aspectRatio", "model", "audience", "imageModel", "stylePreset")


def _image_maker() -> Callable[[tuple[Any, ...]], GalleryImage]:
    """Makes images from values in ``_IMAGE_FIELDS`` order (fields added later get defaults).

    ``tuple.__new__`` builds the record in one C call; ``GalleryImage(*values)`` would go
    through the named tuple's Python-level ``__new__`` first.
    """
    names = GalleryImage._fields
    tail = names[len(_IMAGE_FIELDS):]
    if names[:len(_IMAGE_FIELDS)] != _IMAGE_FIELDS:  # records.py reordered: be correct
        return lambda values: GalleryImage(**dict(zip(_IMAGE_FIELDS, values, strict=True)))
    new = tuple.__new__
    if not tail:
        return lambda values: new(GalleryImage, values)
    defaults = tuple(GalleryImage._field_defaults[name] for name in tail)
    return lambda values: new(GalleryImage, values + defaults)


_make_image = _image_maker()


_MISSING = object()
# How JavaScript prints the other values an index can be (a missing one is undefined).
_JS_PRINTED: dict[object, str] = {_MISSING: "undefined", None: "null", True: "true",
                                  False: "false"}
# Integers JavaScript holds exactly (its doubles' 53-bit mantissa).
_EXACT_INT = 2 ** 53
# What JavaScript's Number() reads as a decimal number (Python's float() also takes
# "inf", "nan" and underscores, which it does not).
_JS_DECIMAL = re.compile(r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|Infinity)")


def _js_number(value: object) -> float | None:
    """A JSON value as JavaScript's ``Number()`` reads it where a number is compared
    (``meta.count > 1``): numbers and numeric text; None for the rest (NaN)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            return float(value)
        except OverflowError:  # an integer of hundreds of digits: JavaScript's Infinity
            return math.inf if value > 0 else -math.inf
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return 0.0
        return float(text) if _JS_DECIMAL.fullmatch(text) else None
    return None


def _json_int(text: str) -> int | float:
    """An integer of meta.json; one of more digits than Python reads (4,300) is, as for
    JavaScript, infinite."""
    try:
        return int(text)
    except ValueError:
        return -math.inf if text.startswith("-") else math.inf


def _js_number_text(number: float) -> str:
    """A JSON number as JavaScript prints it in a template string (``String(n)``).

    JavaScript holds every number as a double: an integer beyond 2**53 is rounded first
    (12345678901234567890 prints as 12345678901234567000), one beyond a double is Infinity.
    The digits are the shortest that read back as the same double (as Python's ``repr``);
    the exponent form is used from 1e21 up and from 1e-7 down ("1e+21", "1.5e-7").
    """
    if number.__class__ is int and -_EXACT_INT < number < _EXACT_INT:
        return str(number)  # the common case: exact either way
    try:
        value = float(number)
    except OverflowError:
        return "Infinity" if number > 0 else "-Infinity"
    if value != value:
        return "NaN"
    if value in (math.inf, -math.inf):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "0"  # -0 as well
    text = repr(value)
    sign = "-" if text[0] == "-" else ""
    mantissa, _, exponent = text.lstrip("-").partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    # value = 0.<digits> x 10**point, once the digits lose their leading and trailing zeros
    point = len(whole) + int(exponent or 0)
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    count = len(digits)
    if count <= point <= 21:
        return sign + digits + "0" * (point - count)
    if 0 < point <= 21:
        return sign + digits[:point] + "." + digits[point:]
    if -6 < point <= 0:
        return sign + "0." + "0" * -point + digits
    shown = digits[0] + ("." + digits[1:] if count > 1 else "")
    return f"{sign}{shown}e{'+' if point - 1 >= 0 else '-'}{abs(point - 1)}"


def _plain_texts(obj: dict[str, Any], keys: tuple[str, ...]) -> list[Any] | None:
    """The values of ``keys`` in ``obj`` when each is text, null or missing; else None."""
    values = list(map(obj.get, keys))
    return values if _TEXT_TYPES.issuperset(map(type, values)) else None


def _where(order: int, sub: str) -> str:
    """The place of a field in messages: "posts[2].momPost." (order -1: the run itself)."""
    return f"posts[{order}].{sub}" if order >= 0 else sub


class _MetaReader:
    """Applies the studio's data contract to one parsed meta.json, collecting problems."""

    __slots__ = ("check_chars", "locator", "meta_path", "problems", "run_dir", "run_id")

    def __init__(self, run_id: str, run_dir: Path, meta_path: str, locator: ImageLocator,
                 check_chars: bool) -> None:
        self.run_id = run_id
        self.run_dir = run_dir
        self.meta_path = meta_path
        self.locator = locator
        # Lone surrogates ("\ud800") can only come from \u escapes: check strings when any.
        self.check_chars = check_chars
        self.problems: list[SkippedItem] = []

    def problem(self, reason: str) -> None:
        """Note something in meta.json that was passed over."""
        log.info("%s: %s", self.meta_path, reason)
        self.problems.append(SkippedItem(self.meta_path, reason))

    def texts(self, obj: dict[str, Any], keys: tuple[str, ...], order: int,
              sub: str = "") -> list[Any]:
        """Text fields of ``obj`` (in post ``order``, -1 for the run): a missing, null or
        wrongly typed one gives None."""
        values = list(map(obj.get, keys))
        if self.check_chars or not _TEXT_TYPES.issuperset(map(type, values)):
            for i, value in enumerate(values):
                if value.__class__ is str:
                    if not _is_utf8(value):
                        self.problem(f"{_where(order, sub)}{keys[i]} holds broken characters: "
                                     "replaced")
                        values[i] = _SURROGATE.sub("\ufffd", value)
                elif value is not None:
                    self.problem(f"{_where(order, sub)}{keys[i]} is {_json_kind(value)}, "
                                 "not text: ignored")
                    values[i] = None
        return values

    def obj(self, obj: dict[str, Any], key: str, order: int) -> dict[str, Any] | None:
        """An object field; anything else is treated as missing (and noted unless null)."""
        value = obj.get(key)
        if value.__class__ is dict:
            return value
        if value is not None:
            self.problem(f"{_where(order, '')}{key} is {_json_kind(value)}, not an object: "
                         "ignored")
        return None

    def images(self, meta: dict[str, Any], mtime: float) -> list[GalleryImage]:
        """Every image the contract finds in ``meta``, in post order."""
        if not self.check_chars:
            images = self._plain_images(meta, mtime)
            if images is not None:
                return images
        return self._careful_images(meta, mtime)

    def _plain_images(self, meta: dict[str, Any], mtime: float) -> list[GalleryImage] | None:
        """``_careful_images`` for a meta.json the studio wrote: every field of the type
        it should be, each post with a numbered index or a ``momPost.id``. None as soon
        as anything is otherwise (the careful reading then notes what and why).

        A scan reads 10,000 runs with it; the careful reading's calls per field cost
        more than parsing the JSON.
        """
        get = meta.get
        posts, mode, topic, status = get("posts"), get("mode"), get("topic"), get("status")
        config, created_raw = get("momConfig"), get("createdAt")
        count: int | None = get("count")
        if (posts.__class__ is not list or config.__class__ not in _PLAIN_CONFIGS
                or count.__class__ not in _PLAIN_COUNTS
                or not _TEXT_TYPES.issuperset((mode.__class__, topic.__class__,
                                               status.__class__))):
            return None
        config_texts = _plain_texts(config if config is not None else _NOTHING, _CONFIG_KEYS)
        if config_texts is None:
            return None
        aspect, model, audience, image_model, style = config_texts
        run_id = self.run_id
        created_at, created_ts = created_timestamp(meta, run_id, mtime)
        if created_raw is not None and created_at is not created_raw:
            return None
        composition = "slideshow" if mode == "studio" and count is not None and count > 1 \
            else "single"
        shared_a = (created_at, aspect or "1:1", composition, model, topic, audience, 0, False,
                    created_ts)
        shared_b = (status, mode, image_model, style)
        locator = self.locator
        # Where "/data/runs/<runId>/<name>" names files, when the scan registered the folder.
        url_prefix, folder = locator.server_folder(run_id) or ("", "")
        skip = len(url_prefix)
        id_prefix = f"img_{run_id}_"
        images: list[GalleryImage] = []
        seen: set[str] = set()
        for order, post in enumerate(posts):
            if post.__class__ is not dict:
                return None
            # Inline, not _plain_texts: this runs for every post, and the call costs a third.
            pget = post.get
            final, raw, prompt, text, scheduled = (
                pget("finalImageUrl"), pget("rawImageUrl"), pget("imagePrompt"), pget("text"),
                pget("scheduledDate"))
            if not _TEXT_TYPES.issuperset((final.__class__, raw.__class__, prompt.__class__,
                                           text.__class__, scheduled.__class__)):
                return None
            url = final or raw
            if not url:
                continue  # not generated yet
            mom = pget("momPost")
            if mom:
                if mom.__class__ is not dict:
                    return None
                mget = mom.get
                mprompt, caption, hook, title, subtitle, slide_id = (
                    mget("imagePrompt"), mget("caption"), mget("hook"), mget("overlayTitle"),
                    mget("overlaySubtitle"), mget("id"))
                if not _TEXT_TYPES.issuperset((mprompt.__class__, caption.__class__,
                                               hook.__class__, title.__class__,
                                               subtitle.__class__, slide_id.__class__)):
                    return None
                prompt = mprompt or prompt
                text = caption or text
            elif mom is None or mom.__class__ is dict:  # none, or {}
                slide_id = hook = title = subtitle = None
            else:
                return None
            if not slide_id:
                index = pget("index")
                if index.__class__ is int and -_EXACT_INT < index < _EXACT_INT:
                    slide_id = f"slide-{index}"
                elif index.__class__ is str:
                    slide_id = "slide-" + index
                else:
                    return None
            name = url[skip:]
            if skip and url.startswith(url_prefix) and "/" not in name and is_plain_name(name):
                path: str | None = folder + name
                source = ImageSource.LOCAL
            else:
                path, source = locator.resolve(url, self.run_dir)
                if source is ImageSource.OUTSIDE:
                    return None
            image_id = id_prefix + slide_id
            if image_id in seen:
                return None
            seen.add(image_id)
            images.append(_make_image((
                image_id, run_id, slide_id, url, path, prompt or "", text or "", *shared_a,
                order, source, *shared_b, hook, title, subtitle, scheduled)))
        return images

    def _careful_images(self, meta: dict[str, Any], mtime: float) -> list[GalleryImage]:
        """``images``, field by field: every type checked, every problem noted."""
        posts = meta.get("posts")
        if posts.__class__ is not list:
            if posts is not None:
                self.problem(f"posts is {_json_kind(posts)}, not a list: no images")
            return []
        mode, topic, status = self.texts(meta, _META_KEYS, -1)
        config = self.obj(meta, "momConfig", -1)
        aspect, model, audience, image_model, style = (
            self.texts(config, _CONFIG_KEYS, -1, "momConfig.") if config else (None,) * 5)
        raw_count = meta.get("count")
        count = _js_number(raw_count)
        if count is None and raw_count is not None:
            self.problem(f"count is {_json_kind(raw_count)}, not a number: ignored")
        created_raw = meta.get("createdAt")
        created_at, created_ts = created_timestamp(meta, self.run_id, mtime)
        if created_raw is not None and created_at is not created_raw:
            self.problem(f"createdAt {created_raw!r} is not a date: ignored")
        composition = "slideshow" if mode == "studio" and (count or 0) > 1 else "single"
        # The fields every image of this run shares, in _IMAGE_FIELDS order.
        shared_a = (created_at, aspect or "1:1", composition, model, topic, audience, 0, False,
                    created_ts)
        shared_b = (status, mode, image_model, style)
        images: list[GalleryImage] = []
        seen: set[str] = set()
        for order, post in enumerate(posts):
            if post.__class__ is not dict:
                if post is not None:
                    self.problem(f"posts[{order}] is {_json_kind(post)}, not an object: skipped")
                continue
            image = self.image(post, order, shared_a, shared_b, seen)
            if image is None:
                continue
            if image.id in seen:
                self.problem(f"posts[{order}] repeats the image id {image.id}: skipped, the "
                             "first one is kept")
                continue
            seen.add(image.id)
            images.append(image)
        return images

    def image(self, post: dict[str, Any], order: int, shared_a: tuple[Any, ...],
              shared_b: tuple[Any, ...], taken: set[str]) -> GalleryImage | None:
        """The image of one post, or None when it has none (yet); ``taken``: the ids of
        the run's earlier images."""
        final_url, raw_url, prompt, text, scheduled = self.texts(post, _POST_KEYS, order)
        url = final_url or raw_url
        if not url:
            return None  # a post whose image is not generated yet: normal, not a problem
        mom = self.obj(post, "momPost", order) if "momPost" in post else None
        if mom:
            mprompt, caption, hook, title, subtitle = self.texts(
                mom, _MOM_KEYS, order, "momPost.")
            prompt = mprompt or prompt
            text = caption or text
            slide_id = self.mom_id(mom, order)
        else:
            slide_id = hook = title = subtitle = None
        if not slide_id:
            slide_id = "slide-" + self.post_index(post, order, taken)
        path, source = self.locator.resolve(url, self.run_dir)
        if source is ImageSource.OUTSIDE:
            if is_inline_image(url):
                self.problem(f"posts[{order}] image is an inline data: URL: not shown (only "
                             "files in the data folder are)")
            else:
                self.problem(f"posts[{order}] image URL {short_url(url)!r} points outside "
                             "the data folder: not read")
        return _make_image(
            (f"img_{self.run_id}_{slide_id}", self.run_id, slide_id, url, path, prompt or "",
             text or "", *shared_a, order, source, *shared_b, hook, title, subtitle, scheduled))

    def mom_id(self, mom: dict[str, Any], order: int) -> str | None:
        """``momPost.id`` as the web studio's ``momPost?.id || ...`` takes it: any truthy
        text or number, printed as JavaScript does; None falls back to the index."""
        value = mom.get("id")
        if value.__class__ is str:
            if not _is_utf8(value):
                self.problem(f"{_where(order, 'momPost.')}id holds broken characters: replaced")
                value = _SURROGATE.sub("\ufffd", value)
            return value or None
        if value is True:
            return "true"
        number = _js_number(value) if value.__class__ in (int, float) else None
        if number is not None:
            return _js_number_text(number) if number else None
        if value is not None and value is not False:
            self.problem(f"{_where(order, 'momPost.')}id is {_json_kind(value)}, not text: "
                         "ignored")
        return None

    def post_index(self, post: dict[str, Any], order: int, taken: set[str]) -> str:
        """``post.index`` as JavaScript prints it in a template string.

        A missing index prints as "undefined" (null as "null", and so on), as the web
        studio's ids have it; a second such post of the run would repeat that id, so from
        the second on the post's position keeps them apart.
        """
        index = post.get("index", _MISSING)
        if index.__class__ is str and _is_utf8(index):
            return index
        if index.__class__ in (int, float):
            return _js_number_text(index)
        printed = _JS_PRINTED.get(index) if index.__class__ in (object, type(None), bool) else None
        if printed is not None and f"img_{self.run_id}_slide-{printed}" not in taken:
            return printed
        kind = "missing" if index is _MISSING else _json_kind(index)
        self.problem(f"posts[{order}].index is {kind}: the post's position {order + 1} is used "
                     "instead")
        return str(order + 1)


class _RunReader:
    """Reads the run folders of one data folder; one per scan (it owns the URL locator)."""

    def __init__(self, data_dir: Path) -> None:
        self.locator = ImageLocator(data_dir)

    def skipped(self, run_id: str, run_dir: Path, reason: str,
                path: str | None = None, *, incomplete: bool = False) -> RunResult:
        """A run that yields no images, with the reason logged and kept for the report."""
        shown = display_name(path if path is not None else str(run_dir))
        log.info("skipped %s: %s", shown, reason)
        return RunResult(run_id, run_dir, (), (SkippedItem(shown, reason),), incomplete)

    def read_run(self, run_id: str, run_dir: Path, meta_path: str) -> tuple[RunResult, int, int]:
        """Read and parse one run folder (never raises for bad data).

        Returns:
            The result, and meta.json's ``st_mtime_ns`` and ``st_size`` (-1 when not read).
        """
        try:
            data, mtime_ns, size = self._read_meta(meta_path)
        except FileNotFoundError:
            gone = not os.path.isdir(run_dir)
            reason = "run folder disappeared during the scan" if gone else "no meta.json in it"
            return self.skipped(run_id, run_dir, reason), -1, -1
        except _Skip as err:
            return self.skipped(run_id, run_dir, str(err), meta_path), -1, -1
        text = ""
        incomplete = True  # until the bytes parse: an in-place write may be under way
        # The web server's JSON.parse would reject a UTF-8 BOM; a BOM is an editor's doing,
        # not another document, so we accept it.
        body = data[3:] if data.startswith(codecs.BOM_UTF8) else data
        # orjson parses a studio's meta.json in about half the time json does. It takes only
        # strict UTF-8 without lone surrogates, so no string needs checking. What it refuses,
        # json says why (or reads: NaN, "\ud800"). An integer beyond 64 bits it reads as a
        # float, as the web studio's JSON.parse reads every number.
        meta: Any = _NOT_PARSED
        check_chars = False
        with suppress(orjson.JSONDecodeError):
            meta = orjson.loads(body)
        try:
            if meta is _NOT_PARSED:
                text = body.decode()  # strict UTF-8 (no encoded surrogates)
                meta = json.loads(text, parse_int=_json_int)
                # json.loads joins escaped surrogate pairs: a lone one needs a "\u" escape.
                check_chars = "\\u" in text
        except RecursionError:
            reason, incomplete = "meta.json is nested too deeply to read", False
        except UnicodeDecodeError:
            reason = "meta.json is not valid UTF-8"
        except ValueError as err:
            reason = (f"meta.json is not valid JSON ({err})" if text.strip()
                      else "meta.json is empty")
        else:
            if meta.__class__ is not dict:
                reason, incomplete = f"meta.json holds {_json_kind(meta)}, not an object", False
            else:
                reader = _MetaReader(run_id, run_dir, display_name(meta_path), self.locator,
                                     check_chars)
                images = reader.images(meta, mtime_ns / 1e9)
                result = RunResult(run_id, run_dir, tuple(images), tuple(reader.problems))
                return result, mtime_ns, size
        return (self.skipped(run_id, run_dir, reason, meta_path, incomplete=incomplete),
                mtime_ns, size)

    def _read_meta(self, meta_path: str) -> tuple[bytes, int, int]:
        """The bytes, ``st_mtime_ns`` and ``st_size`` of a meta.json.

        Raises:
            FileNotFoundError: there is no meta.json (a run folder still being created).
            _Skip: it cannot or must not be read (unreadable, not a file, too big, escapes).
        """
        try:
            fd = os.open(meta_path, _OPEN_FLAGS | _NOFOLLOW)
        except FileNotFoundError:
            raise
        except OSError as err:
            fd = self._open_link(meta_path, err)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise _Skip("meta.json is not a regular file")
            if st.st_size > MAX_META_BYTES:
                raise _Skip(f"meta.json is {st.st_size:,} bytes, over the "
                            f"{MAX_META_BYTES:,}-byte limit: not read")
            # One read of size + 1 bytes: a short read means we have it all (the common case).
            data = os.read(fd, st.st_size + 1)
            if len(data) > st.st_size:
                data = _read_rest(fd, data)
        except OSError as err:
            raise _Skip(f"cannot read meta.json: {err.strerror or err}") from err
        finally:
            os.close(fd)
        return data, st.st_mtime_ns, st.st_size

    def _open_link(self, meta_path: str, err: OSError) -> int:
        """Open a meta.json that O_NOFOLLOW refused: only when its link stays inside."""
        if not os.path.islink(meta_path):
            raise _Skip(f"cannot open meta.json: {err.strerror or err}") from err
        if not self.locator.is_inside(os.path.realpath(meta_path)):
            raise _Skip("meta.json links outside the data folder: not read") from err
        try:
            return os.open(meta_path, _OPEN_FLAGS)
        except OSError as err2:
            raise _Skip(f"cannot open meta.json: {err2.strerror or err2}") from err2

    def check_entry(self, entry: os.DirEntry[str], run_dir: Path) -> RunResult | None:
        """A skipped result when a ``runs`` entry is no usable run folder, else None."""
        name = entry.name
        if not _is_utf8(name):
            return self.skipped(display_name(name), run_dir, _NOT_UTF8)
        is_link = False
        try:
            is_link = entry.is_symlink()
            if not entry.is_dir():
                if not is_link:
                    return self.skipped(name, run_dir, "not a folder")
                os.stat(run_dir)  # says why a link leads to no folder
                return self.skipped(name, run_dir, "links to something that is not a folder")
        except OSError as err:
            what = "broken or looping symlink" if is_link else "cannot inspect it"
            return self.skipped(name, run_dir, f"{what} ({err.strerror or err})")
        if is_link and not self.locator.is_inside(os.path.realpath(run_dir)):
            return self.skipped(name, run_dir, "run folder links outside the data folder")
        return None


def _read_rest(fd: int, first: bytes) -> bytes:
    """Finish reading a meta.json that grew after it was stat'ed."""
    chunks = [first]
    total = len(first)
    while chunk := os.read(fd, 1 << 20):
        total += len(chunk)
        if total > MAX_META_BYTES:
            raise _Skip(f"meta.json grew over the {MAX_META_BYTES:,}-byte limit: not read")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_run(run_dir: Path, data_dir: Path) -> RunResult:
    """Read one run folder's meta.json into its gallery images.

    Never raises for bad data: a folder that is missing, not a folder or has no readable
    meta.json gives a result without images and with a SkippedItem saying why.

    Args:
        run_dir: ``<data_dir>/runs/<runId>``; its name is the run id.
        data_dir: The data folder; image files outside it are never used.

    Returns:
        The run's images in post order, and everything that was passed over.
    """
    return read_run(run_dir, data_dir)[0]


def read_run(run_dir: Path, data_dir: Path) -> tuple[RunResult, int, int]:
    """``parse_run``, also giving the meta.json that was read's ``st_mtime_ns`` and
    ``st_size`` (-1 when none was), as a RunIndex stores a run under."""
    reader = _RunReader(data_dir)
    run_id = run_dir.name
    if not _is_utf8(run_id):
        return reader.skipped(display_name(run_id), run_dir, _NOT_UTF8), -1, -1
    if not os.path.isdir(run_dir):
        reason = "not a folder" if os.path.lexists(run_dir) else "no such folder"
        return reader.skipped(run_id, run_dir, reason), -1, -1
    if os.path.islink(run_dir) and not reader.locator.is_inside(os.path.realpath(run_dir)):
        return reader.skipped(run_id, run_dir, "run folder links outside the data folder"), -1, -1
    return reader.read_run(run_id, run_dir, os.path.join(run_dir, META_FILENAME))


def iter_runs(data_dir: Path, *, index: RunIndex | None = None,
              cancelled: Callable[[], bool] | None = None,
              problems: list[SkippedItem] | None = None) -> Iterator[Run]:
    """One RunResult (or RunRows) per entry of ``data_dir/runs``, newest run ids first.

    Entries that are not run folders (files, folders without meta.json, broken links) give a
    result without images that says why. With an index, a run whose meta.json has the same
    (mtime_ns, size) as when it was stored is not read again (a run the index loaded from
    its file comes as a RunRows, its records not built yet), and after a complete pass the
    index forgets runs that are gone (saving it is the caller's job).

    Args:
        data_dir: The data folder.
        index: Parsed runs from earlier scans; updated with what this scan reads.
        cancelled: Asked before each run; the scan stops as soon as it returns True.
        problems: Where to note that there is no usable runs folder (and why), if given.

    Yields:
        The result of each run folder.
    """
    reader = _RunReader(data_dir)
    locator = reader.locator
    runs_dir = data_dir / RUNS_DIRNAME
    try:
        with os.scandir(runs_dir) as it:
            # Run ids are ISO instants: reverse name order yields the newest runs first.
            entries = sorted(it, key=attrgetter("name"), reverse=True)
    except OSError as err:
        if isinstance(err, FileNotFoundError):
            reason = NO_RUNS_FOLDER if os.path.isdir(data_dir) else NO_DATA_FOLDER
        else:
            reason = f"cannot list the runs folder: {err.strerror or err}"
        log.warning("%s: %s", runs_dir, reason)
        if problems is not None:
            problems.append(SkippedItem(display_name(str(runs_dir)), reason))
        return
    runs_real = os.path.realpath(runs_dir)
    # Run folders are real (their images need no symlink check) when the runs folder is.
    runs_are_real = locator.is_inside(runs_real)
    runs_as_given = runs_real == str(runs_dir)  # else run folders live at runs_real/<name>
    real_parent_str = runs_real + os.sep
    seen: list[str] = []
    for entry in entries:
        if cancelled is not None and cancelled():
            return
        name = entry.name
        key = entry.path
        if name.isascii() and entry.is_dir(follow_symlinks=False):  # no system call
            meta_path = key + os.sep + META_FILENAME
        else:
            bad = reader.check_entry(entry, make_child(runs_dir, name))
            if bad is not None:
                yield bad
                continue
            meta_path = os.path.join(key, META_FILENAME)
        seen.append(key)
        if index is not None:
            try:
                st = os.stat(meta_path)
            except OSError:
                pass  # read_run below says why
            else:
                hit = index.hit(key, st.st_mtime_ns, st.st_size)
                if hit is not None:
                    yield hit
                    continue
        run_dir = make_child(runs_dir, name)
        if runs_are_real and not entry.is_symlink():
            locator.add_run_dir(key, key if runs_as_given else real_parent_str + name)
        result, mtime_ns, size = reader.read_run(name, run_dir, meta_path)
        if index is not None and mtime_ns >= 0:
            index.put(key, mtime_ns, size, result)
        yield result
    if index is not None:
        index.retain(seen)


def scan_runs(data_dir: Path, favorites: FavoritesLookup | None = None, *,
              index: RunIndex | None = None) -> ScanReport:
    """Scan every run of a data folder into one sorted list of images and a report.

    Args:
        data_dir: The data folder (holding ``runs/``).
        favorites: When given, each image's ``is_favorite`` and ``usage_count`` come from it.
        index: Parsed runs from earlier scans (see ``iter_runs``); the caller saves it.

    Returns:
        Images ordered by ``GalleryImage.sort_key`` (newest first, then run id, then post
        order), an id two runs make alike shown once (the greatest run id's), and every
        skipped item with its reason.
        ``report.images`` is a ScanImages (unless favorites are filled in or an id repeats):
        the runs the index loaded from its file are built only as their images are reached.
    """
    report = ScanReport(data_dir)
    with_images: list[Run] = []
    with gc_paused():
        for result in iter_runs(data_dir, index=index, problems=report.skipped):
            report.runs_seen += 1
            if result.skipped:
                report.skipped.extend(result.skipped)
            if result.ids:
                with_images.append(result)
    # All images of a run share created_ts and run_id and come in post order, so sorting the
    # runs orders the images exactly as sort_key would, at a fraction of the cost: newest
    # first, then by run id. The runs came in reverse name order; sorts are stable.
    with_images.reverse()
    with_images.sort(key=attrgetter("created_ts"), reverse=True)
    images = ScanImages(with_images)
    if favorites is None and not _ids_may_repeat(with_images):
        # The common case (no duplicates, nothing to merge): no per-image Python work.
        report.images = images
    else:
        _merge(report, with_images, favorites)
    return report


def _ids_may_repeat(runs: list[Run]) -> bool:
    """Whether two of ``runs`` could make the same image id.

    Within a run the reader drops repeats. Across runs, "img_<run id>_<slide id>" comes out
    alike only when one run id is another's followed by "_" (run "a" with slide "b_c", run
    "a_b" with slide "c"): a look at the run ids, not at every image's.
    """
    names = {run.run_id for run in runs}
    for name in names:
        head = name
        while "_" in head:
            head = head.rpartition("_")[0]
            if head in names:
                return True
    return False


def _merge(report: ScanReport, runs: list[Run], favorites: FavoritesLookup | None) -> None:
    """Add the runs' images to the report, dropping repeated ids and filling in favorites."""
    images: list[GalleryImage] = []
    report.images = images
    # An id two runs make alike (run "a_b" + slide "c", run "a" + slide "b_c") belongs to
    # the greatest run id, as in the app's grid whatever order the runs come in.
    owner: dict[str, str] = {}
    for result in runs:
        run_id = result.run_id
        for image_id in result.ids:
            if owner.setdefault(image_id, run_id) < run_id:
                owner[image_id] = run_id
    for result in runs:
        for image in result.images:
            kept = owner[image.id]
            if kept != result.run_id:
                reason = f"image id {image.id} is also run {kept}'s: that one is kept"
                log.info("%s: %s", result.run_dir, reason)
                report.skipped.append(SkippedItem(display_name(str(result.run_dir)), reason))
                continue
            if favorites is not None:
                favorite = favorites.is_favorite(image.id)
                uses = favorites.get_usage_count(image.id)
                if favorite or uses:
                    image = image._replace(is_favorite=favorite, usage_count=uses)
            images.append(image)
