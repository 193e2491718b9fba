"""The studio's run data read exactly as the contract says, and bad input skipped with reasons."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import gallery_desktop.core.runs as runs_module
from gallery_desktop.core.favorites import FavoritesStore
from gallery_desktop.core.records import GalleryImage, ImageSource, RunResult, RunRows
from gallery_desktop.core.runs import (
    MAX_META_BYTES,
    created_timestamp,
    iter_runs,
    parse_run,
    scan_runs,
)
from tests.factories import make_image, make_run

ROOT = Path(__file__).resolve().parents[2]
RUN_ID = "2025-11-26T06-54-47-200Z"
RUN_TS = 1764140087.2  # 2025-11-26T06:54:47.200Z


def only(report_or_result: Any) -> GalleryImage:
    images = report_or_result.images
    assert len(images) == 1, images
    return images[0]


def reasons(result: RunResult) -> str:
    return "\n".join(s.reason for s in result.skipped)


# --- The contract ------------------------------------------------------------------------------


def test_full_record_of_a_studio_post(tmp_path: Path) -> None:
    post = {"index": 1, "text": "Start with one calm minute.", "imagePrompt": "post prompt",
            "rawImageUrl": f"/data/runs/{RUN_ID}/slide-1-raw.png",
            "finalImageUrl": f"/data/runs/{RUN_ID}/slide-1.png",
            "momPost": {"id": "slide-1", "hook": "The 60-second reset", "caption": "Calm.",
                        "imagePrompt": "sunlit kitchen", "overlayTitle": "60-second reset",
                        "overlaySubtitle": "before the house wakes up"},
            "scheduledDate": "2025-11-28"}
    run_dir = make_run(tmp_path, RUN_ID, [post], count=3, topic="Morning routines",
                       momConfig={"aspectRatio": "4:5", "model": "gpt-4o",
                                  "imageModel": "flux-1.1-pro", "audience": "new moms",
                                  "stylePreset": "warm-editorial"})
    result = parse_run(run_dir, tmp_path)
    assert result.run_id == RUN_ID and result.run_dir == run_dir and result.skipped == ()
    assert only(result) == GalleryImage(
        id=f"img_{RUN_ID}_slide-1", run_id=RUN_ID, slide_id="slide-1",
        image_url=f"/data/runs/{RUN_ID}/slide-1.png", image_path=str(run_dir / "slide-1.png"),
        prompt="sunlit kitchen", slide_text="Calm.", created_at="2025-11-26T06:54:47.200Z",
        aspect_ratio="4:5", composition="slideshow", model="gpt-4o", topic="Morning routines",
        audience="new moms", usage_count=0, is_favorite=False, created_ts=RUN_TS, post_order=0,
        source=ImageSource.LOCAL, status="DONE", mode="studio", image_model="flux-1.1-pro",
        style_preset="warm-editorial", hook="The 60-second reset",
        overlay_title="60-second reset", overlay_subtitle="before the house wakes up",
        scheduled_date="2025-11-28")


def test_url_falls_back_to_raw_and_posts_without_image_are_left_out(tmp_path: Path) -> None:
    posts = [{"index": 1, "finalImageUrl": f"/data/runs/{RUN_ID}/slide-1.png",
              "rawImageUrl": f"/data/runs/{RUN_ID}/slide-1-raw.png"},
             {"index": 2, "rawImageUrl": f"/data/runs/{RUN_ID}/slide-2-raw.png"},
             {"index": 3, "finalImageUrl": "", "rawImageUrl": f"/data/runs/{RUN_ID}/3.png"},
             {"index": 4, "text": "no image yet"},
             {"index": 5, "finalImageUrl": None, "rawImageUrl": ""}]
    result = parse_run(make_run(tmp_path, RUN_ID, posts), tmp_path)
    assert [i.image_url.rsplit("/", 1)[1] for i in result.images] == [
        "slide-1.png", "slide-2-raw.png", "3.png"]
    assert [i.post_order for i in result.images] == [0, 1, 2]
    assert result.skipped == ()  # a post still generating is no problem


def test_slide_id_falls_back_to_the_post_index(tmp_path: Path) -> None:
    url = f"/data/runs/{RUN_ID}/a.png"
    posts = [{"index": 7, "finalImageUrl": url, "momPost": {"id": "cover"}},
             {"index": 2, "finalImageUrl": url, "momPost": {"caption": "no id"}},
             {"index": 3.0, "finalImageUrl": url},
             {"index": "4", "finalImageUrl": url, "momPost": {"id": ""}}]
    result = parse_run(make_run(tmp_path, RUN_ID, posts), tmp_path)
    assert [i.slide_id for i in result.images] == ["cover", "slide-2", "slide-3", "slide-4"]
    assert [i.id for i in result.images][:2] == [f"img_{RUN_ID}_cover", f"img_{RUN_ID}_slide-2"]


def test_prompt_and_text_fallbacks(tmp_path: Path) -> None:
    url = f"/data/runs/{RUN_ID}/a.png"
    posts = [
        {"index": 1, "finalImageUrl": url, "imagePrompt": "p1", "text": "t1",
         "momPost": {"id": "a", "imagePrompt": "m1", "caption": "c1"}},
        {"index": 2, "finalImageUrl": url, "imagePrompt": "p2", "text": "t2",
         "momPost": {"id": "b", "imagePrompt": "", "caption": None}},
        {"index": 3, "finalImageUrl": url, "imagePrompt": "p3", "text": "t3"},
        {"index": 4, "finalImageUrl": url}]
    result = parse_run(make_run(tmp_path, RUN_ID, posts), tmp_path)
    assert [(i.prompt, i.slide_text) for i in result.images] == [
        ("m1", "c1"), ("p2", "t2"), ("p3", "t3"), ("", "")]


@pytest.mark.parametrize(("meta", "aspect", "composition"), [
    ({"mode": "studio", "count": 3, "momConfig": {"aspectRatio": "9:16"}}, "9:16", "slideshow"),
    ({"mode": "studio", "count": 1, "momConfig": {"aspectRatio": "16:9"}}, "16:9", "single"),
    ({"mode": "mommarketing", "count": 3}, "1:1", "single"),
    ({"mode": "studio", "count": 2.5, "momConfig": {}}, "1:1", "slideshow"),
    ({"mode": None, "count": None, "momConfig": None}, "1:1", "single"),
])
def test_aspect_ratio_and_composition(tmp_path: Path, meta: dict[str, Any], aspect: str,
                                      composition: str) -> None:
    image = only(parse_run(make_run(tmp_path, RUN_ID, **meta), tmp_path))
    assert (image.aspect_ratio, image.composition) == (aspect, composition)


def test_created_at_given_is_kept_as_written(tmp_path: Path) -> None:
    image = only(parse_run(make_run(tmp_path, "older-run", createdAt="2025-11-20T10:00:00+01:00"),
                           tmp_path))
    assert image.created_at == "2025-11-20T10:00:00+01:00"
    assert image.created_ts == 1763629200.0


@pytest.mark.parametrize("created", [None, "not a date", 1764140087200, ""])
def test_created_at_falls_back_to_the_run_id(tmp_path: Path, created: Any) -> None:
    result = parse_run(make_run(tmp_path, RUN_ID, createdAt=created), tmp_path)
    image = only(result)
    assert (image.created_at, image.created_ts) == ("2025-11-26T06:54:47.200Z", RUN_TS)
    assert ("createdAt" in reasons(result)) == (created is not None)


def test_created_at_falls_back_to_the_meta_mtime(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path, "my-run", createdAt=None)
    os.utime(run_dir / "meta.json", ns=(0, 1_700_000_000_123_000_000))
    image = only(parse_run(run_dir, tmp_path))
    assert image.created_at == "2023-11-14T22:13:20.123Z"
    assert image.created_ts == pytest.approx(1700000000.123, abs=1e-6)


def test_created_timestamp() -> None:
    assert created_timestamp({"createdAt": "2025-11-26T06:54:47.200Z"}, "x", 5.0) == (
        "2025-11-26T06:54:47.200Z", RUN_TS)
    assert created_timestamp({"createdAt": "2025-11-26"}, "x", 5.0) == ("2025-11-26", 1764115200.0)
    assert created_timestamp({}, RUN_ID, 5.0) == ("2025-11-26T06:54:47.200Z", RUN_TS)
    assert created_timestamp({}, "2025-11-26T06-54-47Z", 5.0) == ("2025-11-26T06:54:47.000Z",
                                                                   1764140087.0)
    assert created_timestamp({"createdAt": []}, "run-7", 5.0) == ("1970-01-01T00:00:05.000Z", 5.0)
    assert created_timestamp({}, "2025-13-45T99-00-00-000Z", 5.0)[1] == 5.0


def test_order_newest_first_then_run_id_then_post_order(tmp_path: Path) -> None:
    two = [{"index": i, "finalImageUrl": f"/data/runs/R/{i}.png"} for i in (1, 2)]
    make_run(tmp_path, "b-run", two, createdAt="2025-11-20T00:00:00Z")
    make_run(tmp_path, "a-run", two, createdAt="2025-11-20T00:00:00Z")
    make_run(tmp_path, "2025-11-21T00-00-00-000Z", two, createdAt=None)
    make_run(tmp_path, "old", two, createdAt="2025-01-01T00:00:00Z")
    report = scan_runs(tmp_path)
    got = [(i.run_id, i.post_order) for i in report.images]
    assert got == [("2025-11-21T00-00-00-000Z", 0), ("2025-11-21T00-00-00-000Z", 1),
                   ("a-run", 0), ("a-run", 1), ("b-run", 0), ("b-run", 1), ("old", 0), ("old", 1)]
    assert got == [(i.run_id, i.post_order) for i in sorted(report.images,
                                                             key=lambda i: i.sort_key)]


def test_favorites_and_usage_come_from_the_store(tmp_path: Path) -> None:
    posts = [{"index": i, "finalImageUrl": f"/data/runs/{RUN_ID}/slide-{i}.png"} for i in (1, 2, 3)]
    make_run(tmp_path, RUN_ID, posts)
    store = FavoritesStore(tmp_path / "gallery-favorites.json")
    store.load()
    store.set_favorite(f"img_{RUN_ID}_slide-1", True)
    store.increment_usage(f"img_{RUN_ID}_slide-3")
    store.increment_usage(f"img_{RUN_ID}_slide-3")
    report = scan_runs(tmp_path, store)
    assert [(i.slide_id, i.is_favorite, i.usage_count) for i in report.images] == [
        ("slide-1", True, 0), ("slide-2", False, 0), ("slide-3", False, 2)]


def test_duplicate_ids_first_one_wins(tmp_path: Path) -> None:
    url = f"/data/runs/{RUN_ID}/a.png"
    posts = [{"index": 1, "finalImageUrl": url, "text": "first"},
             {"index": 1, "finalImageUrl": url, "text": "second"}]
    result = parse_run(make_run(tmp_path, RUN_ID, posts), tmp_path)
    assert only(result).slide_text == "first"
    assert "repeats the image id" in reasons(result)

@pytest.mark.parametrize("newer", ["A_b", "A"])
def test_an_id_two_runs_make_alike_is_the_greatest_run_id_s(tmp_path: Path, newer: str) -> None:
    """"A_b" + "c" and "A" + "b_c" make the same id: run "A_b" keeps it, whichever run is
    newer, as the app's grid has it."""
    for run_id, slide in (("A_b", "c"), ("A", "b_c")):
        created = "2025-11-02T00:00:00Z" if run_id == newer else "2025-11-01T00:00:00Z"
        make_run(tmp_path, run_id, [{"index": 1, "finalImageUrl": "x.png",
                                     "momPost": {"id": slide}}], createdAt=created)
    report = scan_runs(tmp_path)
    assert [i.run_id for i in report.images if i.id == "img_A_b_c"] == ["A_b"]
    assert [s.reason for s in report.skipped] == ["image id img_A_b_c is also run A_b's: "
                                                  "that one is kept"]


