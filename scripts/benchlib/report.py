"""Printing the results table and writing docs/performance.md."""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime
from typing import Any

from benchlib.stats import Figure, Status

log = logging.getLogger(__name__)

_HEADERS = ("figure", "measured", "floor", "ratio", "target", "")


def fmt_value(value: float | None, unit: str) -> str:
    """A number with its unit, at a precision that suits its size."""
    if value is None or not math.isfinite(value):
        return "-"
    if abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    elif abs(value) >= 0.1:
        text = f"{value:.2f}"
    else:
        text = f"{value:.3f}"
    return f"{text} {unit}".strip()


def rows(figures: list[Figure]) -> list[tuple[str, ...]]:
    """One table row per figure: label, measured, floor, ratio, target, verdict."""
    out = []
    for fig in figures:
        ratio = fig.ratio
        out.append((
            fig.label,
            fmt_value(fig.value, fig.unit),
            fmt_value(fig.floor, fig.unit) if fig.floor is not None else "-",
            f"{ratio:.2f}x" if ratio is not None else "-",
            fig.target_text() or "-",
            fig.status.value if fig.status is not Status.INFO else "",
        ))
    return out


def text_table(figures: list[Figure]) -> str:
    """The results as an aligned plain-text table for the terminal."""
    table = [_HEADERS, *rows(figures)]
    widths = [max(len(r[i]) for r in table) for i in range(len(_HEADERS))]
    lines = []
    for n, row in enumerate(table):
        cells = [row[0].ljust(widths[0])]
        cells += [row[i].rjust(widths[i]) for i in range(1, 4)]
        cells += [row[4].ljust(widths[4]), row[5]]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths).rstrip())
    return "\n".join(lines)


def floors_legend(figures: list[Figure]) -> list[str]:
    """What each floor is, once per distinct floor."""
    seen: dict[str, None] = {}
    for fig in figures:
        if fig.floor_label:
            seen.setdefault(fig.floor_label, None)
    return list(seen)


# What stands between a missed figure and its target, as far as profiling on the benchmark
# machine showed (cProfile, perf). Printed for the figures that miss.
MISS_NOTES = {
    "thumbs_jpeg_per_s": (
        "The floor decodes and drops the pixels. The app also looks in the disk cache first, "
        "converts each thumbnail to a QImage in the raster engine's format and keeps it (a "
        "fresh 256 KB buffer per thumbnail at 256 px, whose page faults the floor never "
        "takes), and hands it to a GUI thread that shares the two cores with the decoders. "
        "One decoder thread against a one-thread floor comes to about 0.95x; two against two "
        "to about 0.89x: the GIL, which the Python between Pillow's calls, the conversion and "
        "the GUI thread all need, serialises part of what the floor runs in parallel. "
        "Packing Pillow's pixels straight into Qt's layout was measured and is slower once "
        "thumbnails are kept; so is Qt's own JPEG reader (QImageReader.setScaledSize)."),
    "scan_warm_ms": (
        "The floor parses JSON and drops it. The scan parses with orjson (the same loop "
        "with orjson takes about two thirds of the floor's time: the line under the "
        "figure), "
        "does not look at image files (a missing one is learnt from its thumbnail), and "
        "reads a meta.json as the studio writes it in one loop per post, the careful "
        "field-by-field reading only for files that need it. What is left is keeping what "
        "was read: a 26-field record per image, a RunResult per run and the collector's "
        "first pass over them when the scan ends (about 60 ms of the total here), where "
        "the floor frees each document before reading the next. The same loop building "
        "only the records, without the run objects and the contract's fallbacks, came to "
        "1.0-1.3x in isolated runs; the run objects and the reading's bookkeeping make up "
        "the rest. A warm start from the run index (below) defers the records instead."),
    "scan_indexed_with_load_ms": (
        "A warm start reads the index file and its table (ids, post orders and offsets: "
        "the 'read + marshal.loads alone' line), then makes one RunRows per run on its "
        "first hit, on top of the stat loop; the records stay bytes. Together they come to "
        "about twice the stat loop, so the figure falls either side of the target with the "
        "machine's load."),
    "heart_toggle_p99_ms": (
        'The median stays near 0.5 ms: the heart is set in the model and dataChanged '
        're-filters one row. The p99 over 100 toggles per repeat is taken by single slow '
        'toggles on a shared 2-core machine: per-repeat p99s ranged from 0.6 to 3.6 ms '
        'between runs of the same code.'),
    "favorites_write_small_p99_ms": (
        "At 10,000 entries the store's own work per write is a few tenths of a millisecond "
        "(the lock, a stat that proves the file unchanged, one join of the kept rendering); "
        "the rest is the disk, whose fsync tail on this shared machine moves the floor's own "
        "p99 from about 3 ms to over 20 ms between runs. Below 5 ms needs a quiet disk; the "
        "fsyncs of file and folder stay."),
}


