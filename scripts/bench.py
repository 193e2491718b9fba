#!/usr/bin/env python3
"""Benchmark gallery-desktop against floors measured in the same run: `scripts/bench.py -h`."""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# Runnable from a clean checkout without installing: the package and benchlib by path.
for _p in (ROOT, ROOT / "scripts"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from benchlib import grid, hearts, machine, report, scanning, startup, suite, thumbs  # noqa: E402
from benchlib.runner import PartError, serve_part  # noqa: E402
from benchlib.stats import Figure, Status  # noqa: E402

log = logging.getLogger("bench")

DOC = ROOT / "docs" / "performance.md"

# What a child process may be asked to run (see benchlib.runner).
PARTS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "thumbs": thumbs.part_thumbs,
    "scan_cold": scanning.part_cold,
    "scan_warm": scanning.part_warm,
    "scan_indexed": scanning.part_indexed,
    "grid": grid.part_grid,
    "app_start": startup.part_app_start,
    "store_writes": hearts.part_store_writes,
}

# The parent's sections, in report order.
SECTIONS: dict[str, Callable[[suite.Context], list[Figure]]] = {
    "thumbs": suite.thumbnails,
    "scan": suite.scan,
    "grid": suite.grid,
    "hearts": suite.favorites_writes,
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (the hidden ``--part`` options are the child-process side)."""
    default = suite.Sizes()
    p = argparse.ArgumentParser(
        description="Generate synthetic datasets in a temp folder and measure gallery-desktop "
                    "next to floors measured in the same run (medians over repeats).")
    p.add_argument("--quick", action="store_true",
                   help="tiny sizes that finish in seconds (what the test suite runs)")
    p.add_argument("--runs", type=int, help=f"runs to scan (default {default.runs:,})")
    p.add_argument("--images", type=int,
                   help=f"images in the grid (default {default.images:,})")
    p.add_argument("--thumbs", type=int,
                   help=f"source images per format for thumbnails (default {default.thumbs})")
    p.add_argument("--repeat", type=int, help=f"repeats per figure (default {default.repeat})")
    p.add_argument("--only", default=",".join(SECTIONS),
                   help=f"comma-separated sections to run (default: all of {','.join(SECTIONS)})")
    p.add_argument("--json", type=Path, metavar="OUT", help="write machine-readable results")
    p.add_argument("--write-doc", action="store_true", help=f"(re)write {DOC.relative_to(ROOT)}")
    p.add_argument("--render", type=Path, metavar="JSON",
                   help="measure nothing: rewrite the doc from the results a --json run saved "
                        "(its own command and date stay in it)")
    p.add_argument("--doc", type=Path, default=DOC,
                   help=f"the doc that --write-doc and --render write (default "
                        f"{DOC.relative_to(ROOT)})")
    p.add_argument("--workdir", type=Path,
                   help="where to make the temp folder (default: the system temp dir; keep it "
                        "on the disk you want measured)")
    p.add_argument("--keep", action="store_true", help="keep the generated data")
    p.add_argument("--no-drop-caches", action="store_true",
                   help="do not try to drop the page cache before cold scans")
    p.add_argument("--part", help=argparse.SUPPRESS)
    p.add_argument("--config", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    unknown = set(args.only.split(",")) - set(SECTIONS)
    if unknown:
        p.error(f"unknown section(s) for --only: {', '.join(sorted(unknown))}")
    return args


def sizes_from(args: argparse.Namespace) -> suite.Sizes:
    """The default or quick sizes, with the command line's overrides."""
    sizes = suite.Sizes.quick() if args.quick else suite.Sizes()
    for name in ("runs", "images", "thumbs", "repeat"):
        value = getattr(args, name)
        if value is not None:
            if value < 1:
                raise SystemExit(f"--{name} must be at least 1")
            setattr(sizes, name, value)
    if args.no_drop_caches:
        sizes.drop_caches = False
    return sizes


def command_line(argv: list[str]) -> str:
    """How to reproduce this run, from the repository root."""
    shown = [a for a in argv if a]
    return " ".join([".venv/bin/python", "scripts/bench.py", *map(shlex.quote, shown)])


def run(args: argparse.Namespace, argv: list[str]) -> int:
    """Run the selected sections, print the table, write JSON and the doc as asked."""
    sizes = sizes_from(args)
    started = time.time()
    load_start = machine.load_average()
    facts = machine.describe()
    print(f"gallery-desktop benchmark: {facts['cores']} cores, {facts['cpu']}, Python "
          f"{facts['python']}, PySide6 {facts['pyside6']}, Pillow {facts['pillow']}; "
          f"load {load_start}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="gallery-bench-", dir=args.workdir))
    ctx = suite.Context(sizes=sizes, work=work)
    figures: list[Figure] = []
    errors: list[str] = []
    try:
        for name in args.only.split(","):
            print(f"== {name} ...", flush=True)
            t0 = time.monotonic()
            try:
                got = SECTIONS[name](ctx)
            except PartError as err:
                errors.append(f"{name}: {err}")
                print(f"   FAILED: {err}", flush=True)
                continue
            figures += got
            print(f"   done in {time.monotonic() - t0:.0f} s", flush=True)
    finally:
        if args.keep:
            print(f"data kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    load_end = machine.load_average()
    print()
    print(f"medians over {sizes.repeat} repeat(s); floors measured in the same run, interleaved")
    print(report.text_table(figures))
    print()
    for line in report.floors_legend(figures):
        print(f"floor - {line}")
    print(report.summary_line(figures))
    bad = [f.key for f in figures if not (math.isfinite(f.value) and f.value > 0)]
    if bad:
        errors.append(f"figures without a positive finite value: {', '.join(bad)}")
    result = {
        "command": command_line(argv),
        "started": started,
        "elapsed_s": time.time() - started,
        "machine": facts,
        "load_start": list(load_start) if load_start else None,
        "load_end": list(load_end) if load_end else None,
        "config": {"quick": args.quick, **{k: getattr(sizes, k) for k in sizes.__slots__}},
        "figures": {f.key: f.to_json() for f in figures},
        "notes": ctx.notes,
        "errors": errors,
        "raw": ctx.raw,
    }
    if args.json:
        args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")
    if args.write_doc:
        args.doc.parent.mkdir(exist_ok=True)
        args.doc.write_text(report.markdown(result, figures), encoding="utf-8")
        print(f"wrote {args.doc}")
    for err in errors:
        print(f"ERROR {err}", file=sys.stderr)
    misses = sum(f.status is Status.MISS for f in figures)
    print(f"{len(figures)} figures, {misses} missed their target; elapsed "
          f"{result['elapsed_s']:.0f} s")
    # Misses are results, not failures: only a broken part makes the run fail.
    return 1 if errors else 0


def main(argv: list[str] | None = None) -> int:
    """Entry point: the benchmark, or (with ``--part``) one part in a child process."""
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.part:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        return serve_part(PARTS, args.part, args.config, args.out)
    if args.render:
        return render(args.render, args.doc)
    return run(args, argv)


def render(saved: Path, doc: Path) -> int:
    """Rewrite ``doc`` from a saved ``--json`` result, without measuring anything."""
    result = json.loads(saved.read_text(encoding="utf-8"))
    figures = [Figure.from_json(data) for data in result["figures"].values()]
    doc.write_text(report.markdown(result, figures), encoding="utf-8")
    print(f"wrote {doc} from {saved} (measured by: {result['command']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