def test_image_sources(tmp_path: Path) -> None:
    posts = [{"index": 1, "finalImageUrl": f"/data/runs/{RUN_ID}/here.png"},
             {"index": 2, "finalImageUrl": f"/data/runs/{RUN_ID}/gone.png"},
             {"index": 3, "finalImageUrl": "https://cdn.example.com/x.png"},
             {"index": 4, "finalImageUrl": "/data/../../etc/passwd"}]
    run_dir = make_run(tmp_path, RUN_ID, posts, images=False)
    make_image(run_dir / "here.png")
    result = parse_run(run_dir, tmp_path)
    # A file is named, not looked for: reading it tells that gone.png is not there.
    assert [(i.source, i.image_path) for i in result.images] == [
        (ImageSource.LOCAL, str(run_dir / "here.png")),
        (ImageSource.LOCAL, str(run_dir / "gone.png")),
        (ImageSource.REMOTE, None), (ImageSource.OUTSIDE, None)]
    assert "outside the data folder" in reasons(result)


# --- Bad input loses nothing and stops nothing ---------------------------------------------------


def scan_with_one_good_run(tmp_path: Path) -> tuple[list[GalleryImage], list[str]]:
    """Scan ``tmp_path`` (holding some bad run) next to a good run; the good one must survive."""
    make_run(tmp_path, "zz-good-run")
    report = scan_runs(tmp_path)
    assert [i.run_id for i in report.images if i.run_id == "zz-good-run"] == ["zz-good-run"]
    return report.images, [f"{s.path}: {s.reason}" for s in report.skipped]


