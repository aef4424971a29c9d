"""Source dialogs: open a WFDB record (file, lead, reference annotations) and pick a discovered LSL stream."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6 import QtCore, QtWidgets

log = logging.getLogger(__name__)


def record_leads(path: str) -> list[str]:
    """Lead names in a WFDB record's header; raises a clear error when the header cannot be read."""
    import wfdb

    base = str(path)[:-4] if str(path).endswith(".hea") else str(path)
    if not Path(base + ".hea").is_file():
        raise FileNotFoundError(f"no WFDB header {base + '.hea'!r}: choose a record's .hea file")
    header = wfdb.rdheader(base)
    return [str(n) for n in (header.sig_name or [])]


SIGNAL_SUFFIXES = {".hea", ".dat", ".mat", ".xyz", ".csv", ".txt", ".json", ".png", ".pdf"}


def annotation_extensions(path: str) -> list[str]:
    """Extensions of the files beside a record that may be its annotations ('atr', 'dacl', ...), sorted."""
    base = Path(str(path)[:-4] if str(path).endswith(".hea") else str(path))
    if not base.parent.is_dir():
        return []
    found = {p.suffix[1:] for p in base.parent.glob(f"{base.name}.*")
             if p.suffix.lower() not in SIGNAL_SUFFIXES and p.is_file()}
    return sorted(found, key=lambda e: (e != "atr", e))


class OpenRecordDialog(QtWidgets.QDialog):
    """Choose a record file and one of its leads; `record_path`, `lead` and `add_bed` hold the choice."""

    def __init__(self, parent: QtWidgets.QWidget | None = None, start: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle("Open WFDB record")
        self.record_path = ""
        self.lead: str | None = None
        self.annotation: str | None = "atr"
        self.path_edit = QtWidgets.QLineEdit(start)
        self.path_edit.setPlaceholderText("record path (…/100 or …/100.hea) or physionet:mitdb/100")
        browse = QtWidgets.QPushButton("Browse…")
        browse.clicked.connect(self.browse)
        self.lead_box = QtWidgets.QComboBox()
        self.annotation_box = QtWidgets.QComboBox()
        self.annotation_box.setToolTip("Reference annotations shown beside the model (beats, rhythm strip)")
        self.message = QtWidgets.QLabel("")
        self.message.setWordWrap(True)
        self.add_box = QtWidgets.QCheckBox("Add as another bed (keep the current streams)")
        buttons = QtWidgets.QDialogButtonBox(
            QtWidgets.QDialogButtonBox.StandardButton.Open | QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.path_edit, 1)
        row.addWidget(browse)
        form = QtWidgets.QFormLayout(self)
        form.addRow("Record", row)
        form.addRow("Lead", self.lead_box)
        form.addRow("Reference", self.annotation_box)
        form.addRow(self.add_box)
        form.addRow(self.message)
        form.addRow(buttons)
        self.path_edit.editingFinished.connect(self.refresh_leads)
        self.resize(620, 180)
        if start:
            self.refresh_leads()

    @property
    def add_bed(self) -> bool:
        """Whether the record is added as a further bed instead of replacing the current source."""
        return self.add_box.isChecked()

    def browse(self) -> None:
        """Pick a header file with the file dialog."""
        start = str(Path(self.path_edit.text()).parent) if self.path_edit.text() else ""
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open WFDB record", start,
                                                        "WFDB header (*.hea);;All files (*)")
        if path:
            self.path_edit.setText(path)
            self.refresh_leads()

    def refresh_leads(self) -> None:
        """Fill the lead list from the record's header (the default lead is the record's preferred one)."""
        self.lead_box.clear()
        self.lead_box.addItem("default (II / MLII / ECG, else the first)", None)
        self.annotation_box.clear()
        text = self.path_edit.text().strip()
        if text.startswith("physionet:"):
            self.annotation_box.addItem(".atr (if the database has it)", "atr")
        for ext in annotation_extensions(text) if text and not text.startswith("physionet:") else ():
            self.annotation_box.addItem(f".{ext}", ext)
        self.annotation_box.addItem("none", None)
        if not text or text.startswith("physionet:"):
            self.message.setText("")
            return
        try:
            for name in record_leads(text):
                self.lead_box.addItem(name, name)
            self.message.setText("")
        except Exception as exc:  # noqa: BLE001 - shown in the dialog; the record is checked again on open
            self.message.setText(f"<span style='color:#ff5252'>{exc}</span>")

    def accept(self) -> None:
        """Keep the choice and close."""
        self.record_path = self.path_edit.text().strip()
        self.lead = self.lead_box.currentData()
        self.annotation = self.annotation_box.currentData() if self.annotation_box.count() else "atr"
        super().accept()


class LslDialog(QtWidgets.QDialog):
    """List the LSL streams found on the network; `chosen` is the selected pylsl.StreamInfo."""

    def __init__(self, parent: QtWidgets.QWidget | None = None, wait_s: float = 1.0) -> None:
        super().__init__(parent)
        self.setWindowTitle("Connect to an LSL stream")
        self.wait_s = wait_s
        self.chosen = None
        self.infos: list = []
        self.list = QtWidgets.QListWidget()
        self.list.itemDoubleClicked.connect(lambda _item: self.accept())
        self.message = QtWidgets.QLabel("")
        self.add_box = QtWidgets.QCheckBox("Add as another bed (keep the current streams)")
        refresh = QtWidgets.QPushButton("Refresh")
        refresh.clicked.connect(self.refresh)
        buttons = QtWidgets.QDialogButtonBox(
            QtWidgets.QDialogButtonBox.StandardButton.Ok | QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(QtWidgets.QLabel("Streams on the network:"))
        layout.addWidget(self.list, 1)
        layout.addWidget(self.message)
        layout.addWidget(self.add_box)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(refresh)
        row.addStretch(1)
        row.addWidget(buttons)
        layout.addLayout(row)
        self.resize(560, 320)
        QtCore.QTimer.singleShot(0, self.refresh)

    @property
    def add_bed(self) -> bool:
        """Whether the stream is added as a further bed instead of replacing the current source."""
        return self.add_box.isChecked()

    def refresh(self) -> None:
        """Discover streams with pylsl.resolve_streams (blocks for `wait_s`)."""
        self.list.clear()
        self.infos = []
        try:
            import pylsl
        except ImportError as exc:
            self.message.setText(f"pylsl is not available ({exc}); install the 'lsl' extra")
            return
        QtWidgets.QApplication.setOverrideCursor(QtCore.Qt.CursorShape.WaitCursor)
        try:
            self.infos = list(pylsl.resolve_streams(wait_time=self.wait_s))
        except Exception as exc:  # noqa: BLE001 - shown in the dialog
            self.message.setText(f"LSL discovery failed: {exc}")
            return
        finally:
            QtWidgets.QApplication.restoreOverrideCursor()
        for info in self.infos:
            self.list.addItem(f"{info.name()} · {info.type()} · {info.channel_count()} ch × "
                              f"{info.nominal_srate():g} Hz · {info.hostname()} · {info.source_id()}")
        self.message.setText(f"{len(self.infos)} stream(s) found" if self.infos else
                             "no streams found; start one with `dacl-stream RECORD` and refresh")
        if self.infos:
            self.list.setCurrentRow(0)

    def choose(self, index: int) -> None:
        """Select the stream at `index` in the list."""
        self.list.setCurrentRow(index)

    def accept(self) -> None:
        """Keep the selected stream and close."""
        row = self.list.currentRow()
        self.chosen = self.infos[row] if 0 <= row < len(self.infos) else None
        super().accept()
