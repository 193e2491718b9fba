"""Deterministic synthetic datasets: 1024x1024 source images, studio run folders, records."""

from __future__ import annotations

import json
import logging
import os
import random
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from PIL import Image, ImageChops, ImageDraw

log = logging.getLogger(__name__)

_EPOCH = datetime(2025, 1, 6, 8, 0, 0, tzinfo=UTC)
_ASPECTS = ("1:1", "4:5", "9:16", "16:9", "3:4")
_STATUSES = ("DONE",) * 8 + ("IMAGES", "ERROR")
_TOPICS = ("Morning routines for busy parents", "Meal prep on a budget", "Screen-time rules",
           "Toddler sleep schedules", "Self-care in ten minutes", "Back-to-school checklist")
_WORDS = ("sunlit", "kitchen", "mother", "coffee", "soft", "morning", "light", "child", "toy",
          "window", "garden", "warm", "editorial", "35mm", "pastel", "calm", "table", "books")


def draw_source_image(seed: int, size: int = 1024) -> Image.Image:
    """Draw a photo-like RGB image: smooth gradients, grain at several scales, flat shapes.

    The mix gives PNG and JPEG file sizes close to real generated images (about 1.3 MB and
    220 KB at 1024x1024), which matters because decode time follows the compressed size.
    """
    rng = random.Random(seed)

    def grain(n: int) -> Image.Image:
        return Image.frombytes("L", (n, n), rng.randbytes(n * n)).resize(
            (size, size), Image.Resampling.BICUBIC)

    linear = Image.linear_gradient("L").rotate(rng.uniform(0, 360)).resize((size, size))
    radial = Image.radial_gradient("L").resize((size, size))
    red = ImageChops.add(linear, grain(16), scale=1.6)
    green = ImageChops.add(radial, grain(64), scale=1.6)
    blue = ImageChops.add(grain(256), grain(8), scale=1.5)
    img = Image.merge("RGB", (red, green, blue))
    draw = ImageDraw.Draw(img)
    for _ in range(12):
        x, y, w = rng.randrange(size), rng.randrange(size), rng.randrange(40, 300)
        draw.ellipse((x, y, x + w, y + w), fill=(rng.randrange(256), rng.randrange(256),
                                                 rng.randrange(256)))
    return img


def _write_source(job: tuple[Path, int, int, str]) -> Path:
    path, seed, size, fmt = job
    img = draw_source_image(seed, size)
    if fmt == "JPEG":
        img.save(path, "JPEG", quality=90)
    else:
        img.save(path, "PNG")
    return path


def make_source_images(folder: Path, count: int, fmt: str, *, size: int = 1024,
                       seed: int = 1, workers: int = 1) -> list[Path]:
    """Write ``count`` distinct images of ``size`` x ``size`` pixels in ``fmt`` (PNG or JPEG).

    Args:
        folder: where to write them (created).
        count: how many.
        fmt: "PNG" or "JPEG".
        size: the edge length in pixels.
        seed: the first image's seed; image i uses ``seed + i``.
        workers: processes to draw and encode with (PNG encoding is slow).

    Returns:
        The paths, in order.
    """
    folder.mkdir(parents=True, exist_ok=True)
    ext = "jpg" if fmt == "JPEG" else "png"
    jobs = [(folder / f"source-{i:05d}.{ext}", seed + i, size, fmt) for i in range(count)]
    if workers <= 1 or count < 4:
        return [_write_source(job) for job in jobs]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(_write_source, jobs, chunksize=4))


def run_id_for(i: int) -> str:
    """The studio's run id for the i-th synthetic run, e.g. ``2025-01-06T08-00-00-000Z``."""
    when = _EPOCH + timedelta(minutes=7 * i, milliseconds=(i * 137) % 1000)
    return when.strftime("%Y-%m-%dT%H-%M-%S-") + f"{when.microsecond // 1000:03d}Z"


def _prompt(rng: random.Random, n: int = 12) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(n))


def studio_meta(i: int, posts: int, rng: random.Random) -> dict[str, Any]:
    """A meta.json body in the studio's shape (see the shared example) for run ``i``."""
    run_id = run_id_for(i)
    mode = "studio" if i % 3 else "mommarketing"
    body: dict[str, Any] = {
        "createdAt": (_EPOCH + timedelta(minutes=7 * i)).isoformat().replace("+00:00", "Z"),
        "status": rng.choice(_STATUSES),
        "mode": mode,
        "count": posts,
        "topic": rng.choice(_TOPICS),
        "momConfig": {"aspectRatio": rng.choice(_ASPECTS), "model": "gpt-4o",
                      "imageModel": "flux-1.1-pro", "audience": "new moms",
                      "stylePreset": "warm-editorial"},
        "posts": [],
    }
    for p in range(1, posts + 1):
        post: dict[str, Any] = {"index": p, "text": _prompt(rng, 6), "imagePrompt": _prompt(rng),
                                "rawImageUrl": f"/data/runs/{run_id}/slide-{p}-raw.png"}
        # Most posts have a final image; some only a raw one (the URL falls back to it).
        if p != posts or i % 4:
            post["finalImageUrl"] = f"/data/runs/{run_id}/slide-{p}.png"
        if mode == "studio":
            post["momPost"] = {"id": f"slide-{p}", "hook": _prompt(rng, 4),
                               "caption": _prompt(rng, 10), "imagePrompt": _prompt(rng, 16),
                               "overlayTitle": _prompt(rng, 3), "overlaySubtitle": _prompt(rng, 4)}
        body["posts"].append(post)
    return body


def make_runs(data_dir: Path, runs: int, *, posts: int = 3, seed: int = 7) -> list[Path]:
    """Create ``data_dir/runs/<runId>/meta.json`` for ``runs`` runs and the images they name.

    The image files are hard links to one small real PNG (copies where links fail): the scan
    sees real files at every URL without the dataset costing gigabytes.

    Returns:
        The meta.json paths, in run order.
    """
    rng = random.Random(seed)
    runs_dir = data_dir / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    pixel = data_dir / ".bench-pixel.png"
    Image.new("RGB", (64, 64), "#c0392b").save(pixel)
    metas: list[Path] = []
    for i in range(runs):
        body = studio_meta(i, posts, rng)
        run_dir = runs_dir / run_id_for(i)
        run_dir.mkdir(exist_ok=True)
        meta = run_dir / "meta.json"
        meta.write_text(json.dumps(body, indent=2), encoding="utf-8")
        metas.append(meta)
        for post in body["posts"]:
            for key in ("finalImageUrl", "rawImageUrl"):
                if key in post:
                    target = run_dir / post[key].rsplit("/", 1)[1]
                    try:
                        os.link(pixel, target)
                    except OSError:
                        target.write_bytes(pixel.read_bytes())
    return metas


def image_ids(count: int) -> list[str]:
    """Image ids in the studio's form, ``img_<runId>_slide-<n>``, three posts per run."""
    return [f"img_{run_id_for(i // 3)}_slide-{i % 3 + 1}" for i in range(count)]


def favorites_body(ids: list[str], *, usage_every: int = 3) -> dict[str, Any]:
    """A favorites file body: every id hearted, every ``usage_every``-th one with a count."""
    return {"favorites": dict.fromkeys(ids, True),
            "usageCounts": {img: (n % 7) + 1 for n, img in enumerate(ids) if n % usage_every == 0}}
