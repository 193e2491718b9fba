"""FavoritesStore in one process: format, lenient reading, merging, bad files and write faults."""

from __future__ import annotations

import errno
import json
import logging
import os
import random
import tempfile
import threading
from pathlib import Path
from typing import Any

import pytest

from gallery_desktop.core import fsutil
from gallery_desktop.core.errors import FavoritesError, FavoritesWriteError
from gallery_desktop.core.favorites import FavoritesStore, lock_path_for
from gallery_desktop.core.favorites_format import FavoritesData, parse, render


def dumps(doc: Any) -> bytes:
    """The web server's format: JSON.stringify(data, null, 2), UTF-8."""
    return json.dumps(doc, indent=2, ensure_ascii=False).encode("utf-8")


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "gallery-favorites.json"


def store_on(path: Path, content: bytes | None = None, **kwargs: Any) -> FavoritesStore:
    if content is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    store = FavoritesStore(path, **kwargs)
    store.load()
    return store


def names(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


# -- format ------------------------------------------------------------------------------


def test_first_write_creates_folder_and_writes_the_design_note_format(path: Path) -> None:
    store = store_on(path)
    assert store.problem is None and store.favorites() == frozenset()
    assert store.toggle_favorite("img_2025-11-26T06-54-47-200Z_slide-1") is True
    assert store.increment_usage("img_2025-11-26T06-54-47-200Z_slide-1") == 1
    assert path.read_bytes() == (
        b'{\n  "favorites": {\n    "img_2025-11-26T06-54-47-200Z_slide-1": true\n  },\n'
        b'  "usageCounts": {\n    "img_2025-11-26T06-54-47-200Z_slide-1": 1\n  }\n}')
    assert names(path.parent) == {path.name, lock_path_for(path).name}
    assert lock_path_for(path).name == ".gallery-favorites.json.desktop.lock"


def test_unfavoriting_removes_the_key_and_keeps_order(path: Path) -> None:
    store = store_on(path)
    for image_id in ("c", "a", "b"):
        store.set_favorite(image_id, True)
    assert store.toggle_favorite("a") is False
    assert store.set_favorite("b", False) is False
    assert store.toggle_favorite("a") is True
    doc = json.loads(path.read_bytes())
    assert list(doc["favorites"].items()) == [("c", True), ("a", True)]
    assert path.read_bytes() == dumps({"favorites": {"c": True, "a": True}, "usageCounts": {}})


def test_set_favorite_is_idempotent_and_writes_nothing_when_unchanged(path: Path) -> None:
    store = store_on(path)
    assert store.set_favorite("a", True) is True
    before = path.stat()
    assert store.set_favorite("a", True) is True
    assert store.set_favorite("b", False) is False
    after = path.stat()
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)


ODD_IDS = ['quote"d', "back\\slash", "new\nline", "tab\tand\x01ctl", "emoji 💜 ü", "/", "",
           "\u2028sep"]


def test_unusual_ids_round_trip_exactly_as_json_dumps_writes_them(path: Path) -> None:
    store = store_on(path)
    for n, image_id in enumerate(ODD_IDS):
        store.set_favorite(image_id, True)
        if n % 2:
            store.increment_usage(image_id)
    expected = {"favorites": {i: True for i in ODD_IDS},
                "usageCounts": {i: 1 for n, i in enumerate(ODD_IDS) if n % 2}}
    assert path.read_bytes() == dumps(expected)
    again = store_on(path)
    assert again.favorites() == frozenset(ODD_IDS)
    assert again.usage_counts() == expected["usageCounts"]


def edit(doc: FavoritesData, section: str, key: str, value: str | None) -> bytes:
    """Plan, render and apply one edit as a store's write does; return the planned bytes."""
    change = doc.section(section).planned(key, value)
    data = render(doc, (section, change))
    doc.section(section).apply(key, value, change)
    target = doc.favorites if section == "favorites" else doc.usage
    if value is None:
        target.pop(key, None)
    else:
        target[key] = True if value == "true" else int(value)
    return data


