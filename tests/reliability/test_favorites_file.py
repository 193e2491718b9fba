"""Odd favorites files and failing disks: read what can be read, never lose or corrupt a heart."""

from __future__ import annotations

import errno
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from gallery_desktop.core import fsutil
from gallery_desktop.core.errors import FavoritesWriteError
from gallery_desktop.core.favorites import FavoritesStore, lock_path_for
from tests.reliability.conftest import record, tree_state

REPO = Path(__file__).resolve().parents[2]
NAME = "gallery-favorites.json"
LOCK = lock_path_for(Path(NAME)).name


def dumps(doc: Any) -> bytes:
    """A favorites document as the web server writes it (JSON.stringify(data, null, 2))."""
    return json.dumps(doc, indent=2, ensure_ascii=False).encode()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    return folder / NAME


def state(folder: Path) -> dict[str, tuple[Any, ...]]:
    """``tree_state`` of the data folder, less our own lock file (a write may create it)."""
    found = tree_state(folder)
    found.pop(LOCK, None)
    return found


def store_on(path: Path, raw: bytes | None) -> FavoritesStore:
    """A loaded store on ``raw``; loading must change nothing on disk."""
    if raw is not None:
        path.write_bytes(raw)
    before = state(path.parent)
    store = FavoritesStore(path)
    store.load()
    assert state(path.parent) == before, "loading changed the folder"
    return store


def memory(store: FavoritesStore) -> tuple[frozenset[str], dict[str, int]]:
    return store.favorites(), store.usage_counts()


def others(path: Path) -> list[str]:
    """The names in the folder besides the favorites file and our lock file."""
    return sorted(p.name for p in path.parent.iterdir() if p.name not in (NAME, LOCK))


# --- Contents ----------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [b"", b"  \n\n  "], ids=["empty", "blank"])
def test_a_blank_file_is_an_empty_one_and_is_simply_replaced(path: Path, raw: bytes) -> None:
    store = store_on(path, raw)
    assert memory(store) == (frozenset(), {}) and store.problem is None
    assert store.set_favorite("img_new", True) is True
    assert path.read_bytes() == dumps({"favorites": {"img_new": True}, "usageCounts": {}})
    assert others(path) == []  # nothing in a blank file to keep


@pytest.mark.parametrize(("raw", "reason"), [
    (b"null", "JSON null, not an object"),
    (b"[]", "JSON array, not an object"),
    (b'["img_a", "img_b"]', "JSON array, not an object"),
    (b'"img_a"', "JSON string, not an object"),
    (b"42", "JSON number, not an object"),
    (b'{"favorites": {"img_a": tru', "not valid JSON (Expecting value, line 1 column 25)"),
    (b'{"favorites": {"caf\xe9": true}}', "not UTF-8 text (invalid continuation byte at byte 19)"),
], ids=["null", "empty-array", "array", "string", "number", "truncated", "latin1"])
def test_an_unusable_file_is_kept_aside_before_the_first_write(
        path: Path, raw: bytes, reason: str, caplog: pytest.LogCaptureFixture) -> None:
    store = store_on(path, raw)
    assert memory(store) == (frozenset(), {})
    assert store.problem == (f"The favorites file {path} could not be read: {reason}. Starting "
                             "with no favorites; the file will be kept as "
                             "gallery-favorites.corrupt-<time>.json at the first change.")
    assert path.read_bytes() == raw  # reading it changed nothing
    caplog.set_level(logging.INFO, logger="gallery_desktop.core.favorites")
    store.set_favorite("img_new", True)
    assert path.read_bytes() == dumps({"favorites": {"img_new": True}, "usageCounts": {}})
    # Keeping it (a hard link: a new ctime) is our own doing, not another writer's.
    assert "merging again" not in caplog.text
    (aside,) = others(path)
    assert aside.startswith("gallery-favorites.corrupt-") and aside.endswith("Z.json")
    assert (path.parent / aside).read_bytes() == raw
    assert store.problem is None
    store.set_favorite("img_second", True)
    assert len(others(path)) == 1  # kept once, not at every write


