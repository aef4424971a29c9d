"""Multi-bed view: one compact cell per stream (waveform, class, heart rate); a click selects a bed.

Every cell lives in ONE GraphicsLayoutWidget, so a frame is one paint of one scene instead of one
QGraphicsView per bed (half the GUI time per frame with 16 beds).
"""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6 import QtCore

from app import theme
from app.widgets.waveform import SweepTrace
from core.bedside import Headline


class FixedLabel(pg.LabelItem):
    """A LabelItem whose size is fixed at creation: a new text does not re-lay out the grid.

    pyqtgraph's LabelItem resizes itself to every new text, which invalidates the layout of the one scene
    all cells share; with 64 beds each result then moved geometry and repainted every cell.
    """

    def __init__(self, text: str, widest: str, **opts) -> None:
        super().__init__(widest, **opts)
        size = self.item.boundingRect().size()
        self.setMinimumSize(size)
        self.setMaximumSize(size)
        self.shown = None
        self.setText(text)

    def updateMin(self) -> None:  # noqa: N802 - pyqtgraph's name; the size stays what __init__ set
        pass

    def set_text(self, text: str, **opts) -> None:
        """Show `text` unless it is what is shown already (each setText costs an HTML layout)."""
        key = (text, tuple(sorted(opts.items())))
        if key != self.shown:
            self.shown = key
            self.setText(text, **opts)


class BedCell:
    """One bed in the grid: title, leading class, a compact sweeping trace and the heart rate."""

    def __init__(self, stream_id: int, title: str, fs: float = 300.0) -> None:
        self.stream_id = stream_id
        self.layout = pg.GraphicsLayout()
        self.layout.setContentsMargins(4, 2, 4, 2)
        self.layout.setSpacing(0)
        self.title = pg.LabelItem(title, color=theme.TEXT_DIM, size="9pt", bold=True, justify="left")
        self.class_label = FixedLabel("—", "Paced AF", color=theme.TEXT_DIM, size="10pt", bold=True,
                                      justify="right")
        self.hr_label = FixedLabel("--", "888", color=theme.HR_GREEN, size="24pt", bold=True, justify="right")
        self.plot = pg.PlotItem()
        self.plot.getViewBox().setBackgroundColor(theme.PANEL)
        self.trace = SweepTrace(self.plot, fs, seconds=6.0, compact=True)
        self.layout.addItem(self.title, 0, 0)
        self.layout.addItem(self.class_label, 0, 1)
        self.layout.addItem(self.plot, 1, 0)
        self.layout.addItem(self.hr_label, 1, 1)
        self.layout.layout.setColumnStretchFactor(0, 5)
        self.layout.layout.setColumnStretchFactor(1, 1)
        self.layout.layout.setRowStretchFactor(1, 5)
        self.set_selected(False)

    def set_result(self, line: Headline, heart_rate: float, alarm: bool) -> None:
        """Show the bed's rhythm (core.bedside.headline) and the heart rate."""
        color = theme.ALARM_RED if alarm else theme.CLASS_COLORS[line.cls]
        self.class_label.set_text(line.short, color=color)
        self.hr_label.set_text(f"{heart_rate:.0f}" if math.isfinite(heart_rate) else "--")

    def set_selected(self, selected: bool) -> None:
        """Outline the trace of the bed shown in the detail view."""
        pen = pg.mkPen(theme.ECG_GREEN, width=2) if selected else pg.mkPen(theme.PANEL_BORDER, width=1)
        self.plot.getViewBox().setBorder(pen)


class BedGrid(pg.GraphicsLayoutWidget):
    """Cells laid out in a near-square grid; emits `selected(stream_id)` when one is clicked."""

    selected = QtCore.Signal(int)

    def __init__(self, parent=None) -> None:
        super().__init__(parent=parent)
        self.setBackground(theme.BACKGROUND)
        self.ci.setContentsMargins(4, 4, 4, 4)
        self.ci.setSpacing(6)
        self.panels: dict[int, BedCell] = {}
        self.scene().sigMouseClicked.connect(self._on_click)

    def add_bed(self, stream_id: int, title: str, fs: float = 300.0) -> BedCell:
        """Add a cell for a stream and re-flow the grid."""
        cell = BedCell(stream_id, title, fs)
        self.panels[stream_id] = cell
        self._reflow()
        return cell

    def remove_bed(self, stream_id: int) -> None:
        """Remove a stream's cell."""
        if self.panels.pop(stream_id, None) is not None:
            self._reflow()

    def highlight(self, stream_id: int | None) -> None:
        """Outline the selected bed's cell."""
        for sid, cell in self.panels.items():
            cell.set_selected(sid == stream_id)

    def cell_center(self, stream_id: int) -> QtCore.QPoint:
        """Where a cell's trace is in widget coordinates (for clicks in tests and tools)."""
        rect = self.panels[stream_id].plot.sceneBoundingRect()
        return self.mapFromScene(rect.center())

    def _reflow(self) -> None:
        self.ci.clear()
        cols = max(1, math.ceil(math.sqrt(len(self.panels))))
        for i, cell in enumerate(self.panels.values()):
            self.ci.addItem(cell.layout, i // cols, i % cols)

    def _on_click(self, event) -> None:
        pos = event.scenePos()
        for sid, cell in self.panels.items():
            if cell.layout.sceneBoundingRect().contains(pos):
                self.selected.emit(sid)
                return
