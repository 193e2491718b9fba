"""Bad run data: every case is skipped or shown with its reason, and the rest comes through."""

from __future__ import annotations

import copy
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

import gallery_desktop.core.runs as runs_module
from gallery_desktop.core.records import ImageSource
from gallery_desktop.core.runs import MAX_META_BYTES, iter_runs, scan_runs
from gallery_desktop.core.thumbnails import FILE_NOT_FOUND
from tests.factories import make_image
from tests.reliability.conftest import GOOD_RUN, FullPass, good_run, record

RUN = "2025-11-26T06-54-47-200Z"
FINAL = f"/data/runs/{RUN}/slide-1.png"
RAW = f"/data/runs/{RUN}/slide-1-raw.png"
POST: dict[str, Any] = {
    "index": 1, "text": "post text", "imagePrompt": "post prompt", "finalImageUrl": FINAL,
    "rawImageUrl": RAW, "scheduledDate": "2025-11-28",
    "momPost": {"id": "mom-1", "imagePrompt": "mom prompt", "caption": "mom caption",
                "hook": "a hook", "overlayTitle": "a title", "overlaySubtitle": "a subtitle"}}
META: dict[str, Any] = {
    "createdAt": "2025-11-27T10:00:00.000Z", "status": "DONE", "mode": "studio", "count": 2,
    "topic": "a topic", "posts": [POST],
    "momConfig": {"aspectRatio": "4:5", "model": "gpt-4o", "audience": "new moms",
                  "imageModel": "flux", "stylePreset": "warm"}}


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A data folder holding one good run; each case adds its own bad input beside it."""
    folder = tmp_path / "data"
    good_run(folder)
    return folder


def write_meta(data_dir: Path, run_id: str, content: Any) -> Path:
    """Write a run's meta.json: bytes as they are, anything else as JSON."""
    run_dir = data_dir / "runs" / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    raw = content if isinstance(content, bytes) else json.dumps(content, indent=2).encode()
    (run_dir / "meta.json").write_bytes(raw)
    return run_dir


def studio_run(data_dir: Path, meta: dict[str, Any] | None = None) -> Path:
    """The full studio run of ``META`` (or ``meta``), with both of its images on disk."""
    run_dir = write_meta(data_dir, RUN, META if meta is None else meta)
    make_image(run_dir / "slide-1.png", (80, 60), "#336699")
    make_image(run_dir / "slide-1-raw.png", (60, 80), "#996633")
    return run_dir


GOOD_ID = f"img_{GOOD_RUN}_slide-1"
# The studio's meta.json cut off inside the topic, as a crash while writing would leave it.
TRUNCATED = json.dumps(META, indent=2).encode().partition(b'"a top')[0] + b'"a top'


# --- Unreadable meta.json --------------------------------------------------------------------


@pytest.mark.parametrize(("content", "reason"), [
    (b"", "meta.json is empty"),
    (b" \n\t\n", "meta.json is empty"),
    (TRUNCATED, "meta.json is not valid JSON (Unterminated string starting at: line 6 column "
                "12 (char 110))"),
    (json.dumps(META).encode()[:-1], "meta.json is not valid JSON (Expecting ',' delimiter: "
                                     f"line 1 column {len(json.dumps(META))} (char "
                                     f"{len(json.dumps(META)) - 1}))"),
    (b"[" * 100_000, "meta.json is nested too deeply to read"),
    (b'{"posts": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
     "meta.json is nested too deeply to read"),
    (b"\xff\xfe{\x00}\x00", "meta.json is not valid UTF-8"),
    ('{"topic": "caf\xe9"}'.encode("latin-1"), "meta.json is not valid UTF-8"),
    (b"null", "meta.json holds null, not an object"),
    (b"[1, 2]", "meta.json holds a list, not an object"),
    (b'"DONE"', "meta.json holds text, not an object"),
    (b"\x00" * 4096, "meta.json is not valid JSON (Expecting value: line 1 column 1 (char 0))"),
], ids=["empty", "blank", "truncated-mid-string", "missing-last-brace", "deeply-nested",
        "deep-posts", "utf16", "latin1", "null", "array", "string", "nul-bytes"])