def test_a_file_that_turns_unreadable_keeps_the_hearts_read_before(path: Path) -> None:
    """Another program cuts the file short: the store keeps what it read, says so, and its
    next change writes those back (the cut file kept aside)."""
    store = store_on(path, dumps({"favorites": {"img_a": True}, "usageCounts": {"img_b": 2}}))
    cut = b'{"favorites": {"img_a": tr'
    path.write_bytes(cut)
    store.reload_if_changed()
    assert memory(store) == ({"img_a"}, {"img_b": 2})
    assert store.problem == (
        f"The favorites file {path} could not be read: not valid JSON (Expecting value, line "
        "1 column 25). The hearts and use counts read before stay; at the first change the "
        "file will be kept as gallery-favorites.corrupt-<time>.json and they are written "
        "back with it.")
    store.set_favorite("img_c", True)
    assert json.loads(path.read_bytes()) == {"favorites": {"img_a": True, "img_c": True},
                                             "usageCounts": {"img_b": 2}}
    (aside,) = others(path)
    assert (path.parent / aside).read_bytes() == cut and store.problem is None


@pytest.mark.parametrize("web_writes", [1, 5])
def test_a_web_write_landing_during_ours_is_merged_not_replaced(
        path: Path, monkeypatch: pytest.MonkeyPatch, web_writes: int) -> None:
    """The web server writes in place and takes no lock. A write of its that lands while
    ours is being made (during the fsync of our temp file, most of a write's time) is
    merged: ours is made again on top of it. A server that never stops writing cannot hold
    ours back for ever: the last attempt replaces the file."""
    store = store_on(path, dumps({"favorites": {"img_a": True}, "usageCounts": {}}))
    real_fsync = os.fsync
    web: list[str] = []

    def fsync_while_the_web_writes(fd: int) -> None:
        real_fsync(fd)
        if len(web) < web_writes and os.path.isfile(f"/proc/self/fd/{fd}"):
            web.append(f"img_web{len(web)}")  # as fs.writeFile does: truncate, then write
            with open(path, "r+b") as f:
                f.truncate(0)
                f.write(dumps({"favorites": dict.fromkeys(["img_a", *web], True),
                               "usageCounts": {}}))

    monkeypatch.setattr(os, "fsync", fsync_while_the_web_writes)
    store.set_favorite("img_new", True)
    on_disk = set(json.loads(path.read_bytes())["favorites"])
    if web_writes == 1:
        assert on_disk == {"img_a", "img_web0", "img_new"}
        assert store.favorites() == on_disk
    else:  # three attempts, each overtaken: the third writes what it merged
        assert on_disk == {"img_a", "img_web0", "img_web1", "img_new"}


def test_the_legacy_flat_form_is_read_and_written_back_in_the_new_form(path: Path) -> None:
    store = store_on(path, dumps({"img_a": True, "img_b": False, "theme": "dark",
                                  "img_c": True}))
    assert memory(store) == ({"img_a", "img_c"}, {}) and store.problem is None
    store.increment_usage("img_a")
    assert path.read_bytes() == dumps({"theme": "dark",
                                       "favorites": {"img_a": True, "img_c": True},
                                       "usageCounts": {"img_a": 1}})
    assert others(path) == []


def test_200k_ids(path: Path) -> None:
    ids = [f"img_2025-11-26T06-54-47-200Z_slide-{n}" for n in range(200_000)]
    doc = {"favorites": dict.fromkeys(ids, True), "usageCounts": {i: 3 for i in ids[::4]}}
    store = store_on(path, dumps(doc))
    assert len(store.favorites()) == 200_000 and len(store.usage_counts()) == 50_000
    assert store.toggle_favorite(ids[123_456]) is False
    assert store.increment_usage("img_new") == 1
    del doc["favorites"][ids[123_456]]
    doc["usageCounts"]["img_new"] = 1
    assert path.read_bytes() == dumps(doc)  # byte for byte what the web server would write
    fresh = store_on(path, None)
    assert memory(fresh) == memory(store)


ODD_IDS = ['img_"quoted"', "img_back\\slash", "img_new\nline", "img_tab\there", "img_\u2028sep",
           "img_emoji_\U0001f60d\u2764\ufe0f", "img_rtl_\u05e9\u05dc\u05d5\u05dd", "",
           "img_nul_\x00_inside", "img_" + "x" * 10_000, "img_</script>", "{\"a\": true}",
           "favorites", "usageCounts"]


