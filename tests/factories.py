"""Builders for real test data: run folders in the studio's shape and real images."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from PIL import Image


def make_image(path: Path, size: tuple[int, int] = (64, 48), color: str = "#c0392b",
               fmt: str | None = None) -> Path:
    """Draw a real image file with Pillow (format from the suffix unless ``fmt``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.new("RGB", size, color)
    # A second colour block so that orientation and scaling are visible in the pixels.
    img.paste("#2c3e50", (0, 0, max(1, size[0] // 4), max(1, size[1] // 4)))
    img.save(path, format=fmt)
    return path


def make_run(data_dir: Path, run_id: str, posts: list[dict[str, Any]] | None = None,
             *, images: bool = True, raw: Any = None, **meta: Any) -> Path:
    """Create ``data_dir/runs/<run_id>/meta.json`` and, by default, the images it names.

    ``posts`` defaults to one post with a final image. Each post's ``finalImageUrl`` /
    ``rawImageUrl`` that points into the run folder gets a real PNG or JPEG unless
    ``images`` is False. ``raw`` (any JSON value, or bytes) replaces the whole meta.json.
    """
    run_dir = data_dir / "runs" / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    meta_path = run_dir / "meta.json"
    if raw is not None:
        meta_path.write_bytes(raw if isinstance(raw, bytes) else json.dumps(raw).encode())
        return run_dir
    if posts is None:
        posts = [{"index": 1, "text": "A caption", "imagePrompt": "a prompt",
                  "finalImageUrl": f"/data/runs/{run_id}/slide-1.png"}]
    body: dict[str, Any] = {"createdAt": meta.pop("createdAt", "2025-11-26T06:54:47.200Z"),
                            "status": "DONE", "mode": "studio", "count": len(posts),
                            "topic": "Test topic", "posts": posts}
    body.update(meta)
    meta_path.write_text(json.dumps(body, indent=2), encoding="utf-8")
    if images:
        prefix = f"/data/runs/{run_id}/"
        for post in posts:
            for key in ("finalImageUrl", "rawImageUrl"):
                url = post.get(key)
                if isinstance(url, str) and url.startswith(prefix):
                    make_image(run_dir / url[len(prefix):])
    return run_dir


def settle(data_dir: Path, age_s: float = 3600.0) -> None:
    """Date every ``meta.json`` under ``data_dir/runs`` back by ``age_s`` seconds.

    A studio's runs were mostly written long before a scan; a run index does not trust a
    meta.json modified moments before it was stored (``gallery_desktop.core.index.RACY_NS``),
    so tests of what an index hit skips start from settled files.
    """
    when = time.time_ns() - int(age_s * 1e9)
    for meta in (data_dir / "runs").glob("*/meta.json"):
        os.utime(meta, ns=(when, when))