def miss_notes(figures: list[Figure]) -> list[str]:
    """An explanation for each missed figure that has one."""
    return [f"**{f.label}**: {MISS_NOTES[f.key]}" for f in figures
            if f.status is Status.MISS and f.key in MISS_NOTES]


def summary_line(figures: list[Figure]) -> str:
    """``N PASS, M MISS`` over the figures that have a target."""
    passed = sum(f.status is Status.PASS for f in figures)
    missed = [f.label for f in figures if f.status is Status.MISS]
    line = f"{passed} PASS, {len(missed)} MISS"
    if missed:
        line += " (" + "; ".join(missed) + ")"
    return line


def markdown(result: dict[str, Any], figures: list[Figure]) -> str:
    """docs/performance.md: the table, the machine, the command and how to read it.

    Args:
        result: what ``--json`` writes (machine, config, command, load, notes).
        figures: the figures, in report order.

    Returns:
        The document's text.
    """
    machine = result["machine"]
    cfg = result["config"]
    load_start, load_end = result["load_start"], result["load_end"]

    def load(values: list[float] | None) -> str:
        return " / ".join(f"{v:.2f}" for v in values) if values else "unknown"

    table = ["| " + " | ".join(h or "verdict" for h in _HEADERS) + " |",
             "|" + "|".join(("---", "---:", "---:", "---:", "---", "---")) + "|"]
    table += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |"
              for row in rows(figures)]
    when = datetime.fromtimestamp(result["started"], UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "# Performance",
        "",
        "Measured by `scripts/bench.py`, which builds its own synthetic data (studio-shaped",
        "`meta.json` runs, real PNG and JPEG images drawn with Pillow) in a temporary folder and",
        "measures every figure next to a *floor*: the least work the same job needs, timed on the",
        "same machine in the same run, interleaved with the real measurement.",
        "",
        "## Reproduce",
        "",
        "```",
        result["command"],
        "```",
        "",
        f"Run on {when}; took {result['elapsed_s']:.0f} s. Sizes: {cfg['thumbs']} PNG + "
        f"{cfg['thumbs']} JPEG sources at {cfg['source_edge']}x{cfg['source_edge']} "
        f"(thumbnail edge {cfg['edge']}, the app's default"
        f"{_extra_edge(cfg)}), {cfg['runs']:,} runs x {cfg['posts']} posts, "
        f"{cfg['images']:,} images in the grid, favorites files of {cfg['small_entries']:,} "
        f"and {cfg['large_entries']:,} entries; {cfg['repeat']} repeat(s), medians reported.",
        "",
        "## Results",
        "",
        *table,
        "",
        f"**{summary_line(figures)}**",
        "",
        "Floors:",
        "",
        *[f"- {line}" for line in floors_legend(figures)],
        "",
        "Notes:",
        "",
        *[f"- {note}" for note in result["notes"]],
        "",
        *(["## Where the misses stand", "", *[f"- {n}" for n in miss_notes(figures)], ""]
          if miss_notes(figures) else []),
        "## Machine",
        "",
        f"- CPU: {machine['cpu']}, {machine['cores']} cores; {machine['memory_gb']} GB RAM",
        f"- OS: {machine['os']}",
        f"- Python {machine['python']}, PySide6 {machine['pyside6']}, "
        f"Pillow {machine['pillow']}",
        f"- Load average (1/5/15 min) at start: {load(load_start)}; at end: {load(load_end)}",
        "",
        "## Noise",
        "",
        "This is a shared machine: other processes (other test suites among them) compete for",
        "the same two cores and the same disk, so absolute numbers move between runs by tens",
        "of percent. What counts are the ratios to floors measured in the same run: the real",
        "and the floor measurements alternate (floor first on even repeats, real first on odd",
        "ones), each part runs in its own process, `gc.collect()` runs before every timed",
        "section, and the figures are medians over the repeats (a grid p99 is the median of",
        "each repeat's p99; a heart-write p99 is over all writes of its file size). Absolute",
        "targets (milliseconds, megabytes) carry the machine's noise with them; compare them",
        "with the load average above.",
        "",
    ]
    return "\n".join(parts)


def _extra_edge(cfg: dict[str, Any]) -> str:
    """The informational second thumbnail edge, if one was measured."""
    extra = cfg.get("extra_edge")
    return f"; {extra} as an extra line" if extra and extra != cfg["edge"] else ""