def test_ids_with_quotes_newlines_and_emoji_round_trip(path: Path) -> None:
    store = store_on(path, None)
    for n, image_id in enumerate(ODD_IDS):
        assert store.set_favorite(image_id, True) is True
        assert store.increment_usage(image_id) == 1
        if n % 3 == 0:
            assert store.toggle_favorite(image_id) is False
    expected = {i for n, i in enumerate(ODD_IDS) if n % 3}
    doc = json.loads(path.read_bytes())  # what the web server's JSON.parse sees
    assert set(doc["favorites"]) == expected
    assert doc["usageCounts"] == dict.fromkeys(ODD_IDS, 1)
    assert memory(store_on(path, None)) == (expected, dict.fromkeys(ODD_IDS, 1))
    # And the same ids written by the web server are read as they are.
    web = {"favorites": dict.fromkeys(ODD_IDS, True), "usageCounts": {ODD_IDS[0]: 2}}
    assert memory(store_on(path, dumps(web))) == (set(ODD_IDS), {ODD_IDS[0]: 2})


def test_counts_that_are_negative_strings_or_floats(path: Path) -> None:
    counts = {"neg": -3, "str": "5", "float": 2.0, "frac": 2.5, "bool": True, "null": None,
              "huge": 1e308, "ok": 7}
    raw = dumps({"favorites": {"img_a": True, "yes": "yes", "one": 1}, "usageCounts": counts})
    store = store_on(path, raw)
    assert memory(store) == ({"img_a"}, {"float": 2, "huge": int(1e308), "ok": 7})
    assert store.problem is None
    assert store.increment_usage("neg") == 1  # counted afresh, not from -3
    assert store.increment_usage("float") == 3
    assert json.loads(path.read_bytes()) == {
        "favorites": {"img_a": True},
        "usageCounts": {"float": 3, "huge": int(1e308), "ok": 7, "neg": 1}}
    # The entries that could not be kept are not lost: the original file is kept aside.
    (aside,) = others(path)
    assert (path.parent / aside).read_bytes() == raw


def test_a_favorites_section_of_the_wrong_type_is_kept_aside(path: Path) -> None:
    raw = dumps({"favorites": ["img_a", "img_b"], "usageCounts": {"img_a": 2}})
    store = store_on(path, raw)
    assert memory(store) == (frozenset(), {"img_a": 2})
    store.set_favorite("img_c", True)
    assert json.loads(path.read_bytes()) == {"favorites": {"img_c": True},
                                             "usageCounts": {"img_a": 2}}
    (aside,) = others(path)
    assert (path.parent / aside).read_bytes() == raw  # img_a and img_b can still be found


def test_a_bom_is_read_and_not_written_back(path: Path) -> None:
    store = store_on(path, b"\xef\xbb\xbf" + dumps({"favorites": {"img_a": True}}))
    assert store.favorites() == {"img_a"}
    store.set_favorite("img_b", True)
    assert path.read_bytes() == dumps({"favorites": {"img_a": True, "img_b": True},
                                       "usageCounts": {}})


# --- The file system -----------------------------------------------------------------------------


def test_a_folder_in_place_of_the_file(path: Path) -> None:
    path.mkdir()
    (path / "something.txt").write_text("not ours")
    store = store_on(path, None)
    assert store.problem == f"The favorites file {path} cannot be used: it is a folder, not a file."
    before = state(path.parent)
    with pytest.raises(FavoritesWriteError) as caught:
        store.set_favorite("img_a", True)
    assert str(caught.value).startswith(f"Could not save favorites to {path}: ")
    assert state(path.parent) == before
    assert memory(store) == (frozenset(), {})


@pytest.fixture
def saved(path: Path) -> FavoritesStore:
    """A store whose file already holds a heart and a count."""
    store = store_on(path, None)
    store.set_favorite("img_a", True)
    store.increment_usage("img_a")
    return store


def _temp_fds(path: Path) -> set[int]:
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if os.path.basename(target).startswith(fsutil.temp_prefix(path)):
            found.add(int(fd))
    return found


