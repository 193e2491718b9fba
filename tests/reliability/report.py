"""Run the reliability suite and (re)write docs/reliability.md with the counts it produced.

Usage, from the repository root: ``.venv/bin/python -m tests.reliability.report``
(``--no-write`` prints the report instead of writing the file; extra arguments after ``--``
go to pytest).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "reliability.md"
COMMAND = ".venv/bin/python -m tests.reliability.report"
REPORT_ENV = "GALLERY_RELIABILITY_REPORT"

PARTS = {
    "test_run_data": "Run data (`scan_runs`, `iter_runs`, run index)",
    "test_images": "Images and image URLs (`load_thumbnail`, Qt `ThumbnailLoader`)",
    "test_favorites_file": "The favorites file (`FavoritesStore`)",
    "test_concurrency": "Concurrency (real processes)",
    "test_gui_churn": "The GUI under churn (`GalleryController`, `MainWindow`)",
}

INTRO = """\
# Reliability

The suite in `tests/reliability/` feeds gallery-desktop the strange files, failing disks and
concurrent writers it will meet in a studio's data folder, and checks the exact outcome of
each: the item is shown, or skipped / shown broken with its reason, the app keeps running,
and nothing on disk changes that should not. It runs as part of `./scripts/test`.

## What is covered

- **Run data.** Every case runs the whole read pass the app makes: favorites load, a cold
  scan with the run index, a warm scan from the saved index (both must agree), and a
  thumbnail of every local image; the pass then checks that the data folder is byte for byte
  and mtime for mtime unchanged and that no file outside it was opened (Python's audit hook
  sees every `open`). Cases: empty, blank, truncated, BOM-prefixed, 100,000-deep,
  UTF-16/Latin-1, non-object and NUL-filled `meta.json`; a 50 MB `meta.json` of 5,000 posts
  and one over the 64 MB limit; a wrong type (number, list, object, boolean) in each of the
  22 fields the contract reads, plus `index`, `createdAt`, `posts` and the posts themselves;
  10,000 posts with hearts and counts; non-UTF-8, 255-byte and over-long names and URLs; run
  entries that are files, FIFOs, self- and mutual symlink loops, links to the runs folder
  and to the data folder; an unlistable runs folder, an unreadable `meta.json` and image
  (injected, as the tests run as root; the real `chmod` case runs for other users); runs,
  a `meta.json` and the whole data folder deleted or replaced mid-scan.
- **Images.** 0-byte, truncated PNG and JPEG, a header-only PNG, PNG/JPEG/text/HTML under
  the wrong extension, animated GIF and WebP (first frame), CMYK JPEG, 16-bit PNG, EXIF
  orientation 6, 1x20,000 and 20,000x1 strips, a real 70 Mpx JPEG, baseline and progressive
  (over the 64 Mpx limit for a full decode, shown: libjpeg decodes 1/8 of each side, and
  the progressive one's coefficients fit in 256 MB), and decompression bombs (a real 81 Mpx
  PNG, PNG/JPEG/GIF headers claiming up to 100,000² pixels, a 13,000² progressive JPEG):
  refused from the header without a single `load()`, and in a separate process without
  the memory growth a decode would need. Each through the scan pass and through the Qt
  `ThumbnailLoader` (cold, then from its disk cache), which then still decodes a good file.
  Image URLs that try to leave the data folder (`..`, absolute paths, `file://`, percent-encoded and
  double-encoded escapes, backslashes, UNC, NUL bytes, symlinked files and folders, a
  symlinked run folder): none is opened.
- **The favorites file.** Empty and blank; `null`, arrays, strings, numbers, truncated and
  Latin-1 files (kept aside as `gallery-favorites.corrupt-<time>.json` before the first
  write, never overwritten silently); the legacy flat form; 200,000 ids written back byte
  for byte as the web server would; ids with quotes, backslashes, newlines, U+2028, emoji,
  NUL, 10,000 characters; negative, string, fractional and boolean counts and a favorites
  array (the file is kept aside before a write drops them); a BOM; a folder in place of
  the file; `ENOSPC` part-way through the temp file and a read-only folder or mount
  (injected): the write fails with a clear error and memory, file and folder stay as they
  were; a lock held by a process that is then killed; the web server's own lock folder;
  stale and in-flight temp files.
- **Concurrency**, with real processes (`tests/reliability/worker.py`):
  two app-side stores toggling and counting on shared ids for the configured seconds while
  a reader parses every version: the final file equals the exact state implied by every
  acknowledged operation, and each shared increment returned a distinct value 1..n.
  Then two stores beside a writer that imitates the web server (the design note's
  `FavoritesService`: re-reads only at its "scans", writes its whole memory in place with
  no lock and no rename, in 4 kB pieces) and a reader that retries torn reads as the store
  does: the reader never fails; no write of ours drops a change the web writer had finished
  before our write read the file (checked for every write of ours against every earlier web
  write that did not overlap one of ours; the bytes we wrote are captured on their way to
  disk); a web write that lands while ours is being made (before our rename) makes ours
  merge again, up to three times (`test_a_web_write_landing_during_ours_is_merged_not_replaced`);
  the updates of ours that the web writer's stale overwrites destroy are counted and
  each is matched to a web write that finished after ours began. Finally `kill -9` of a
  writer at 50 random moments: the file always parses as plain JSON, holds every
  acknowledged heart, and the counter is never behind the last acknowledged value.
- **The GUI under churn**, with the real `GalleryController` and `MainWindow` offscreen, the
  real watchdog watcher and the periodic rescan switched off (so recovery is the watcher's
  doing): runs added and removed while scrolling and changing hearts in favorites-only view,
  ending with exactly the rows a fresh scan finds, exactly the expected hearts in the file
  and no model reset; the data folder deleted (rows go), recreated with other runs and a
  web-studio heart (rows and heart come back), replaced by a rename; and deleted during the
  first scan.

