"""Review mode's ECG: a slice of the record around the cursor, at full rate, with episodes and beat labels.

Only the slice on screen is ever held (core.records.read_segment reads it from disk). The mouse does not
pan or zoom the plot itself: the wheel asks the window to zoom (`zoom(+1/-1)`), a click moves the cursor
(`clicked(t)`), so the cursor, the overview and this view always agree.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore

from app import theme
from app.widgets.overview import ClockAxis, band_item, bands
from app.widgets.reference import BeatLabels

MIN_SPAN_MV = 2.0


class EcgSlice(pg.PlotWidget):
    """The ECG from `start_sample` for `len(samples)` samples, x in seconds from the record's start."""

    zoom = QtCore.Signal(int)  # +1 zoom in (shorter span), -1 zoom out
    clicked = QtCore.Signal(float)

    def __init__(self, parent=None) -> None:
        super().__init__(parent=parent, axisItems={"bottom": ClockAxis("bottom")})
        plot = self.getPlotItem()
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.setMouseEnabled(x=False, y=False)
        plot.showGrid(x=True, y=True, alpha=0.2)
        plot.setLabel("left", "mV")
        plot.setDownsampling(auto=True, mode="peak")  # two minutes at 360 Hz is more points than pixels
        self.model_bands = band_item(theme.CLASS_COLORS[1], 45)
        self.reference_bands = band_item(theme.TEXT_DIM, 110, z=-5)
        plot.addItem(self.model_bands)
        plot.addItem(self.reference_bands)
        self.curve = pg.PlotDataItem(pen=pg.mkPen(theme.ECG_GREEN, width=1.2), skipFiniteCheck=False,
                                     connect="finite")
        plot.addItem(self.curve)
        dashed = pg.mkPen(theme.TEXT, width=1, style=QtCore.Qt.PenStyle.DashLine)
        self.cursor = pg.InfiniteLine(angle=90, pen=dashed)
        plot.addItem(self.cursor)
        self.labels = BeatLabels(plot)
        self.start_sample = 0
        self.samples = np.empty(0)
        self.fs = 1.0
        self.message = pg.TextItem("", color=theme.TEXT_DIM, anchor=(0.5, 0.5))
        plot.addItem(self.message)

    def set_codes(self, codes: tuple[str, ...]) -> None:
        """The beat codes the record's annotations use (for the labels)."""
        self.labels.set_codes(codes)

    def show_slice(self, start_sample: int, samples: np.ndarray, fs: float, span: tuple[float, float],
                   cursor: float, model: list[tuple[float, float]], reference: list[tuple[float, float]],
                   beats: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """Draw `samples` (mV) from `start_sample` over `span` (s), the cursor, AF episodes and beat labels.

        `model` and `reference` are AF episodes (s) overlapping the span; `beats` is (sample, index into
        the codes) of the reference beats in the slice.
        """
        self.start_sample, self.samples, self.fs = int(start_sample), np.asarray(samples, float), float(fs)
        t = (self.start_sample + np.arange(len(self.samples))) / self.fs
        self.curve.setData(t, self.samples)
        self.message.setText("")
        plot = self.getPlotItem()
        plot.setXRange(*span, padding=0)
        finite = self.samples[np.isfinite(self.samples)]
        lo, hi = (np.percentile(finite, [0.2, 99.8]) if finite.size else (-1.0, 1.0))
        mid, half = (lo + hi) / 2, max(MIN_SPAN_MV, (hi - lo) * 1.15) / 2
        plot.setYRange(mid - half, mid + half, padding=0)
        bands(self.model_bands, model, mid - half, 2 * half)
        bands(self.reference_bands, reference, mid + half * 0.92, half * 0.08)
        self.cursor.setValue(cursor)
        if beats is not None and len(beats[0]) and self.labels.codes:
            self.labels.show(beats[0], beats[0] / self.fs, beats[1], mid + half * 0.8)
        else:
            self.labels.clear()

    def show_message(self, text: str, span: tuple[float, float], cursor: float) -> None:
        """No ECG to draw (record not found, unreadable): say why where the trace would be."""
        self.samples = np.empty(0)
        self.curve.setData([], [])
        self.labels.clear()
        bands(self.model_bands, [], 0, 1)
        bands(self.reference_bands, [], 0, 1)
        plot = self.getPlotItem()
        plot.setXRange(*span, padding=0)
        plot.setYRange(-1, 1, padding=0)
        self.cursor.setValue(cursor)
        self.message.setText(text)
        self.message.setPos((span[0] + span[1]) / 2, 0)

    def wheelEvent(self, event) -> None:  # noqa: N802 - Qt override
        """Wheel up zooms in (a shorter span), down zooms out."""
        step = event.angleDelta().y()
        if step:
            self.zoom.emit(1 if step > 0 else -1)
        event.accept()

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt override
        """A left click moves the cursor to the time clicked."""
        if event.button() == QtCore.Qt.MouseButton.LeftButton:
            x = self.getPlotItem().vb.mapSceneToView(self.mapToScene(event.position().toPoint())).x()
            self.clicked.emit(float(x))
        super().mousePressEvent(event)
