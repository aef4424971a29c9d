"""Multi-bed view: one compact panel per stream (waveform, class, heart rate); a click selects a bed."""

from __future__ import annotations

import math

import numpy as np
from PySide6 import QtCore, QtWidgets

from app import theme
from app.widgets.waveform import WaveformPlot
from core.results import CLASS_CODES


class BedPanel(QtWidgets.QFrame):
    """A compact panel for one stream; emits `clicked(stream_id)`."""

    clicked = QtCore.Signal(int)

    def __init__(self, stream_id: int, title: str, fs: float = 300.0, parent=None) -> None:
        super().__init__(parent)
        self.stream_id = stream_id
        self.setObjectName("panel")
        self.setCursor(QtCore.Qt.CursorShape.PointingHandCursor)
        layout = QtWidgets.QGridLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setSpacing(2)
        self.title = QtWidgets.QLabel(title)
        self.title.setObjectName("title")
        self.class_label = QtWidgets.QLabel("—")
        self.class_label.setStyleSheet(f"color: {theme.TEXT_DIM}; font-weight: bold; font-size: 13px;")
        self.hr_label = QtWidgets.QLabel("--")
        self.hr_label.setStyleSheet(f"color: {theme.HR_GREEN}; font-size: 30px; font-weight: bold;")
        self.hr_label.setAlignment(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
        self.waveform = WaveformPlot(fs=fs, seconds=6.0, compact=True)
        self.waveform.setMinimumHeight(50)
        self.waveform.setAttribute(QtCore.Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        layout.addWidget(self.title, 0, 0)
        layout.addWidget(self.class_label, 0, 1, QtCore.Qt.AlignmentFlag.AlignRight)
        layout.addWidget(self.waveform, 1, 0, 1, 1)
        layout.addWidget(self.hr_label, 1, 1)
        layout.setColumnStretch(0, 5)
        layout.setColumnStretch(1, 1)

    def set_result(self, probs: np.ndarray, heart_rate: float, alarm: bool) -> None:
        """Show the newest result: leading class code with its probability and the heart rate."""
        cls = int(np.argmax(probs))
        self.class_label.setText(f"{CLASS_CODES[cls]} {100 * probs[cls]:.0f}%")
        color = theme.ALARM_RED if alarm else theme.CLASS_COLORS[cls]
        style = f"color: {color}; font-weight: bold; font-size: 13px;"
        if self.class_label.styleSheet() != style:  # restyling is costly: only on change
            self.class_label.setStyleSheet(style)
        self.hr_label.setText(f"{heart_rate:.0f}" if math.isfinite(heart_rate) else "--")

    def set_selected(self, selected: bool) -> None:
        """Outline the panel of the bed shown in the detail view."""
        self.setProperty("selected", "true" if selected else "false")
        self.style().unpolish(self)
        self.style().polish(self)

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt override
        """Select this bed."""
        self.clicked.emit(self.stream_id)


class BedGrid(QtWidgets.QWidget):
    """Panels laid out in a near-square grid; emits `selected(stream_id)` when one is clicked."""

    selected = QtCore.Signal(int)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QtWidgets.QGridLayout(self)
        self._layout.setContentsMargins(4, 4, 4, 4)
        self._layout.setSpacing(4)
        self.panels: dict[int, BedPanel] = {}

    def add_bed(self, stream_id: int, title: str, fs: float = 300.0) -> BedPanel:
        """Add a panel for a stream and re-flow the grid."""
        panel = BedPanel(stream_id, title, fs)
        panel.clicked.connect(self.selected.emit)
        self.panels[stream_id] = panel
        self._reflow()
        return panel

    def remove_bed(self, stream_id: int) -> None:
        """Remove a stream's panel."""
        panel = self.panels.pop(stream_id, None)
        if panel is not None:
            self._layout.removeWidget(panel)
            panel.deleteLater()
            self._reflow()

    def highlight(self, stream_id: int | None) -> None:
        """Outline the selected bed's panel."""
        for sid, panel in self.panels.items():
            panel.set_selected(sid == stream_id)

    def _reflow(self) -> None:
        for panel in self.panels.values():
            self._layout.removeWidget(panel)
        cols = max(1, math.ceil(math.sqrt(len(self.panels))))
        for i, panel in enumerate(self.panels.values()):
            self._layout.addWidget(panel, i // cols, i % cols)
