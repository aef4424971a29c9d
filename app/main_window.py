"""The monitor window: detail view of one bed, a multi-bed grid, toolbar, shortcuts and status bar.

One QTimer (`frame_timer`) drives every plot: each tick drains the session's published results and
statuses, then redraws the waveform(s) from ring-buffer snapshots. Qt is touched only here, on the GUI
thread; the session's worker threads never call into Qt.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from app import save, theme
from app.settings import MonitorSettings
from app.widgets.alarm import SILENCE_CHOICES_S, AlarmBanner, silence_label
from app.widgets.bed_grid import BedGrid
from app.widgets.confidence import ConfidenceBars, ConfidenceHistory
from app.widgets.reference import ReferenceLine
from app.widgets.status import MonitorStatusBar
from app.widgets.trajectory import ClassLegend, TrajectoryPlot
from app.widgets.vitals import RHYTHM_TEXT, EventList, VitalsPanel
from app.widgets.waveform import WaveformPlot
from core.events import RhythmEvent
from core.reference import ReferenceTrack, StreamMap
from core.results import CLASS_CODES, StreamStatus, WindowResult

log = logging.getLogger(__name__)

FRAME_MS = 25  # 40 frames/s requested; the benchmark checks that at least 30 are delivered
STATUS_EVERY_S = 0.5
SPEEDS = (1.0, 2.0, 5.0, 10.0)
DEFAULT_SIZE = (1480, 920)
HISTORY = 90  # results kept per bed to rebuild the detail view on selection


@dataclass
class BedState:
    """What the window remembers of one stream: recent results, its episode log and its event lines."""

    stream_id: int
    title: str
    results: deque = field(default_factory=lambda: deque(maxlen=HISTORY))
    events: list[str] = field(default_factory=list)
    in_af: bool = False
    first_end: int | None = None  # end index of the stream's first window (where saved annotations start)
    reference: ReferenceTrack | None = None  # the replayed record's reference annotations, when it has them


def _panel(title: str, body: QtWidgets.QWidget, header: QtWidgets.QWidget | None = None) -> QtWidgets.QFrame:
    """A titled panel; `header` (a legend, a figure) sits on the title's row, outside the body."""
    frame = QtWidgets.QFrame()
    frame.setObjectName("panel")
    layout = QtWidgets.QVBoxLayout(frame)
    layout.setContentsMargins(6, 4, 6, 6)
    layout.setSpacing(2)
    label = QtWidgets.QLabel(title)
    label.setObjectName("title")
    top = QtWidgets.QHBoxLayout()
    top.addWidget(label)
    if header is not None:
        top.addWidget(header, 1)
    layout.addLayout(top)
    layout.addWidget(body, 1)
    frame.title_label = label
    return frame


