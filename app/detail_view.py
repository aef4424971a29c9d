"""The monitor's detail view of one bed: alarm banner, ECG, vitals, confidence, history, trajectory, events.

Only layout and clearing live here; the window (app.main_window) fills the widgets from results.
"""

from __future__ import annotations

from PySide6 import QtWidgets

from app.widgets.alarm import AlarmBanner
from app.widgets.confidence import ConfidenceBars, ConfidenceHistory
from app.widgets.reference import ReferenceLine
from app.widgets.trajectory import ClassLegend, TrajectoryPlot
from app.widgets.vitals import EventList, VitalsPanel
from app.widgets.waveform import WaveformPlot


def panel(title: str, body: QtWidgets.QWidget, header: QtWidgets.QWidget | None = None) -> QtWidgets.QFrame:
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


class DetailView(QtWidgets.QWidget):
    """One bed's widgets in the bedside layout, at the model rate `fs`."""

    def __init__(self, fs: float) -> None:
        super().__init__()
        grid = QtWidgets.QGridLayout(self)
        grid.setContentsMargins(6, 6, 6, 6)
        grid.setSpacing(6)
        self.alarm = AlarmBanner()
        self.waveform = WaveformPlot(fs=fs)
        self.waveform_panel = panel("ECG", self.waveform)
        self.vitals = VitalsPanel()
        self.bars = ConfidenceBars()
        self.history = ConfidenceHistory(fs=fs)
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
        right.addWidget(panel("CLASS CONFIDENCE · THIS WINDOW (6.8 s)", self.bars), 2)
        grid.addWidget(self.alarm, 0, 0, 1, 3)
        grid.addWidget(self.waveform_panel, 1, 0, 1, 2)
        grid.addLayout(right, 1, 2)
        grid.addWidget(panel("CLASS HISTORY · LAST 60 s", history_box), 2, 0)
        grid.addWidget(panel("LATENT TRAJECTORY", self.trajectory, self.trajectory_legend), 2, 1)
        grid.addWidget(panel("EVENTS", self.event_list), 2, 2)
        grid.setColumnStretch(0, 5)
        grid.setColumnStretch(1, 4)
        grid.setColumnStretch(2, 4)
        grid.setRowStretch(1, 6)
        grid.setRowStretch(2, 5)

    def clear(self) -> None:
        """Empty every plot and list (a bed is being (re)opened, or none is selected)."""
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
