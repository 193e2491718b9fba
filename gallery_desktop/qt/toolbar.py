"""The main toolbar: folder, refresh, favorites only, search as you type, sort, thumbnail size."""

from __future__ import annotations

import logging

from PySide6.QtCore import QEvent, QObject, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QColor, QKeyEvent
from PySide6.QtWidgets import (
    QComboBox,
    QLineEdit,
    QSizePolicy,
    QSlider,
    QToolBar,
    QToolButton,
    QWidget,
)

from gallery_desktop.qt import icons
from gallery_desktop.qt.actions import ActionId
from gallery_desktop.qt.icons import IconName
from gallery_desktop.qt.roles import SortMode
from gallery_desktop.qt.settings import DEFAULT_THUMB_SIZE, MAX_THUMB_SIZE, MIN_THUMB_SIZE

log = logging.getLogger(__name__)

SEARCH_DEBOUNCE_MS = 150
THUMB_STEP = 16
SORT_CHOICES = ((SortMode.NEWEST, "Newest first"), (SortMode.OLDEST, "Oldest first"),
                (SortMode.MOST_USED, "Most used"))


class MainToolBar(QToolBar):
    """The toolbar; it reports what people choose and leaves the deciding to the window.

    Signals:
        search_changed(str)        # the search text, after a pause in typing (~150 ms)
        search_cleared()           # Esc in the search field
        sort_changed(object)       # a SortMode
        thumb_size_changed(int)    # thumbnail edge in logical pixels, as the slider moves
    """

    search_changed = Signal(str)
    search_cleared = Signal()
    sort_changed = Signal(object)
    thumb_size_changed = Signal(int)

    def __init__(self, actions: dict[ActionId, QAction], parent: QWidget | None = None) -> None:
        super().__init__("Toolbar", parent)
        self.setObjectName("mainToolBar")
        self.setMovable(False)
        self.setFloatable(False)
        self.setIconSize(QSize(20, 20))
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        self.addAction(actions[ActionId.OPEN_DATA_DIR])
        self.addAction(actions[ActionId.REFRESH])
        self.addSeparator()
        self.addAction(actions[ActionId.FAVORITES_ONLY])
        heart = self.widgetForAction(actions[ActionId.FAVORITES_ONLY])
        if isinstance(heart, QToolButton):
            heart.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            heart.setText("Favorites")
        spacer = QWidget(self)
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.addWidget(spacer)
        self.search_field = self._build_search()
        self.addWidget(self.search_field)
        self.sort_combo = self._build_sort()
        self.addWidget(self.sort_combo)
        self.size_slider = self._build_slider()
        self.addWidget(self.size_slider)
        end = QWidget(self)
        end.setFixedWidth(6)  # the style sheet's padding does not reach past the last widget
        self.addWidget(end)

    def _build_search(self) -> QLineEdit:
        field = QLineEdit(self)
        field.setObjectName("searchField")
        field.setPlaceholderText("Search prompts, captions, topics, models, runs")
        field.setClearButtonEnabled(True)
        field.addAction(icons.icon(IconName.SEARCH, QColor("#7d828c")),
                        QLineEdit.ActionPosition.LeadingPosition)
        field.setMinimumWidth(300)
        field.setMaximumWidth(440)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DEBOUNCE_MS)
        self._search_timer.timeout.connect(self.apply_search)
        field.textChanged.connect(lambda _text: self._search_timer.start())
        field.installEventFilter(self)  # Esc clears the search and hands focus back
        return field

    def _build_sort(self) -> QComboBox:
        combo = QComboBox(self)
        combo.setObjectName("sortCombo")
        combo.setToolTip("Sort order")
        for mode, label in SORT_CHOICES:
            combo.addItem(label, mode.value)
        combo.currentIndexChanged.connect(
            lambda i: self.sort_changed.emit(SortMode(str(combo.itemData(i)))))
        return combo

    def _build_slider(self) -> QSlider:
        slider = QSlider(Qt.Orientation.Horizontal, self)
        slider.setObjectName("thumbSizeSlider")
        slider.setRange(MIN_THUMB_SIZE, MAX_THUMB_SIZE)
        slider.setSingleStep(THUMB_STEP)
        slider.setPageStep(THUMB_STEP * 2)
        slider.setValue(DEFAULT_THUMB_SIZE)
        slider.setFixedWidth(120)
        slider.setToolTip("Thumbnail size (Ctrl+wheel, Ctrl++ and Ctrl+-)")
        slider.valueChanged.connect(self.thumb_size_changed)
        return slider

    # -- search -----------------------------------------------------------------------------

    def apply_search(self) -> None:
        """Report the search text now instead of after the typing pause."""
        self._search_timer.stop()
        self.search_changed.emit(self.search_field.text())

    def clear_search(self) -> None:
        """Empty the search field and report it at once."""
        self.search_field.clear()
        self.apply_search()

    def focus_search(self) -> None:
        """Put the cursor in the search field, its text selected (Ctrl+F)."""
        self.search_field.setFocus()
        self.search_field.selectAll()

    def type_into_search(self, text: str) -> None:
        """Continue the search with ``text`` typed elsewhere (the grid), cursor at the end."""
        self.search_field.setFocus()
        self.search_field.end(False)
        self.search_field.insert(text)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Esc in the search field clears it and returns to the grid."""
        if (watched is self.search_field and event.type() == QEvent.Type.KeyPress
                and isinstance(event, QKeyEvent) and event.key() == Qt.Key.Key_Escape):
            self.clear_search()
            self.search_cleared.emit()
            return True
        return super().eventFilter(watched, event)

    # -- sort and size ----------------------------------------------------------------------

    def sort_mode(self) -> SortMode:
        """The order chosen in the combo."""
        return SortMode(str(self.sort_combo.currentData()))

    def set_sort_mode(self, mode: SortMode) -> None:
        """Show ``mode`` as chosen (reports ``sort_changed`` when it differs)."""
        self.sort_combo.setCurrentIndex(max(0, self.sort_combo.findData(SortMode(mode).value)))

    def thumb_size(self) -> int:
        """The thumbnail edge chosen."""
        return self.size_slider.value()

    def set_thumb_size(self, px: int) -> None:
        """Move the slider to ``px`` (clamped to its range)."""
        self.size_slider.setValue(px)

    def step_thumb_size(self, steps: int) -> None:
        """Make thumbnails ``steps`` notches bigger (or smaller when negative)."""
        self.size_slider.setValue(self.size_slider.value() + steps * THUMB_STEP)
