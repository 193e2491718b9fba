"""The app's actions (stable ids that double as objectName) and what "using" an image does."""

from __future__ import annotations

import atexit
import logging
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from PySide6.QtCore import QMimeData, QObject, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QGuiApplication, QImage, QKeySequence
from PySide6.QtWidgets import QApplication, QLabel, QMenuBar

from gallery_desktop.qt import icons
from gallery_desktop.qt.icons import IconName
from gallery_desktop.qt.image_loader import ImageLoader

log = logging.getLogger(__name__)

_Key = QKeySequence.StandardKey


class ActionId(StrEnum):
    """Stable action ids; each is also the QAction's objectName."""

    OPEN_DATA_DIR = "openDataDirAction"
    REFRESH = "refreshAction"
    QUIT = "quitAction"
    FAVORITES_ONLY = "favoritesOnlyAction"
    FOCUS_SEARCH = "focusSearchAction"
    UNDO = "undoAction"
    BIGGER = "biggerThumbnailsAction"
    SMALLER = "smallerThumbnailsAction"
    TOGGLE_FAVORITE = "toggleFavoriteAction"
    OPEN_IMAGE = "openImageAction"
    COPY_IMAGE = "copyImageAction"
    COPY_PROMPT = "copyPromptAction"
    COPY_PATH = "copyPathAction"
    SHOW_IN_FOLDER = "showInFileManagerAction"
    SHOW_PROBLEMS = "showProblemsAction"
    ABOUT = "aboutAction"


# Actions that act on the current image: enabled only while there is one, and shown in
# the grid's context menu.
ITEM_ACTIONS = (ActionId.TOGGLE_FAVORITE, ActionId.OPEN_IMAGE, ActionId.COPY_IMAGE,
                ActionId.COPY_PROMPT, ActionId.COPY_PATH, ActionId.SHOW_IN_FOLDER)

# Single-key shortcuts that must only fire while the grid has focus (not while typing).
VIEW_ACTIONS = (ActionId.TOGGLE_FAVORITE, ActionId.OPEN_IMAGE)


MENUS: tuple[tuple[str, tuple[ActionId | None, ...]], ...] = (
    ("&File", (ActionId.OPEN_DATA_DIR, ActionId.REFRESH, None, ActionId.QUIT)),
    ("&Edit", (ActionId.UNDO, None, ActionId.COPY_IMAGE, ActionId.COPY_PROMPT,
               ActionId.COPY_PATH)),
    ("&View", (ActionId.FAVORITES_ONLY, ActionId.FOCUS_SEARCH, None, ActionId.BIGGER,
               ActionId.SMALLER)),
    ("&Image", (ActionId.TOGGLE_FAVORITE, ActionId.OPEN_IMAGE, None, ActionId.SHOW_IN_FOLDER)),
    ("&Help", (ActionId.SHOW_PROBLEMS, None, ActionId.ABOUT)),
)

# The grid's context menu (None: separator).
CONTEXT_MENU: tuple[ActionId | None, ...] = (
    ActionId.TOGGLE_FAVORITE, ActionId.OPEN_IMAGE, None, ActionId.COPY_IMAGE,
    ActionId.COPY_PROMPT, ActionId.COPY_PATH, None, ActionId.SHOW_IN_FOLDER)


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """How an action looks: text, shortcuts, icon, whether it is a toggle."""

    text: str
    shortcuts: tuple[QKeySequence | _Key | str, ...] = ()
    icon: IconName | None = None
    checkable: bool = False
    tip: str = ""


SPECS: dict[ActionId, ActionSpec] = {
    ActionId.OPEN_DATA_DIR: ActionSpec("&Open Data Folder…", (_Key.Open,), IconName.FOLDER_OPEN,
                                       tip="Choose the studio's data folder"),
    ActionId.REFRESH: ActionSpec("&Refresh", ("F5", "Ctrl+R"), IconName.REFRESH,
                                 tip="Scan the data folder again"),
    ActionId.QUIT: ActionSpec("&Quit", ("Ctrl+Q",)),
    ActionId.FAVORITES_ONLY: ActionSpec("&Favorites Only", ("Ctrl+Shift+F",), checkable=True,
                                        tip="Show only the images you hearted"),
    ActionId.FOCUS_SEARCH: ActionSpec("&Search…", (_Key.Find,), IconName.SEARCH),
    ActionId.UNDO: ActionSpec("&Undo Heart", (_Key.Undo,), tip="Undo the last heart change"),
    ActionId.BIGGER: ActionSpec("&Bigger Thumbnails", (_Key.ZoomIn, "Ctrl+=")),
    ActionId.SMALLER: ActionSpec("S&maller Thumbnails", (_Key.ZoomOut,)),
    # Space, not a letter: letters typed in the grid start a search.
    ActionId.TOGGLE_FAVORITE: ActionSpec("&Favorite", ("Space",), checkable=True,
                                         tip="Heart or un-heart this image"),
    ActionId.OPEN_IMAGE: ActionSpec("&Open", ("Return",), tip="Open in the viewer"),
    ActionId.COPY_IMAGE: ActionSpec("&Copy Image", (_Key.Copy,), IconName.COPY),
    ActionId.COPY_PROMPT: ActionSpec("Copy &Prompt", ("Ctrl+Shift+C",)),
    ActionId.COPY_PATH: ActionSpec("Copy File Pa&th", ("Ctrl+Alt+C",)),
    ActionId.SHOW_IN_FOLDER: ActionSpec("Show in File &Manager", (), IconName.FOLDER_OPEN),
    ActionId.SHOW_PROBLEMS: ActionSpec("Data &Problems…", (), IconName.WARNING),
    ActionId.ABOUT: ActionSpec("&About Gallery", ()),
}