def test_rendering_matches_json_dumps_through_random_edits() -> None:
    rng = random.Random(7)
    pool = [*ODD_IDS, *(f"img_{n}" for n in range(30))]
    doc = FavoritesData(top={"v": 1, "favorites": None, "x": {"n": [1, {"k": "ü"}]},
                             "usageCounts": None})
    for _ in range(400):
        image_id = rng.choice(pool)
        if rng.random() < 0.5:
            value = None if image_id in doc.favorites else "true"
            data = edit(doc, "favorites", image_id, value)
        else:
            count = doc.usage.get(image_id, 0) + rng.randint(1, 1000)
            data = edit(doc, "usageCounts", image_id, str(count))
        expected = dumps({"v": 1, "favorites": doc.favorites, "x": {"n": [1, {"k": "ü"}]},
                          "usageCounts": doc.usage})
        assert data == expected and render(doc) == expected


def test_edits_across_many_chunks_match_json_dumps() -> None:
    # Six full chunks of 512 ids; the second is emptied, long new ids overflow the last.
    rng = random.Random(11)
    ids = [f"img_2025-11-26T06-54-{n:05d}Z_slide-{n % 3 + 1}" for n in range(3072)]
    odd = {n: f"odd \"{n}\" ü\t💜" for n in range(0, 3000, 97)}
    ids = [odd.get(n, image_id) for n, image_id in enumerate(ids)]
    parsed = parse(dumps({"favorites": dict.fromkeys(ids, True),
                          "usageCounts": {i: n for n, i in enumerate(ids[::5])}}), "f")
    assert parsed is not None
    doc = parsed
    for image_id in ids[512:1100]:  # the second chunk and part of the third go
        edit(doc, "favorites", image_id, None)
    assert render(doc) == dumps({"favorites": doc.favorites, "usageCounts": doc.usage})
    for step in range(300):
        image_id = rng.choice(ids) if step % 3 else f"new_{step}_{'x' * 300}"
        if step % 2:
            data = edit(doc, "favorites", image_id,
                        None if image_id in doc.favorites else "true")
        else:
            data = edit(doc, "usageCounts", image_id, str(doc.usage.get(image_id, 0) + 1))
        assert data == dumps({"favorites": doc.favorites, "usageCounts": doc.usage})


def test_new_ids_edited_before_and_after_the_first_edit_of_an_old_one() -> None:
    ids = [f"img_{n:05d}" for n in range(1500)]
    doc = parse(dumps({"favorites": dict.fromkeys(ids, True), "usageCounts": {}}), "f")
    assert doc is not None
    for image_id in ("new_a", "new_b"):  # appended while no old id was edited
        edit(doc, "favorites", image_id, "true")
        edit(doc, "usageCounts", image_id, "1")
    for image_id in ("img_00700", "new_a", "img_00003", "new_b", "img_01499"):
        data = edit(doc, "favorites", image_id, None)
        assert data == dumps({"favorites": doc.favorites, "usageCounts": doc.usage})
    for image_id in ("new_a", "img_00700"):  # back, at the end
        edit(doc, "favorites", image_id, "true")
        data = edit(doc, "usageCounts", image_id, "7")
    assert list(doc.favorites)[-2:] == ["new_a", "img_00700"]
    assert data == dumps({"favorites": doc.favorites, "usageCounts": doc.usage})
    assert render(doc) == dumps({"favorites": doc.favorites, "usageCounts": doc.usage})


def test_lone_surrogate_id_is_written_as_an_escape(path: Path) -> None:
    store = store_on(path, b'{"favorites": {"bad\\ud800id": true}, "usageCounts": {}}')
    assert store.favorites() == {"bad\ud800id"}
    store.set_favorite("ok", True)
    data = path.read_bytes()
    data.decode("utf-8")  # valid UTF-8
    assert b"bad\\ud800id" in data
    assert json.loads(data)["favorites"] == {"bad\ud800id": True, "ok": True}


# -- lenient reading ---------------------------------------------------------------------


def test_legacy_flat_form_is_read_and_written_back_in_the_new_form(path: Path) -> None:
    legacy = {"img_a": True, "img_b": False, "note": "kept", "img_c": True}
    store = store_on(path, dumps(legacy))
    assert store.problem is None
    assert store.favorites() == {"img_a", "img_c"}
    assert path.read_bytes() == dumps(legacy)  # reading changes nothing
    store.toggle_favorite("img_b")
    assert path.read_bytes() == dumps({"note": "kept", "favorites": {
        "img_a": True, "img_c": True, "img_b": True}, "usageCounts": {}})


