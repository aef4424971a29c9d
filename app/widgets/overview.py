"""Review mode's overview of a whole record: AF probability and heart rate per window, episodes as bands.

Curves are one PlotDataItem each with clip-to-view and peak downsampling, so a 24 h record (86 400
windows) draws as fast as a short one. Episodes are one BarGraphItem per kind (x0/width arrays), the
cursor an InfiniteLine, and the stretch the ECG view shows a LinearRegionItem.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui

from app import theme
from app.analysis_folder import clock

MODEL_AF_ALPHA = 70
REFERENCE_BAND = (1.04, 1.16)  # y extent of the reference rhythm strip above the probability (0 ... 1)
HR_RANGE = (20.0, 200.0)


class ClockAxis(pg.AxisItem):
    """A time axis in h:mm:ss (m:ss under an hour) for seconds from the record's start."""

    def tickStrings(self, values, scale, spacing):  # noqa: N802 - pyqtgraph override
        """Tick labels as clock times; fractions of a second when ticks are closer than 1 s."""
        if spacing < 1:
            return [f"{clock(np.floor(v))}.{int(round((v % 1) * 10)) % 10}" for v in values]
        return [clock(v) for v in values]


def bands(item: pg.BarGraphItem, intervals: list[tuple[float, float]], y0: float, height: float) -> None:
    """Draw [start, end) intervals as full-height bars of one item."""
    iv = np.asarray(intervals, dtype=np.float64).reshape(-1, 2)
    item.setOpts(x0=iv[:, 0], width=iv[:, 1] - iv[:, 0], y0=y0, height=height)


def band_item(color: str, alpha: int, z: float = -10) -> pg.BarGraphItem:
    """An empty BarGraphItem in `color` at `alpha`, behind the curves."""
    c = QtGui.QColor(color)
    c.setAlpha(alpha)
    item = pg.BarGraphItem(x0=[], width=[], y0=0, height=1, brush=c, pen=None)
    item.setZValue(z)
    return item


class OverviewPlot(pg.GraphicsLayoutWidget):
    """p(AF) (with the model's episodes shaded and the reference rhythm as a strip above) and heart rate.

    Emits `clicked(t)` with the time (s) under a left click, for the window to move its cursor there.
    """

    clicked = QtCore.Signal(float)

    def __init__(self, parent=None) -> None:
        super().__init__(parent=parent)
        self.ci.layout.setSpacing(2)
        self.prob = self.addPlot(row=0, col=0, axisItems={"bottom": ClockAxis("bottom")})
        self.hr = self.addPlot(row=1, col=0, axisItems={"bottom": ClockAxis("bottom")})
        self.ci.layout.setRowStretchFactor(0, 3)
        self.ci.layout.setRowStretchFactor(1, 2)
        for plot in (self.prob, self.hr):
            plot.setMenuEnabled(False)
            plot.hideButtons()
            plot.setMouseEnabled(x=True, y=False)  # wheel and drag zoom and pan the time axis only
            plot.showGrid(x=True, y=True, alpha=0.15)
            plot.getAxis("left").setWidth(44)
            # addItem imposes these on the plot's curves; set before any item (bars have no such modes)
            plot.setClipToView(True)
            plot.setDownsampling(auto=True, mode="peak")
        self.hr.setXLink(self.prob)
        self.prob.setYRange(0, REFERENCE_BAND[1] + 0.02, padding=0)
        self.prob.getAxis("left").setTicks([[(0, "0"), (0.5, ".5"), (1, "1"),
                                             (float(np.mean(REFERENCE_BAND)), "ref")]])
        self.prob.setLabel("left", "p(AF)")
        self.hr.setLabel("left", "HR")
        self.hr.setYRange(*HR_RANGE, padding=0)
        self.model_bands = band_item(theme.CLASS_COLORS[1], MODEL_AF_ALPHA)
        self.hr_bands = band_item(theme.CLASS_COLORS[1], MODEL_AF_ALPHA // 2)
        self.reference_bands = [band_item(theme.CLASS_COLORS[i], 220, z=-5) for i in range(3)]
        self.prob.addItem(self.model_bands)
        self.hr.addItem(self.hr_bands)
        for item in self.reference_bands:
            self.prob.addItem(item)
        self.prob_curve = pg.PlotDataItem(pen=pg.mkPen(theme.TEXT, width=1), skipFiniteCheck=True)
        self.hr_curve = pg.PlotDataItem(pen=pg.mkPen(theme.HR_GREEN, width=1), connect="finite")
        self.prob.addItem(self.prob_curve)
        self.hr.addItem(self.hr_curve)
        self.shown_span = pg.LinearRegionItem(movable=False, brush=pg.mkBrush(255, 255, 255, 28),
                                              pen=pg.mkPen(None))
        self.prob.addItem(self.shown_span)
        self.cursors = [pg.InfiniteLine(angle=90, pen=pg.mkPen(theme.ECG_GREEN, width=1.5)) for _ in range(2)]
        self.prob.addItem(self.cursors[0])
        self.hr.addItem(self.cursors[1])
        self.duration_s = 1.0
        self.scene().sigMouseClicked.connect(self._on_click)

    def set_record(self, t: np.ndarray, p_af: np.ndarray, heart_rate: np.ndarray, duration_s: float,
                   episodes: list[tuple[float, float]],
                   rhythm: list[tuple[float, float, int]] | None = None) -> None:
        """Whole-record curves at window times `t` (s), the model's AF episodes and the reference rhythm."""
        self.duration_s = max(float(duration_s), 1e-3)
        self.prob_curve.setData(t, p_af)
        self.hr_curve.setData(t, heart_rate)
        bands(self.model_bands, episodes, 0.0, 1.0)
        bands(self.hr_bands, episodes, HR_RANGE[0], HR_RANGE[1] - HR_RANGE[0])
        rhythm = rhythm or []
        for i, item in enumerate(self.reference_bands):
            bands(item, [(a, b) for a, b, c in rhythm if c == i], REFERENCE_BAND[0],
                  REFERENCE_BAND[1] - REFERENCE_BAND[0])
        finite = heart_rate[np.isfinite(heart_rate)]
        if finite.size:
            lo, hi = np.percentile(finite, [0.5, 99.5])
            self.hr.setYRange(max(0.0, lo - 10), hi + 10, padding=0)
        for plot in (self.prob, self.hr):
            plot.setLimits(xMin=0, xMax=self.duration_s, minXRange=5.0)
        self.show_all()

    def show_all(self) -> None:
        """Zoom out to the whole record."""
        self.prob.setXRange(0, self.duration_s, padding=0)

    def set_cursor(self, t: float, span: tuple[float, float]) -> None:
        """Move the cursor to `t` and mark the stretch [a, b) the ECG view shows."""
        for line in self.cursors:
            line.setValue(t)
        self.shown_span.setRegion(span)

    @property
    def cursor(self) -> float:
        """The cursor's time, s."""
        return float(self.cursors[0].value())

    def _on_click(self, event) -> None:
        if event.button() != QtCore.Qt.MouseButton.LeftButton:
            return
        for plot in (self.prob, self.hr):
            if plot.sceneBoundingRect().contains(event.scenePos()):
                x = plot.vb.mapSceneToView(event.scenePos()).x()
                self.clicked.emit(float(np.clip(x, 0.0, self.duration_s)))
                return