def test_a_full_disk_fails_the_write_and_changes_nothing(path: Path, saved: FavoritesStore,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = os.write
    written: list[int] = []

    def full_disk_write(fd: int, data: Any) -> int:
        if fd in _temp_fds(path):
            if not written:  # the first part fits, then the disk is full, as it happens
                written.append(real_write(fd, bytes(data[:10])))
                return written[-1]
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", full_disk_write)
    before, held = state(path.parent), memory(saved)
    with pytest.raises(FavoritesWriteError) as caught:
        saved.set_favorite("img_b", True)
    assert caught.value.errno == errno.ENOSPC
    assert str(caught.value) == f"Could not save favorites to {path}: No space left on device"
    assert written == [10]  # the failure really came part-way through the temp file
    assert state(path.parent) == before  # no temp file left, the file untouched
    assert memory(saved) == held
    monkeypatch.undo()  # space freed: the same change now goes through
    assert saved.set_favorite("img_b", True) is True
    assert json.loads(path.read_bytes()) == {"favorites": {"img_a": True, "img_b": True},
                                             "usageCounts": {"img_a": 1}}


@pytest.mark.parametrize(("code", "text"), [(errno.EACCES, "Permission denied"),
                                            (errno.EROFS, "Read-only file system")],
                         ids=["read-only-folder", "read-only-mount"])
def test_a_read_only_folder_fails_the_write_and_changes_nothing(
        path: Path, saved: FavoritesStore, monkeypatch: pytest.MonkeyPatch, code: int,
        text: str) -> None:
    real_mkstemp = tempfile.mkstemp

    def read_only_mkstemp(*args: Any, **kwargs: Any) -> Any:
        if Path(kwargs.get("dir", "")) == path.parent:
            raise OSError(code, text)
        return real_mkstemp(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", read_only_mkstemp)
    before, held = state(path.parent), memory(saved)
    for change in (lambda: saved.toggle_favorite("img_a"), lambda: saved.increment_usage("x")):
        with pytest.raises(FavoritesWriteError) as caught:
            change()
        assert caught.value.errno == code
        assert str(caught.value) == f"Could not save favorites to {path}: {text}"
    assert state(path.parent) == before
    assert memory(saved) == held


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through permission bits")
def test_a_really_read_only_folder(path: Path, saved: FavoritesStore) -> None:
    path.parent.chmod(0o555)
    try:
        before = state(path.parent)
        with pytest.raises(FavoritesWriteError):
            saved.set_favorite("img_b", True)
        assert state(path.parent) == before
    finally:
        path.parent.chmod(0o755)


def test_a_lock_left_by_a_killed_process(path: Path, saved: FavoritesStore) -> None:
    holder = subprocess.Popen([sys.executable, "-m", "tests.reliability.worker", "hold",
                               str(path)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        blocked = FavoritesStore(path, lock_timeout=0.3)
        blocked.load()
        before = state(path.parent)
        with pytest.raises(FavoritesWriteError, match=f"has held {LOCK} for over 0.3 s"):
            blocked.set_favorite("img_b", True)
        assert state(path.parent) == before
        holder.send_signal(signal.SIGKILL)
        assert holder.wait(timeout=10) == -signal.SIGKILL
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.communicate()
    assert lock_path_for(path).exists()  # the lock file stays; its lock died with the process
    started = time.monotonic()
    assert blocked.set_favorite("img_b", True) is True
    assert time.monotonic() - started < 5  # no wait for a dead process
    assert json.loads(path.read_bytes())["favorites"] == {"img_a": True, "img_b": True}


def test_the_web_servers_lock_folder_is_left_alone(path: Path, saved: FavoritesStore) -> None:
    node_lock = path.with_name(NAME + ".lock")  # proper-lockfile's lock folder
    node_lock.mkdir()
    assert saved.set_favorite("img_b", True) is True
    assert node_lock.is_dir() and list(node_lock.iterdir()) == []
    assert json.loads(path.read_bytes())["favorites"] == {"img_a": True, "img_b": True}


def test_stale_temp_files_are_cleaned_and_fresh_ones_kept(path: Path,
                                                          saved: FavoritesStore) -> None:
    stale = path.with_name(f"{fsutil.temp_prefix(path)}crashed{fsutil.TEMP_SUFFIX}")
    fresh = path.with_name(f"{fsutil.temp_prefix(path)}in-flight{fsutil.TEMP_SUFFIX}")
    stale.write_bytes(dumps({"favorites": {"img_stale": True}}))
    fresh.write_bytes(b'{"favorites": {"img_half')
    hour_ago = time.time() - 3600
    os.utime(stale, (hour_ago, hour_ago))
    content, mtime = path.read_bytes(), path.stat().st_mtime_ns
    store = FavoritesStore(path)
    store.load()
    assert not stale.exists() and fresh.exists()
    assert (path.read_bytes(), path.stat().st_mtime_ns) == (content, mtime)
    assert memory(store) == ({"img_a"}, {"img_a": 1})  # temp files are never read as data
    record("favorites_file", stale_temp_files_removed=1)
