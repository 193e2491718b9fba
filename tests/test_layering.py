"""The core stays Qt-free: importing it loads no PySide6, and no core file mentions it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import gallery_desktop.core

CORE_DIR = Path(gallery_desktop.core.__file__).parent


def core_modules() -> list[str]:
    names = ["gallery_desktop.core"]
    for path in sorted(CORE_DIR.rglob("*.py")):
        if path.name == "__init__.py":
            continue
        rel = path.relative_to(CORE_DIR).with_suffix("")
        names.append("gallery_desktop.core." + ".".join(rel.parts))
    return names


def test_core_modules_are_found() -> None:
    modules = core_modules()
    for expected in ("records", "errors", "fsutil", "thumbnails", "thumbcache", "watcher"):
        assert f"gallery_desktop.core.{expected}" in modules


def test_importing_the_whole_core_loads_no_qt() -> None:
    code = textwrap.dedent("""
        import importlib, sys
        for name in sys.argv[1:]:
            importlib.import_module(name)
        qt = sorted(m for m in sys.modules
                    if m.split(".")[0] in ("PySide6", "shiboken6", "PyQt5", "PyQt6"))
        print("\\n".join(qt))
        sys.exit(1 if qt else 0)
    """)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONSTARTUP"}
    proc = subprocess.run([sys.executable, "-c", code, *core_modules()], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"Qt modules imported by the core:\n{proc.stdout}{proc.stderr}"


def test_no_core_file_mentions_pyside() -> None:
    offenders = []
    for path in sorted(CORE_DIR.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".pyi", ".txt", ".json", ".md"):
            text = path.read_text(encoding="utf-8", errors="replace").casefold()
            if "pyside" in text or "shiboken" in text:
                offenders.append(str(path.relative_to(CORE_DIR)))
    assert offenders == []
