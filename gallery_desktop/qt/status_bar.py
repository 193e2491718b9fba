"""The status bar: image and favorite counts, scan progress, and the data-problems button."""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar, QToolButton, QWidget

from gallery_desktop.qt import icons
from gallery_desktop.qt.icons import IconName

log = logging.getLogger(__name__)


def plural(count: int, word: str) -> str:
    """``"1 image"``, ``"2 images"``, ``"12,345 images"``."""
    return f"{count:,} {word}{'' if count == 1 else 's'}"


class GalleryStatusBar(QStatusBar):
    """Shows counts, scan progress and how many data problems there are.

    Signals:
        problems_requested()   # the problems button was clicked
    """

    problems_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizeGripEnabled(False)
        self.counts_label = QLabel(self)
        self.counts_label.setObjectName("countsLabel")
        self.addWidget(self.counts_label)
        self.scan_label = QLabel(self)
        self.scan_label.setObjectName("scanLabel")
        self.scan_progress = QProgressBar(self)
        self.scan_progress.setObjectName("scanProgress")
        self.scan_progress.setRange(0, 0)  # busy: the number of runs is not known up front
        self.scan_progress.setTextVisible(False)
        self.addPermanentWidget(self.scan_label)
        self.addPermanentWidget(self.scan_progress)
        self.scan_label.hide()
        self.scan_progress.hide()
        self.problems_button = QToolButton(self)
        self.problems_button.setObjectName("problemsButton")
        self.problems_button.setIcon(icons.icon(IconName.WARNING, QColor("#fbbf24")))
        self.problems_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.problems_button.setToolTip("Show what could not be read in the data folder")
        self.problems_button.clicked.connect(self.problems_requested)
        self.problems_button.hide()
        self.addPermanentWidget(self.problems_button)

    def set_counts(self, images: int, favorites: int, shown: int | None = None) -> None:
        """Show "N images · M favorites", or "K of N images · M favorites" when a filter
        shows ``shown`` of them."""
        of = f"{shown:,} of " if shown is not None else ""
        self.counts_label.setText(
            f"{of}{plural(images, 'image')} · {plural(favorites, 'favorite')}")

    def clear_counts(self) -> None:
        """Show no counts (no folder open)."""
        self.counts_label.clear()

    def set_scanning(self, scanning: bool) -> None:
        """Show or hide the scan progress."""
        self.scan_label.setText("Scanning…")
        self.scan_label.setVisible(scanning)
        self.scan_progress.setVisible(scanning)

    def set_scan_progress(self, runs_done: int, images_so_far: int) -> None:
        """Show how far the scan got."""
        self.scan_label.setText(
            f"Scanning… {plural(runs_done, 'run')}, {plural(images_so_far, 'image')}")

    def set_problem_count(self, count: int) -> None:
        """Show the problems button with ``count``, or hide it at 0."""
        self.problems_button.setText(plural(count, "problem"))
        self.problems_button.setVisible(count > 0)
