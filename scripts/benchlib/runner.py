"""Running one benchmark part in its own Python process and collecting its JSON result."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

BENCH_SCRIPT = Path(__file__).resolve().parent.parent / "bench.py"


class PartError(RuntimeError):
    """A part's process failed; the message ends with the tail of its stderr."""


def run_part(name: str, config: dict[str, Any], *, timeout_s: float = 900.0) -> dict[str, Any]:
    """Run ``scripts/bench.py --part name`` in a fresh interpreter and return its result.

    A fresh process per part keeps parts from inflating each other's memory, warming each
    other's caches or sharing a QApplication.

    Args:
        name: a key of the part table in bench.py.
        config: JSON-able settings handed to the part.
        timeout_s: how long the process may take.

    Returns:
        The dict the part returned.

    Raises:
        PartError: the process exited non-zero or timed out.
    """
    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    with tempfile.TemporaryDirectory(prefix="bench-part-") as tmp:
        out = Path(tmp) / "result.json"
        cfg = Path(tmp) / "config.json"
        cfg.write_text(json.dumps(config), encoding="utf-8")
        cmd = [sys.executable, str(BENCH_SCRIPT), "--part", name, "--config", str(cfg),
               "--out", str(out)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s,
                                  env=env, check=False)
        except subprocess.TimeoutExpired as err:
            raise PartError(f"part {name} timed out after {timeout_s:.0f} s") from err
        if proc.returncode != 0 or not out.exists():
            tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
            raise PartError(f"part {name} exited with {proc.returncode}:\n{tail}")
        result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
        return result


def serve_part(parts: dict[str, Callable[[dict[str, Any]], dict[str, Any]]], name: str,
               config_file: Path, out_file: Path) -> int:
    """The child side of ``run_part``: run one part and write its result as JSON.

    Returns:
        The process exit code.
    """
    config = json.loads(config_file.read_text(encoding="utf-8"))
    result = parts[name](config)
    out_file.write_text(json.dumps(result), encoding="utf-8")
    return 0
