"""The look: a dark neutral Fusion palette and a short style sheet; the images bring the colour."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QProxyStyle,
    QStyle,
    QStyleFactory,
    QStyleHintReturn,
    QStyleOption,
    QWidget,
)

WINDOW = "#17181c"
SURFACE = "#1e2025"
RAISED = "#272a30"
BORDER = "#2e3138"
TEXT = "#e6e8ec"
MUTED = "#9ea3ad"
ACCENT = "#a855f7"

STYLE_SHEET = f"""
QMainWindow, QDialog {{ background: {WINDOW}; }}
QToolBar#mainToolBar {{
    background: {SURFACE}; border: none; border-bottom: 1px solid {BORDER};
    padding: 6px 10px; spacing: 6px;
}}
QToolBar QToolButton {{ border-radius: 6px; padding: 5px 7px; color: {TEXT}; }}
QToolBar QToolButton:hover {{ background: {RAISED}; }}
QToolBar QToolButton:checked {{ background: rgba(168, 85, 247, 0.22); color: #f3e8ff; }}
QLineEdit#searchField {{
    background: {WINDOW}; border: 1px solid {BORDER}; border-radius: 8px;
    padding: 5px 8px; min-height: 20px; color: {TEXT};
    selection-background-color: {ACCENT};
}}
QLineEdit#searchField:focus {{ border-color: {ACCENT}; }}
QComboBox#sortCombo {{
    background: {WINDOW}; border: 1px solid {BORDER}; border-radius: 8px;
    padding: 4px 10px; min-height: 22px; color: {TEXT};
}}
QComboBox#sortCombo::drop-down {{ border: none; width: 18px; }}
QComboBox QAbstractItemView {{
    background: {RAISED}; color: {TEXT}; selection-background-color: {ACCENT};
    border: 1px solid {BORDER};
}}
QSlider#thumbSizeSlider::groove:horizontal {{
    height: 4px; background: {BORDER}; border-radius: 2px;
}}
QSlider#thumbSizeSlider::sub-page:horizontal {{ background: #7c5aa8; border-radius: 2px; }}
QSlider#thumbSizeSlider::handle:horizontal {{
    background: {TEXT}; width: 14px; height: 14px; margin: -5px 0; border-radius: 7px;
}}
QListView#galleryView {{ background: {WINDOW}; border: none; }}
QStatusBar {{ background: {SURFACE}; border-top: 1px solid {BORDER}; color: {MUTED}; }}
QStatusBar::item {{ border: none; }}
QStatusBar QLabel {{ color: {MUTED}; padding: 0 6px; }}
QToolButton#problemsButton {{
    color: #fbbf24; border: none; border-radius: 6px; padding: 2px 8px;
}}
QToolButton#problemsButton:hover {{ background: {RAISED}; }}
QProgressBar#scanProgress {{
    background: {BORDER}; border: none; border-radius: 2px; max-height: 4px;
    min-width: 120px; max-width: 120px;
}}
QProgressBar#scanProgress::chunk {{ background: {ACCENT}; border-radius: 2px; }}
QFrame#writeErrorMessage {{
    background: #3b2418; border-bottom: 1px solid #7c3f1d; color: #fde7d4;
}}
QFrame#writeErrorMessage QLabel {{ color: #fde7d4; }}
QFrame#writeErrorMessage QToolButton {{ color: #fde7d4; border: none; padding: 2px 6px; }}
QLabel#emptyStateTitle {{ color: {TEXT}; font-size: 17pt; font-weight: 600; padding-top: 10px; }}
QLabel#emptyStateBody {{ color: {MUTED}; font-size: 10.5pt; }}
QPushButton#emptyStateButton {{
    background: {ACCENT}; color: white; border: none; border-radius: 8px;
    padding: 8px 18px; font-weight: 600;
}}
QPushButton#emptyStateButton:hover {{ background: #b672f8; }}
QWidget#viewerDetails {{ background: {SURFACE}; }}
QScrollArea#viewerSidePanel {{ background: {SURFACE}; border-left: 1px solid {BORDER}; }}
QLabel[role="viewerTitle"] {{ color: {TEXT}; font-size: 13pt; font-weight: 600; }}
QLabel[role="viewerHeading"] {{ color: #7d828c; font-size: 8pt; font-weight: 600;
    letter-spacing: 1px; }}
