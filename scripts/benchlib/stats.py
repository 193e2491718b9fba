"""Figures and the small statistics the benchmark reports (medians, percentiles, ratios)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """How a figure compares with its target."""

    PASS = "PASS"
    MISS = "MISS"
    INFO = "INFO"  # no target: reported for context only


class Goal(StrEnum):
    """Which direction a target points."""

    MAX_VALUE = "value <="  # e.g. frame time <= 8 ms
    MIN_VALUE = "value >="
    MAX_RATIO = "ratio <="  # e.g. scan <= 1.2x its floor
    MIN_RATIO = "ratio >="  # e.g. throughput >= 0.9x its floor


@dataclass(slots=True)
class Figure:
    """One line of the report: a measured value, its floor, the ratio and the verdict."""

    key: str
    label: str
    unit: str
    value: float
    floor: float | None = None
    floor_label: str = ""
    goal: Goal | None = None
    target: float | None = None
    samples: list[float] = field(default_factory=list)
    floor_samples: list[float] = field(default_factory=list)
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """``value / floor`` (how many times the floor), or None without a floor."""
        if self.floor is None or self.floor == 0:
            return None
        return self.value / self.floor

    @property
    def status(self) -> Status:
        """PASS or MISS against the target; INFO when there is none."""
        if self.goal is None or self.target is None:
            return Status.INFO
        measured = self.ratio if self.goal in (Goal.MAX_RATIO, Goal.MIN_RATIO) else self.value
        if measured is None or not math.isfinite(measured):
            return Status.MISS
        if self.goal in (Goal.MAX_VALUE, Goal.MAX_RATIO):
            return Status.PASS if measured <= self.target else Status.MISS
        return Status.PASS if measured >= self.target else Status.MISS

    def target_text(self) -> str:
        """The target as people read it, e.g. ``<= 1.2x floor`` or ``< 8 ms``."""
        if self.goal is None or self.target is None:
            return ""
        if self.goal is Goal.MAX_RATIO:
            return f"<= {self.target:g}x floor"
        if self.goal is Goal.MIN_RATIO:
            return f">= {self.target:g}x floor"
        sign = "<=" if self.goal is Goal.MAX_VALUE else ">="
        return f"{sign} {self.target:g} {self.unit}"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Figure:
        """The inverse of ``to_json`` (derived fields are recomputed)."""
        fields = {k: v for k, v in data.items() if k not in ("ratio", "status")}
        fields["goal"] = Goal(fields["goal"]) if fields.get("goal") else None
        return cls(**fields)

    def to_json(self) -> dict[str, Any]:
        """A plain dict for ``--json`` (enums as strings, derived fields included)."""
        data = asdict(self)
        data["goal"] = self.goal.value if self.goal else None
        data["ratio"] = self.ratio
        data["status"] = self.status.value
        return data


def median(values: Sequence[float]) -> float:
    """The median of ``values`` (raises on an empty sequence, which would be a bench bug)."""
    return float(statistics.median(values))


def percentile(values: Sequence[float], pct: float) -> float:
    """The ``pct`` percentile by linear interpolation between closest ranks.

    Args:
        values: the samples (any order).
        pct: 0..100.

    Returns:
        The interpolated percentile.
    """
    ordered = sorted(values)
    if not ordered:
        raise ValueError("percentile of no samples")
    pos = (len(ordered) - 1) * pct / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def ns_to_ms(ns: int | float) -> float:
    """Nanoseconds to milliseconds."""
    return ns / 1e6


def ns_to_s(ns: int | float) -> float:
    """Nanoseconds to seconds."""
    return ns / 1e9
