#!/usr/bin/env python3
"""Write the sample data folder: a dozen studio runs with images drawn by Pillow (deterministic)."""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFilter, ImageFont

ROOT = Path(__file__).resolve().parent.parent
LONG_SIDE = 512
SIZES = {"1:1": (512, 512), "4:5": (410, 512), "9:16": (288, 512), "16:9": (512, 288)}


@dataclass(frozen=True)
class Slide:
    """One post of a run and the image files it gets."""

    index: int
    text: str
    prompt: str
    title: str = ""  # drawn on the image and used as the overlay title
    caption: str = ""  # momPost caption; no momPost when empty (older runs)
    hook: str = ""
    subtitle: str = ""
    final: str | None = "png"  # extension of slide-N.<ext>, None: no final image
    raw: bool = False  # also a slide-N-raw.png
    missing: bool = False  # the URL is written but the file is not
    scheduled: str | None = None


@dataclass(frozen=True)
class Run:
    """One run folder: meta.json fields and its slides."""

    run_id: str
    mode: str
    status: str
    topic: str
    colors: tuple[str, str, str]  # gradient from, gradient to, accent
    slides: tuple[Slide, ...]
    aspect: str | None = "1:1"  # None: an older run without momConfig
    created: bool = True  # write createdAt (older runs only have the instant in the run id)
    extra: dict[str, Any] = field(default_factory=dict)


RUNS = (
    Run("2025-11-26T06-54-47-200Z", "studio", "DONE", "Morning routines for busy parents",
        ("#ffd9b8", "#c9b6ff", "#ff8a65"), aspect="4:5", slides=(
            Slide(1, "Start with one calm minute.",
                  "sunlit kitchen, mother holding coffee, soft morning light",
                  title="60-second reset", hook="The 60-second reset",
                  caption="Start with one calm minute before the house wakes up.",
                  subtitle="before the house wakes up", raw=True, scheduled="2025-11-28"),
            Slide(2, "Prep the night before.",
                  "lunch boxes lined up on a counter, evening lamp light",
                  title="Prep tonight", caption="Tomorrow's calm is built tonight.",
                  final=None, raw=True),
            Slide(3, "Let the kids own one task.", "child pouring cereal proudly, bright kitchen",
                  final=None),
        )),
    Run("2025-11-25T18-12-03-512Z", "mommarketing", "DONE", "Screen-time rules that stick",
        ("#a8e6cf", "#3d84a8", "#fdffab"), aspect="1:1", slides=(
            Slide(1, "Screens off at dinner.",
                  "family dinner table, phones in a basket, warm light",
                  title="Phones in the basket", hook="One basket, zero fights",
                  caption="A basket by the door ends the dinner-table standoff.", final="jpg"),
        )),
    Run("2025-11-25T09-30-00-000Z", "studio", "DONE", "Toddler sleep schedules",
        ("#2b2d42", "#8d99ae", "#ffd166"), aspect="9:16", slides=tuple(
            Slide(i, text, prompt, title=title, caption=text, hook=title)
            for i, (text, prompt, title) in enumerate((
                ("Same time, every night.", "moonlit nursery, crib, soft night light", "Same time"),
                ("Dim the lights an hour before.", "lamp glowing amber, storybook", "Dim early"),
                ("Keep the room cool.", "window ajar, curtains moving, night sky", "Cool room"),
                ("A short, boring bedtime song.", "mother singing, silhouette", "Boring is good"),
            ), start=1))),
    Run("2025-11-24T14-05-41-870Z", "studio", "IMAGES", "Meal prep on a budget",
        ("#fff1c1", "#f4a261", "#2a9d8f"), aspect="16:9", slides=(
            Slide(1, "Cook grains once a week.", "pots of rice and quinoa on a stove, steam",
                  title="Grains on Sunday", caption="Cook grains once; eat them all week."),
            Slide(2, "Freeze sauces flat.", "freezer bags of sauce stacked flat", final=None,
                  caption="Flat bags thaw in minutes."),
            Slide(3, "Shop the sales first.", "grocery flyer with circled deals", final=None,
                  caption="Plan meals around what's on sale."),
        )),
    Run("2025-11-23T20-44-10-003Z", "mommarketing", "ERROR", "Self-care in ten minutes",
        ("#f8c8dc", "#9d4edd", "#ffe5ec"), aspect="4:5",
        extra={"error": "final composition timed out after 120 s"}, slides=(
            Slide(1, "Ten minutes is enough.", "bath with candles and a book, steam",
                  title="Ten quiet minutes", caption="Ten minutes is enough to reset.",
                  final=None, raw=True),
        )),
    Run("2025-11-22T11-11-11-111Z", "studio", "DONE", "Back-to-school checklist",
        ("#caf0f8", "#0077b6", "#ffb703"), aspect="1:1", slides=(
            Slide(1, "Label everything.", "backpack with name tags, pencils, flat lay",
                  title="Label it all", caption="Label everything, twice."),
            Slide(2, "Practise the route.", "child and parent walking to school, autumn",
                  title="Walk it first", caption="Walk the route before day one.",
                  missing=True),
        )),
    Run("2025-11-21T08-00-00-000Z", "studio", "DONE", "Rainy-day activities",
        ("#d8e2dc", "#84a59d", "#f28482"), aspect=None, created=False, slides=(
            Slide(1, "Build a blanket fort.", "blanket fort in a living room, fairy lights",
                  title="Blanket fort"),
        )),
    Run("2025-11-20T16-20-00-250Z", "studio", "DONE", "Picky eaters",
        ("#fff1e6", "#f4978e", "#ffd166"), aspect=None, created=False, slides=(
            Slide(1, "Offer one new food at a time.", "plate with a single broccoli floret",
                  title="One new food", final="jpg"),
            Slide(2, "Let them help cook.", "child stirring a bowl, flour everywhere",
                  title="Little chef", final="jpg"),
        )),
    Run("2025-11-19T10-45-30-900Z", "mommarketing", "DONE", "Weekend family hikes",
        ("#b7e4c7", "#1b4332", "#ffd60a"), aspect="16:9", slides=(
            Slide(1, "Pick a trail with a reward.", "family on a forest trail, waterfall ahead",
                  title="Trail with a reward", caption="A waterfall at the end keeps legs going.",
                  hook="Little legs, big views", final="jpg"),
        )),
    Run("2025-11-18T07-15-00-000Z", "studio", "DONE", "Gratitude at bedtime",
        ("#fde2e4", "#bee1e6", "#e07a5f"), aspect="4:5", slides=(
            Slide(1, "Three good things.", "child in bed holding up three fingers, lamp light",
                  title="Three good things", caption="Name three good things before lights out.",
                  scheduled="2025-11-20"),
            Slide(2, "Write them down.", "small notebook on a nightstand, pencil",
                  title="Keep a tiny journal", caption="A tiny journal makes it stick.",
                  scheduled="2025-11-21"),
        )),
    Run("2025-11-17T12-00-00-000Z", "mommarketing", "DONE", "Packing light for travel",
        ("#e9f5db", "#718355", "#f6bd60"), aspect="9:16", slides=(
            Slide(1, "One bag per kid.", "three small backpacks by a front door",
                  title="One bag each", caption="Each kid packs one bag, and carries it."),
        )),
    Run("2025-11-16T09-09-09-090Z", "studio", "DONE", "Homework without tears",
        ("#ede7f6", "#5e60ce", "#80ffdb"), aspect="1:1", slides=(
            Slide(1, "Same spot, same time.", "tidy desk by a window, afternoon light",
                  title="Same spot, same time", caption="A fixed spot and time ends the fight."),
        )),
)


