"""Latent trajectory: the bundle's training reference cloud by class, a fading trail, the current point.

The class legend is a row of labels outside the plot (`ClassLegend`): a legend drawn inside the view
sat on the Normal cluster and hid the current point whenever the model called Normal.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from app import theme
from core.results import CLASS_NAMES


class ClassLegend(QtWidgets.QWidget):
    """One coloured label per class, in a row; placed beside the plot, never over it."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        row = QtWidgets.QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(10)
        row.addStretch(1)
        self.labels: list[QtWidgets.QLabel] = []
        for i, name in enumerate(CLASS_NAMES):
            label = QtWidgets.QLabel(f"● {name}")
            label.setStyleSheet(f"color: {theme.CLASS_COLORS[i]}; font-size: 11px;")
            label.setAlignment(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
            row.addWidget(label)
            self.labels.append(label)


class TrajectoryPlot(pg.PlotWidget):
    """The live 2-D projection of each window's embedding over the reference cloud it was trained on."""

    def __init__(self, trail: int = 40, parent=None) -> None:
        super().__init__(parent=parent)
        self.trail_length = trail
        self._points = np.zeros((trail, 2))
        self._classes = np.zeros(trail, dtype=int)
        self._count = 0
        plot = self.getPlotItem()
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.setMouseEnabled(x=False, y=False)
        plot.hideAxis("left")
        plot.hideAxis("bottom")
        plot.setAspectLocked(False)
        self.clouds = []
        for i, name in enumerate(CLASS_NAMES):
            color = QtGui.QColor(theme.CLASS_COLORS[i])
            color.setAlpha(70)
            cloud = pg.ScatterPlotItem(size=4, pen=None, brush=color, name=name)
            plot.addItem(cloud)
            self.clouds.append(cloud)
        self.trail_line = pg.PlotCurveItem(pen=pg.mkPen((230, 240, 245, 110), width=1.2))
        self.trail_dots = pg.ScatterPlotItem(size=7, pen=None)
        self.current = pg.ScatterPlotItem(size=18, pen=pg.mkPen("w", width=2.5))
        for item in (self.trail_line, self.trail_dots, self.current):
            plot.addItem(item)

    @property
    def count(self) -> int:
        """How many live points the trail holds."""
        return self._count

    def set_reference(self, points: np.ndarray | None, labels: np.ndarray | None) -> None:
        """Show the reference cloud: points (M, 2) with class indices (M,) in CLASS_CODES order."""
        for cloud in self.clouds:
            cloud.clear()
        if points is None or len(points) == 0:
            return
        points = np.asarray(points, dtype=float)
        labels = np.asarray(labels, dtype=int)
        for i, cloud in enumerate(self.clouds):
            sel = points[labels == i]
            cloud.setData(sel[:, 0], sel[:, 1])
        lo = np.percentile(points, 0.5, axis=0)
        hi = np.percentile(points, 99.5, axis=0)
        pad = 0.08 * (hi - lo + 1e-6)
        self.getPlotItem().setRange(xRange=(lo[0] - pad[0], hi[0] + pad[0]),
                                    yRange=(lo[1] - pad[1], hi[1] + pad[1]), padding=0)

    def clear_trail(self) -> None:
        """Forget the live points (a new source was connected)."""
        self._count = 0
        for item in (self.trail_line, self.trail_dots, self.current):
            item.setData([], [])

    def add_point(self, point: np.ndarray, cls: int) -> None:
        """Append the newest window's point (2,) and its leading class; the oldest fades out."""
        if self._count == self.trail_length:
            self._points[:-1] = self._points[1:]
            self._classes[:-1] = self._classes[1:]
            self._count -= 1
        self._points[self._count] = point
        self._classes[self._count] = cls
        self._count += 1
        pts = self._points[: self._count]
        alphas = np.linspace(30, 220, self._count).astype(int)
        brushes = []
        for c, a in zip(self._classes[: self._count], alphas, strict=True):
            color = QtGui.QColor(theme.CLASS_COLORS[c])
            color.setAlpha(int(a))
            brushes.append(pg.mkBrush(color))
        self.trail_line.setData(pts[:, 0], pts[:, 1])
        self.trail_dots.setData(pts[:, 0], pts[:, 1], brush=brushes)
        self.current.setData([pts[-1, 0]], [pts[-1, 1]], brush=pg.mkBrush(theme.CLASS_COLORS[cls]))
