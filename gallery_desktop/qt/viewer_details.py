"""The viewer's side panel: slide text, prompt and the run's details, all selectable."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QFormLayout, QLabel, QVBoxLayout, QWidget

from gallery_desktop.core.records import GalleryImage


def format_created(created_at: str, created_ts: float) -> str:
    """A readable local date and time for a record's creation instant."""
    if created_ts > 0:
        return datetime.fromtimestamp(created_ts).strftime("%Y-%m-%d %H:%M")
    return created_at


class ViewerDetails(QWidget):
    """The side panel: slide text, prompt and the run's details, all selectable."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("viewerDetails")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 18, 20, 18)
        layout.setSpacing(6)
        self._title = self._text_label("viewerSlideText", "viewerTitle")
        layout.addWidget(self._title)
        layout.addSpacing(10)
        layout.addWidget(self._heading("Prompt"))
        self._prompt = self._text_label("viewerPrompt", "viewerBody")
        layout.addWidget(self._prompt)
        layout.addSpacing(10)
        layout.addWidget(self._heading("Details"))
        self._form = QFormLayout()
        self._form.setContentsMargins(0, 0, 0, 0)
        self._form.setHorizontalSpacing(14)
        self._form.setVerticalSpacing(5)
        self._form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
        self._form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
        layout.addLayout(self._form)
        layout.addStretch(1)
        self._fields: dict[str, str] = {}

    def _text_label(self, name: str, style: str) -> QLabel:
        label = QLabel(self)
        label.setObjectName(name)
        label.setProperty("role", style)
        label.setWordWrap(True)
        label.setTextFormat(Qt.TextFormat.PlainText)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        return label

    def _heading(self, text: str) -> QLabel:
        label = QLabel(text.upper(), self)
        label.setProperty("role", "viewerHeading")
        return label

    def show_record(self, record: GalleryImage, usage: int, size: QSize | None) -> None:
        """Fill the panel from ``record`` (``size``: decoded pixel size, when known)."""
        self._title.setText(record.slide_text.strip() or record.slide_id)
        self._prompt.setText(record.prompt.strip() or "—")
        fields: list[tuple[str, str | None]] = [
            ("Run", record.run_id),
            ("Slide", record.slide_id),
            ("Created", format_created(record.created_at, record.created_ts)),
            ("Topic", record.topic),
            ("Audience", record.audience),
            ("Model", record.model),
            ("Image model", record.image_model),
            ("Style", record.style_preset),
            ("Aspect", record.aspect_ratio),
            ("Layout", record.composition),
            ("Status", record.status),
            ("Mode", record.mode),
            ("Hook", record.hook),
            ("Overlay", " — ".join(t for t in (record.overlay_title, record.overlay_subtitle)
                                   if t) or None),
            ("Scheduled", record.scheduled_date),
            ("Used", f"{usage} time{'s' if usage != 1 else ''}" if usage else None),
            ("Pixels", f"{size.width()} × {size.height()}" if size else None),  # noqa: RUF001
            ("File", str(record.image_path) if record.image_path else record.image_url),
        ]
        shown = {k: v for k, v in fields if v}
        if shown == self._fields:
            return
        self._fields = shown
        while self._form.rowCount():
            self._form.removeRow(0)
        for key, value in shown.items():
            name = QLabel(key, self)
            name.setProperty("role", "viewerKey")
            value_label = self._text_label(f"viewerField{key.replace(' ', '')}", "viewerValue")
            value_label.setText(value)
            self._form.addRow(name, value_label)

    def fields(self) -> dict[str, str]:
        """The details shown, by label."""
        return dict(self._fields)