def test_unknown_top_level_keys_are_kept_in_order(path: Path) -> None:
    doc = {"version": 3, "favorites": {"a": True}, "tags": {"a": ["x", "ü"], "n": None},
           "usageCounts": {"a": 2}, "zzz": [1.5, {"deep": {"er": True}}]}
    store = store_on(path, dumps(doc))
    store.increment_usage("a")
    store.set_favorite("b", True)
    doc["usageCounts"] = {"a": 3}
    doc["favorites"] = {"a": True, "b": True}
    assert path.read_bytes() == dumps(doc)


def test_values_are_read_leniently(path: Path, caplog: pytest.LogCaptureFixture) -> None:
    raw = (b'{"favorites": {"t": true, "f": false, "one": 1, "s": "yes", "n": null},\n'
           b' "usageCounts": {"int": 3, "zero": 0, "float": 4.0, "frac": 2.5, "neg": -1,'
           b' "str": "5", "bool": true, "nan": NaN, "inf": Infinity, "null": null,'
           b' "list": [1], "big": 12345678901234567890}}')
    with caplog.at_level(logging.WARNING):
        store = store_on(path, raw)
    assert store.problem is None
    assert store.favorites() == {"t"}
    assert store.usage_counts() == {"int": 3, "zero": 0, "float": 4, "big": 12345678901234567890}
    assert store.get_usage_count("frac") == 0 and store.get_usage_count("missing") == 0
    assert "ignored 3 favorites" in caplog.text
    assert "ignored 8 usage counts" in caplog.text
    assert store.increment_usage("float") == 5
    assert json.loads(path.read_bytes())["usageCounts"] == {
        "int": 3, "zero": 0, "float": 5, "big": 12345678901234567890}


@pytest.mark.parametrize("section", ["favorites", "usageCounts"])
def test_a_section_of_the_wrong_type_reads_as_empty(path: Path, section: str) -> None:
    store = store_on(path, dumps({section: ["a", "b"]}))
    assert store.problem is None
    assert store.favorites() == frozenset() and store.usage_counts() == {}
    store.set_favorite("a", True)
    if section == "favorites":
        expected = {"favorites": {"a": True}, "usageCounts": {}}
    else:
        expected = {"usageCounts": {}, "favorites": {"a": True}}  # keeps the file's order
    assert path.read_bytes() == dumps(expected)


def test_bom_is_accepted_and_not_written_back(path: Path) -> None:
    store = store_on(path, b"\xef\xbb\xbf" + dumps({"favorites": {"a": True}}))
    assert store.favorites() == {"a"}
    store.set_favorite("b", True)
    assert path.read_bytes().startswith(b"{\n")


def test_200k_ids_load_and_write(path: Path) -> None:
    ids = [f"img_2025-11-26T06-54-47-200Z_slide-{n}" for n in range(200_000)]
    store = store_on(path, dumps({"favorites": dict.fromkeys(ids, True),
                                  "usageCounts": {i: 1 for i in ids[::2]}}))
    assert len(store.favorites()) == 200_000
    assert store.toggle_favorite(ids[5]) is False
    assert store.increment_usage(ids[4]) == 2
    doc = json.loads(path.read_bytes())
    assert len(doc["favorites"]) == 199_999 and ids[5] not in doc["favorites"]
    assert doc["usageCounts"][ids[4]] == 2 and len(doc["usageCounts"]) == 100_000


# -- bad files ---------------------------------------------------------------------------

CORRUPT = [b"{\"favorites\": {\"a\": tr", b"\xff\xfe{}", b"not json at all"]
NOT_OBJECTS = [b"null", b"[1, 2]", b"42", b'"text"']


def corrupt_copies(folder: Path) -> list[Path]:
    return sorted(folder.glob("gallery-favorites.corrupt-*.json"))


@pytest.mark.parametrize("content", CORRUPT + NOT_OBJECTS)
def test_bad_file_is_moved_aside_only_at_the_first_write(path: Path, content: bytes) -> None:
    store = store_on(path, content, parse_retry_s=0.05)
    assert store.problem is not None and str(path) in store.problem
    assert store.favorites() == frozenset()
    store.set_favorite("x", False)  # nothing to write: the bad file stays untouched
    assert store.reload_if_changed() is False
    assert path.read_bytes() == content and corrupt_copies(path.parent) == []

    assert store.set_favorite("x", True) is True
    [aside] = corrupt_copies(path.parent)
    assert aside.read_bytes() == content
    assert json.loads(path.read_bytes()) == {"favorites": {"x": True}, "usageCounts": {}}
    assert store.problem is None
    store.set_favorite("y", True)
    assert len(corrupt_copies(path.parent)) == 1


