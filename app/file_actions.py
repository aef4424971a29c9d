"""The monitor window's File menu: open a record or LSL stream, review and analyse, save a bed's session.

`FileActions` is a mixin of app.main_window.MainWindow: it uses the window's session, settings, beds,
selection, status bar and `show_error`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6 import QtCore, QtWidgets

from app import save
from core.reference import StreamMap

if TYPE_CHECKING:
    from app.beds import BedState

log = logging.getLogger(__name__)


class FileActions:
    """Open, review, analyse and save (the File menu's slots)."""

    def open_record_dialog(self) -> None:
        """File dialog, then lead choice; replaces the current source (Shift adds a bed instead)."""
        from app.dialogs import OpenRecordDialog

        dialog = OpenRecordDialog(self, start=self.settings.last_record)
        if dialog.exec() == QtWidgets.QDialog.DialogCode.Accepted and dialog.record_path:
            add = bool(QtWidgets.QApplication.keyboardModifiers() & QtCore.Qt.KeyboardModifier.ShiftModifier)
            self.open_record(dialog.record_path, dialog.lead, replace=not (add or dialog.add_bed),
                             annotation=dialog.annotation)

    def open_lsl_dialog(self) -> None:
        """List discovered LSL streams; connect to the chosen one."""
        from app.dialogs import LslDialog

        dialog = LslDialog(self)
        if dialog.exec() == QtWidgets.QDialog.DialogCode.Accepted and dialog.chosen is not None:
            self.connect_lsl(dialog.chosen, replace=not dialog.add_bed)

    def open_review_dialog(self) -> None:
        """Choose a `dacl-monitor analyze` output folder and review it in its own window."""
        folder = QtWidgets.QFileDialog.getExistingDirectory(
            self, "Analysis folder (dacl-monitor analyze --out)", self.settings.save_dir)
        if folder:
            self.open_review(folder)

    def open_review(self, folder: str | Path):
        """Open review mode on `folder` (app.review); a folder with no analysis is an error, not a window."""
        from app.analysis_folder import AnalysisFolderError, list_analysed
        from app.review import ReviewWindow

        try:
            list_analysed(folder)
        except AnalysisFolderError as exc:
            self.show_error(f"Cannot open the analysis: {exc}")
            return None
        self.review_windows = [w for w in self.review_windows if w.isVisible()]  # let closed ones go
        window = ReviewWindow(folder, model_path=self.session.model_path)  # re-analyses use the same model
        self.review_windows.append(window)
        window.show()
        return window

    def analyze_record_dialog(self) -> None:
        """Choose a record, analyse it with a progress bar (own model: the beds keep running), review it."""
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Record to analyse", self.settings.last_record,
                                                        "WFDB header (*.hea)")
        if path:
            self.analyze_record(path)

    def analyze_record(self, record: str | Path, out: str | Path | None = None):
        """`dacl-monitor analyze` of `record` into `out`, then review mode on it; None while another runs.

        `out` defaults to <save folder>/analysis/<record>.
        """
        from app.analyze_task import start_analysis

        if self.analysis_task is not None and self.analysis_task.isRunning():
            self.show_error("an analysis is already running", dialog=False)
            return None
        name = Path(record).name.removesuffix(".hea")
        out = Path(out) if out else Path(self.settings.save_dir) / "analysis" / name
        self.analysis_task = start_analysis(self, record, out, self.session.model_path, self.open_review,
                                            self.show_error)
        return self.analysis_task


    # ----------------------------------------------------------------- saving
    def _save_target(self) -> BedState | None:
        bed = self.beds.get(self.selected) if self.selected is not None else None
        if bed is None:
            self.show_error("Nothing to save: no bed is selected (open a record first)", dialog=False)
        return bed

    def _saved(self, what: str, path: Path, note: str = "") -> Path:
        log.info("saved %s: %s", what, path)
        self.status.clear_error()
        self.status.showMessage(f"saved {what}: {path}{note}", 10000)
        return path

    def save_events(self) -> Path | None:
        """Write the selected bed's episode events as CSV (Ctrl+E)."""
        bed = self._save_target()
        if bed is None:
            return None
        try:
            name = self._record_name(bed.stream_id)
            path = save.save_events_csv(self.session.events, bed.stream_id, name, self.settings.save_dir)
        except save.SaveError as exc:
            self.show_error(f"Events not saved: {exc}", dialog=False)
            return None
        return self._saved(f"{len(self.session.events.stream_events(bed.stream_id))} events", path)

    def save_annotations(self) -> Path | None:
        """Write the selected bed's AF episodes as WFDB rhythm annotations (Ctrl+Shift+A)."""
        bed = self._save_target()
        if bed is None:
            return None
        if bed.first_end is None:
            self.show_error(f"Annotations not saved: {bed.title} has no results yet", dialog=False)
            return None
        record = getattr(self.session.sources.get(bed.stream_id), "record", None)
        if record is not None:  # a replay: the record's own sample numbers
            smap = StreamMap(float(record.fs), self.session.fs, record.n_samples)
        else:  # a live stream: its own samples at the model rate
            smap = StreamMap(self.session.fs, self.session.fs, 2**62)
        events = self.session.events
        lag = events.settings.onset_lag(self.session.config.window, self.session.config.hop)
        try:
            path, later = save.save_annotations(events, bed.stream_id, self._record_name(bed.stream_id),
                                                self.settings.save_dir, smap, lag, bed.first_end)
        except save.SaveError as exc:
            self.show_error(f"Annotations not saved: {exc}", dialog=False)
            return None
        note = f" ({later} events after the record's first pass left out)" if later else ""
        return self._saved("rhythm annotations", path, note)

    def save_view(self) -> Path | None:
        """Write a PNG of the window as it is now (Ctrl+P, Ctrl+Shift+S)."""
        name = self._record_name(self.selected) if self.selected is not None else "monitor"
        try:
            path = save.save_png(self, name, self.settings.save_dir)
        except save.SaveError as exc:
            self.show_error(f"Picture not saved: {exc}", dialog=False)
            return None
        return self._saved("view", path)

    def save_all(self) -> list[Path]:
        """Events, annotations and the picture at once (Ctrl+S)."""
        return [p for p in (self.save_events(), self.save_annotations(), self.save_view()) if p is not None]

    def choose_save_folder(self) -> None:
        """Pick the folder File ▸ Save writes to."""
        folder = QtWidgets.QFileDialog.getExistingDirectory(self, "Save folder", self.settings.save_dir)
        if folder:
            self.settings.save_dir = folder
            self.status.showMessage(f"saving to {folder}", 8000)

