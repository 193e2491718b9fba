"""Small pieces of the main window: the error banner, the empty state, the problems dialog."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gallery_desktop.core.records import SkippedItem
from gallery_desktop.qt import icons
from gallery_desktop.qt.icons import IconName

log = logging.getLogger(__name__)


class MessageBanner(QFrame):
    """A non-modal, dismissable warning strip above the grid (objectName ``writeErrorMessage``)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("writeErrorMessage")
        self.setFrameShape(QFrame.Shape.NoFrame)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(14, 8, 8, 8)
        layout.setSpacing(10)
        glyph = QLabel(self)
        glyph.setPixmap(icons.pixmap(IconName.WARNING, 18, QColor("#fbbf24"),
                                     self.devicePixelRatioF()))
        layout.addWidget(glyph)
        self._label = QLabel(self)
        self._label.setObjectName("writeErrorText")
        self._label.setWordWrap(True)
        self._label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self._label, 1)
        close = QToolButton(self)
        close.setObjectName("writeErrorDismiss")
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Dismiss")
        close.clicked.connect(self.hide)
        layout.addWidget(close)
        self.hide()

    def show_message(self, text: str) -> None:
        """Show ``text`` (replacing an earlier message) until dismissed."""
        self._label.setText(text)
        self.show()

    def text(self) -> str:
        """The message shown."""
        return self._label.text()


class EmptyReason(StrEnum):
    """Why the grid has nothing to show."""

    NO_FOLDER = "no-folder"
    SCANNING = "scanning"
    NO_IMAGES = "no-images"
    FOLDER_UNREADABLE = "folder-unreadable"  # gone, or its runs cannot be listed
    NO_MATCHES = "no-matches"
    NO_FAVORITES = "no-favorites"
    NO_FAVORITE_MATCHES = "no-favorite-matches"  # favorites only, and a search


def empty_reason(data_dir: Path | None, scanning: bool, has_images: bool,
                 search_text: str, favorites_only: bool = False,
                 folder_problem: str | None = None) -> EmptyReason:
    """Why an empty grid is empty (call it only when no row is shown).

    Args:
        data_dir: the open data folder.
        scanning: whether a scan is running.
        has_images: whether the folder has any image at all (before filtering).
        search_text: the active search.
        favorites_only: whether only favorites are shown.
        folder_problem: why the data folder's runs could not be listed, if so.
    """
    if data_dir is None:
        return EmptyReason.NO_FOLDER
    if not has_images:
        if scanning:
            return EmptyReason.SCANNING
        return EmptyReason.FOLDER_UNREADABLE if folder_problem else EmptyReason.NO_IMAGES
    if search_text.strip():
        return EmptyReason.NO_FAVORITE_MATCHES if favorites_only else EmptyReason.NO_MATCHES
    return EmptyReason.NO_FAVORITES


