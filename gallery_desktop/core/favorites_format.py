"""The favorites file's format: lenient parsing, and fast rendering identical to ``json.dumps``."""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass, field
from json.encoder import encode_basestring
from typing import Any

log = logging.getLogger(__name__)

FAVORITES_KEY = "favorites"
USAGE_KEY = "usageCounts"

# A rendered section is its entries "\n    <key>: <value>" joined by commas, in UTF-8. A raw
# newline byte never occurs inside encoded JSON text, so "\n    <key>: " finds exactly one.
_ENTRY_PREFIX = "\n    "
_EXAMPLES = 3
_SURROGATE = re.compile("[\ud800-\udfff]")


class ContentError(ValueError):
    """The bytes are not a usable favorites document (kept out of the public error tree)."""

    def __init__(self, reason: str, *, transient: bool = True) -> None:
        super().__init__(reason)
        # True when a half-written file could look like this, so a re-read may succeed.
        self.transient = transient


@dataclass(slots=True)
class FavoritesData:
    """One favorites document in memory.

    ``top`` holds every top-level key in file order; the values under ``favorites`` and
    ``usageCounts`` there are placeholders, the live data being ``favorites`` and ``usage``.
    ``fav_body`` / ``usage_body`` cache the rendered entries of those two sections, so
    that a write patches one line instead of re-encoding 100,000 entries. ``unread`` counts
    the entries (or whole sections) of the file that could not be used and that a write
    would therefore not carry over.
    """

    favorites: dict[str, bool] = field(default_factory=dict)
    usage: dict[str, int] = field(default_factory=dict)
    top: dict[str, Any] = field(default_factory=lambda: {FAVORITES_KEY: None, USAGE_KEY: None})
    fav_body: bytes | None = None
    usage_body: bytes | None = None
    unread: int = 0