def test_corrupt_copies_get_unique_names(path: Path) -> None:
    for n in range(3):
        store = store_on(path, b"{broken", parse_retry_s=0.0)
        store.increment_usage(f"img_{n}")
    copies = corrupt_copies(path.parent)
    assert len(copies) == 3 and len({p.name for p in copies}) == 3
    assert all(p.read_bytes() == b"{broken" for p in copies)


def test_write_failure_on_a_bad_file_leaves_it_in_place(path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    store = store_on(path, b"{broken", parse_retry_s=0.0)

    def no_replace(src: object, dst: object) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "replace", no_replace)
    with pytest.raises(FavoritesWriteError):
        store.set_favorite("x", True)
    assert path.read_bytes() == b"{broken"
    assert names(path.parent) == {path.name, lock_path_for(path).name}
    assert store.problem is not None


@pytest.mark.parametrize("content", [b"", b"  \n"])
def test_blank_file_is_empty_and_simply_replaced(path: Path, content: bytes) -> None:
    store = store_on(path, content, parse_retry_s=0.05)
    assert store.problem is None and store.favorites() == frozenset()
    store.set_favorite("a", True)
    assert corrupt_copies(path.parent) == []
    assert json.loads(path.read_bytes())["favorites"] == {"a": True}


def test_half_written_file_is_read_again_until_complete(path: Path) -> None:
    full = dumps({"favorites": {f"img_{n}": True for n in range(100)}, "usageCounts": {}})
    path.parent.mkdir(parents=True)
    # The web server writes in place: truncate, then write; we catch it half-way.
    out = open(path, "wb")  # noqa: SIM115 - finished by the timer below
    out.write(full[: len(full) // 2])
    out.flush()

    def finish() -> None:
        out.write(full[len(full) // 2:])
        out.close()

    timer = threading.Timer(0.2, finish)
    timer.start()
    try:
        store = store_on(path)
    finally:
        timer.join()
    assert store.problem is None
    assert len(store.favorites()) == 100


def test_folder_in_place_of_the_file(path: Path) -> None:
    path.mkdir(parents=True)
    store = store_on(path)  # does not raise
    assert store.problem is not None and "is a folder, not a file" in store.problem
    with pytest.raises(FavoritesWriteError, match="is a folder, not a file") as info:
        store.toggle_favorite("a")
    assert isinstance(info.value, OSError) and isinstance(info.value, FavoritesError)
    assert info.value.errno == errno.EISDIR
    assert store.favorites() == frozenset() and path.is_dir()


def test_stale_temp_files_are_cleaned_on_load_but_fresh_ones_kept(path: Path) -> None:
    store = store_on(path)
    store.set_favorite("a", True)
    stale = path.with_name(f".{path.name}.abc123{fsutil.TEMP_SUFFIX}")
    fresh = path.with_name(f".{path.name}.def456{fsutil.TEMP_SUFFIX}")
    other = path.with_name("notes.tmp")
    for p in (stale, fresh, other):
        p.write_bytes(b'{"favorites": {"half')
    old = path.stat().st_mtime - 3600
    os.utime(stale, (old, old))
    os.utime(other, (old, old))
    store.load()
    assert not stale.exists() and fresh.exists() and other.exists()
    assert store.favorites() == {"a"}


def test_writes_keep_the_file_permissions(path: Path) -> None:
    store = store_on(path)
    store.set_favorite("a", True)
    umask = os.umask(0o022)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # as open() would make it
    path.chmod(0o640)
    store.set_favorite("b", True)
    assert path.stat().st_mode & 0o777 == 0o640


# -- write faults ------------------------------------------------------------------------


@pytest.fixture
def written(path: Path) -> tuple[FavoritesStore, bytes]:
    store = store_on(path)
    store.set_favorite("a", True)
    store.increment_usage("a")
    return store, path.read_bytes()


def assert_unchanged(store: FavoritesStore, path: Path, data: bytes) -> None:
    assert path.read_bytes() == data
    assert store.favorites() == {"a"} and store.usage_counts() == {"a": 1}
    assert names(path.parent) == {path.name, lock_path_for(path).name}  # no temp file left


def test_failing_replace(path: Path, written: tuple[FavoritesStore, bytes],
                         monkeypatch: pytest.MonkeyPatch) -> None:
    store, data = written

    def no_replace(src: object, dst: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(os, "replace", no_replace)
    for write in (lambda: store.toggle_favorite("b"), lambda: store.increment_usage("a"),
                  lambda: store.set_favorite("a", False)):
        with pytest.raises(FavoritesWriteError) as info:
            write()
        assert str(path) in str(info.value) and "Permission denied" in str(info.value)
        assert info.value.errno == errno.EACCES
        assert_unchanged(store, path, data)
    monkeypatch.undo()
    assert store.toggle_favorite("b") is True  # and it recovers


def test_failing_fsync(path: Path, written: tuple[FavoritesStore, bytes],
                       monkeypatch: pytest.MonkeyPatch) -> None:
    store, data = written

    def no_fsync(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fsync", no_fsync)
    with pytest.raises(FavoritesWriteError, match="Input/output error"):
        store.toggle_favorite("b")
    assert_unchanged(store, path, data)


def test_full_disk(path: Path, written: tuple[FavoritesStore, bytes],
                   monkeypatch: pytest.MonkeyPatch) -> None:
    store, data = written
    real_write = os.write
    calls: list[int] = []

    def half_then_full(fd: int, chunk: Any) -> int:
        calls.append(len(chunk))
        if len(calls) == 1:  # the disk fills up part-way through the temp file
            return real_write(fd, bytes(chunk[: len(chunk) // 2]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", half_then_full)
    with pytest.raises(FavoritesWriteError, match="No space left") as info:
        store.increment_usage("a")
    assert info.value.errno == errno.ENOSPC and len(calls) == 2
    assert_unchanged(store, path, data)


def test_read_only_folder(path: Path, written: tuple[FavoritesStore, bytes],
                          monkeypatch: pytest.MonkeyPatch) -> None:
    store, data = written

    def read_only(*args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    with pytest.raises(FavoritesWriteError, match="Read-only"):
        store.toggle_favorite("a")
    assert_unchanged(store, path, data)


def test_failing_folder_fsync_after_the_rename_is_not_a_failure(
        path: Path, written: tuple[FavoritesStore, bytes],
        monkeypatch: pytest.MonkeyPatch) -> None:
    store, _ = written

    def no_dir_fsync(folder: Path) -> None:
        raise OSError(errno.EINVAL, "Invalid argument")

    monkeypatch.setattr(fsutil, "fsync_dir", no_dir_fsync)
    assert store.toggle_favorite("b") is True  # the file is in place: memory must agree
    assert json.loads(path.read_bytes())["favorites"] == {"a": True, "b": True}


# -- other writers -----------------------------------------------------------------------


def test_writes_merge_with_changes_made_by_another_store(path: Path) -> None:
    mine, theirs = store_on(path), store_on(path)
    mine.toggle_favorite("a")
    mine.increment_usage("n")
    assert theirs.toggle_favorite("b") is True  # its memory is stale, the file is not
    assert theirs.increment_usage("n") == 2
    assert theirs.toggle_favorite("a") is False  # flips what is on disk now
    assert json.loads(path.read_bytes()) == {"favorites": {"b": True}, "usageCounts": {"n": 2}}
    assert theirs.favorites() == {"b"}
    assert theirs.reload_if_changed() is True  # its writes merged in a and n from outside
    assert theirs.reload_if_changed() is False
    assert mine.reload_if_changed() is True
    assert mine.favorites() == {"b"} and mine.get_usage_count("n") == 2
    assert mine.reload_if_changed() is False


def test_merged_outside_change_is_reported_by_the_next_reload(path: Path) -> None:
    mine, theirs = store_on(path), store_on(path)
    theirs.set_favorite("x", True)
    mine.set_favorite("y", True)  # merges x in along the way
    assert mine.favorites() == {"x", "y"}
    assert mine.reload_if_changed() is True  # so a view can refresh x
    assert mine.reload_if_changed() is False


def test_write_with_nothing_to_do_still_takes_in_outside_changes(path: Path) -> None:
    mine, theirs = store_on(path), store_on(path)
    theirs.set_favorite("x", True)
    theirs.increment_usage("x")
    before = path.read_bytes()
    assert mine.set_favorite("x", True) is True  # already so on disk: no write
    assert path.read_bytes() == before
    assert mine.is_favorite("x") and mine.get_usage_count("x") == 1
    assert mine.reload_if_changed() is True
    assert mine.reload_if_changed() is False


def test_favorites_is_a_snapshot(path: Path) -> None:
    store = store_on(path)
    store.set_favorite("a", True)
    snapshot = store.favorites()
    store.set_favorite("b", True)
    assert snapshot == {"a"} and store.favorites() == {"a", "b"}


def test_in_place_rewrite_with_identical_stat_is_not_overwritten(path: Path) -> None:
    store = store_on(path)
    store.set_favorite("img_a", True)
    before = path.stat()
    # Like the web server: same inode, same size, and here even the same mtime, as a
    # coarse file-system clock would give two writes in one tick.
    with open(path, "r+b") as f:
        f.write(path.read_bytes().replace(b"img_a", b"img_b"))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    store.set_favorite("img_c", True)
    assert json.loads(path.read_bytes())["favorites"] == {"img_b": True, "img_c": True}


def test_in_place_rewrites_right_after_our_writes_are_merged(path: Path) -> None:
    store = store_on(path)
    for n in range(30):
        store.set_favorite(f"img_{n:02d}a", True)
        # The web server's way, within microseconds of our rename: same inode, same size.
        with open(path, "r+b") as f:
            f.write(path.read_bytes().replace(f"img_{n:02d}a".encode(), f"img_{n:02d}b".encode()))
        assert store.reload_if_changed() is True
        assert store.is_favorite(f"img_{n:02d}b") and not store.is_favorite(f"img_{n:02d}a")
    assert store.favorites() == {f"img_{n:02d}b" for n in range(30)}


def test_reload_follows_replaced_and_deleted_files(path: Path) -> None:
    store = store_on(path)
    assert store.reload_if_changed() is False
    path.parent.mkdir(parents=True)
    fsutil.write_atomic(path, dumps({"favorites": {"a": True}, "usageCounts": {"a": 4}}))
    assert store.reload_if_changed() is True
    assert store.favorites() == {"a"} and store.get_usage_count("a") == 4
    fsutil.write_atomic(path, dumps({"favorites": {"a": True}, "usageCounts": {"a": 4},
                                     "other": 1}))
    assert store.reload_if_changed() is False  # changed on disk, not in favorites/counts
    path.unlink()
    assert store.reload_if_changed() is True
    assert store.favorites() == frozenset()


def test_file_turning_bad_later_keeps_memory_and_is_moved_aside(path: Path) -> None:
    store = store_on(path, parse_retry_s=0.05)
    store.set_favorite("a", True)
    path.write_bytes(b'{"favorites": {"a": tr')
    assert store.reload_if_changed() is False
    assert store.problem is not None and store.favorites() == {"a"}
    store.set_favorite("b", True)
    assert json.loads(path.read_bytes())["favorites"] == {"a": True, "b": True}
    assert [p.read_bytes() for p in corrupt_copies(path.parent)] == [b'{"favorites": {"a": tr']


def test_threads_share_one_store_without_losing_updates(path: Path) -> None:
    store = store_on(path)
    other = store_on(path)  # a second store in the same process, as a second window
    backwards: list[tuple[int, int]] = []

    def hammer(s: FavoritesStore, tag: str) -> None:
        for k in range(40):
            s.increment_usage("shared")
            s.toggle_favorite(f"{tag}_{k % 4}")

    def read() -> None:
        last = 0
        for _ in range(5000):
            count = store.get_usage_count("shared")
            if count < last:
                backwards.append((last, count))
            last = count

    threads = [threading.Thread(target=hammer, args=(s, t))
               for s, t in ((store, "a"), (store, "b"), (other, "c"))]
    threads.append(threading.Thread(target=read))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert backwards == []
    assert json.loads(path.read_bytes()) == {"favorites": {}, "usageCounts": {"shared": 120}}
    for s in (store, other):  # whichever wrote last, the other learns of it by reloading
        s.reload_if_changed()
        assert s.get_usage_count("shared") == 120


def test_parse_blank_and_empty_object() -> None:
    assert parse(b" \n", "f") is None
    assert parse(b"{}", "f") == FavoritesData()


def test_a_symlinked_favorites_file_stays_a_link(path: Path, tmp_path: Path) -> None:
    # People keep the file on a synced drive and link it into the data folder.
    target = tmp_path / "synced" / "gallery-favorites.json"
    target.parent.mkdir()
    target.write_bytes(dumps({"favorites": {"img_a": True}, "usageCounts": {}}))
    path.parent.mkdir(parents=True)
    path.symlink_to(target)
    store = store_on(path)

    store.set_favorite("img_b", True)

    assert path.is_symlink()
    assert target.read_bytes() == dumps({"favorites": {"img_a": True, "img_b": True},
                                         "usageCounts": {}})
    # A change the web server then makes to the linked file is seen and merged.
    target.write_bytes(dumps({"favorites": {"img_a": True, "img_b": True, "img_c": True},
                              "usageCounts": {}}))
    store.set_favorite("img_a", False)
    assert store.favorites() == {"img_b", "img_c"}
    assert json.loads(target.read_bytes())["favorites"] == {"img_b": True, "img_c": True}
    assert path.is_symlink()


# --- A symlinked favorites file (on a synced drive, say) ------------------------------------


def linked_favorites(tmp_path: Path, content: bytes) -> tuple[Path, Path]:
    """``data/gallery-favorites.json`` as a link to a file in another folder."""
    data = tmp_path / "data"
    data.mkdir()
    target = tmp_path / "synced" / "gallery-favorites.json"
    target.parent.mkdir()
    target.write_bytes(content)
    link = data / "gallery-favorites.json"
    link.symlink_to(target)
    return link, target


@pytest.mark.parametrize("content", [
    b'{"favorites": {"img_a": true, "img_b": tru',  # hand-edited, broken
    b'{"favorites": {"img_a": "yes"}, "usageCounts": {"img_a": "3"}}',  # entries dropped
])
def test_a_symlinked_file_that_could_not_be_read_whole_is_kept_aside_intact(
        tmp_path: Path, content: bytes) -> None:
    link, target = linked_favorites(tmp_path, content)
    store = FavoritesStore(link, parse_retry_s=0.0)
    store.load()
    store.set_favorite("img_c", True)
    asides = sorted(link.parent.glob("gallery-favorites.corrupt-*.json"))
    assert len(asides) == 1
    assert not asides[0].is_symlink()
    assert asides[0].read_bytes() == content
    assert link.is_symlink() and json.loads(target.read_bytes())["favorites"]["img_c"] is True


def test_load_removes_stale_temp_files_beside_the_linked_file(tmp_path: Path) -> None:
    link, target = linked_favorites(tmp_path, b'{"favorites": {}, "usageCounts": {}}')
    stale = target.parent / ".gallery-favorites.json.abc123.tmp"  # where writes put them
    stale.write_bytes(b"half")
    old = stale.stat().st_mtime - 3600
    os.utime(stale, (old, old))
    FavoritesStore(link).load()
    assert not stale.exists()


def test_two_links_to_one_file_share_one_writer_lock(tmp_path: Path) -> None:
    link, target = linked_favorites(tmp_path, b'{"favorites": {}, "usageCounts": {}}')
    other = tmp_path / "other-data" / "gallery-favorites.json"
    other.parent.mkdir()
    other.symlink_to(target)
    first, second = FavoritesStore(link, lock_timeout=0.2), FavoritesStore(other)
    first.load()
    second.load()
    # The other library is between its read and its rename: this write must wait.
    with second._locked(), pytest.raises(FavoritesWriteError, match="held"):
        first.set_favorite("img_a", True)
    assert first.set_favorite("img_a", True) is True
    assert lock_path_for(target).exists()


def test_a_number_too_long_to_read_is_a_problem_not_a_crash(path: Path) -> None:
    path.parent.mkdir(parents=True)
    content = ('{\n  "favorites": {\n    "img_a": true\n  },\n  "usageCounts": {\n'
               '    "img_b": 1' + "0" * 5000 + '\n  }\n}').encode()
    path.write_bytes(content)
    store = FavoritesStore(path, parse_retry_s=0.0)
    store.load()
    assert store.problem is not None and "not usable JSON" in store.problem
    store.set_favorite("img_c", True)  # the unreadable file is kept aside, not lost
    asides = list(path.parent.glob("gallery-favorites.corrupt-*.json"))
    assert [a.read_bytes() for a in asides] == [content]
