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

# A rendered entry is ",\n    <key>: <value>" in UTF-8. A raw newline byte never occurs
# inside encoded JSON text, so ",\n    <key>: " finds exactly that entry.
_ENTRY_PREFIX = ",\n    "
# Entries per chunk when a section is built, and the size at which appends start a new one:
# an edit copies one chunk (~30 KB), not the section (6 MB at 100,000 ids).
_CHUNK_ENTRIES = 512
_CHUNK_BYTES = 32_768
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
    ``fav_section`` / ``usage_section`` cache the rendered entries of those two sections
    (filled by ``section``), so that a write re-renders one chunk of entries instead of
    100,000 of them. ``unread`` counts the entries (or whole sections) of the file that
    could not be used and that a write would therefore not carry over.
    """

    favorites: dict[str, bool] = field(default_factory=dict)
    usage: dict[str, int] = field(default_factory=dict)
    top: dict[str, Any] = field(default_factory=lambda: {FAVORITES_KEY: None, USAGE_KEY: None})
    fav_section: Section | None = None
    usage_section: Section | None = None
    unread: int = 0

    def section(self, key: str) -> Section:
        """The rendered entries of section ``key`` (``FAVORITES_KEY`` or ``USAGE_KEY``)."""
        if key == FAVORITES_KEY:
            if self.fav_section is None:
                self.fav_section = Section.of_favorites(self.favorites)
            return self.fav_section
        if self.usage_section is None:
            self.usage_section = Section.of_usage(self.usage)
        return self.usage_section


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
    except ValueError as err:  # e.g. an integer longer than Python reads (4,300 digits)
        raise ContentError(f"not usable JSON ({err})", transient=False) from err
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


def _favorites_chunk(keys: list[str]) -> bytes:
    if _plain("".join(keys)):
        # Fast path: the join runs in C; per-key encoding costs ~15x more.
        return _utf8(_ENTRY_PREFIX + '"' + '": true,\n    "'.join(keys) + '": true')
    return _utf8("".join([f"{_ENTRY_PREFIX}{encode_basestring(k)}: true" for k in keys]))


def _usage_chunk(keys: list[str], counts: list[int]) -> bytes:
    return _utf8("".join([f"{_ENTRY_PREFIX}{encode_basestring(k)}: {v}"
                          for k, v in zip(keys, counts, strict=True)]))


def _split(keys: list[str]) -> list[list[str]]:
    return [keys[i:i + _CHUNK_ENTRIES] for i in range(0, len(keys), _CHUNK_ENTRIES)]


class Section:
    """The rendered entries of one section, in chunks.

    Mirrors a dict of the document, which the caller keeps in step. Entries stay in file
    order: an edit keeps an entry in its place, a new id goes at the end. An edit is
    planned first (``planned``) and applied once it is on disk (``apply``), so a failed
    write leaves the section as it was.
    """

    __slots__ = ("_chunks", "_entries", "_parts", "_where")

    def __init__(self, entries: dict[str, Any], parts: list[list[str]],
                 chunks: list[bytes]) -> None:
        self._entries = entries
        self._chunks = chunks
        # The ids each chunk was rendered from, until the first edit of an id already in
        # the file turns them into the chunk of every id (_where). Indexing 100,000 ids
        # costs ~14 ms, which a new heart (appended) never needs; searching the chunks
        # instead costs ~2-4 ms per edit through 6 MB of near-identical entries.
        self._parts: list[list[str]] | None = parts
        self._where: dict[str, int] = {}  # edited or appended ids, until indexed

    @classmethod
    def of_favorites(cls, favorites: dict[str, bool]) -> Section:
        """Render the entries of the ``favorites`` object (every value ``true``)."""
        parts = _split(list(favorites))
        return cls(favorites, parts, [_favorites_chunk(part) for part in parts])

    @classmethod
    def of_usage(cls, usage: dict[str, int]) -> Section:
        """Render the entries of the ``usageCounts`` object."""
        parts, counts = _split(list(usage)), list(usage.values())
        return cls(usage, parts, [
            _usage_chunk(part, counts[n * _CHUNK_ENTRIES:(n + 1) * _CHUNK_ENTRIES])
            for n, part in enumerate(parts)])

    def planned(self, key: str, value: str | None) -> tuple[int, bytes] | None:
        """Plan setting ``key`` to the JSON ``value`` (appended when new), or removing it.

        Args:
            key: The id.
            value: JSON text of the new value (``true`` or digits), or None to remove.

        Returns:
            The number of the chunk that changes and its new bytes, for ``render`` and
            ``apply``; None when there is nothing to change.
        """
        needle = _utf8(f"{_ENTRY_PREFIX}{encode_basestring(key)}: ")
        if key not in self._entries:
            if value is None:
                return None
            last = len(self._chunks) - 1
            if last < 0 or len(self._chunks[last]) >= _CHUNK_BYTES:
                return last + 1, needle + value.encode()
            return last, b"".join((self._chunks[last], needle, value.encode()))
        n = self._where.get(key)
        if n is None:
            n = self._index().get(key)
        if n is None:
            raise AssertionError(f"rendered favorites lost the entry {key!r}")
        chunk = self._chunks[n]
        start = chunk.find(needle)
        # Values are `true` or digits, so the entry ends at the next comma (or the end).
        end = chunk.find(b",", start + len(needle))
        end = len(chunk) if end < 0 else end
        if value is None:
            return n, chunk[:start] + chunk[end:]
        return n, b"".join((chunk[:start], needle, value.encode(), chunk[end:]))

    def _index(self) -> dict[str, int]:
        if self._parts is not None:
            where: dict[str, int] = {}
            for n, part in enumerate(self._parts):
                where.update(dict.fromkeys(part, n))
            # Edits since the build are newer facts (an id removed and added again moved
            # to the end). Ids removed since stay listed: only present ids are looked up.
            where.update(self._where)
            self._where, self._parts = where, None
        return self._where

    def apply(self, key: str, value: str | None, change: tuple[int, bytes] | None) -> None:
        """Make the change that ``planned(key, value)`` returned part of the section."""
        if change is None:
            return
        n, data = change
        if n == len(self._chunks):
            self._chunks.append(data)
        else:
            self._chunks[n] = data
        if value is None:
            self._where.pop(key, None)
        else:
            self._where[key] = n

    def pieces(self, change: tuple[int, bytes] | None = None) -> list[bytes | memoryview]:
        """The section's entries as buffers to join, with ``change`` (if any) applied."""
        chunks: list[bytes | memoryview] = list(self._chunks)
        if change is not None:
            n, data = change
            if n == len(chunks):
                chunks.append(data)
            else:
                chunks[n] = data
        chunks = [c for c in chunks if c]
        if chunks:
            chunks[0] = memoryview(chunks[0])[1:]  # no comma before the first entry
        return chunks