def parse(data: bytes, source: str) -> FavoritesData | None:
    """Read a favorites document as leniently as the studio's web server would.

    Rules: a UTF-8 BOM is accepted. ``favorites`` must be an object; an entry counts when
    its value is ``true`` (``false`` means not a favorite; other values are dropped and
    logged). ``usageCounts`` must be an object of non-negative integers; a float with an
    integral value (``3.0``) becomes an int; negatives, fractions, NaN/infinity, strings
    (even numeric ones), booleans and null are dropped and logged. A section of the wrong
    type is treated as empty (logged) and rewritten at the next write; everything dropped
    is counted in ``unread``, so that the file can be kept before it is. An object with
    neither key is the legacy flat form ``{id: true}``: its boolean values are entries
    and any other keys are kept. Unknown top-level keys are kept, in order.

    Args:
        data: The file's bytes.
        source: The file name, for log messages.

    Returns:
        The document, or None when ``data`` is empty or only whitespace.

    Raises:
        ContentError: the bytes are not UTF-8, not JSON, or not a JSON object.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ContentError(f"not UTF-8 text ({err.reason} at byte {err.start})") from err
    if not text.strip():
        return None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise ContentError(f"not valid JSON ({err.msg}, line {err.lineno} column {err.colno})"
                           ) from err
    except RecursionError as err:
        raise ContentError("not usable JSON (nested too deeply)") from err
    if not isinstance(doc, dict):
        raise ContentError(f"JSON {_kind(doc)}, not an object", transient=False)
    result = FavoritesData(top={})
    if FAVORITES_KEY not in doc and USAGE_KEY not in doc:
        legacy = {k: v for k, v in doc.items() if isinstance(v, bool)}
        result.favorites = {k: True for k, v in legacy.items() if v}
        result.top = {k: v for k, v in doc.items() if k not in legacy}
        if legacy:
            log.info("%s: read %d favorites in the legacy flat form", source, len(result.favorites))
    else:
        # The sections' raw values are not kept: their live form is favorites/usage.
        result.top = {k: None if k in (FAVORITES_KEY, USAGE_KEY) else v for k, v in doc.items()}
        raw_favorites, raw_usage = doc.get(FAVORITES_KEY, {}), doc.get(USAGE_KEY, {})
        result.favorites = _read_favorites(raw_favorites, source)
        result.usage = _read_usage(raw_usage, source)
        result.unread = (_dropped(raw_favorites, len(result.favorites), true_only=True)
                         + _dropped(raw_usage, len(result.usage)))
    result.top.setdefault(FAVORITES_KEY, None)
    result.top.setdefault(USAGE_KEY, None)
    return result


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    return "number" if isinstance(value, int | float) else type(value).__name__


def _dropped(raw: object, kept: int, *, true_only: bool = False) -> int:
    """How much of a section was not kept: entries, or 1 for a non-empty section of the wrong
    type (``false`` favorites are no loss: they mean "not a favorite")."""
    if not isinstance(raw, dict):
        return 0 if raw is None or raw == [] or raw == "" else 1
    if true_only:
        return sum(1 for v in raw.values() if v is not True and v is not False)
    return len(raw) - kept


def _read_favorites(raw: object, source: str) -> dict[str, bool]:
    if not isinstance(raw, dict):
        log.warning("%s: %r is JSON %s, not an object; read as no favorites",
                    source, FAVORITES_KEY, _kind(raw))
        return {}
    favorites = {k: True for k, v in raw.items() if v is True}
    if len(favorites) < len(raw):
        odd = [k for k, v in raw.items() if v is not True and v is not False]
        if odd:
            log.warning("%s: ignored %d favorites whose value is not true/false (e.g. %s)",
                        source, len(odd), ", ".join(repr(k) for k in odd[:_EXAMPLES]))
    return favorites


def _read_usage(raw: object, source: str) -> dict[str, int]:
    if not isinstance(raw, dict):
        log.warning("%s: %r is JSON %s, not an object; read as no usage counts",
                    source, USAGE_KEY, _kind(raw))
        return {}
    # Fast path for the usual file, in C: all plain non-negative ints (type(), not
    # isinstance(): bool is an int subclass, and true is no count).
    if not raw or (set(map(type, raw.values())) == {int} and min(raw.values()) >= 0):
        return raw
    usage: dict[str, int] = {}
    dropped: list[str] = []
    for key, value in raw.items():
        if type(value) is int and value >= 0:
            usage[key] = value
        elif type(value) is float and math.isfinite(value) and value >= 0 and value.is_integer():
            usage[key] = int(value)
        else:
            dropped.append(f"{key!r}: {value!r}")
    if dropped:
        log.warning("%s: ignored %d usage counts that are not non-negative integers (e.g. %s)",
                    source, len(dropped), ", ".join(dropped[:_EXAMPLES]))
    return usage


def _plain(keys: str) -> bool:
    """True when no character of ``keys`` needs escaping in JSON (one C-speed pass)."""
    return len(encode_basestring(keys)) == len(keys) + 2


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate (read from a "\ud800" escape) has no UTF-8 form. It can only
        # sit inside a JSON string, so escape it there, as json.dumps's ASCII mode does.
        return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text).encode("utf-8")


def favorites_body(favorites: dict[str, bool]) -> bytes:
    """Render the entries of the ``favorites`` object (see ``FavoritesData``)."""
    if not favorites:
        return b""
    if _plain("".join(favorites)):
        # Fast path: the join runs in C; per-key encoding costs ~15x more at 100k ids.
        return _utf8(_ENTRY_PREFIX + '"' + '": true,\n    "'.join(favorites) + '": true')
    return _utf8(",".join([f"{_ENTRY_PREFIX}{encode_basestring(k)}: true" for k in favorites]))


def usage_body(usage: dict[str, int]) -> bytes:
    """Render the entries of the ``usageCounts`` object (see ``FavoritesData``)."""
    return _utf8(",".join([f"{_ENTRY_PREFIX}{encode_basestring(k)}: {v}"
                           for k, v in usage.items()]))


def body_with(body: bytes, key: str, value: str | None) -> bytes:
    """Return ``body`` with ``key`` set to the JSON ``value`` (appended when new) or removed.

    Args:
        body: Rendered entries, as ``favorites_body`` / ``usage_body`` make them.
        key: The id.
        value: JSON text of the new value, or None to remove the entry.

    Returns:
        The new body; the entry keeps its place when it already existed.
    """
    needle = _utf8(f"{_ENTRY_PREFIX}{encode_basestring(key)}: ")
    start = body.find(needle)
    # Each splice below copies the body once: joining memoryview slices copies nothing else.
    view = memoryview(body)
    if start < 0:
        if value is None:
            return body
        return b"".join((view, b"," if body else b"", needle, value.encode()))
    # Values here are `true` or digits, so the entry ends at the next comma (or the end).
    end = body.find(b",", start + len(needle))
    end = len(body) if end < 0 else end
    if value is not None:
        return b"".join((view[:start], needle, value.encode(), view[end:]))
    if end < len(body):
        return b"".join((view[:start], view[end + 1:]))  # the entry and the comma after it
    return bytes(view[:max(start - 1, 0)])  # the last entry and the comma before it


def render(doc: FavoritesData) -> bytes:
    """Serialise ``doc`` exactly as ``json.dumps(..., indent=2, ensure_ascii=False)`` would.

    Uses and fills the section caches of ``doc``.

    Args:
        doc: The document; ``top`` must contain both section keys.

    Returns:
        UTF-8 bytes, without a trailing newline (as the web server writes it).
    """
    if doc.fav_body is None:
        doc.fav_body = favorites_body(doc.favorites)
    if doc.usage_body is None:
        doc.usage_body = usage_body(doc.usage)
    parts: list[bytes] = [b"{"]
    for key, value in doc.top.items():
        if len(parts) > 1:
            parts.append(b",")
        parts.append(_utf8(f"\n  {encode_basestring(key)}: "))
        body = {FAVORITES_KEY: doc.fav_body, USAGE_KEY: doc.usage_body}.get(key)
        if body is None:
            # Nested values are indented one level deeper than json.dumps puts them.
            text = json.dumps(value, indent=2, ensure_ascii=False).replace("\n", "\n  ")
            parts.append(_utf8(text))
        elif body:
            parts += (b"{", body, b"\n  }")
        else:
            parts.append(b"{}")
    parts.append(b"\n}")
    return b"".join(parts)  # the only full copy: 100k entries are megabytes