class MainWindow(QtWidgets.QMainWindow):
    """The DACL monitor window around a `MonitorSession` (app.controller)."""

    def __init__(self, session, settings: MonitorSettings | None = None) -> None:
        super().__init__()
        self.session = session
        self.settings = settings or MonitorSettings()
        self.beds: dict[int, BedState] = {}
        self.selected: int | None = None
        self.frames = 0
        self.results_seen = 0
        self._last_status = 0.0
        self._error_dialog: QtWidgets.QMessageBox | None = None
        self._alarm_bed: int | None = None  # the bed whose episode raised the alarm banner last
        self.review_windows: list[QtWidgets.QMainWindow] = []  # review windows opened from File
        self.analysis_task = None  # app.analyze_task.AnalyzeTask while File ▸ Analyze record… runs
        self.setWindowTitle("DACL Monitor")
        self.setStyleSheet(theme.STYLE_SHEET)
        self.resize(*DEFAULT_SIZE)
        self._build_detail()
        self.grid = BedGrid()
        self.grid.selected.connect(self.select_bed)
        self.pages = QtWidgets.QStackedWidget()
        self.pages.addWidget(self.detail)
        self.pages.addWidget(self.grid)
        self.setCentralWidget(self.pages)
        self.status = MonitorStatusBar()
        self.setStatusBar(self.status)
        self._build_actions()
        self.waveform.set_grid(self.settings.grid)
        self._show_model()
        self.frame_timer = QtCore.QTimer(self)
        self.frame_timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        self.frame_timer.timeout.connect(self.on_frame)
        self.frame_timer.start(FRAME_MS)

    # ----------------------------------------------------------------- layout
    def _build_detail(self) -> None:
        self.detail = QtWidgets.QWidget()
        grid = QtWidgets.QGridLayout(self.detail)
        grid.setContentsMargins(6, 6, 6, 6)
        grid.setSpacing(6)
        self.alarm = AlarmBanner()
        self.alarm.acknowledged.connect(self._on_alarm_acknowledged)
        self.waveform = WaveformPlot(fs=self.session.fs)
        self.waveform_panel = _panel("ECG", self.waveform)
        self.vitals = VitalsPanel()
        self.bars = ConfidenceBars()
        self.history = ConfidenceHistory(fs=self.session.fs)
        self.reference_line = ReferenceLine()
        history_box = QtWidgets.QWidget()
        history_layout = QtWidgets.QVBoxLayout(history_box)
        history_layout.setContentsMargins(0, 0, 0, 0)
        history_layout.setSpacing(2)
        history_layout.addWidget(self.history, 1)
        history_layout.addWidget(self.reference_line)
        self.trajectory = TrajectoryPlot()
        self.trajectory_legend = ClassLegend()
        self.event_list = EventList()
        right = QtWidgets.QVBoxLayout()
        right.setSpacing(6)
        right.addWidget(self.vitals, 3)
        right.addWidget(_panel("CLASS CONFIDENCE", self.bars), 2)
        grid.addWidget(self.alarm, 0, 0, 1, 3)
        grid.addWidget(self.waveform_panel, 1, 0, 1, 2)
        grid.addLayout(right, 1, 2)
        grid.addWidget(_panel("CLASS HISTORY · LAST 60 s", history_box), 2, 0)
        grid.addWidget(_panel("LATENT TRAJECTORY", self.trajectory, self.trajectory_legend), 2, 1)
        grid.addWidget(_panel("EVENTS", self.event_list), 2, 2)
        grid.setColumnStretch(0, 5)
        grid.setColumnStretch(1, 4)
        grid.setColumnStretch(2, 4)
        grid.setRowStretch(1, 6)
        grid.setRowStretch(2, 5)

    def _build_actions(self) -> None:
        bar = self.addToolBar("Controls")
        bar.setMovable(False)
        bar.setObjectName("controls")

        def action(text: str, slot, shortcut: str | None = None, checkable: bool = False) -> QtGui.QAction:
            act = QtGui.QAction(text, self)
            if shortcut:
                act.setShortcut(QtGui.QKeySequence(shortcut))
                act.setToolTip(f"{text} ({shortcut})")
            act.setCheckable(checkable)
            act.triggered.connect(slot)
            self.addAction(act)
            return act

        self.open_action = action("Open record…", self.open_record_dialog, "O")
        self.lsl_action = action("LSL stream…", self.open_lsl_dialog, "L")
        self.review_action = action("Open analysis folder…", self.open_review_dialog, "Ctrl+Shift+O")
        self.analyze_action = action("Analyze record…", self.analyze_record_dialog)
        self.save_events_action = action("Save events CSV", self.save_events, "Ctrl+E")
        self.save_annotations_action = action("Save rhythm annotations (WFDB)", self.save_annotations,
                                              "Ctrl+Shift+A")
        self.save_view_action = action("Save view PNG", self.save_view, "Ctrl+P")
        self.save_view_action.setShortcuts([QtGui.QKeySequence("Ctrl+P"), QtGui.QKeySequence("Ctrl+Shift+S")])
        self.save_all_action = action("Save events, annotations and view", self.save_all, "Ctrl+S")
        self.save_folder_action = action("Save folder…", self.choose_save_folder)
        self.play_action = action("Pause", self.toggle_pause, "Space")
        self.speed_group = QtGui.QActionGroup(self)
        self.speed_actions = {}
        for speed, key in zip(SPEEDS, ("1", "2", "5", "0"), strict=True):
            act = action(f"×{speed:g}", lambda _=False, s=speed: self.set_speed(s), key, checkable=True)
            self.speed_group.addAction(act)
            self.speed_actions[speed] = act
        self.loop_action = action("Loop", self.toggle_loop, None, checkable=True)
        self.grid_action = action("Grid", self.toggle_grid, "G", checkable=True)
        self.sweep_action = action("Sweep", self.toggle_sweep, "S", checkable=True)
        self.beds_action = action("All beds", self.show_grid, "B")
        self.escape_action = action("Back to all beds", self.show_grid, "Esc")
        self.quit_action = action("Quit", self.close, "Ctrl+Q")
        self.ack_action = action("Acknowledge AF alarm", self.alarm.acknowledge, "A")
        self.silence_actions = {
            seconds: action(f"Silence AF alarms {silence_label(seconds)}",
                            lambda _=False, s=seconds: self.alarm.silence(s), key)
            for seconds, key in zip(SILENCE_CHOICES_S, ("M", "Shift+M", "Ctrl+M"), strict=True)}
        self.end_silence_action = action("End silence", self.alarm.end_silence)
        files = self.menuBar().addMenu("&File")
        for act in (self.open_action, self.lsl_action, self.review_action, self.analyze_action, None,
                    self.save_events_action, self.save_annotations_action, self.save_view_action,
                    self.save_all_action, self.save_folder_action, None, self.quit_action):
            files.addSeparator() if act is None else files.addAction(act)
        alarms = self.menuBar().addMenu("&Alarms")
        for act in (self.ack_action, *self.silence_actions.values(), self.end_silence_action):
            alarms.addAction(act)
        for act in (self.open_action, self.lsl_action, None, self.play_action, *self.speed_actions.values(),
                    self.loop_action, None, self.grid_action, self.sweep_action, self.beds_action):
            bar.addSeparator() if act is None else bar.addAction(act)
        self.speed_actions.get(self.session.speed, self.speed_actions[1.0]).setChecked(True)
        self.loop_action.setChecked(self.session.loop)
        self.grid_action.setChecked(self.settings.grid)
        self.sweep_action.setChecked(True)

    # ----------------------------------------------------------------- sources
    def add_stream(self, stream_id: int, title: str) -> None:
        """Register a stream the session has started: a bed state, a grid panel, maybe the detail view."""
        self.beds[stream_id] = BedState(stream_id, title)
        self.beds[stream_id].events.append(f"{time.strftime('%H:%M:%S')}  {title}: monitoring started "
                                           f"({self.session.describe(stream_id)})")
        self._load_reference(self.beds[stream_id])
        self.grid.add_bed(stream_id, title, self.session.fs)
        if self.selected is None or len(self.beds) == 1:
            self.select_bed(stream_id)
        if len(self.beds) > 1 and len(self.beds) == len(self.grid.panels) and self.pages.currentIndex() == 0:
            self.show_grid()
        self._update_source_field()

    def _load_reference(self, bed: BedState) -> None:
        """Read the replayed record's reference annotations for the strip, beat labels and agreement."""
        record = getattr(self.session.sources.get(bed.stream_id), "record", None)
        if record is None:
            return  # a live stream: no reference
        if record.annotations is None:
            self.status.showMessage(f"{record.name}: no reference annotations - no reference strip, beat "
                                    "labels or agreement", 10000)
            return
        try:
            bed.reference = ReferenceTrack(record, self.session.fs)
        except Exception as exc:  # noqa: BLE001 - a bad annotation file must not stop the replay
            self.show_error(f"{record.name}: reference annotations not usable: {exc}", dialog=False)
            return
        if not bed.reference.has_rhythm:
            self.status.showMessage(f"{record.name}: its .{record.annotations.extension} annotations hold no "
                                    "rhythm changes - beat labels only, no reference strip", 10000)

    def open_record(self, path: str, lead: str | int | None = None, replace: bool = True,
                    start_delay_s: float = 0.0, annotation: str | None = "atr") -> int | None:
        """Start replaying a WFDB record; errors go to the status bar and a dialog, the app keeps running.

        The record is read before anything is replaced, so a bad file leaves the current beds running.
        `annotation` is the extension of its reference annotations (None: none).
        """
        try:
            source = self.session.open_replay(path, lead, annotation)
        except Exception as exc:  # noqa: BLE001 - every failure is shown, none ends the app
            self.show_error(f"Could not open record {str(path)!r}: {exc}")
            return None
        self.settings.last_record = str(path)
        self.settings.last_lead = "" if lead is None else str(lead)
        return self._start(source, replace, start_delay_s)

    def connect_lsl(self, info, replace: bool = True) -> int | None:
        """Start reading an LSL stream (a pylsl.StreamInfo from the discovery dialog)."""
        try:
            source = self.session.open_lsl(info)
            desc = f"LSL {info.name()} ({info.nominal_srate():g} Hz, {info.hostname()})"
        except Exception as exc:  # noqa: BLE001 - every failure is shown, none ends the app
            self.show_error(f"Could not connect to the LSL stream: {exc}")
            return None
        return self._start(source, replace, 0.0, desc)

    def _start(self, source, replace: bool, start_delay_s: float, description: str = "") -> int | None:
        if replace:
            self.remove_all_streams()
        try:
            stream_id, title = self.session.add_source(source, start_delay_s, description)
        except Exception as exc:  # noqa: BLE001 - every failure is shown, none ends the app
            self.show_error(f"Could not start {getattr(source, 'name', 'the source')!r}: {exc}")
            return None
        self.status.clear_error()
        self.add_stream(stream_id, title)
        return stream_id

    def remove_all_streams(self) -> None:
        """Stop every stream and clear the views."""
        for stream_id in list(self.beds):
            self.session.remove_stream(stream_id)
            self.grid.remove_bed(stream_id)
        self.beds.clear()
        self.selected = None
        self._alarm_bed = None
        self.alarm.reset()  # a new patient: no alarm, no silence carried over
        self._clear_detail()
        self.pages.setCurrentIndex(0)

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

    # ----------------------------------------------------------------- controls
    def toggle_pause(self) -> None:
        """Pause or resume replay (space)."""
        self.set_paused(not self.session.paused)

    def set_paused(self, paused: bool) -> None:
        """Pause or resume every replay source."""
        self.session.set_paused(paused)
        self.play_action.setText("Play" if paused else "Pause")

    def set_speed(self, speed: float) -> None:
        """Replay speed ×1/×2/×5/×10 (keys 1, 2, 5, 0)."""
        self.session.set_speed(speed)
        self.speed_actions[speed].setChecked(True)
        self.settings.speed = speed
        self._update_source_field()

    def toggle_loop(self) -> None:
        """Loop the record at its end."""
        self.session.set_loop(self.loop_action.isChecked())
        self.settings.loop = self.loop_action.isChecked()

    def toggle_grid(self) -> None:
        """ECG-paper grid on/off (G)."""
        on = not self.waveform.grid_visible
        self.waveform.set_grid(on)
        self.grid_action.setChecked(on)
        self.settings.grid = on

    def toggle_sweep(self) -> None:
        """Sweep mode (bedside style, fixed paper and a moving eraser) or scrolling mode (S)."""
        sweep = not self.waveform.trace.sweep
        self.waveform.set_sweep(sweep)
        for cell in self.grid.panels.values():
            cell.trace.set_sweep(sweep)
        self.sweep_action.setChecked(sweep)

    def show_grid(self) -> None:
        """Show the multi-bed grid (B); with one bed the detail view stays."""
        if len(self.beds) > 1:
            self.pages.setCurrentIndex(1)

    def select_bed(self, stream_id: int) -> None:
        """Open one bed in the detail view, rebuilt from its recent results."""
        bed = self.beds.get(stream_id)
        if bed is None:
            return
        self.selected = stream_id
        self.grid.highlight(stream_id)
        self._clear_detail()
        self.waveform_panel.title_label.setText(f"ECG · {bed.title.upper()} · mV")
        self.waveform.set_reference(bed.reference)
        self.history.show_reference(bed.reference is not None and bed.reference.has_rhythm)
        for i, result in enumerate(bed.results):
            self._show_result(result, redraw_bars=i == len(bed.results) - 1)
        for text in bed.events:
            self.event_list.add_event(text)
        self.pages.setCurrentIndex(0)

    def _clear_detail(self) -> None:
        self.waveform.clear_signal()
        self.history.clear_history()
        self.trajectory.clear_trail()
        self.bars.set_probs(None)
        self.vitals.set_heart_rate(float("nan"))
        self.vitals.set_rhythm(None)
        self.event_list.clear()
        self.waveform.set_reference(None)
        self.history.show_reference(False)
        self.reference_line.hide()

    # ----------------------------------------------------------------- frame loop
    def on_frame(self) -> None:
        """One frame: take new results and statuses, redraw visible traces, refresh the status bar."""
        try:
            for item in self.session.drain():
                if isinstance(item, WindowResult):
                    self.on_result(item)
                elif isinstance(item, RhythmEvent):
                    self.on_event(item)
                elif isinstance(item, StreamStatus):
                    self.on_status(item)
            self._draw_traces()
            now = time.monotonic()
            if now - self._last_status >= STATUS_EVERY_S:
                self._last_status = now
                self._update_timing()
        except Exception as exc:  # noqa: BLE001 - a display bug must not stop the monitor
            log.exception("frame update failed")
            self.status.show_error(f"display error: {exc}")
        self.frames += 1

    def _draw_traces(self) -> None:
        if self.pages.currentIndex() == 0:
            if self.selected is not None:
                samples, end = self.session.snapshot(self.selected, self.waveform.capacity)
                self.waveform.set_signal(samples, end)
        else:
            for stream_id, cell in self.grid.panels.items():
                samples, end = self.session.snapshot(stream_id, cell.trace.capacity)
                cell.trace.set_signal(samples, end)

    def on_result(self, result: WindowResult) -> None:
        """Record one window's result for its bed and show it where visible."""
        bed = self.beds.get(result.stream_id)
        if bed is None:
            return
        self.results_seen += 1
        bed.results.append(result)
        if bed.first_end is None:
            bed.first_end = result.end_index
        panel = self.grid.panels.get(result.stream_id)
        if panel is not None:
            panel.set_result(result.probs, result.heart_rate, bed.in_af)
        if result.stream_id == self.selected:
            self._show_result(result)

    def _show_result(self, result: WindowResult, redraw_bars: bool = True) -> None:
        cls = int(np.argmax(result.probs))
        if redraw_bars:
            self.bars.set_probs(result.probs)
            self.vitals.set_heart_rate(result.heart_rate)
            self.vitals.set_rhythm(cls, float(result.probs[cls]))
            flags = f" · {', '.join(sorted(result.flags))}" if result.flags else ""
            if result.rhythm_probs is not None:  # what the alarm follows: window + the last minute of RR
                p_af = result.rhythm_probs[CLASS_CODES.index("A")]
                flags = f" · AF with 60 s rhythm {100 * p_af:.0f} %{flags}"
            self.vitals.set_detail(f"AF burden (60 s) {100 * self._af_burden(result):.0f} % · signal t = "
                                   f"{result.end_index / self.session.fs:.0f} s · latency "
                                   f"{result.latency_ms:.0f} ms{flags}")
        self.history.add(result.end_index, result.probs)
        self.trajectory.add_point(result.trajectory, cls)
        bed = self.beds.get(result.stream_id)
        if redraw_bars and bed is not None and bed.reference is not None and bed.reference.has_rhythm:
            self._show_reference(bed, result.end_index)

    def _show_reference(self, bed: BedState, end: int) -> None:
        """The reference strip over the history's seconds, and the AF agreement so far."""
        fs = self.session.fs
        x0, x1, classes = bed.reference.strip(end - int(self.history.seconds * fs), end)
        self.history.set_reference((x0 - end) / fs, (x1 - end) / fs, classes)
        events = self.session.events
        lag = events.settings.onset_lag(self.session.config.window, self.session.config.hop)
        agreement = bed.reference.agreement(events.stream_events(bed.stream_id), bed.first_end, end, lag)
        self.reference_line.set_agreement(agreement.text())

    def _af_burden(self, result: WindowResult) -> float:
        """Share of this bed's windows of the last 60 s whose leading class is AF."""
        bed = self.beds.get(result.stream_id)
        since = result.end_index - 60 * self.session.fs
        recent = [r for r in (bed.results if bed else ()) if r.end_index > since] or [result]
        return float(np.mean([int(np.argmax(r.probs)) == CLASS_CODES.index("A") for r in recent]))

    def on_event(self, event: RhythmEvent) -> None:
        """An episode started or ended (detected by the session's EventLog): event list and alarm."""
        bed = self.beds.get(event.stream_id)
        if bed is None:
            return
        t = event.sample / self.session.fs
        stamp = time.strftime("%H:%M:%S")
        name = RHYTHM_TEXT[CLASS_CODES.index(event.rhythm)]
        if event.kind == "start":
            text = f"{stamp}  {bed.title}: {name} started (t = {t:.0f} s, p = {event.probability:.2f})"
            bed.in_af = True
        else:
            text = f"{stamp}  {bed.title}: {name} ended (t = {t:.0f} s)"
            bed.in_af = False
        bed.events.append(text)
        if bed.stream_id == self.selected:
            self.event_list.add_event(text, CLASS_CODES.index(event.rhythm) if event.kind == "start" else 0)
        if event.kind == "start":
            self._alarm_bed = bed.stream_id
            self.alarm.raise_alarm(f"⚠  AF ALARM · {bed.title} · atrial fibrillation since t = {t:.0f} s",
                                   bed.title)
        elif not any(b.in_af for b in self.beds.values()):
            self.alarm.clear_alarm()

    def _on_alarm_acknowledged(self, seconds: float) -> None:
        """Log who was alarming, where in the record, when, and for how long it was silenced."""
        bed = self.beds.get(self._alarm_bed) if self.alarm.active and self._alarm_bed is not None else None
        now = self.alarm.wall()
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now))
        if seconds > 0:
            until = time.strftime("%H:%M:%S", time.localtime(now + seconds))
            what = f"silenced for {silence_label(seconds)} (until {until})"
        else:
            what = "acknowledged"
        signal_t = bed.results[-1].end_index / self.session.fs if bed and bed.results else float("nan")
        log.warning("AF alarm %s: bed %r, record %s, at %s, signal t = %.0f s, duration %.0f s", what,
                    bed.title if bed else "no alarm active", self._record_name(bed.stream_id) if bed else "-",
                    stamp, signal_t, seconds)
        for target in [bed] if bed else self.beds.values():
            target.events.append(f"{time.strftime('%H:%M:%S', time.localtime(now))}  AF alarm {what}")
            if target.stream_id == self.selected:
                self.event_list.add_event(target.events[-1])

    def _record_name(self, stream_id: int) -> str:
        """The replayed record's name, or the source's name (LSL)."""
        source = self.session.sources.get(stream_id)
        record = getattr(source, "record", None)
        return record.name if record is not None else str(getattr(source, "name", f"stream {stream_id}"))

    def on_status(self, status: StreamStatus) -> None:
        """A stream changed state: faults and stalls are shown as errors, an end as a message."""
        bed = self.beds.get(status.stream_id)
        title = bed.title if bed else f"stream {status.stream_id}"
        if status.state == "stalled" and self.session.paused:
            return  # no samples because the replay is paused, not because the source failed
        if status.state in ("fault", "stalled"):
            self.show_error(f"{title}: {status.state}: {status.message}", dialog=status.state == "fault")
            if bed is not None:
                bed.events.append(f"{time.strftime('%H:%M:%S')}  {title}: {status.state}: {status.message}")
                if status.stream_id == self.selected:
                    self.event_list.add_event(bed.events[-1], CLASS_CODES.index("A"))
        elif status.state == "running" and self.error_text.startswith(f"{title}: "):
            self.status.clear_error()  # the stall or fault of this bed is over
        elif status.state == "ended":
            self.status.showMessage(f"{title}: replay ended {status.message}".strip(), 8000)
            if bed is not None:
                bed.events.append(f"{time.strftime('%H:%M:%S')}  {title}: record ended")
                if status.stream_id == self.selected:
                    self.event_list.add_event(bed.events[-1])

    # ----------------------------------------------------------------- saving (File menu)
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

    # ----------------------------------------------------------------- status / errors
    def _show_model(self) -> None:
        info = self.session.engine_info()
        self.status.set_field("model", f"model {info['model']}")
        if info.get("metrics"):
            self.status.labels["model"].setToolTip("Validation metrics:\n" + "\n".join(
                f"{k}: {v:.4g}" for k, v in info["metrics"].items()))
        self.status.set_field("backend", f"{info['backend']} · {info['device']} · {info['precision']}")
        self.status.set_field("rate", f"{self.session.fs:g} Hz")
        if info.get("skipped"):
            self.status.labels["backend"].setToolTip("Skipped backends:\n" + "\n".join(info["skipped"]))
        points, labels = self.session.reference_cloud()
        self.trajectory.set_reference(points, labels)

    def _update_source_field(self) -> None:
        if not self.beds:
            self.status.set_field("source", "no source")
            return
        desc = self.session.describe(self.selected) if self.selected is not None else ""
        more = f" (+{len(self.beds) - 1} beds)" if len(self.beds) > 1 else ""
        self.status.set_field("source", desc + more)

    def _update_timing(self) -> None:
        stats = self.session.stats()
        self.status.set_timing(stats["p50_ms"], stats["p99_ms"], stats["windows_per_s"], stats["dropped"])
        self._update_source_field()

    def show_error(self, text: str, dialog: bool = True) -> None:
        """Show an error in the status bar and, non-modally, in a dialog; never raises."""
        log.error("%s", text)
        self.status.show_error(text)
        if not dialog:
            return
        if self._error_dialog is None:
            box = QtWidgets.QMessageBox(self)
            box.setIcon(QtWidgets.QMessageBox.Icon.Warning)
            box.setWindowTitle("DACL Monitor")
            box.setModal(False)
            self._error_dialog = box
        self._error_dialog.setText(text)
        self._error_dialog.show()

    @property
    def error_text(self) -> str:
        """The error currently shown in the status bar ('' when none)."""
        return self.status.error_label.toolTip()

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:  # noqa: N802 - Qt override
        """Stop the frame timer and every stream, remember the window geometry."""
        self.frame_timer.stop()
        if self.analysis_task is not None:
            self.analysis_task.stop()
        self.settings.geometry = self.saveGeometry()
        try:
            self.session.close()
        finally:
            super().closeEvent(event)