def test_unusable_meta_json_is_skipped_with_its_reason(data: Path, full_pass: FullPass,
                                                       content: bytes, reason: str) -> None:
    write_meta(data, RUN, content)
    result = full_pass(data)
    assert result.ids == [GOOD_ID]
    assert result.thumbs[GOOD_ID] == (64, 48)
    assert len(result.report.skipped) == 1
    assert result.report.skipped[0].path == str(data / "runs" / RUN / "meta.json")
    assert result.report.skipped[0].reason == reason
    assert result.report.runs_seen == 2


def test_bom_prefixed_meta_json_is_read_in_full(data: Path, full_pass: FullPass) -> None:
    studio_run(data)
    plain = full_pass(data).image(f"img_{RUN}_mom-1")
    (data / "runs" / RUN / "meta.json").write_bytes(
        b"\xef\xbb\xbf" + json.dumps(META, indent=2).encode())
    result = full_pass(data)
    assert result.report.skipped == []
    assert result.image(f"img_{RUN}_mom-1") == plain
    assert result.thumbs[plain.id] == (80, 60)


def test_deep_nesting_in_a_field_the_contract_does_not_read(data: Path,
                                                            full_pass: FullPass) -> None:
    # 400 levels: deep for a studio's debug dump, well inside what a JSON reader must take.
    nested = '{"deeper": [' * 200 + '"bottom"' + "]}" * 200
    text = json.dumps(META, indent=2)
    studio_run(data)
    (data / "runs" / RUN / "meta.json").write_text(
        text[:-1] + f',\n  "studioDebug": {nested}\n}}', encoding="utf-8")
    result = full_pass(data)
    assert result.report.skipped == []
    assert result.ids == [f"img_{RUN}_mom-1", GOOD_ID]


def test_a_50_mb_meta_json_is_read_and_every_post_shown(data: Path, full_pass: FullPass) -> None:
    filler = "x" * 10_000
    posts = [{"index": i, "text": f"post {i}", "imagePrompt": f"{i} {filler}",
              "finalImageUrl": f"slide-{i}.png"} for i in range(1, 5_001)]
    run_dir = write_meta(data, RUN, {**META, "posts": posts})
    make_image(run_dir / "slide-1.png")
    size = (run_dir / "meta.json").stat().st_size
    assert 50_000_000 < size < MAX_META_BYTES
    result = full_pass(data)
    assert result.report.skipped == []
    assert len(result.ids) == 5_001 and result.ids[-1] == GOOD_ID
    assert result.ids[:3] == [f"img_{RUN}_slide-{i}" for i in (1, 2, 3)]
    assert result.image(f"img_{RUN}_slide-5000").prompt == f"5000 {filler}"
    thumbs = [result.thumbs[i.id] for i in result.report.images[:5_000]]
    assert thumbs[0] == (64, 48) and set(thumbs[1:]) == {FILE_NOT_FOUND}  # 4,999 not there
    record("run_data", meta_json_bytes_read=size)


def test_a_meta_json_over_the_limit_is_not_read(data: Path, full_pass: FullPass) -> None:
    run_dir = write_meta(data, RUN, b"")
    with open(run_dir / "meta.json", "wb") as f:  # sparse: no disk space, no time
        f.truncate(MAX_META_BYTES + 1)
    result = full_pass(data)
    assert result.ids == [GOOD_ID]
    assert result.reasons == (f"meta.json is {MAX_META_BYTES + 1:,} bytes, over the "
                              f"{MAX_META_BYTES:,}-byte limit: not read")


# --- Wrong types in every field the contract reads ----------------------------------------------

BAD_VALUES = [42, ["x"], {"x": 1}, True]
KINDS = {int: "a number", list: "a list", dict: "an object", bool: "a boolean", str: "text"}
NO_MOM = {"slide_id": "slide-1", "id": f"img_{RUN}_slide-1", "prompt": "post prompt",
          "slide_text": "post text", "hook": None, "overlay_title": None,
          "overlay_subtitle": None}