QLabel[role="viewerBody"] {{ color: #cfd2d8; }}
QLabel[role="viewerKey"] {{ color: #7d828c; }}
QLabel[role="viewerValue"] {{ color: {TEXT}; }}
QLabel#viewerPosition {{ color: {MUTED}; padding: 0 8px; }}
QToolButton {{ color: {TEXT}; }}
QToolButton:checked {{ background: rgba(168, 85, 247, 0.22); border-radius: 6px; }}
QMenu {{ background: {RAISED}; color: {TEXT}; border: 1px solid {BORDER}; padding: 4px; }}
QMenu::item {{ padding: 6px 22px 6px 12px; border-radius: 4px; }}
QMenu::item:selected {{ background: {ACCENT}; color: white; }}
QMenu::separator {{ height: 1px; background: {BORDER}; margin: 4px 8px; }}
QScrollBar:vertical {{ background: transparent; width: 12px; margin: 2px; }}
QScrollBar::handle:vertical {{ background: #3a3d45; border-radius: 4px; min-height: 32px; }}
QScrollBar::handle:vertical:hover {{ background: #4a4e58; }}
QScrollBar::add-line, QScrollBar::sub-line {{ height: 0; width: 0; }}
QScrollBar::add-page, QScrollBar::sub-page {{ background: none; }}
QToolTip {{ background: {RAISED}; color: {TEXT}; border: 1px solid {BORDER}; padding: 6px; }}
"""


def dark_palette() -> QPalette:
    """The Fusion palette in the app's dark neutrals."""
    palette = QPalette()
    roles = {
        QPalette.ColorRole.Window: WINDOW,
        QPalette.ColorRole.WindowText: TEXT,
        QPalette.ColorRole.Base: SURFACE,
        QPalette.ColorRole.AlternateBase: RAISED,
        QPalette.ColorRole.ToolTipBase: RAISED,
        QPalette.ColorRole.ToolTipText: TEXT,
        QPalette.ColorRole.PlaceholderText: "#6b7079",
        QPalette.ColorRole.Text: TEXT,
        QPalette.ColorRole.Button: RAISED,
        QPalette.ColorRole.ButtonText: TEXT,
        QPalette.ColorRole.BrightText: "#ffffff",
        QPalette.ColorRole.Highlight: ACCENT,
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Link: "#c084fc",
        QPalette.ColorRole.Mid: BORDER,
        QPalette.ColorRole.Dark: "#0f1013",
        QPalette.ColorRole.Shadow: "#000000",
    }
    for role, color in roles.items():
        palette.setColor(role, QColor(color))
    disabled = QColor("#5b606b")
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText,
                 QPalette.ColorRole.WindowText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    return palette


class GalleryStyle(QProxyStyle):
    """Fusion, with menu mnemonics underlined only while Alt is held (as most desktops do)."""

    def styleHint(self, hint: QStyle.StyleHint, option: QStyleOption | None = None,
                  widget: QWidget | None = None,
                  return_data: QStyleHintReturn | None = None) -> int:
        """Answer Fusion's hints, except for always-visible shortcut underlines."""
        if hint == QStyle.StyleHint.SH_UnderlineShortcut:
            return 0
        return super().styleHint(hint, option, widget, return_data)


def apply_theme(app: QApplication) -> None:
    """Give ``app`` the Fusion style, the dark palette and the style sheet."""
    app.setStyle(GalleryStyle(QStyleFactory.create("Fusion")))
    app.setPalette(dark_palette())
    app.setStyleSheet(STYLE_SHEET)