class EmptyState(QWidget):
    """A calm, centred message with an optional button, shown instead of an empty grid.

    Signals:
        action_requested(object)   # the button was clicked: the EmptyReason shown
    """

    action_requested = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("emptyState")
        self._reason = EmptyReason.NO_FOLDER
        layout = QVBoxLayout(self)
        layout.addStretch(3)
        self._glyph = QLabel(self)
        self._glyph.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self._glyph)
        self._title = QLabel(self)
        self._title.setObjectName("emptyStateTitle")
        self._title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self._title)
        self._body = QLabel(self)
        self._body.setObjectName("emptyStateBody")
        self._body.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._body.setWordWrap(True)
        layout.addWidget(self._body)
        row = QHBoxLayout()
        row.addStretch(1)
        self._button = QPushButton(self)
        self._button.setObjectName("emptyStateButton")
        self._button.setCursor(Qt.CursorShape.PointingHandCursor)
        self._button.clicked.connect(lambda: self.action_requested.emit(self._reason))
        row.addWidget(self._button)
        row.addStretch(1)
        layout.addSpacing(8)
        layout.addLayout(row)
        layout.addStretch(4)

    def show_reason(self, reason: EmptyReason, data_dir: Path | None, search_text: str,
                    folder_problem: str | None = None) -> None:
        """Explain ``reason`` and offer the way out (``folder_problem``: what keeps the
        folder from being read, for ``FOLDER_UNREADABLE``)."""
        self._reason = reason
        search = search_text.strip()
        folder_problem = folder_problem or ""
        content: dict[EmptyReason, tuple[IconName, str, str, str]] = {
            EmptyReason.NO_FOLDER: (
                IconName.FOLDER_OPEN, "Open your studio's data folder",
                "Gallery shows every image the content studio saved under data/runs,\n"
                "with the hearts you share with the web gallery.", "Open Data Folder…"),
            EmptyReason.SCANNING: (IconName.IMAGE_LOADING, "Looking for images…",
                                   "The first ones appear as soon as they are found.", ""),
            EmptyReason.NO_IMAGES: (
                IconName.IMAGE_LOADING, "No images yet",
                f"{data_dir} has no runs with images yet.\n"
                "New runs appear here as the studio writes them.", "Open Another Folder…"),
            EmptyReason.FOLDER_UNREADABLE: (
                IconName.WARNING, "Can't read the data folder",
                f"{data_dir}\n{folder_problem[:1].upper()}{folder_problem[1:]}.\n"
                "Its images appear again as soon as it can be read.", "Open Another Folder…"),
            EmptyReason.NO_MATCHES: (IconName.SEARCH, "Nothing matches your search",
                                     f"No image mentions “{search}”.", "Clear Search"),
            EmptyReason.NO_FAVORITE_MATCHES: (
                IconName.SEARCH, "No favorite matches your search",
                f"None of your favorites mentions “{search}”.", "Show All Images"),
            EmptyReason.NO_FAVORITES: (
                IconName.HEART_OUTLINE, "No favorites yet",
                "Click the heart on an image, or press Space, and it will wait for you here.",
                "Show All Images"),
        }
        self.set_content(*content[reason])

    def reason(self) -> EmptyReason:
        """What is being explained."""
        return self._reason

    def set_content(self, glyph: IconName, title: str, body: str, button: str = "") -> None:
        """Show ``title`` and ``body`` under a large glyph, and a button when ``button``."""
        self._glyph.setPixmap(icons.pixmap(glyph, 72, QColor("#5b606b"),
                                           self.devicePixelRatioF()))
        self._title.setText(title)
        self._body.setText(body)
        self._button.setText(button)
        self._button.setVisible(bool(button))

    def title(self) -> str:
        """The headline shown."""
        return self._title.text()

    def body(self) -> str:
        """The explanation shown under the headline."""
        return self._body.text()

    def button(self) -> QPushButton:
        """The call-to-action button (hidden when the state has none)."""
        return self._button


class ProblemsDialog(QDialog):
    """Lists what the scan skipped or could not read, with paths and reasons."""

    def __init__(self, problems: Sequence[SkippedItem], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("problemsDialog")
        self.setWindowTitle("Problems in the data folder")
        self.resize(820, 420)
        layout = QVBoxLayout(self)
        intro = QLabel(
            f"{len(problems)} item{'s' if len(problems) != 1 else ''} could not be shown as "
            "expected. Nothing was changed on disk; fix the files and press Refresh.", self)
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self._tree = QTreeWidget(self)
        self._tree.setObjectName("problemsList")
        self._tree.setHeaderLabels(["Path", "Reason"])
        self._tree.setRootIsDecorated(False)
        self._tree.setAlternatingRowColors(True)
        self._tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self._tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        self._tree.header().setStretchLastSection(True)
        self._tree.setColumnWidth(0, 380)
        for problem in problems:
            item = QTreeWidgetItem([problem.path, problem.reason])
            item.setToolTip(0, problem.path)
            item.setToolTip(1, problem.reason)
            self._tree.addTopLevelItem(item)
        layout.addWidget(self._tree, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        copy = buttons.addButton("Copy All", QDialogButtonBox.ButtonRole.ActionRole)
        copy.clicked.connect(self.copy_all)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self._problems = list(problems)

    def problems(self) -> list[SkippedItem]:
        """The problems listed."""
        return list(self._problems)

    def as_text(self) -> str:
        """All problems as tab-separated lines (path, reason)."""
        return "\n".join(f"{p.path}\t{p.reason}" for p in self._problems)

    def copy_all(self) -> None:
        """Put every problem on the clipboard, one per line."""
        QGuiApplication.clipboard().setText(self.as_text())