NO_CONFIG = {"aspect_ratio": "1:1", "model": None, "audience": None, "image_model": None,
             "style_preset": None}
# (path to the field, what the image shows instead, the reason's wording after the kind)
TEXT = "not text: ignored"
FIELDS: list[tuple[tuple[Any, ...], dict[str, Any], str]] = [
    (("posts", 0, "finalImageUrl"), {"image_url": RAW, "image_path": "slide-1-raw.png"}, TEXT),
    (("posts", 0, "rawImageUrl"), {}, TEXT),
    (("posts", 0, "imagePrompt"), {}, TEXT),
    (("posts", 0, "text"), {}, TEXT),
    (("posts", 0, "scheduledDate"), {"scheduled_date": None}, TEXT),
    (("posts", 0, "momPost"), NO_MOM, "not an object: ignored"),
    (("posts", 0, "momPost", "id"), {"slide_id": "slide-1", "id": f"img_{RUN}_slide-1"}, TEXT),
    (("posts", 0, "momPost", "imagePrompt"), {"prompt": "post prompt"}, TEXT),
    (("posts", 0, "momPost", "caption"), {"slide_text": "post text"}, TEXT),
    (("posts", 0, "momPost", "hook"), {"hook": None}, TEXT),
    (("posts", 0, "momPost", "overlayTitle"), {"overlay_title": None}, TEXT),
    (("posts", 0, "momPost", "overlaySubtitle"), {"overlay_subtitle": None}, TEXT),
    (("mode",), {"mode": None, "composition": "single"}, TEXT),
    (("topic",), {"topic": None}, TEXT),
    (("status",), {"status": None}, TEXT),
    (("count",), {"composition": "single"}, "not a number: ignored"),
    (("momConfig",), NO_CONFIG, "not an object: ignored"),
    (("momConfig", "aspectRatio"), {"aspect_ratio": "1:1"}, TEXT),
    (("momConfig", "model"), {"model": None}, TEXT),
    (("momConfig", "audience"), {"audience": None}, TEXT),
    (("momConfig", "imageModel"), {"image_model": None}, TEXT),
    (("momConfig", "stylePreset"), {"style_preset": None}, TEXT),
]