def create_actions(parent: QObject) -> dict[ActionId, QAction]:
    """Build one QAction per ``ActionId`` from ``SPECS`` (nothing connected yet).

    Args:
        parent: owner of the actions, normally the main window.

    Returns:
        The actions by id; each has its id as objectName.
    """
    actions: dict[ActionId, QAction] = {}
    for action_id, spec in SPECS.items():
        action = QAction(spec.text, parent)
        action.setObjectName(action_id.value)
        action.setShortcuts([QKeySequence(s) for s in spec.shortcuts])
        action.setCheckable(spec.checkable)
        if action_id is ActionId.FAVORITES_ONLY or action_id is ActionId.TOGGLE_FAVORITE:
            action.setIcon(icons.heart_icon())
        elif spec.icon is not None:
            action.setIcon(icons.icon(spec.icon))
        tip = spec.tip or spec.text.replace("&", "").rstrip("…")
        shortcut = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        action.setToolTip(f"{tip} ({shortcut})" if shortcut else tip)
        action.setStatusTip(tip)
        actions[action_id] = action
    return actions


def fill_menu_bar(menu_bar: QMenuBar, actions: dict[ActionId, QAction]) -> None:
    """Add the ``MENUS`` to ``menu_bar``."""
    for title, ids in MENUS:
        menu = menu_bar.addMenu(title)
        for action_id in ids:
            if action_id is None:
                menu.addSeparator()
            else:
                menu.addAction(actions[action_id])


def copy_text(text: str) -> None:
    """Put plain text on the clipboard."""
    QGuiApplication.clipboard().setText(text)


def image_mime_data(path: Path, image: QImage | None = None) -> QMimeData:
    """Clipboard/drag payload for an image file: its URL, its path as text, the pixels if known.

    Args:
        path: the image file.
        image: the decoded image, for targets that paste pixels (editors, chat apps).

    Returns:
        The mime data.
    """
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    mime.setText(str(path))
    if image is not None and not image.isNull():
        mime.setImageData(image)
    return mime


def copy_selected_label_text() -> bool:
    """Copy the text selected in the focused label, if any (its own Ctrl+C is shadowed by
    window-wide Copy shortcuts); returns whether it did."""
    widget = QApplication.focusWidget()
    if isinstance(widget, QLabel) and widget.hasSelectedText():
        copy_text(widget.selectedText())
        return True
    return False


def reveal_in_file_manager(path: Path) -> bool:
    """Open the folder holding ``path`` in the desktop's file manager.

    Returns:
        Whether the desktop accepted the request.
    """
    folder = path if path.is_dir() else path.parent
    ok = QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))
    if not ok:
        log.warning("the desktop could not open %s", folder)
    return ok


_clipboard_guard_installed = False


def set_clipboard_mime_data(mime: QMimeData) -> None:
    """Put ``mime`` on the clipboard, and make sure it is handed back to Qt before Python exits.

    QClipboard deletes the data it holds when Qt's platform integration is torn down, which
    can happen after the interpreter has finalized; a QMimeData made in Python then calls back
    into the dead interpreter and the process dies with a segfault on its way out.
    """
    global _clipboard_guard_installed
    QGuiApplication.clipboard().setMimeData(mime)
    if not _clipboard_guard_installed:
        atexit.register(_hand_clipboard_to_qt)
        _clipboard_guard_installed = True


def _hand_clipboard_to_qt() -> None:
    """Replace Python-made clipboard data with the same content set through Qt's own setters."""
    if QGuiApplication.instance() is None:
        return
    clipboard = QGuiApplication.clipboard()
    mime = clipboard.mimeData()
    if mime is None or mime.formats() == []:
        return
    image = mime.imageData() if mime.hasImage() else None
    text = mime.text()
    if isinstance(image, QImage) and not image.isNull():
        clipboard.setImage(image)  # Qt makes (and owns) the new QMimeData
    elif text:
        clipboard.setText(text)
    else:
        clipboard.clear()


class ImageCopier(QObject):
    """Copies an image's pixels (and file URL) to the clipboard, decoding it off the GUI thread.

    Signals:
        copied(str image_id)       # on the clipboard now: the caller counts a use
        copy_failed(str message)   # the file could not be decoded
    """

    copied = Signal(str)
    copy_failed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._loader = ImageLoader(self)
        self._loader.image_loaded.connect(self._on_image_loaded)
        self._loader.image_failed.connect(self._on_image_failed)
        self._pending: tuple[str, Path] | None = None

    def set_root(self, root: Path | None) -> None:
        """Copy only files that lie inside ``root`` once symlinks are followed (None: any)."""
        self._loader.set_root(root)

    def copy_image(self, image_id: str, path: Path, image: QImage | None = None) -> None:
        """Copy the image: at once when ``image`` is given, else after loading ``path``.

        A later request replaces an earlier one that is still loading.
        """
        if image is not None and not image.isNull():
            self._loader.cancel()
            self._pending = None
            self._finish(image_id, path, image)
            return
        self._pending = (image_id, path)
        self._loader.load(path)

    def _on_image_loaded(self, path: Path, image: QImage) -> None:
        if self._pending is None or self._pending[1] != path:
            return
        image_id, _ = self._pending
        self._pending = None
        self._finish(image_id, path, image)

    def _on_image_failed(self, path: Path, reason: str) -> None:
        if self._pending is None or self._pending[1] != path:
            return
        self._pending = None
        self.copy_failed.emit(f"Could not copy {path.name}: {reason}")

    def _finish(self, image_id: str, path: Path, image: QImage) -> None:
        set_clipboard_mime_data(image_mime_data(path, image))
        log.debug("copied %s to the clipboard", path)
        self.copied.emit(image_id)
