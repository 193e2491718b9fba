"""Image URLs resolve to files inside the data folder only, and are never opened."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gallery_desktop.core.paths import ImageLocator, resolve_image_url
from gallery_desktop.core.records import ImageSource
from tests.factories import make_image

RUN_ID = "2025-11-26T06-54-47-200Z"


@pytest.fixture
def layout(tmp_path: Path) -> dict[str, Path]:
    """A data folder with one run and its image, and a secret file next to (outside) it."""
    data = tmp_path / "data"
    run = data / "runs" / RUN_ID
    make_image(run / "slide-1.png")
    secret = tmp_path / "secret.png"
    make_image(secret)
    return {"data": data, "run": run, "image": run / "slide-1.png", "secret": secret}


def checked(result: tuple[str | None, ImageSource]) -> tuple[Path | None, ImageSource]:
    """A resolved path is an absolute, normalised string: as a Path for comparing."""
    path, source = result
    if path is None:
        return None, source
    assert isinstance(path, str) and os.path.isabs(path) and path == os.path.normpath(path)
    return Path(path), source


def resolve(layout: dict[str, Path], url: str) -> tuple[Path | None, ImageSource]:
    return checked(resolve_image_url(url, layout["data"], layout["run"]))


@pytest.mark.parametrize("url", [
    f"/data/runs/{RUN_ID}/slide-1.png",
    f"data/runs/{RUN_ID}/slide-1.png",
    "slide-1.png",
    "./slide-1.png",
    f"/runs/{RUN_ID}/slide-1.png",
    f"/data/runs/{RUN_ID}/slide-1.png?v=3#top",
    f"/data/runs/{RUN_ID}/slide-1.png#frag",
    f"/data/runs/{RUN_ID}/slide%2D1.png",
    f"\\data\\runs\\{RUN_ID}\\slide-1.png",
    f"/data//runs/./{RUN_ID}/slide-1.png",
    f"/data/runs/{RUN_ID}/../{RUN_ID}/slide-1.png",
])
def test_local_urls_resolve_to_the_file(layout: dict[str, Path], url: str) -> None:
    assert resolve(layout, url) == (layout["image"], ImageSource.LOCAL)


def test_relative_url_in_a_subfolder_of_the_run(layout: dict[str, Path]) -> None:
    make_image(layout["run"] / "a" / "b.png")
    assert resolve(layout, "./a/b.png") == (layout["run"] / "a" / "b.png", ImageSource.LOCAL)
    assert resolve(layout, "a/b.png") == (layout["run"] / "a" / "b.png", ImageSource.LOCAL)


def test_percent_encoded_names(layout: dict[str, Path]) -> None:
    make_image(layout["run"] / "my slide.png")
    assert resolve(layout, f"/data/runs/{RUN_ID}/my%20slide.png") == (
        layout["run"] / "my slide.png", ImageSource.LOCAL)
    # A non-UTF-8 file name is reachable through its percent-encoded bytes.
    raw_name = os.fsdecode(b"caf\xe9.png")
    make_image(layout["run"] / raw_name, fmt="PNG")
    assert resolve(layout, f"/data/runs/{RUN_ID}/caf%E9.png") == (
        layout["run"] / raw_name, ImageSource.LOCAL)


@pytest.mark.parametrize(("url", "relative"), [
    (f"/data/runs/{RUN_ID}/slide-9.png", f"runs/{RUN_ID}/slide-9.png"),
    ("slide-9.png", f"runs/{RUN_ID}/slide-9.png"),
    (f"/runs/{RUN_ID}/nope/slide-1.png", f"runs/{RUN_ID}/nope/slide-1.png"),
    (f"/data/runs/{RUN_ID}/" + "x" * 300 + ".png",  # too long for the file system
     f"runs/{RUN_ID}/" + "x" * 300 + ".png"),
])
def test_a_file_url_is_local_whether_or_not_the_file_is_there(
        layout: dict[str, Path], url: str, relative: str) -> None:
    # The file is not looked at: a scan names 100,000 of them. Reading it tells.
    assert resolve(layout, url) == (layout["data"] / relative, ImageSource.LOCAL)


@pytest.mark.parametrize("url", ["/data/", f"/data/runs/{RUN_ID}/", f"/data/runs/{RUN_ID}/."])
def test_a_folder_url_names_no_file(layout: dict[str, Path], url: str) -> None:
    path, source = resolve(layout, url)
    assert source is ImageSource.MISSING
    assert path is not None and path.is_relative_to(layout["data"])


def test_a_folder_or_fifo_is_never_opened(layout: dict[str, Path],
                                          opened_files: list[Path]) -> None:
    (layout["run"] / "folder.png").mkdir()
    os.mkfifo(layout["run"] / "pipe.png")
    # Named, not opened (opening a FIFO would hang): reading them says what they are.
    assert resolve(layout, "folder.png") == (layout["run"] / "folder.png", ImageSource.LOCAL)
    assert resolve(layout, "pipe.png") == (layout["run"] / "pipe.png", ImageSource.LOCAL)
    assert opened_files == []


@pytest.mark.parametrize("url", [
    "http://example.com/a.png", "https://cdn.example.com/runs/a.png?sig=1",
    "HTTPS://EXAMPLE.COM/A.PNG", "//cdn.example.com/a.png",
])
def test_remote_urls(layout: dict[str, Path], url: str) -> None:
    assert resolve(layout, url) == (None, ImageSource.REMOTE)


def escape_urls(layout: dict[str, Path]) -> list[str]:
    secret = layout["secret"]
    return [
        "/data/../secret.png",
        "../../../secret.png",
        f"/data/runs/{RUN_ID}/../../../secret.png",
        "%2e%2e/%2e%2e/%2e%2e/secret.png",
        "%2E%2E%2F%2E%2E%2F%2E%2E%2Fsecret.png",
        "/data/runs/%2e%2e/%2e%2e/secret.png",
        "..\\..\\..\\secret.png",
        "/data/runs\\..\\..\\secret.png",
        str(secret),
        f"file://{secret}",
        f"FILE:{secret}",
        "C:\\Windows\\win.ini",
        "c:/secret.png",
        "%43:%5Csecret.png",
        "\\\\server\\share\\secret.png",
        "%2F%2Fserver/share/secret.png",
        f"/data/runs/{RUN_ID}/slide-1.png\x00.jpg",
        f"/data/runs/{RUN_ID}/slide-1.png%00.jpg",
        "data:image/png;base64,iVBORw0KGgo=",
        "",
    ]


def test_escapes_are_outside_and_never_opened(layout: dict[str, Path],
                                              opened_files: list[Path]) -> None:
    for url in escape_urls(layout):
        assert resolve(layout, url) == (None, ImageSource.OUTSIDE), url
    assert opened_files == []
    layout["secret"].read_bytes()  # the recorder does see an open
    assert opened_files == [layout["secret"]]


def test_symlinks_out_of_the_data_folder(layout: dict[str, Path],
                                         opened_files: list[Path]) -> None:
    run, secret = layout["run"], layout["secret"]
    (run / "dir-link").symlink_to(secret.parent)
    (layout["data"] / "runs" / "escaped-run").symlink_to(secret.parent)
    for url in ("dir-link/secret.png", "/data/runs/escaped-run/secret.png",
                "./dir-link/../dir-link/secret.png"):
        assert resolve(layout, url) == (None, ImageSource.OUTSIDE), url
    # A run folder that is itself a link out: its relative URLs are outside too.
    assert resolve_image_url("secret.png", layout["data"],
                             layout["data"] / "runs" / "escaped-run") == (None, ImageSource.OUTSIDE)
    # A file that is a link out is not looked at here: reading it refuses it
    # (tests/reliability/test_images.py opens every such URL).
    (run / "link.png").symlink_to(secret)
    assert resolve(layout, "link.png") == (run / "link.png", ImageSource.LOCAL)
    assert opened_files == []


def test_symlinked_folders_inside_the_data_folder_resolve_to_the_target(
        layout: dict[str, Path]) -> None:
    run = layout["run"]
    (run / "sub").symlink_to(run)
    assert resolve(layout, "sub/slide-1.png") == (layout["image"], ImageSource.LOCAL)
    (run / "alias.png").symlink_to("slide-1.png")  # a file link is read through
    assert resolve(layout, "alias.png") == (run / "alias.png", ImageSource.LOCAL)
    (run / "loop.png").symlink_to("loop.png")  # reading it fails, with the reason
    assert resolve(layout, "loop.png") == (run / "loop.png", ImageSource.LOCAL)


def test_data_folder_reached_through_a_symlink(layout: dict[str, Path], tmp_path: Path) -> None:
    alias = tmp_path / "alias-of-data"
    alias.symlink_to(layout["data"])
    run = alias / "runs" / RUN_ID
    assert checked(resolve_image_url(f"/data/runs/{RUN_ID}/slide-1.png", alias, run)) == (
        layout["image"], ImageSource.LOCAL)
    assert checked(resolve_image_url("slide-1.png", alias, run)) == (
        layout["image"], ImageSource.LOCAL)
    # An absolute path spelt through the alias is inside; the secret next to it is not.
    assert checked(resolve_image_url(str(run / "slide-1.png"), alias, run)) == (
        layout["image"], ImageSource.LOCAL)
    assert resolve_image_url(str(layout["secret"]), alias, run) == (None, ImageSource.OUTSIDE)


def test_absolute_file_system_path_inside_the_data_folder(layout: dict[str, Path]) -> None:
    assert resolve(layout, str(layout["image"])) == (layout["image"], ImageSource.LOCAL)


def test_a_locator_gives_the_same_answers_as_the_function(layout: dict[str, Path]) -> None:
    locator = ImageLocator(layout["data"])
    urls = [f"/data/runs/{RUN_ID}/slide-1.png", "slide-9.png", "http://x/a.png",
            *escape_urls(layout)]
    for _ in range(2):  # the second round answers from what the first one learnt
        for url in urls:
            assert checked(locator.resolve(url, layout["run"])) == resolve(layout, url), url
