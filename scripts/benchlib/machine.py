"""The machine the benchmark runs on: description, load, page-cache control and RSS."""

from __future__ import annotations

import logging
import os
import platform
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (``platform.processor()`` elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cores() -> int:
    """CPUs this process may run on (what "one thread per core" means here)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def load_average() -> tuple[float, float, float] | None:
    """The 1/5/15-minute load averages, or None where the OS has none."""
    try:
        return os.getloadavg()
    except OSError:
        return None


def describe() -> dict[str, Any]:
    """Machine and library facts for the report.

    Returns:
        A JSON-able dict: cores, CPU model, memory, OS, Python, PySide6 and Pillow versions.
    """
    import PIL

    try:
        import PySide6

        pyside = PySide6.__version__
    except ImportError:
        pyside = "not installed"
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    return {
        "cores": cores(),
        "cpu": cpu_model(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "pyside6": pyside,
        "pillow": PIL.__version__,
    }


def drop_page_cache() -> str | None:
    """Ask the kernel to drop clean page-cache, dentry and inode caches.

    Returns:
        None on success, else why it was not possible (shown in the report).
    """
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n", encoding="ascii")
    except OSError as err:
        return f"could not drop the page cache ({err.strerror or err}); 'cold' is not cold"
    return None


def rss_bytes() -> int:
    """Resident set size of this process (VmRSS), in bytes; 0 where unknown."""
    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import resource

        # ru_maxrss is the peak, in KiB on Linux: the best we have without /proc.
        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024
    except (ImportError, OSError):
        return 0