def _rgb(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> tuple[int, int, int]:
    return (round(a[0] + (b[0] - a[0]) * t), round(a[1] + (b[1] - a[1]) * t),
            round(a[2] + (b[2] - a[2]) * t))


def draw_image(size: tuple[int, int], colors: tuple[str, str, str], title: str,
               seed: int) -> Image.Image:
    """A soft diagonal gradient with blurred light shapes and a title card."""
    rng = random.Random(seed)
    width, height = size
    start, end, accent = (_rgb(c) for c in colors)
    # A diagonal gradient: a ramp on a square big enough that, turned by any angle, it still
    # covers the whole frame around its centre.
    side = math.isqrt(width * width + height * height) + 2
    ramp = Image.linear_gradient("L").resize((side, side))
    ramp = ramp.rotate(rng.uniform(20, 70), resample=Image.Resampling.BICUBIC)
    left, top = (side - width) // 2, (side - height) // 2
    ramp = ramp.crop((left, top, left + width, top + height))
    image = Image.composite(Image.new("RGB", size, end), Image.new("RGB", size, start), ramp)
    # Soft blobs of light and accent colour, each blurred as its own mask: blurring one
    # transparent layer would mix its transparent black into the edges as grey halos.
    blur = ImageFilter.GaussianBlur(min(size) // 14)
    for i in range(7):
        r = rng.randint(min(size) // 8, min(size) // 2)
        x, y = rng.randint(-r // 2, width), rng.randint(-r // 2, height)
        tint = accent if i % 3 == 0 else _mix(start, (255, 255, 255), 0.6)
        mask = Image.new("L", size, 0)
        ImageDraw.Draw(mask).ellipse((x - r, y - r, x + r, y + r), fill=rng.randint(60, 130))
        image = Image.composite(Image.new("RGB", size, tint), image, mask.filter(blur))
    image = image.convert("RGBA")
    if title:
        _draw_title(image, title, accent)
    return image.convert("RGB")


def _draw_title(image: Image.Image, title: str, accent: tuple[int, int, int]) -> None:
    """A rounded, translucent card near the bottom with the title on it."""
    width, height = image.size
    card = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(card)
    size = max(width, height) // 16
    while True:  # the largest size, up to a sixteenth of the long side, that fits the width
        font = ImageFont.load_default(size=size)
        left, top, right, bottom = draw.textbbox((0, 0), title, font=font)
        text_w, text_h = right - left, bottom - top
        if text_w <= width * 0.78 or size <= 12:
            break
        size -= 2
    pad = max(8, size // 2)
    x0 = (width - text_w) // 2 - pad
    y0 = height - text_h - 3 * pad - height // 12
    box = (x0, y0, x0 + text_w + 2 * pad, y0 + text_h + 2 * pad)
    draw.rounded_rectangle(box, radius=pad, fill=(255, 255, 255, 200))
    draw.rounded_rectangle((box[0], box[3] - 4, box[2], box[3]), radius=2, fill=(*accent, 255))
    draw.text((x0 + pad - left, y0 + pad - top), title, font=font, fill=(40, 40, 52, 255))
    image.alpha_composite(card)


def _meta(run: Run) -> dict[str, Any]:
    """meta.json as the studio writes it."""
    meta: dict[str, Any] = {}
    if run.created:
        ts = run.run_id
        meta["createdAt"] = f"{ts[:10]}T{ts[11:13]}:{ts[14:16]}:{ts[17:19]}.{ts[20:23]}Z"
    meta.update({"status": run.status, "mode": run.mode, "count": len(run.slides),
                 "topic": run.topic})
    if run.aspect is not None:
        meta["momConfig"] = {"aspectRatio": run.aspect, "model": "gpt-4o",
                             "imageModel": "flux-1.1-pro", "audience": "new moms",
                             "stylePreset": "warm-editorial"}
    meta.update(run.extra)
    posts = []
    for slide in run.slides:
        post: dict[str, Any] = {"index": slide.index, "text": slide.text,
                                "imagePrompt": slide.prompt}
        base = f"/data/runs/{run.run_id}/slide-{slide.index}"
        if slide.raw:
            post["rawImageUrl"] = f"{base}-raw.png"
        if slide.final:
            post["finalImageUrl"] = f"{base}.{slide.final}"
        if slide.caption:
            mom = {"id": f"slide-{slide.index}", "hook": slide.hook, "caption": slide.caption,
                   "imagePrompt": f"{slide.prompt}, 35mm, soft focus",
                   "overlayTitle": slide.title, "overlaySubtitle": slide.subtitle}
            post["momPost"] = {k: v for k, v in mom.items() if v}
        if slide.scheduled:
            post["scheduledDate"] = slide.scheduled
        posts.append(post)
    meta["posts"] = posts
    return meta


def write_run(runs_dir: Path, number: int, run: Run) -> int:
    """Write one run folder; returns how many image files it got."""
    run_dir = runs_dir / run.run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    size = SIZES[run.aspect or "1:1"]
    written = 0
    for slide in run.slides:
        seed = number * 100 + slide.index
        if slide.final and not slide.missing:
            image = draw_image(size, run.colors, slide.title, seed)
            target = run_dir / f"slide-{slide.index}.{slide.final}"
            if slide.final == "jpg":
                image.save(target, "JPEG", quality=85, optimize=True)
            else:
                image.save(target, "PNG")
            written += 1
        if slide.raw:
            # The raw image is the generation before the title card is composed on it.
            raw = draw_image(size, run.colors, "", seed)
            raw.save(run_dir / f"slide-{slide.index}-raw.png", "PNG")
            written += 1
    text = json.dumps(_meta(run), indent=2, ensure_ascii=False) + "\n"
    (run_dir / "meta.json").write_text(text, encoding="utf-8")
    return written


def main(argv: list[str] | None = None) -> int:
    """Write the sample runs into ``--out`` (default: the repository's data/)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "data",
                        help="data folder to write runs/ into (default: %(default)s)")
    args = parser.parse_args(argv)
    runs_dir = args.out / "runs"
    images = sum(write_run(runs_dir, n, run) for n, run in enumerate(RUNS, start=1))
    total = sum(p.stat().st_size for p in runs_dir.rglob("*") if p.is_file())
    print(f"wrote {len(RUNS)} runs, {images} image files, {total / 1e6:.1f} MB in {runs_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