def render(doc: FavoritesData,
           change: tuple[str, tuple[int, bytes] | None] | None = None) -> bytes:
    """Serialise ``doc`` exactly as ``json.dumps(..., indent=2, ensure_ascii=False)`` would.

    Fills the section caches of ``doc``.

    Args:
        doc: The document; ``top`` must contain both section keys.
        change: A section key and what its ``Section.planned`` returned, to render the
            document as it will be once that change is applied (``doc`` is not changed).

    Returns:
        UTF-8 bytes, without a trailing newline (as the web server writes it).
    """
    parts: list[bytes | memoryview] = [b"{"]
    for key, value in doc.top.items():
        if len(parts) > 1:
            parts.append(b",")
        parts.append(_utf8(f"\n  {encode_basestring(key)}: "))
        if key not in (FAVORITES_KEY, USAGE_KEY):
            # Nested values are indented one level deeper than json.dumps puts them.
            text = json.dumps(value, indent=2, ensure_ascii=False).replace("\n", "\n  ")
            parts.append(_utf8(text))
            continue
        entries = doc.section(key).pieces(change[1] if change and change[0] == key else None)
        if entries:
            parts += (b"{", *entries, b"\n  }")
        else:
            parts.append(b"{}")
    parts.append(b"\n}")
    return b"".join(parts)  # the only full copy: 100k entries are megabytes
