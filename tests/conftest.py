"""Shared test set-up: headless Qt, and helpers that build real run folders and images."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