The web writer's losses are its own: it writes without a lock from a stale copy, as the
studio's server does. They are reported, not asserted to be zero. Our side loses nothing:
the losses we cause are asserted to be zero wherever they can be observed.
"""


def run_suite(pytest_args: list[str]) -> tuple[int, dict[str, Any], ET.Element, float]:
    """Run the suite with the counts report switched on.

    Returns:
        pytest's exit status, the counts, the JUnit XML root and the wall time in seconds.
    """
    with tempfile.TemporaryDirectory(prefix="gallery-reliability-") as scratch:
        counts_file = Path(scratch) / "counts.json"
        junit = Path(scratch) / "junit.xml"
        env = {**os.environ, REPORT_ENV: str(counts_file), "QT_QPA_PLATFORM": "offscreen"}
        started = datetime.now(UTC)
        status = subprocess.call([sys.executable, "-m", "pytest", "tests/reliability", "-q",
                                  "-p", "no:cacheprovider", f"--junitxml={junit}",
                                  *pytest_args], cwd=REPO, env=env)
        wall = (datetime.now(UTC) - started).total_seconds()
        counts = json.loads(counts_file.read_text()) if counts_file.exists() else {}
        root = ET.parse(junit).getroot()
    return status, counts, root, wall


def case_table(root: ET.Element) -> tuple[str, Counter[str]]:
    """A Markdown table of cases per part, and the totals by outcome."""
    per_part: dict[str, Counter[str]] = {}
    totals: Counter[str] = Counter()
    for case in root.iter("testcase"):
        module = case.get("classname", "").rpartition(".")[2]
        outcome = next((c.tag for c in case if c.tag in ("failure", "error", "skipped")),
                       "passed")
        per_part.setdefault(module, Counter())[outcome] += 1
        totals[outcome] += 1
    lines = ["| Part | Cases | Passed | Skipped | Failed |", "|---|---:|---:|---:|---:|"]
    for module, title in PARTS.items():
        c = per_part.get(module, Counter())
        lines.append(f"| {title} | {c.total()} | {c['passed']} | {c['skipped']} | "
                     f"{c['failure'] + c['error']} |")
    lines.append(f"| **All** | **{totals.total()}** | **{totals['passed']}** | "
                 f"**{totals['skipped']}** | **{totals['failure'] + totals['error']}** |")
    return "\n".join(lines), totals


def counts_section(counts: dict[str, Any]) -> str:
    """The numbers the tests recorded, part by part."""
    lines = []
    for part in sorted(counts):
        lines.append(f"- `{part}`: " + ", ".join(
            f"{key.replace('_', ' ')} **{value}**" for key, value in sorted(counts[part].items())))
    return "\n".join(lines)


def summary(counts: dict[str, Any]) -> str:
    """The headline numbers in a few lines."""
    two, kills, web = (counts.get(k, {}) for k in ("two_stores", "kill_9", "web_server_writer"))
    return "\n".join([
        "In short:",
        "",
        f"- two stores: {two.get('acknowledged_writes', '?')} acknowledged writes, "
        f"{two.get('lost_updates', '?')} lost;",
        f"- kill -9: {kills.get('kills', '?')} kills, "
        f"{kills.get('acknowledged_writes_lost', '?')} acknowledged writes lost;",
        f"- beside the web writer: our reader read the file {web.get('reader_reads', '?')} "
        f"times, caught it half-written {web.get('reader_torn_reads_retried', '?')} times and "
        f"failed {web.get('reader_failed_reads', '?')} times; no write of ours dropped a "
        "finished web change; the web writer's stale overwrites destroyed "
        f"{web.get('our_hearts_lost_to_web_overwrites', '?')} of our hearts and "
        f"{web.get('our_uses_lost_to_web_overwrites', '?')} of our use counts in "
        f"{web.get('seconds', '?')} s (its losses, by design: see above).",
    ])


def render(counts: dict[str, Any], root: ET.Element, wall: float) -> str:
    table, totals = case_table(root)
    skipped = "\n".join(
        f"- `{case.get('name')}`: {s.get('message', '')}"
        for case in root.iter("testcase") for s in case if s.tag == "skipped")
    machine = (f"{platform.system()} {platform.release()}, {os.cpu_count()} cores, "
               f"Python {platform.python_version()}")
    return f"""{INTRO}
## Counts from a run

Run on {datetime.now(UTC):%Y-%m-%d} ({machine}); {totals.total()} cases in {wall:.0f} s.

{table}

Skipped where the machine cannot do it (the injected twin of each runs instead):

{skipped or "- none"}

What the tests counted:

{counts_section(counts)}

{summary(counts)}

## The command

```sh
{COMMAND}
```

It runs `pytest tests/reliability` with `{REPORT_ENV}` set (the tests then add their counts
to that JSON file) and rewrites this page. `GALLERY_RELIABILITY_SECONDS` makes the
concurrency runs longer than the default 10 s for a soak; `./scripts/test` runs the same
suite without writing anything.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="print instead of writing")
    parser.add_argument("pytest_args", nargs="*", help="more arguments for pytest")
    args = parser.parse_args(argv)
    status, counts, root, wall = run_suite(args.pytest_args)
    text = render(counts, root, wall)
    if status != 0:
        print(f"the suite failed (pytest exit status {status}); {DOC} left as it was",
              file=sys.stderr)
        return status
    if args.no_write:
        print(text)
    else:
        DOC.parent.mkdir(parents=True, exist_ok=True)
        DOC.write_text(text, encoding="utf-8")
        print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