def where(path: tuple[Any, ...]) -> str:
    """A field's place as the reasons name it: ``posts[0].momPost.id``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def with_value(meta: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(meta)
    target: Any = changed
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return changed


@pytest.mark.parametrize("bad", BAD_VALUES, ids=["number", "list", "object", "boolean"])
@pytest.mark.parametrize(("path", "shown", "wording"), FIELDS, ids=[where(f[0]) for f in FIELDS])
def test_a_wrongly_typed_field_is_ignored_and_named(data: Path, full_pass: FullPass,
                                                    path: tuple[Any, ...], shown: dict[str, Any],
                                                    wording: str, bad: Any) -> None:
    if path[-1] in ("momPost", "momConfig") and isinstance(bad, dict):
        bad = "an object?"  # an object is right here: text is the wrong type
    if path == ("count",) and isinstance(bad, int) and not isinstance(bad, bool):
        bad = "two"  # a number is what count should be (or numeric text, as JavaScript reads)
    if path[-1] == "id" and isinstance(bad, int):
        # The web studio takes any truthy momPost.id, numbers and true too (see below).
        bad = ["x"] if bad is True else {"x": 1}
    run_dir = studio_run(data)
    before = full_pass(data).image(f"img_{RUN}_mom-1")
    write_meta(data, RUN, with_value(META, path, bad))
    result = full_pass(data)
    expected = {**shown}
    if "image_path" in expected:
        expected["image_path"] = str(run_dir / expected["image_path"])
    image = result.image(expected.get("id", before.id))
    assert image == before._replace(**expected)
    assert result.ids == [image.id, GOOD_ID]
    assert result.reasons == f"{where(path)} is {KINDS[type(bad)]}, {wording}"
    assert result.thumbs[image.id] == ((60, 80) if "image_url" in expected else (80, 60))


@pytest.mark.parametrize("bad", [[1], {"n": 1}], ids=["list", "object"])
def test_a_wrongly_typed_index_gives_the_post_its_position(data: Path, full_pass: FullPass,
                                                           bad: Any) -> None:
    posts = [{"index": 1, "finalImageUrl": FINAL}, {"index": bad, "finalImageUrl": RAW}]
    studio_run(data, {**META, "posts": posts})
    result = full_pass(data)
    assert result.ids == [f"img_{RUN}_slide-1", f"img_{RUN}_slide-2", GOOD_ID]
    assert result.reasons == (f"posts[1].index is {KINDS[type(bad)]}: the post's position 2 "
                              "is used instead")


@pytest.mark.parametrize(("index", "slide"), [(True, "true"), ("", ""), (None, "null"),
                                              (7.0, "7")], ids=["boolean", "empty-text", "null",
                                                                 "whole-float"])
def test_an_odd_index_is_printed_as_the_web_studio_prints_it(data: Path, full_pass: FullPass,
                                                             index: Any, slide: str) -> None:
    posts = [{"index": 1, "finalImageUrl": FINAL}, {"index": index, "finalImageUrl": RAW}]
    studio_run(data, {**META, "posts": posts})
    result = full_pass(data)
    assert result.ids == [f"img_{RUN}_slide-1", f"img_{RUN}_slide-{slide}", GOOD_ID]
    assert result.reasons == ""


@pytest.mark.parametrize(("mom_id", "expected"), [(42, "42"), (True, "true"), (2.5, "2.5"),
                                                  (0, "slide-1"), (False, "slide-1")])
def test_a_mom_post_id_is_taken_as_the_web_studio_takes_it(data: Path, full_pass: FullPass,
                                                           mom_id: Any, expected: str) -> None:
    # momPost?.id || `slide-${post.index}`: any truthy value, printed as JavaScript does.
    posts = [{"index": 1, "finalImageUrl": FINAL, "momPost": {"id": mom_id}}]
    studio_run(data, {**META, "posts": posts})
    result = full_pass(data)
    assert result.ids == [f"img_{RUN}_{expected}", GOOD_ID]
    assert result.reasons == ""


@pytest.mark.parametrize("bad", [*BAD_VALUES, "yesterday"],
                         ids=["number", "list", "object", "boolean", "not-a-date"])
def test_a_bad_created_at_falls_back_to_the_run_id(data: Path, full_pass: FullPass,
                                                   bad: Any) -> None:
    studio_run(data, {**META, "createdAt": bad})
    result = full_pass(data)
    image = result.image(f"img_{RUN}_mom-1")
    assert image.created_at == "2025-11-26T06:54:47.200Z"  # the instant in the run id
    assert image.created_ts == 1764140087.2
    assert result.reasons == f"createdAt {bad!r} is not a date: ignored"


@pytest.mark.parametrize("bad", BAD_VALUES, ids=["number", "list", "object", "boolean"])
def test_posts_of_the_wrong_type_give_no_images(data: Path, full_pass: FullPass,
                                                bad: Any) -> None:
    if isinstance(bad, list):
        bad = "a list?"  # a list is right here: text is the wrong type
    studio_run(data, {**META, "posts": bad})
    result = full_pass(data)
    assert result.ids == [GOOD_ID]
    assert result.reasons == f"posts is {KINDS[type(bad)]}, not a list: no images"


@pytest.mark.parametrize("bad", [*BAD_VALUES, "a post"],
                         ids=["number", "list", "null", "boolean", "text"])
def test_a_post_that_is_no_object_is_skipped_and_the_next_kept(data: Path, full_pass: FullPass,
                                                               bad: Any) -> None:
    if isinstance(bad, dict):
        bad = None  # null is a hole in the list, skipped without a word
    studio_run(data, {**META, "posts": [bad, POST]})
    result = full_pass(data)
    assert result.ids == [f"img_{RUN}_mom-1", GOOD_ID]
    assert result.reasons == ("" if bad is None
                              else f"posts[0] is {KINDS[type(bad)]}, not an object: skipped")


def test_ten_thousand_posts(data: Path, full_pass: FullPass) -> None:
    posts = [{"index": i, "finalImageUrl": f"/data/runs/{RUN}/slide-{i}.png",
              "text": f"caption {i}"} for i in range(1, 10_001)]
    run_dir = write_meta(data, RUN, {**META, "posts": posts})
    for i in (1, 5_000, 10_000):
        make_image(run_dir / f"slide-{i}.png")
    favorites = {"favorites": {f"img_{RUN}_slide-5000": True},
                 "usageCounts": {f"img_{RUN}_slide-10000": 7}}
    (data / "gallery-favorites.json").write_text(json.dumps(favorites, indent=2))
    result = full_pass(data)
    assert result.report.skipped == []
    assert result.ids == [f"img_{RUN}_slide-{i}" for i in range(1, 10_001)] + [GOOD_ID]
    assert [i for i in result.report.images if i.is_favorite] == [
        result.image(f"img_{RUN}_slide-5000")]
    assert result.image(f"img_{RUN}_slide-10000").usage_count == 7
    assert sorted(k for k, v in result.thumbs.items() if v == (64, 48)) == sorted(
        [f"img_{RUN}_slide-1", f"img_{RUN}_slide-5000", f"img_{RUN}_slide-10000", GOOD_ID])


# --- Names -------------------------------------------------------------------------------------


def test_a_run_folder_name_that_is_not_utf8_is_skipped(data: Path, full_pass: FullPass) -> None:
    name = os.fsdecode(b"2025-11-26T06-54-47-200Z-\xff\xfe")
    studio_run(data)
    shutil.copytree(data / "runs" / RUN, data / "runs" / name)
    result = full_pass(data)
    assert result.ids == [f"img_{RUN}_mom-1", GOOD_ID]
    (skipped,) = result.report.skipped
    assert skipped.reason == ("folder name is not valid UTF-8, so its images would have no "
                              "stable id")
    assert skipped.path.endswith("2025-11-26T06-54-47-200Z-\ufffd\ufffd")
    skipped.path.encode("utf-8")  # the report can be shown


def test_an_image_name_that_is_not_utf8_is_found_through_percent_escapes(
        data: Path, full_pass: FullPass) -> None:
    run_dir = write_meta(data, RUN, {**META, "posts": [{"index": 1,
                                                        "finalImageUrl": "slide-%FF.png"}]})
    make_image(run_dir / os.fsdecode(b"slide-\xff.png"))
    result = full_pass(data)
    image = result.image(f"img_{RUN}_slide-1")
    assert image.source is ImageSource.LOCAL
    assert image.image_path == str(run_dir / os.fsdecode(b"slide-\xff.png"))
    assert result.thumbs[image.id] == (64, 48)


def test_very_long_names(data: Path, full_pass: FullPass) -> None:
    run_id = "2025-11-26T06-54-47-200Z" + "r" * (255 - 24)  # the longest name a folder can have
    longest = "i" * 251 + ".png"
    posts = [{"index": 1, "finalImageUrl": longest},
             {"index": 2, "finalImageUrl": "n" * 400 + ".png"},  # longer than any file name
             {"index": 3, "finalImageUrl": "/data/runs/" + "deep/" * 2_000 + "x.png"},
             {"index": 4, "finalImageUrl": "u" * 1_000_000},
             {"index": 5, "finalImageUrl": "%2e%2e/" * 5_000 + "x.png"}]
    run_dir = write_meta(data, run_id, {**META, "posts": posts})
    make_image(run_dir / longest)
    result = full_pass(data)
    images = [i for i in result.report.images if i.run_id == run_id]
    assert [(i.slide_id, i.source) for i in images] == [
        ("slide-1", ImageSource.LOCAL), ("slide-2", ImageSource.LOCAL),
        ("slide-3", ImageSource.LOCAL), ("slide-4", ImageSource.LOCAL),
        ("slide-5", ImageSource.OUTSIDE)]
    assert result.thumbs[f"img_{run_id}_slide-1"] == (64, 48)
    for i in (2, 3, 4):  # named as written; reading them says why not
        assert result.thumbs[f"img_{run_id}_slide-{i}"] == "cannot read file: File name too long"
    # The 35,005-character URL is named by its ends and its length.
    head, cut, tail = result.reasons.partition("…")
    assert head.startswith("posts[4] image URL '%2e%2e/%2e%2e/") and cut
    assert tail.endswith("/x.png (35,005 characters)' points outside the data folder: not read")
    assert len(result.reasons) < 250


# --- Folders that are not what they seem -------------------------------------------------------


def test_run_entries_that_are_files_links_and_loops(data: Path, full_pass: FullPass,
                                                    tmp_path: Path) -> None:
    runs = data / "runs"
    (runs / "2025-11-30T00-00-00-000Z").write_text("a file, not a run")
    (runs / "loop").symlink_to(runs / "loop")
    (runs / "ping").symlink_to(runs / "pong")
    (runs / "pong").symlink_to(runs / "ping")
    (runs / "up").symlink_to(runs)  # a cycle through the tree: runs/up/up/up...
    (runs / "root").symlink_to(data)
    (runs / "dangling").symlink_to(tmp_path / "nowhere")
    (runs / "no-meta").mkdir()
    (runs / "meta-is-a-folder" / "meta.json").mkdir(parents=True)
    (runs / "fifo").mkdir()
    os.mkfifo(runs / "fifo" / "meta.json")  # must not hang the scan
    result = full_pass(data)
    assert result.ids == [GOOD_ID]
    reasons = {os.path.basename(s.path) if "meta.json" not in s.path
               else os.path.basename(os.path.dirname(s.path)): s.reason
               for s in result.report.skipped}
    assert reasons == {
        "2025-11-30T00-00-00-000Z": "not a folder",
        "loop": "broken or looping symlink (Too many levels of symbolic links)",
        "ping": "broken or looping symlink (Too many levels of symbolic links)",
        "pong": "broken or looping symlink (Too many levels of symbolic links)",
        "up": "no meta.json in it",
        "root": "no meta.json in it",
        "dangling": "broken or looping symlink (No such file or directory)",
        "no-meta": "no meta.json in it",
        "meta-is-a-folder": "meta.json is not a regular file",
        "fifo": "meta.json is not a regular file",
    }
    assert result.report.runs_seen == 11


def test_the_runs_folder_is_a_file_or_missing(tmp_path: Path, full_pass: FullPass) -> None:
    data = tmp_path / "data"
    data.mkdir()
    assert full_pass(data).reasons == "no runs folder"
    (data / "runs").write_text("not a folder")
    result = full_pass(data)
    assert result.ids == [] and result.report.runs_seen == 0
    assert result.reasons == "cannot list the runs folder: Not a directory"


# --- Unreadable folders -------------------------------------------------------------------------


def test_an_unlistable_runs_folder_is_reported(data: Path, full_pass: FullPass,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    runs = str(data / "runs")
    real_scandir = os.scandir

    def scandir(path: Any = ".") -> Any:
        if os.fspath(path) == runs:
            raise PermissionError(13, "Permission denied", runs)
        return real_scandir(path)

    monkeypatch.setattr(runs_module.os, "scandir", scandir)
    result = full_pass(data)
    assert result.ids == [] and result.report.runs_seen == 0
    assert result.reasons == "cannot list the runs folder: Permission denied"


def test_an_unreadable_meta_json_skips_only_its_run(data: Path, full_pass: FullPass,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    studio_run(data)
    meta = os.path.join(data, "runs", RUN, "meta.json")
    real_open = os.open

    def os_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if os.fspath(path) == meta:
            raise PermissionError(13, "Permission denied", meta)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(runs_module.os, "open", os_open)
    result = full_pass(data)
    assert result.ids == [GOOD_ID]
    assert result.reasons == "cannot open meta.json: Permission denied"


def test_an_unreadable_image_is_shown_broken_with_the_reason(data: Path, full_pass: FullPass,
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    import gallery_desktop.core.thumbnails as thumbnails_module

    run_dir = studio_run(data)
    image_file = run_dir / "slide-1.png"
    real_open = open

    def denying_open(path: Any, *args: Any, **kwargs: Any) -> Any:
        if os.fspath(path) == str(image_file):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(thumbnails_module, "open", denying_open, raising=False)
    result = full_pass(data)
    assert result.ids == [f"img_{RUN}_mom-1", GOOD_ID]
    assert result.thumbs == {f"img_{RUN}_mom-1": "cannot read file: Permission denied",
                             GOOD_ID: (64, 48)}


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads through permission bits")
def test_really_unreadable_folders_and_files(data: Path, full_pass: FullPass) -> None:
    run_dir = studio_run(data)
    locked_run = write_meta(data, "2025-11-25T00-00-00-000Z", META)
    (run_dir / "slide-1.png").chmod(0)
    locked_run.chmod(0)
    try:
        result = full_pass(data)
    finally:
        locked_run.chmod(0o755)
        (run_dir / "slide-1.png").chmod(0o644)
    assert result.ids == [f"img_{RUN}_mom-1", GOOD_ID]
    assert "Permission denied" in result.reasons
    assert result.thumbs[f"img_{RUN}_mom-1"] == "cannot read file: Permission denied"


# --- Runs that go away while the scan runs ----------------------------------------------------


def three_runs(data: Path) -> list[str]:
    ids = ["2025-11-26T00-00-00-000Z", "2025-11-25T00-00-00-000Z", "2025-11-24T00-00-00-000Z"]
    for run_id in ids:
        run_dir = write_meta(data, run_id, {**META, "posts": [
            {"index": 1, "finalImageUrl": "slide-1.png"}]})
        make_image(run_dir / "slide-1.png")
    return ids


def test_a_run_deleted_between_two_steps_of_the_scan(data: Path) -> None:
    newest, middle, oldest = three_runs(data)
    results = iter_runs(data)
    first = next(results)
    shutil.rmtree(data / "runs" / middle)
    rest = list(results)
    assert [first.run_id] + [r.run_id for r in rest] == [newest, middle, oldest, GOOD_RUN]
    assert [s.reason for s in rest[0].skipped] == ["run folder disappeared during the scan"]
    assert [len(r.images) for r in (first, *rest)] == [1, 0, 1, 1]


def test_a_run_deleted_from_the_cancel_check_just_before_it_is_read(data: Path) -> None:
    ids = three_runs(data)
    asked: list[int] = []

    def cancelled() -> bool:
        asked.append(1)
        if len(asked) == 2:  # asked before the second run is read: delete that one now
            shutil.rmtree(data / "runs" / ids[1])
        if len(asked) == 3:
            (data / "runs" / ids[2] / "meta.json").unlink()  # the folder stays, meta.json goes
        return False

    results = list(iter_runs(data, cancelled=cancelled))
    assert [r.run_id for r in results] == [*ids, GOOD_RUN]
    assert [[s.reason for s in r.skipped] for r in results] == [
        [], ["run folder disappeared during the scan"], ["no meta.json in it"], []]


def test_the_whole_data_folder_deleted_mid_scan(data: Path) -> None:
    ids = three_runs(data)
    results = iter_runs(data)
    first = next(results)
    shutil.rmtree(data)
    rest = list(results)
    assert first.run_id == ids[0] and len(first.images) == 1
    assert [(r.run_id, [s.reason for s in r.skipped]) for r in rest] == [
        (run_id, ["run folder disappeared during the scan"]) for run_id in [*ids[1:], GOOD_RUN]]
    assert scan_runs(data).skipped[0].reason == "no data folder"


def test_a_run_replaced_by_a_file_mid_scan(data: Path) -> None:
    ids = three_runs(data)
    results = iter_runs(data)
    next(results)
    shutil.rmtree(data / "runs" / ids[1])
    (data / "runs" / ids[1]).write_text("now a file")
    second = next(results)
    assert second.images == ()
    assert [s.reason for s in second.skipped] == ["cannot open meta.json: Not a directory"]
    assert [len(r.images) for r in results] == [1, 1]