@pytest.mark.parametrize(("raw", "reason"), [
    (b"", "meta.json is empty"),
    (b"  \n", "meta.json is empty"),
    (b'{"posts": [{"index": 1, "finalIm', "not valid JSON"),
    (b"{'posts': []}", "not valid JSON"),
    (b"\xff\xfe{}", "not valid UTF-8"),
    (b'{"topic": "caf\xe9"}', "not valid UTF-8"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (b"[]", "holds a list, not an object"),
    (b"null", "holds null, not an object"),
    (b'"text"', "holds text, not an object"),
    (b"42", "holds a number, not an object"),
])
def test_unusable_meta_json_is_skipped_with_a_reason(tmp_path: Path, raw: bytes,
                                                     reason: str) -> None:
    make_run(tmp_path, RUN_ID, raw=raw)
    images, skipped = scan_with_one_good_run(tmp_path)
    assert len(images) == 1
    assert len(skipped) == 1 and RUN_ID in skipped[0] and reason in skipped[0], skipped


@pytest.mark.parametrize(("raw", "incomplete"), [
    (b"", True),                                   # truncated to nothing by an in-place write
    (b'{"posts": [{"index": 1, "finalIm', True),   # cut mid-write
    (b'{"topic": "caf\xc3', True),                # cut inside a UTF-8 sequence
    (b"[" * 100_000 + b"]" * 100_000, False),      # complete, just unreadable
    (b"[]", False),
    (b'{"posts": []}', False),
])
def test_a_meta_json_that_may_be_mid_write_is_marked_incomplete(
        tmp_path: Path, raw: bytes, incomplete: bool) -> None:
    run_dir = make_run(tmp_path, RUN_ID, raw=raw)
    assert parse_run(run_dir, tmp_path).incomplete is incomplete


def test_a_utf8_bom_is_accepted(tmp_path: Path) -> None:
    body = {"createdAt": "2025-11-26T06:54:47.200Z",
            "posts": [{"index": 1, "finalImageUrl": "a.png", "text": "bom"}]}
    make_run(tmp_path, RUN_ID, raw=b"\xef\xbb\xbf" + json.dumps(body).encode())
    images, skipped = scan_with_one_good_run(tmp_path)
    assert [i.slide_text for i in images if i.run_id == RUN_ID] == ["bom"]
    assert skipped == []


def test_json_only_pythons_parser_reads_still_gives_the_run(tmp_path: Path) -> None:
    # NaN, Infinity and numbers beyond a double are not JSON, but Python's json (and so this
    # app always) read them: the fast parser's refusal must not cost the run its images.
    raw = (b'{"count": NaN, "extra": [1e400, -Infinity],'
           b' "posts": [{"index": 1, "finalImageUrl": "a.png", "text": "kept"}]}')
    result = parse_run(make_run(tmp_path, RUN_ID, raw=raw), tmp_path)
    assert only(result).slide_text == "kept" and only(result).composition == "single"
    assert not result.skipped


# What node prints for String(n): the web studio's ids are made that way, and hearts are
# keyed by id.
JS_PRINTED = [(7, "7"), (2.0, "2"), (-1, "-1"), (0.5, "0.5"), (123.45, "123.45"),
              (12345678901234567890, "12345678901234567000"), (2 ** 64, "18446744073709552000"),
              (9007199254740993, "9007199254740992"), (10 ** 29, "1e+29"), (1e21, "1e+21"),
              (1e20, "100000000000000000000"), (1e-7, "1e-7"), (0.00001, "0.00001"),
              (1.5e-10, "1.5e-10"), (1.5e300, "1.5e+300"), (-2.5e-7, "-2.5e-7")]


@pytest.mark.parametrize("lone_surrogate", [False, True])  # orjson, or json, reads the file
def test_numbers_in_ids_print_as_the_web_studio_prints_them(
        tmp_path: Path, lone_surrogate: bool) -> None:
    posts = [{"index": number, "finalImageUrl": f"{i}.png"}
             for i, (number, _) in enumerate(JS_PRINTED)]
    posts += [{"index": 1, "finalImageUrl": f"m{i}.png", "momPost": {"id": number}}
              for i, (number, _) in enumerate(JS_PRINTED)]
    meta = {"posts": posts, "topic": "\ud800" if lone_surrogate else "t"}
    result = parse_run(make_run(tmp_path, RUN_ID, raw=json.dumps(meta).encode()), tmp_path)
    expected = [f"slide-{text}" for _, text in JS_PRINTED] + [text for _, text in JS_PRINTED]
    assert [i.slide_id for i in result.images] == expected


@pytest.mark.parametrize("digits", [400, 5_000])  # 5,000: more than Python's int() reads
def test_integers_beyond_a_double_never_stop_the_scan(tmp_path: Path, digits: int) -> None:
    # JavaScript's Infinity; only Python's json reads the file
    huge = "9" * digits
    raw = ('{"count": HUGE, "mode": "studio", "posts": ['
           '{"index": 1, "finalImageUrl": "a.png", "momPost": {"id": HUGE}},'
           '{"index": 2, "finalImageUrl": "b.png", "momPost": {"id": -HUGE}},'
           '{"index": HUGE, "finalImageUrl": "c.png"}]}').replace("HUGE", huge).encode()
    result = parse_run(make_run(tmp_path, RUN_ID, raw=raw), tmp_path)
    assert [i.slide_id for i in result.images] == ["Infinity", "-Infinity", "slide-Infinity"]
    assert {i.composition for i in result.images} == {"slideshow"}
    assert not result.skipped


def test_a_url_that_starts_with_nul_is_outside(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path, RUN_ID, [{"index": 1, "finalImageUrl": "\u0000a.png"}],
                       momConfig={"model": "m"})  # a run as plain as the studio's
    for result in (parse_run(run_dir, tmp_path), scan_runs(tmp_path)):
        image = only(result)
        assert (image.source, image.image_path) == (ImageSource.OUTSIDE, None)
        assert "points outside the data folder" in " ".join(s.reason for s in result.skipped)


@pytest.mark.parametrize(("posts", "reason"), [
    ({"index": 1}, "posts is an object, not a list"),
    ("posts", "posts is text, not a list"),
    (3, "posts is a number, not a list"),
])
def test_posts_not_a_list(tmp_path: Path, posts: Any, reason: str) -> None:
    result = parse_run(make_run(tmp_path, RUN_ID, raw={"posts": posts}), tmp_path)
    assert result.images == () and reason in reasons(result)


def test_missing_posts_is_no_images_and_no_problem(tmp_path: Path) -> None:
    result = parse_run(make_run(tmp_path, RUN_ID, raw={"status": "PROMPTS"}), tmp_path)
    assert result.images == () and result.skipped == ()


def test_posts_that_are_not_objects_are_skipped(tmp_path: Path) -> None:
    good = {"index": 2, "finalImageUrl": "a.png"}
    result = parse_run(make_run(tmp_path, RUN_ID, raw={"posts": ["x", 5, [good], good, True]}),
                       tmp_path)
    assert [i.slide_id for i in result.images] == ["slide-2"]
    assert [s.reason.split(" is ")[0] for s in result.skipped] == [
        "posts[0]", "posts[1]", "posts[2]", "posts[4]"]


def test_wrong_types_in_every_field_are_ignored_and_noted(tmp_path: Path) -> None:
    meta = {"createdAt": 17, "status": 1, "mode": ["studio"], "count": "three", "topic": {"a": 1},
            "momConfig": {"aspectRatio": 4.5, "model": True, "audience": [], "imageModel": 3,
                          "stylePreset": {}},
            "posts": [{"index": [1], "text": 5, "imagePrompt": False, "scheduledDate": 20251128,
                       "finalImageUrl": 12, "rawImageUrl": f"/data/runs/{RUN_ID}/raw.png",
                       "momPost": {"id": [9], "caption": 1, "imagePrompt": [], "hook": 2,
                                   "overlayTitle": {}, "overlaySubtitle": 0.5}},
                      {"index": 2, "finalImageUrl": "b.png", "momPost": "not an object"}]}
    run_dir = make_run(tmp_path, RUN_ID, raw=meta)
    result = parse_run(run_dir, tmp_path)
    first, second = result.images
    assert first == GalleryImage(
        id=f"img_{RUN_ID}_slide-1", run_id=RUN_ID, slide_id="slide-1",
        image_url=f"/data/runs/{RUN_ID}/raw.png", image_path=str(run_dir / "raw.png"),
        created_at="2025-11-26T06:54:47.200Z", created_ts=RUN_TS, post_order=0,
        source=ImageSource.LOCAL)
    assert second.slide_id == "slide-2"
    text = reasons(result)
    for field in ("createdAt", "status", "mode", "count", "topic", "momConfig.aspectRatio",
                  "momConfig.model", "momConfig.audience", "momConfig.imageModel",
                  "momConfig.stylePreset", "posts[0].index", "posts[0].text",
                  "posts[0].imagePrompt", "posts[0].scheduledDate", "posts[0].finalImageUrl",
                  "posts[0].momPost.id", "posts[0].momPost.caption",
                  "posts[0].momPost.imagePrompt", "posts[0].momPost.hook",
                  "posts[0].momPost.overlayTitle", "posts[0].momPost.overlaySubtitle",
                  "posts[1].momPost"):
        assert f"{field} is" in text or f"{field} {17!r}" in text, field
    assert "posts[0].index is a list: the post's position 1 is used" in text


def test_momconfig_not_an_object(tmp_path: Path) -> None:
    result = parse_run(make_run(tmp_path, RUN_ID, momConfig=["4:5"]), tmp_path)
    assert only(result).aspect_ratio == "1:1"
    assert "momConfig is a list, not an object" in reasons(result)


def test_a_missing_index_reads_as_the_web_studio_prints_it(tmp_path: Path) -> None:
    # `slide-${post.index}`: the web studio's id of the first such post is slide-undefined.
    # A second one would repeat it: its position keeps it apart.
    posts = [{"finalImageUrl": "a.png"}, {"finalImageUrl": "b.png"},
             {"index": None, "finalImageUrl": "c.png"}, {"index": True, "finalImageUrl": "d.png"},
             {"index": 5.0, "finalImageUrl": "e.png"}]
    result = parse_run(make_run(tmp_path, RUN_ID, posts), tmp_path)
    assert [i.slide_id for i in result.images] == [
        "slide-undefined", "slide-2", "slide-null", "slide-true", "slide-5"]
    assert "posts[1].index is missing: the post's position 2 is used" in reasons(result)
    assert "posts[0]" not in reasons(result)


def test_ids_and_composition_follow_javascript_where_the_web_studio_does(
        tmp_path: Path) -> None:
    # momPost?.id || ... takes any truthy value; meta.count > 1 compares as a number.
    posts = [{"index": 1, "finalImageUrl": "a.png", "momPost": {"id": 7}},
             {"index": 2, "finalImageUrl": "b.png", "momPost": {"id": 0}},
             {"index": 3, "finalImageUrl": "c.png", "momPost": {"id": 2.0}}]
    result = parse_run(make_run(tmp_path, RUN_ID, posts, mode="studio", count="3"), tmp_path)
    assert [i.id for i in result.images] == [
        f"img_{RUN_ID}_7", f"img_{RUN_ID}_slide-2", f"img_{RUN_ID}_2"]
    assert {i.composition for i in result.images} == {"slideshow"}
    assert not result.skipped


def test_lone_surrogates_are_replaced(tmp_path: Path) -> None:
    raw = (b'{"posts": [{"index": 1, "finalImageUrl": "a.png", "text": "bad \\ud800 text",'
           b' "momPost": {"id": "s\\udfff"}, "imagePrompt": "fine \\u00e9 \\ud83d\\ude00"}]}')
    result = parse_run(make_run(tmp_path, RUN_ID, raw=raw), tmp_path)
    image = only(result)
    assert image.slide_text == "bad \ufffd text" and image.slide_id == "s\ufffd"
    assert image.prompt == "fine \u00e9 \U0001f600"
    image.id.encode("utf-8")  # every id can be written to the favorites file
    assert "broken characters" in reasons(result)


def test_ten_thousand_posts(tmp_path: Path) -> None:
    posts = [{"index": i, "finalImageUrl": f"slide-{i}.png"} for i in range(1, 10_001)]
    result = parse_run(make_run(tmp_path, RUN_ID, posts, images=False), tmp_path)
    assert len(result.images) == 10_000 and result.skipped == ()
    assert result.images[-1].slide_id == "slide-10000"


def test_meta_json_over_the_size_limit_is_not_read(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    run_dir = tmp_path / "runs" / RUN_ID
    run_dir.mkdir(parents=True)
    with open(run_dir / "meta.json", "wb") as f:  # sparse: costs no disk space
        f.truncate(MAX_META_BYTES + 1)
    reads: list[int] = []
    real_read = os.read

    def counting_read(fd: int, n: int) -> bytes:
        reads.append(n)
        return real_read(fd, n)

    monkeypatch.setattr(runs_module.os, "read", counting_read)
    result = parse_run(run_dir, tmp_path)
    assert result.images == () and "over the 67,108,864-byte limit" in reasons(result)
    assert reads == []


def test_run_folders_that_are_not_folders(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    make_run(tmp_path, "zz-good-run")
    (runs / "notes.txt").write_text("hello")
    (runs / "loop").symlink_to(runs / "loop")
    (runs / "dangling").symlink_to(tmp_path / "nowhere")
    (runs / "empty-run").mkdir()
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    make_run(outside, "elsewhere")
    (runs / "linked-out").symlink_to(outside / "runs" / "elsewhere")
    (runs / "linked-in").symlink_to(runs / "zz-good-run")
    results = {r.run_id: r for r in iter_runs(tmp_path)}
    assert set(results) == {"zz-good-run", "notes.txt", "loop", "dangling", "empty-run",
                            "linked-out", "linked-in"}
    assert "not a folder" in reasons(results["notes.txt"])
    assert "looping symlink" in reasons(results["loop"])
    assert "broken or looping symlink" in reasons(results["dangling"])
    assert "no meta.json" in reasons(results["empty-run"])
    assert "links outside the data folder" in reasons(results["linked-out"])
    assert len(results["linked-in"].images) == 1  # a link that stays inside is a run
    assert all(not r.images for k, r in results.items() if k not in ("zz-good-run", "linked-in"))


def test_meta_json_that_is_a_folder_a_fifo_or_a_link(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    (runs / "folder" / "meta.json").mkdir(parents=True)
    (runs / "fifo").mkdir()
    os.mkfifo(runs / "fifo" / "meta.json")  # must not hang the scan
    outside = tmp_path.parent / f"{tmp_path.name}-secret.json"
    outside.write_text(json.dumps({"posts": [{"index": 1, "finalImageUrl": "a.png"}]}))
    (runs / "out").mkdir()
    (runs / "out" / "meta.json").symlink_to(outside)
    make_run(tmp_path, "target", raw={"posts": [{"index": 1, "finalImageUrl": "a.png"}]})
    (runs / "in").mkdir()
    (runs / "in" / "meta.json").symlink_to(runs / "target" / "meta.json")
    results = {r.run_id: r for r in iter_runs(tmp_path)}
    assert "not a regular file" in reasons(results["folder"])
    assert "not a regular file" in reasons(results["fifo"])
    assert "links outside the data folder" in reasons(results["out"])
    assert [i.id for i in results["in"].images] == ["img_in_slide-1"]


def test_non_utf8_folder_names_are_skipped(tmp_path: Path) -> None:
    name = os.fsdecode(b"run-\xff\xfe")
    make_run(tmp_path, name)
    make_run(tmp_path, "run-\u00e9t\u00e9")  # valid UTF-8 is fine
    images, skipped = scan_with_one_good_run(tmp_path)
    assert {i.run_id for i in images} == {"zz-good-run", "run-\u00e9t\u00e9"}
    assert len(skipped) == 1 and "not valid UTF-8" in skipped[0]
    skipped[0].encode("utf-8")  # the report can be shown and written
    assert "run-\ufffd\ufffd" in skipped[0]
    assert "not valid UTF-8" in reasons(parse_run(tmp_path / "runs" / name, tmp_path))


def test_very_long_names(tmp_path: Path) -> None:
    run_id = "r" * 255
    posts = [{"index": 1, "finalImageUrl": "a.png"},
             {"index": 2, "finalImageUrl": "b" * 400 + ".png"}]
    run_dir = make_run(tmp_path, run_id, posts, images=False)
    make_image(run_dir / "a.png")
    result = parse_run(run_dir, tmp_path)
    assert [(i.source, i.id) for i in result.images] == [
        (ImageSource.LOCAL, f"img_{run_id}_slide-1"),
        (ImageSource.LOCAL, f"img_{run_id}_slide-2")]  # too long a name: reading it fails


def test_unreadable_run_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run_dir = make_run(tmp_path, RUN_ID)
    meta = str(run_dir / "meta.json")
    if os.geteuid() == 0:
        # root reads through any permission bits: make the open fail as it would for a user.
        real_open = os.open

        def denying_open(path: Any, *args: Any, **kwargs: Any) -> int:
            if os.fspath(path) == meta:
                raise PermissionError(13, "Permission denied", meta)
            return real_open(path, *args, **kwargs)

        monkeypatch.setattr(runs_module.os, "open", denying_open)
    else:
        run_dir.chmod(0)
    try:
        images, skipped = scan_with_one_good_run(tmp_path)
    finally:
        run_dir.chmod(0o755)
    assert len(images) == 1
    assert len(skipped) == 1 and "cannot open meta.json: Permission denied" in skipped[0]


def test_run_deleted_mid_scan(tmp_path: Path) -> None:
    for run_id in ("run-c", "run-b", "run-a"):
        make_run(tmp_path, run_id)
    results = iter_runs(tmp_path)
    first = next(results)  # newest name first: run-c
    shutil.rmtree(tmp_path / "runs" / "run-b")
    rest = list(results)
    assert first.run_id == "run-c" and len(first.images) == 1
    assert [r.run_id for r in rest] == ["run-b", "run-a"]
    assert "disappeared during the scan" in reasons(rest[0]) and len(rest[1].images) == 1


def test_missing_data_or_runs_folder(tmp_path: Path) -> None:
    report = scan_runs(tmp_path / "nope")
    assert (report.runs_seen, report.images) == (0, [])
    assert [s.reason for s in report.skipped] == ["no data folder"]
    assert [s.reason for s in scan_runs(tmp_path).skipped] == ["no runs folder"]
    (tmp_path / "runs").write_text("a file")
    assert "cannot list the runs folder" in scan_runs(tmp_path).skipped[0].reason
    assert "no such folder" in reasons(parse_run(tmp_path / "runs" / "x", tmp_path))
    assert "not a folder" in reasons(parse_run(tmp_path / "runs", tmp_path))


def test_cancel_stops_the_scan(tmp_path: Path) -> None:
    for i in range(5):
        make_run(tmp_path, f"run-{i}")
    asked: list[int] = []

    def cancelled() -> bool:
        asked.append(1)
        return len(asked) > 2

    assert [r.run_id for r in iter_runs(tmp_path, cancelled=cancelled)] == ["run-4", "run-3"]
    assert len(asked) == 3


def test_report_counts_runs_and_collects_every_skip(tmp_path: Path) -> None:
    make_run(tmp_path, "good")
    make_run(tmp_path, "bad", raw=b"{")
    (tmp_path / "runs" / "file").write_text("x")
    report = scan_runs(tmp_path)
    assert report.runs_seen == 3 and len(report.images) == 1
    assert sorted(s.path.rsplit(os.sep, 2)[-2] if s.path.endswith("meta.json")
                  else s.path.rsplit(os.sep, 1)[-1] for s in report.skipped) == ["bad", "file"]


# --- The sample data -------------------------------------------------------------------------


def test_sample_data_is_deterministic_and_the_committed_copy_scans_cleanly(
        tmp_path: Path) -> None:
    script = ROOT / "scripts" / "make_sample_data.py"
    # Two fresh processes, side by side: no state can carry over from one to the other.
    procs = [subprocess.Popen([sys.executable, str(script), "--out", str(tmp_path / out)],
                              stdout=subprocess.DEVNULL) for out in ("a", "b")]
    assert [p.wait(timeout=240) for p in procs] == [0, 0]

    def files(folder: Path) -> dict[str, bytes]:
        return {p.relative_to(folder).as_posix(): p.read_bytes()
                for p in sorted(folder.rglob("*")) if p.is_file()}

    first, second = files(tmp_path / "a"), files(tmp_path / "b")
    assert first == second
    assert not (tmp_path / "a" / "gallery-favorites.json").exists()
    assert sum(map(len, first.values())) < 4_000_000
    committed = files(ROOT / "data" / "runs")
    assert sorted(committed) == sorted(k.removeprefix("runs/") for k in first)
    # The JSON is byte-identical; images may differ only if Pillow's encoder does.
    assert {k: v for k, v in committed.items() if k.endswith(".json")} == {
        k.removeprefix("runs/"): v for k, v in first.items() if k.endswith(".json")}

    report = scan_runs(ROOT / "data")
    assert (report.runs_seen, len(report.images), report.skipped) == (12, 19, [])
    assert {i.source for i in report.images} == {ImageSource.LOCAL}
    # One image is missing on purpose (the grid shows it so, once its thumbnail is tried).
    assert sum(not os.path.exists(i.image_path) for i in report.images if i.image_path) == 1
    assert {i.mode for i in report.images} == {"studio", "mommarketing"}
    assert {i.status for i in report.images} == {"DONE", "ERROR", "IMAGES"}
    assert {i.aspect_ratio for i in report.images} == {"1:1", "4:5", "9:16", "16:9"}
    assert {i.composition for i in report.images} == {"single", "slideshow"}
    assert {os.path.splitext(i.image_path)[1] for i in report.images if i.image_path} == {
        ".png", ".jpg"}


def test_scan_through_a_symlinked_data_folder(tmp_path: Path) -> None:
    real = tmp_path / "real-data"
    run_dir = make_run(real, RUN_ID, [{"index": 1, "finalImageUrl": f"/data/runs/{RUN_ID}/a.png"},
                                      {"index": 2, "finalImageUrl": "b.png"}], images=False)
    make_image(run_dir / "a.png")
    make_image(run_dir / "b.png")
    (run_dir / "out.png").symlink_to(tmp_path / "elsewhere.png")
    make_image(tmp_path / "elsewhere.png")
    make_run(real, "other", [{"index": 1, "finalImageUrl": f"/data/runs/{RUN_ID}/out.png"}])
    alias = tmp_path / "alias"
    alias.symlink_to(real)
    report = scan_runs(alias)
    # out.png links out of the data folder: named (reading it refuses it), never resolved.
    assert [(i.image_path, i.source) for i in report.images] == [
        (str(run_dir / "a.png"), ImageSource.LOCAL), (str(run_dir / "b.png"), ImageSource.LOCAL),
        (str(run_dir / "out.png"), ImageSource.LOCAL)]
    assert {i.run_id for i in report.images} == {RUN_ID, "other"}


def test_gc_paused_restores_the_collector_state() -> None:
    import gc

    from gallery_desktop.core.runs import gc_paused

    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # it was off: it stays off
    finally:
        gc.enable()
    with pytest.raises(KeyError), gc_paused():
        raise KeyError
    assert gc.isenabled()


def test_run_rows_of_a_read_run_are_built_and_can_show_part_of_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    run_dir = make_run(data, "run-a", [{"index": i, "text": f"caption {i}",
                                        "finalImageUrl": f"/data/runs/run-a/slide-{i}.png"}
                                       for i in (1, 2, 3)])
    result = parse_run(run_dir, data)
    rows = RunRows.of(result)
    assert rows.built and rows.images == result.images and rows.ids == result.ids
    assert rows.orders == (0, 1, 2) and rows.created_ts == result.created_ts
    assert rows.search_texts == tuple(i.search_text() for i in result.images)
    assert rows.search_texts is result.search_texts()  # made once, for the grid and the index
    part = RunRows.of(result, result.images[1:])
    assert part.ids == result.ids[1:] and part.orders == (1, 2) and not part.damaged
    assert part.result() == replace(result, images=result.images[1:])
    with pytest.raises(ValueError, match="share"):
        RunRows.of(result, [result.images[0], result.images[1]._replace(created_ts=1.0)])


def test_a_url_outside_the_data_folder_is_named_briefly(tmp_path: Path) -> None:
    """An inline data: image can run to megabytes: the problem says what it is without
    quoting it, and any other long URL is cut in the middle."""
    inline = "data:image/png;base64," + "A" * 1_000_000
    far = "file:///" + "x" * 500 + "/secret.png"
    result = parse_run(make_run(tmp_path, RUN_ID, [
        {"index": 1, "finalImageUrl": inline}, {"index": 2, "finalImageUrl": far}]), tmp_path)
    first, second = result.skipped
    assert first.reason == ("posts[0] image is an inline data: URL: not shown (only files in "
                            "the data folder are)")
    assert second.reason.startswith("posts[1] image URL 'file:///xxx")
    assert second.reason.endswith("x/secret.png (519 characters)' points outside the data "
                                  "folder: not read")
    assert len(second.reason) < 250
    assert [i.source for i in result.images] == [ImageSource.OUTSIDE] * 2


@pytest.mark.parametrize("seed", range(20))
def test_ids_two_runs_make_alike_are_found_from_the_run_ids(tmp_path: Path, seed: int) -> None:
    """Run ids and slide ids made of a few parts joined by "_": every image id that comes
    out twice is shown once, and no other is dropped (against a plain count of the ids)."""
    import random

    rng = random.Random(seed)
    parts = ["a", "b", "c"]
    run_ids = sorted({"_".join(rng.choices(parts, k=rng.randint(1, 3))) for _ in range(6)})
    made: list[str] = []
    for run_id in run_ids:
        slides = sorted({"_".join(rng.choices(parts, k=rng.randint(1, 2))) for _ in range(3)})
        make_run(tmp_path, run_id, [{"index": i, "finalImageUrl": "x.png", "momPost": {"id": s}}
                                    for i, s in enumerate(slides, 1)], images=False)
        made += [f"img_{run_id}_{s}" for s in slides]
    shown = [i.id for i in scan_runs(tmp_path).images]
    assert sorted(shown) == sorted(set(made))


# --- The plain reading agrees with the careful one -------------------------------------------


_ABSENT = object()


def _pick(rng: random.Random, *choices: Any) -> Any:
    return choices[rng.randrange(len(choices))]


def _random_meta(rng: random.Random, run_id: str, other: str) -> dict[str, Any]:
    """A meta.json that is mostly as the studio writes it, with now and then a field of
    the wrong type, a repeated id or a URL of another kind."""
    def text(good: str) -> Any:
        return good if rng.random() < 0.96 else _pick(rng, None, _ABSENT, "", 3, ["x"], True)

    def url(n: int) -> Any:
        if rng.random() < 0.9:
            return f"/data/runs/{run_id}/slide-{n}.png"
        return _pick(rng, f"slide-{n}.png", "", None, _ABSENT, 5, "https://cdn.example/a.png",
                     "/data/../outside.png", f"/data/runs/{other}/slide-1.png",
                     f"/data/runs/{run_id}/sub/a.png", f"/data/runs/{run_id}/a%20b.png",
                     f"/data/runs/{run_id}/", f"/data/runs/{run_id}/..", "data:image/png;x",
                     f"/data/runs/{run_id}/a.png?v=2", f"data/runs/{run_id}/slide-{n}.png",
                     "\x00a.png", f"{run_id}/slide-{n}.png")

    def mom(n: int) -> Any:
        if rng.random() < 0.5:
            return _ABSENT
        if rng.random() < 0.8:
            return {"id": text(f"slide-{n}"), "caption": text("c"), "hook": text("h"),
                    "imagePrompt": text("p"), "overlayTitle": text("t"),
                    "overlaySubtitle": text("s")}
        return _pick(rng, None, {}, {"id": 5}, {"id": True}, {"id": 0}, {"id": ""}, "x", [], 0)

    def post(n: int) -> Any:
        if rng.random() < 0.03:
            return _pick(rng, None, 3, [], "post")
        return {"index": n if rng.random() < 0.88 else _pick(
                    rng, _ABSENT, None, str(n), "", 2.0, True, [1], -1, 1),
                "text": text("t"), "imagePrompt": text("p"), "finalImageUrl": url(n),
                "rawImageUrl": url(n), "scheduledDate": text("2025-11-28"), "momPost": mom(n)}

    meta = {"createdAt": _pick(rng, "2025-11-26T06:54:47.200Z", "2025-11-26") if rng.random()
            < 0.9 else _pick(rng, "garbage", 17, None, _ABSENT),
            "mode": _pick(rng, "studio", "mommarketing") if rng.random() < 0.9 else text("x"),
            "count": _pick(rng, 3, 1) if rng.random() < 0.9 else _pick(
                rng, "3", None, True, 2.5, _ABSENT, -1),
            "topic": text("topic"), "status": text("DONE"),
            "momConfig": {"aspectRatio": text("4:5"), "model": text("m"),
                          "audience": text("a"), "imageModel": text("i"),
                          "stylePreset": text("s")} if rng.random() < 0.9 else _pick(
                              rng, None, _ABSENT, "x", [], {}),
            "posts": [post(n) for n in range(1, rng.randrange(0, 5) + 1)]
            if rng.random() < 0.97 else _pick(rng, None, {}, "posts")}

    def prune(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: prune(v) for k, v in value.items() if v is not _ABSENT}
        if isinstance(value, list):
            return [prune(v) for v in value]
        return value

    return prune(meta)


@pytest.mark.parametrize("seed", range(6))
def test_the_plain_reading_gives_what_the_careful_one_does(
        tmp_path: Path, seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(seed)
    run_ids = [f"2025-11-{1 + i % 28:02d}T06-54-47-{i:03d}Z" for i in range(250)]
    for run_id in run_ids:
        meta = _random_meta(rng, run_id, rng.choice(run_ids))
        make_run(tmp_path, run_id, raw=meta)
        for n in range(1, 4):
            if rng.random() < 0.7:
                make_image(tmp_path / "runs" / run_id / f"slide-{n}.png")
    plain_taken: list[bool] = []
    real_plain = runs_module._MetaReader._plain_images

    def counted(self: Any, meta: dict[str, Any], mtime: float) -> Any:
        images = real_plain(self, meta, mtime)
        plain_taken.append(images is not None)
        return images

    monkeypatch.setattr(runs_module._MetaReader, "_plain_images", counted)
    fast = scan_runs(tmp_path)
    # About half the runs are plain: the test compares both readings on many.
    assert 0.3 < sum(plain_taken) / len(plain_taken) < 0.9, sum(plain_taken)
    monkeypatch.setattr(runs_module._MetaReader, "_plain_images", lambda *_: None)
    careful = scan_runs(tmp_path)
    assert list(fast.images) == list(careful.images)
    assert fast.skipped == careful.skipped
    for run_id in run_ids[:20]:  # parse_run knows no run folder up front: the general URLs
        monkeypatch.setattr(runs_module._MetaReader, "_plain_images", real_plain)
        one = parse_run(tmp_path / "runs" / run_id, tmp_path)
        monkeypatch.setattr(runs_module._MetaReader, "_plain_images", lambda *_: None)
        assert one == parse_run(tmp_path / "runs" / run_id, tmp_path)
