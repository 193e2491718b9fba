"""Real helper processes for the concurrency tests."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@contextmanager
def python_process(*args: object) -> Iterator[subprocess.Popen[str]]:
    """Run ``python ARGS…`` from the repository with line-based pipes for stdin and stdout.

    The process is killed and reaped however the test ends.
    """
    proc = subprocess.Popen([sys.executable, *map(str, args)], cwd=REPO,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)
