"""Review mode: browse a `dacl-monitor analyze` folder: whole-record overview, episodes, ECG at the cursor.

`dacl-monitor review DIR` (app.review_cli; or `dacl-monitor --review DIR`, or File ▸ Open analysis
folder… in the monitor) opens the window. The overview is drawn from `<record>_windows.csv` (one row per
hop), the ECG is read from the record one slice at a time, so a 24 h record opens without its signal in
memory.

Keys: N / P next / previous model AF episode, Shift+N / Shift+P the reference's, + / - (or the wheel on
the ECG) zoom the ECG, Left / Right move the cursor by half the ECG span, 0 the whole record in the
overview (the wheel on the overview zooms it), Ctrl+O another folder.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from app import theme
from app.analysis_folder import AnalysisFolderError, ReviewRecord, Span, clock, list_analysed, load_record
from app.detail_view import panel
from app.widgets.confidence import ConfidenceBars
from app.widgets.ecg_slice import EcgSlice
from app.widgets.overview import OverviewPlot
from app.widgets.trajectory import ClassLegend, TrajectoryPlot
from core.records import RecordError
from core.reference import BEAT_SYMBOLS
from core.results import CLASS_CODES, CLASS_NAMES

log = logging.getLogger(__name__)

SPANS_S = (2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)  # ECG spans; the longest bounds what is read at once
DEFAULT_SPAN = 2  # 10 s
MAX_CLOUD = 5000  # windows drawn as the trajectory cloud (evenly spaced)
SIZE = (1560, 960)
START_ROLE = QtCore.Qt.ItemDataRole.UserRole
REFERENCE_NAMES = ("sinus", "AF", "other")  # core.reference.rhythm_class order


def swatch(color: str) -> str:
    """A coloured square for rich-text legends."""
    return f"<span style='color:{color}'>■</span>"


def legend(html: str) -> QtWidgets.QLabel:
    """A right-aligned rich-text legend for a panel's title row."""
    label = QtWidgets.QLabel(html)
    label.setStyleSheet(f"color: {theme.TEXT_DIM}; font-size: 11px;")
    label.setAlignment(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
    return label


class ReviewWindow(QtWidgets.QMainWindow):
    """The review window for one analysis folder (one record shown at a time)."""

    def __init__(self, folder: str | Path | None = None, records_dir: str | Path | None = None,
                 annotation: str | None = "atr", model_path: str | Path | None = None) -> None:
        super().__init__()
        self.records_dir, self.annotation = records_dir, annotation
        self.model_path = model_path  # for Analyze record… (None: the shipped model)
        self.analysis_task = None  # app.analyze_task.AnalyzeTask while one runs
        self.folder: Path | None = None
        self.record: ReviewRecord | None = None
        self.cursor = 0.0
        self.span_index = DEFAULT_SPAN
        self.window_index = 0  # the window whose values are shown (nearest centre to the cursor)
        self._codes: dict[str, int] = {}  # beat code -> index in the ECG labels' codes
        self._error_dialog: QtWidgets.QMessageBox | None = None
        self.setWindowTitle("DACL Review")
        self.setStyleSheet(theme.STYLE_SHEET)
        self.resize(*SIZE)
        self._build()
        self._build_actions()
        if folder is not None:
            self.open_folder(folder)

    # ----------------------------------------------------------------- layout
    def _build(self) -> None:
        self.overview = OverviewPlot()
        self.overview.clicked.connect(self.set_cursor)
        self.ecg = EcgSlice()
        self.ecg.zoom.connect(self.zoom)
        self.ecg.clicked.connect(self.set_cursor)
        self.tree = QtWidgets.QTreeWidget()
        self.tree.setHeaderLabels(["episode / event", "at", "lasts"])
        self.tree.setRootIsDecorated(True)
        self.tree.setColumnWidth(0, 200)
        self.tree.setColumnWidth(1, 56)
        self.tree.itemClicked.connect(self._on_item)
        self.tree.itemActivated.connect(self._on_item)
        self.bars = ConfidenceBars()
        self.window_label = QtWidgets.QLabel("")
        self.window_label.setWordWrap(True)
        self.window_label.setStyleSheet(f"color: {theme.TEXT}; font-size: 12px;")
        self.trajectory = TrajectoryPlot(trail=1)
        self.record_box = QtWidgets.QComboBox()
        self.record_box.currentTextChanged.connect(lambda name: name and self.show_record(name))
        self.summary_label = QtWidgets.QLabel("")
        self.summary_label.setStyleSheet(f"color: {theme.TEXT_DIM}; font-size: 12px;")

        details = QtWidgets.QWidget()
        column = QtWidgets.QVBoxLayout(details)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.window_label)
        column.addWidget(self.bars, 2)
        column.addWidget(self.trajectory, 3)
        self.ecg_panel = panel("ECG", self.ecg, legend(
            f"{swatch(theme.CLASS_COLORS[1])} model AF · {swatch(theme.TEXT_DIM)} reference AF (top) · "
            "beat labels: reference"))
        bottom = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        bottom.addWidget(panel("EPISODES AND EVENTS", self.tree))
        bottom.addWidget(self.ecg_panel)
        bottom.addWidget(panel("WINDOW AT THE CURSOR", details, ClassLegend()))
        bottom.setSizes([340, 850, 370])
        top = QtWidgets.QWidget()
        head = QtWidgets.QHBoxLayout()
        head.addWidget(self.record_box)
        head.addWidget(self.summary_label, 1)
        top_layout = QtWidgets.QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addLayout(head)
        title = "WHOLE RECORD · p(AF), MODEL AF EPISODES SHADED, REFERENCE RHYTHM ABOVE · HEART RATE"
        names = " ".join(f"{swatch(theme.CLASS_COLORS[i])} {n}" for i, n in enumerate(REFERENCE_NAMES))
        top_layout.addWidget(panel(title, self.overview, legend(f"reference strip: {names}")), 1)
        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(bottom)
        split.setSizes([380, 560])
        self.setCentralWidget(split)
        self.error_label = QtWidgets.QLabel("")
        self.error_label.setStyleSheet(f"color: {theme.ALARM_RED}; font-weight: bold;")
        self.statusBar().addWidget(self.error_label, 1)

    def _build_actions(self) -> None:
        def action(text: str, slot, *keys: str) -> QtGui.QAction:
            act = QtGui.QAction(text, self)
            act.setShortcuts([QtGui.QKeySequence(k) for k in keys])
            if keys:
                act.setToolTip(f"{text} ({', '.join(keys)})")
            act.triggered.connect(slot)
            self.addAction(act)
            return act

        self.open_action = action("Open analysis folder…", self.open_folder_dialog, "Ctrl+O")
        self.analyze_action = action("Analyze record…", self.analyze_record_dialog, "Ctrl+Shift+A")
        self.next_action = action("Next AF episode", lambda: self.step_episode(1), "N")
        self.prev_action = action("Previous AF episode", lambda: self.step_episode(-1), "P")
        self.next_ref_action = action("Next reference AF episode", lambda: self.step_episode(1, "reference"),
                                      "Shift+N")
        self.prev_ref_action = action("Previous reference AF episode",
                                      lambda: self.step_episode(-1, "reference"), "Shift+P")
        self.zoom_in_action = action("Zoom in (ECG)", lambda: self.zoom(1), "+", "=", "Shift+=")
        self.zoom_out_action = action("Zoom out (ECG)", lambda: self.zoom(-1), "-")
        self.left_action = action("Back", lambda: self.set_cursor(self.cursor - self.span_s / 2), "Left")
        self.right_action = action("Forward", lambda: self.set_cursor(self.cursor + self.span_s / 2), "Right")
        self.all_action = action("Whole record", self.overview.show_all, "0")
        self.close_action = action("Close", self.close, "Ctrl+W")
        files = self.menuBar().addMenu("&File")
        files.addAction(self.open_action)
        files.addAction(self.analyze_action)
        files.addAction(self.close_action)
        go = self.menuBar().addMenu("&Go")
        for act in (self.next_action, self.prev_action, self.next_ref_action, self.prev_ref_action,
                    self.left_action, self.right_action):
            go.addAction(act)
        view = self.menuBar().addMenu("&View")
        for act in (self.zoom_in_action, self.zoom_out_action, self.all_action):
            view.addAction(act)
        bar = self.addToolBar("Review")
        bar.setMovable(False)
        for act in (self.open_action, self.analyze_action, None, self.prev_action, self.next_action, None,
                    self.zoom_out_action, self.zoom_in_action, self.all_action):
            bar.addSeparator() if act is None else bar.addAction(act)

    # ----------------------------------------------------------------- opening
    def open_folder_dialog(self) -> None:
        """Choose an analysis folder."""
        folder = QtWidgets.QFileDialog.getExistingDirectory(
            self, "Analysis folder (dacl-monitor analyze --out)", str(self.folder or Path.cwd()))
        if folder:
            self.open_folder(folder)

    def analyze_record_dialog(self) -> None:
        """Choose a WFDB record, analyse it with a progress bar, then review it."""
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Record to analyse", str(Path.cwd()),
                                                        "WFDB header (*.hea)")
        if path:
            self.analyze_record(path)

    def analyze_record(self, record: str | Path, out: str | Path | None = None):
        """Analyse `record` into `out` in a thread with a progress dialog, then open the result here.

        `out` defaults to ~/dacl-monitor/analysis/<record>. Returns the task (None while one runs).
        """
        from app.analyze_task import start_analysis
        from app.controller import DEFAULT_MODEL
        from app.settings import DEFAULT_SAVE_DIR

        if self.analysis_task is not None and self.analysis_task.isRunning():
            self.show_error("an analysis is already running", dialog=False)
            return None
        name = Path(record).name.removesuffix(".hea")
        out = Path(out) if out else DEFAULT_SAVE_DIR / "analysis" / name
        self.statusBar().showMessage(f"analysing {record} into {out}…")
        self.analysis_task = start_analysis(self, record, out, self.model_path or DEFAULT_MODEL,
                                            self.open_folder, self.show_error)
        return self.analysis_task

    def open_folder(self, folder: str | Path) -> bool:
        """Open an `analyze` output folder at its first record; False (with a message) when it holds none."""
        try:
            names = list_analysed(folder)
        except AnalysisFolderError as exc:
            self.show_error(f"Cannot open the analysis: {exc}")
            return False
        self.folder = Path(folder)
        self.record_box.blockSignals(True)
        self.record_box.clear()
        self.record_box.addItems(names)
        self.record_box.setVisible(len(names) > 1)
        self.record_box.blockSignals(False)
        return self.show_record(names[0])

    def show_record(self, name: str) -> bool:
        """Show one record of the folder; False (with a message) when its files are unusable."""
        try:
            record = load_record(self.folder, name, self.records_dir, self.annotation)
        except (AnalysisFolderError, OSError) as exc:
            self.show_error(f"Cannot open {name}: {exc}")
            return False
        if not len(record.windows):
            self.show_error(f"{name}: the analysis holds no windows (record shorter than one window)")
            return False
        self.record = record
        self.clear_error()
        if record.problem:
            self.show_error(record.problem, dialog=False)
        self.setWindowTitle(f"DACL Review · {name} · {self.folder}")
        s, w = record.summary, record.windows
        self.summary_label.setText(
            f"{name} · lead {s.get('lead', '?')} · {clock(record.duration_s)} at {record.fs:g} Hz · "
            f"{len(record.windows)} windows · AF burden {100 * float(s.get('af_burden', 0)):.1f} % · "
            f"{len(record.episodes)} model AF episode(s)"
            + (f" · {len(record.reference)} reference" if record.reference is not None else
               " · no reference rhythm annotations")
            + (f" · p(AF) of {w.alarm_source}" if w.alarm_source else ""))
        self.overview.set_record(record.centre_s, w.alarm_probs[:, CLASS_CODES.index("A")], w.heart_rate,
                                 record.duration_s, [(e.start_s, e.end_s) for e in record.episodes],
                                 record.rhythm)
        pick = np.unique(np.linspace(0, len(w) - 1, min(len(w), MAX_CLOUD)).astype(int))
        self.trajectory.set_reference(w.trajectory[pick], np.argmax(w.probs[pick], axis=1))
        codes = () if record.annotations is None else tuple(sorted(set(record.annotations.symbol) &
                                                                   set(BEAT_SYMBOLS)))
        self.ecg.set_codes(codes)
        self._codes = {c: i for i, c in enumerate(codes)}
        self._fill_tree(record)
        self.set_cursor(0.0)
        return True

    def _fill_tree(self, record: ReviewRecord) -> None:
        self.tree.clear()

        def group(title: str, spans: list[Span] | None, empty: str) -> None:
            top = QtWidgets.QTreeWidgetItem([f"{title} ({len(spans)})" if spans is not None else empty])
            self.tree.addTopLevelItem(top)
            for s in spans or []:
                item = QtWidgets.QTreeWidgetItem([s.text, clock(s.start_s),
                                                  f"{s.duration_s:.0f} s" if s.duration_s else ""])
                item.setData(0, START_ROLE, float(s.start_s))
                color = theme.CLASS_COLORS[1] if s.kind == "AF episode" else theme.TEXT
                item.setForeground(0, QtGui.QBrush(QtGui.QColor(color)))
                top.addChild(item)
            top.setExpanded(True)

        group("Model AF episodes", record.episodes, "")
        group("Reference AF episodes", record.reference, "Reference: no rhythm annotations")
        group("Events", record.events, "")

    def episode_rows(self, group: int = 0) -> list[tuple[str, float]]:
        """(text, start s) of the list's rows in group 0 model, 1 reference, 2 events (for checks)."""
        top = self.tree.topLevelItem(group)
        return [(top.child(i).text(0), top.child(i).data(0, START_ROLE)) for i in range(top.childCount())]

    # ----------------------------------------------------------------- navigation
    @property
    def span_s(self) -> float:
        """Seconds of ECG shown."""
        return SPANS_S[self.span_index]

    def _on_item(self, item: QtWidgets.QTreeWidgetItem, _column: int = 0) -> None:
        start = item.data(0, START_ROLE)
        if start is not None:
            self.set_cursor(float(start))

    def step_episode(self, step: int, source: str = "model") -> None:
        """Move the cursor to the onset of the next (step 1) or previous (-1) AF episode of `source`."""
        if self.record is None:
            return
        spans = self.record.episodes if source == "model" else (self.record.reference or [])
        eps = 0.5 / self.record.fs  # the cursor at an onset counts as that episode
        onsets = [s.start_s for s in spans if step * (s.start_s - self.cursor) > eps]
        if not onsets:
            self.statusBar().showMessage(f"no {'later' if step > 0 else 'earlier'} {source} AF episode", 4000)
            return
        self.set_cursor(min(onsets) if step > 0 else max(onsets))

    def zoom(self, step: int) -> None:
        """A shorter (step 1) or longer (-1) ECG span around the cursor."""
        self.span_index = int(np.clip(self.span_index - step, 0, len(SPANS_S) - 1))
        self.set_cursor(self.cursor)

    def shown_span(self) -> tuple[float, float]:
        """The stretch of record (s) the ECG shows around the cursor, kept inside the record."""
        duration = self.record.duration_s if self.record else self.span_s
        width = min(self.span_s, duration)
        a = min(max(0.0, self.cursor - width / 2), duration - width)
        return a, a + width

    def set_cursor(self, t: float) -> None:
        """Move the cursor to `t` s: overview marks, the ECG slice around it, the window's values."""
        rec = self.record
        if rec is None:
            return
        self.cursor = float(np.clip(t, 0.0, rec.duration_s))
        span = self.shown_span()
        self.overview.set_cursor(self.cursor, span)
        self._show_ecg(rec, span)
        self._show_window(rec, rec.window_at(self.cursor))

    def _show_ecg(self, rec: ReviewRecord, span: tuple[float, float]) -> None:
        start, stop = int(np.floor(span[0] * rec.fs)), int(np.ceil(span[1] * rec.fs))
        self.ecg_panel.title_label.setText(f"ECG · {rec.name} · {rec.summary.get('lead', '')} · mV · "
                                           f"{self.span_s:g} s · cursor {clock(self.cursor)}")
        try:
            samples = rec.samples(start, stop)
        except RecordError as exc:
            self.ecg.show_message(str(exc), span, self.cursor)
            return

        def overlapping(spans: list[Span] | None) -> list[tuple[float, float]]:
            return [(s.start_s, s.end_s) for s in spans or [] if s.end_s > span[0] and s.start_s < span[1]]

        beat_at, beat_codes = rec.beats(start, stop)
        code = np.array([self._codes.get(c, 0) for c in beat_codes], dtype=np.int64)
        self.ecg.show_slice(start, samples, rec.fs, span, self.cursor, overlapping(rec.episodes),
                            overlapping(rec.reference), (beat_at, code))

    def _show_window(self, rec: ReviewRecord, i: int) -> None:
        w = rec.windows
        probs = w.probs[i]
        self.bars.set_probs(probs)
        self.trajectory.clear_trail()
        self.trajectory.add_point(w.trajectory[i], int(np.argmax(probs)))
        hr = w.heart_rate[i]
        lines = [f"window {clock(w.end_s[i] - rec.window_s)} – {clock(w.end_s[i])} (centre at "
                 f"{clock(rec.centre_s[i])}): {CLASS_NAMES[int(np.argmax(probs))]}",
                 f"heart rate {hr:.0f} bpm" if np.isfinite(hr) else "heart rate – (no beats found)"]
        if w.alarm_source:
            lines.append(f"AF by {w.alarm_source} {100 * w.alarm_probs[i, CLASS_CODES.index('A')]:.0f} %")
        if w.flags[i]:
            lines.append(f"input flags: {w.flags[i].replace('|', ', ')}")
        self.window_index = i
        self.window_label.setText("\n".join(lines))

    # ----------------------------------------------------------------- errors
    def show_error(self, text: str, dialog: bool = True) -> None:
        """An error in the status line and, non-modally, in a dialog; never raises."""
        log.error("%s", text)
        self.error_label.setText(text.splitlines()[0] if text else "")
        self.error_label.setToolTip(text)
        if not dialog:
            return
        if self._error_dialog is None:
            self._error_dialog = QtWidgets.QMessageBox(self)
            self._error_dialog.setIcon(QtWidgets.QMessageBox.Icon.Warning)
            self._error_dialog.setWindowTitle("DACL Review")
            self._error_dialog.setModal(False)
        self._error_dialog.setText(text)
        self._error_dialog.show()

    def clear_error(self) -> None:
        """Remove the error line."""
        self.error_label.setText("")
        self.error_label.setToolTip("")

    @property
    def error_text(self) -> str:
        """The error on the status line ('' when none)."""
        return self.error_label.toolTip()

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:  # noqa: N802 - Qt override
        """Stop a running analysis before the window goes."""
        if self.analysis_task is not None:
            self.analysis_task.stop()
        super().closeEvent(event)
