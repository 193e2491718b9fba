"""scripts/bench.py keeps working: a --quick run exits 0 and reports every figure."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Every figure the benchmark promises (issue: thumbnails, scan, grid, hearts).
EXPECTED = {
    "thumbs_png_per_s", "thumbs_jpeg_per_s",
    "scan_cold_ms", "scan_warm_ms", "scan_warm_orjson_ms", "scan_indexed_ms", "scan_index_load_ms",
    "scan_index_unmarshal_ms",
    "scan_indexed_with_load_ms", "app_start_cold_ms", "app_start_warm_ms",
    "app_first_paint_cold_ms", "app_first_paint_warm_ms",
    "grid_fill_ms", "grid_first_paint_ms", "grid_layout_ms",
    "grid_scroll_median_ms", "grid_scroll_p99_ms",
    "grid_filter_on_ms", "grid_filter_off_ms", "grid_rss_mb",
    "heart_toggle_median_ms", "heart_toggle_p99_ms",
    "favorites_write_small_median_ms", "favorites_write_small_p99_ms",
    "favorites_write_large_median_ms", "favorites_write_large_p99_ms",
}
# Figures that are compared with a floor measured in the same run.
WITH_FLOOR = EXPECTED - {"scan_index_load_ms", "app_start_cold_ms", "app_start_warm_ms",
                         "app_first_paint_cold_ms", "app_first_paint_warm_ms"}


@pytest.fixture(scope="module")
def quick_result(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Run the benchmark once at --quick sizes in a subprocess and load its JSON."""
    tmp = tmp_path_factory.mktemp("bench")
    out = tmp / "bench.json"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench.py"), "--quick", "--json", str(out),
         "--workdir", str(tmp)],
        capture_output=True, text=True, env=env, timeout=240, check=False, cwd=ROOT)
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return {"json": json.loads(out.read_text(encoding="utf-8")), "stdout": proc.stdout,
            "workdir": tmp}


def test_quick_run_reports_every_figure(quick_result: dict) -> None:
    figures = quick_result["json"]["figures"]
    assert set(figures) == EXPECTED
    assert quick_result["json"]["errors"] == []


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_figure_is_a_positive_finite_number(quick_result: dict, key: str) -> None:
    fig = quick_result["json"]["figures"][key]
    assert isinstance(fig["value"], float | int) and not isinstance(fig["value"], bool)
    assert math.isfinite(fig["value"]) and fig["value"] > 0
    assert fig["samples"] and all(math.isfinite(v) and v > 0 for v in fig["samples"])
    if key in WITH_FLOOR:
        assert math.isfinite(fig["floor"]) and fig["floor"] > 0
        assert math.isfinite(fig["ratio"]) and fig["ratio"] > 0
    assert fig["status"] in {"PASS", "MISS", "INFO"}


def test_every_figure_is_printed_with_its_verdict(quick_result: dict) -> None:
    stdout = quick_result["stdout"]
    for fig in quick_result["json"]["figures"].values():
        line = next((ln for ln in stdout.splitlines() if ln.startswith(fig["label"])), None)
        assert line is not None, f"{fig['label']!r} not printed"
        if fig["status"] != "INFO":
            assert line.rstrip().endswith(fig["status"])


def test_the_generated_data_is_removed(quick_result: dict) -> None:
    leftovers = [p for p in quick_result["workdir"].iterdir() if p.name != "bench.json"]
    assert leftovers == []


def test_the_machine_is_described(quick_result: dict) -> None:
    facts = quick_result["json"]["machine"]
    assert facts["cores"] >= 1 and facts["cpu"] and facts["python"] and facts["pillow"]


def test_the_doc_is_rendered_again_from_saved_results(quick_result: dict,
                                                      tmp_path: Path) -> None:
    saved = tmp_path / "saved.json"
    saved.write_text(json.dumps(quick_result["json"]), encoding="utf-8")
    doc = tmp_path / "performance.md"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench.py"), "--render", str(saved),
         "--doc", str(doc)],
        capture_output=True, text=True, timeout=60, check=False, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    text = doc.read_text(encoding="utf-8")
    assert quick_result["json"]["command"] in text
    figures = quick_result["json"]["figures"].values()
    for fig in figures:
        row = next((ln for ln in text.splitlines() if ln.startswith(f"| {fig['label']} |")),
                   None)
        assert row is not None, f"{fig['label']!r} missing from the doc"
        assert row.rstrip(" |").endswith(fig["status"] if fig["status"] != "INFO" else "-")
    notes = miss_notes()
    explained = [f for f in figures if f["status"] == "MISS" and f["key"] in notes]
    assert ("## Where the misses stand" in text) == bool(explained)
    for fig in explained:
        assert f"**{fig['label']}**: {notes[fig['key']]}" in text


def miss_notes() -> dict[str, str]:
    """The benchmark's explanations of missed figures (``scripts/`` is not a package)."""
    if str(ROOT / "scripts") not in sys.path:
        sys.path.insert(0, str(ROOT / "scripts"))
    from benchlib.report import MISS_NOTES

    return MISS_NOTES


def test_every_miss_note_belongs_to_a_figure_with_a_target(quick_result: dict) -> None:
    figures = quick_result["json"]["figures"]
    assert set(miss_notes()) <= {k for k, f in figures.items() if f["status"] != "INFO"}
