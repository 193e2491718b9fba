"""Shared test set-up: headless Qt, and helpers that build real run folders and images."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


# --- Which files a piece of code opens -------------------------------------------------------
# Python's audit hooks see every open() and os.open(); a hook cannot be removed, so one is
# installed once for the whole test run and only records while a test has armed it.
_opened: list[Path] | None = None


def _audit(event: str, args: tuple[object, ...]) -> None:
    if _opened is not None and event == "open" and isinstance(args[0], str | bytes | os.PathLike):
        _opened.append(Path(os.fsdecode(args[0])))


sys.addaudithook(_audit)


@pytest.fixture
def opened_files() -> Iterator[list[Path]]:
    """A list that collects the path of every file opened (by path) while the test runs."""
    global _opened
    _opened = []
    try:
        yield _opened
    finally:
        _opened = None
