"""Class confidence: live bars for Normal / AF / Other / Noisy and a stacked history of the last 60 s.

Under the history, when the replayed record has rhythm annotations, a strip shows the reference rhythm
over the same seconds (sinus, AF, other in the class colours), on the same time axis.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from app import theme
from core.results import CLASS_NAMES


class ConfidenceBars(QtWidgets.QWidget):
    """Four horizontal bars with the newest window's class probabilities, the leading class emphasised."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._probs = np.full(len(CLASS_NAMES), np.nan)
        self.setMinimumHeight(110)

    @property
    def probs(self) -> np.ndarray:
        """The probabilities on display (NaN before the first result)."""
        return self._probs.copy()

    def set_probs(self, probs: np.ndarray | None) -> None:
        """Show a new probability vector (N, A, O, ~); None clears the bars."""
        self._probs = np.full(len(CLASS_NAMES), np.nan) if probs is None else np.asarray(probs, float)
        self.update()

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:  # noqa: N802 - Qt override
        """Draw one row per class: name, bar, percentage."""
        p = QtGui.QPainter(self)
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        w, h = self.width(), self.height()
        rows = len(CLASS_NAMES)
        row_h = h / rows
        label_w, pct_w = 78, 52
        bar_w = max(10, w - label_w - pct_w - 12)
        best = int(np.nanargmax(self._probs)) if np.isfinite(self._probs).any() else -1
        font = p.font()
        for i, name in enumerate(CLASS_NAMES):
            y = i * row_h
            color = QtGui.QColor(theme.CLASS_COLORS[i])
            font.setBold(i == best)
            font.setPixelSize(int(min(16, row_h * 0.5)))
            p.setFont(font)
            p.setPen(QtGui.QColor(theme.TEXT if i == best else theme.TEXT_DIM))
            p.drawText(QtCore.QRectF(4, y, label_w, row_h), QtCore.Qt.AlignmentFlag.AlignVCenter, name)
            track = QtCore.QRectF(label_w, y + row_h * 0.22, bar_w, row_h * 0.56)
            p.setPen(QtCore.Qt.PenStyle.NoPen)
            p.setBrush(QtGui.QColor("#1a232b"))
            p.drawRoundedRect(track, 3, 3)
            value = self._probs[i]
            if np.isfinite(value):
                fill = QtCore.QRectF(track.x(), track.y(), track.width() * float(np.clip(value, 0, 1)),
                                     track.height())
                if i != best:
                    color.setAlpha(150)
                p.setBrush(color)
                p.drawRoundedRect(fill, 3, 3)
                p.setPen(QtGui.QColor(theme.TEXT))
                p.drawText(QtCore.QRectF(label_w + bar_w + 6, y, pct_w, row_h),
                           QtCore.Qt.AlignmentFlag.AlignVCenter | QtCore.Qt.AlignmentFlag.AlignRight,
                           f"{100 * value:.0f}%")
        p.end()


REFERENCE_BAND = (-0.17, -0.05)  # y extent of the reference strip, under the stacked bars (0 ... 1)
REFERENCE_CLASSES = 3  # sinus, AF, other (core.reference.rhythm_class)


class ConfidenceHistory(pg.PlotWidget):
    """Stacked class probabilities of the last `seconds` of results, the newest ending at x = 0."""

    def __init__(self, seconds: float = 60.0, fs: float = 300.0, parent=None) -> None:
        super().__init__(parent=parent)
        self.seconds, self.fs = float(seconds), float(fs)
        cap = int(seconds) * 4 + 8  # room for hops shorter than 1 s
        self._t = np.zeros(cap)  # window end, in samples
        self._cum = np.zeros((cap, len(CLASS_NAMES)))
        self._count = 0
        plot = self.getPlotItem()
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.setMouseEnabled(x=False, y=False)
        plot.setXRange(-self.seconds, 0, padding=0)
        plot.setYRange(0, 1, padding=0)
        plot.getAxis("left").setTicks([[(0, "0"), (0.5, ".5"), (1, "1")]])
        plot.setLabel("bottom", "s")
        self._bars: list[pg.BarGraphItem] = []
        for i in range(len(CLASS_NAMES)):  # one stacked bar per result and class
            color = QtGui.QColor(theme.CLASS_COLORS[i])
            color.setAlpha(210)
            item = pg.BarGraphItem(x0=[], y0=[], width=1.0, height=[], brush=color, pen=None)
            plot.addItem(item)
            self._bars.append(item)
        self._ref_bars: list[pg.BarGraphItem] = []
        for i in range(REFERENCE_CLASSES):
            item = pg.BarGraphItem(x0=[], y0=REFERENCE_BAND[0], width=[], height=np.diff(REFERENCE_BAND)[0],
                                   brush=QtGui.QColor(theme.CLASS_COLORS[i]), pen=None)
            plot.addItem(item)
            self._ref_bars.append(item)
        self.reference_segments = (np.empty(0), np.empty(0), np.empty(0, dtype=int))  # as last drawn
        self.show_reference(False)

    @property
    def count(self) -> int:
        """How many results the strip holds."""
        return self._count

    def clear_history(self) -> None:
        """Forget the history (a new source was connected). Not `clear`: PlotWidget forwards that name."""
        self._count = 0
        for item in self._bars:
            item.setOpts(x0=[], y0=[], height=[])
        self.set_reference(np.empty(0), np.empty(0), np.empty(0, dtype=int))

    def show_reference(self, on: bool) -> None:
        """Make room for the reference strip under the bars (on) or give the bars the whole height."""
        plot = self.getPlotItem()
        plot.setYRange(REFERENCE_BAND[0] - 0.03 if on else 0, 1, padding=0)
        ticks = [(0, "0"), (0.5, ".5"), (1, "1")]
        plot.getAxis("left").setTicks([ticks + [(float(np.mean(REFERENCE_BAND)), "ref")] if on else ticks])
        if not on:
            self.set_reference(np.empty(0), np.empty(0), np.empty(0, dtype=int))

    def set_reference(self, x0: np.ndarray, x1: np.ndarray, classes: np.ndarray) -> None:
        """Draw reference rhythm pieces [x0, x1) in seconds (newest result at 0), class 0/1/2 each."""
        self.reference_segments = (np.asarray(x0, float), np.asarray(x1, float), np.asarray(classes, int))
        for i, item in enumerate(self._ref_bars):
            sel = self.reference_segments[2] == i
            item.setOpts(x0=self.reference_segments[0][sel],
                         width=self.reference_segments[1][sel] - self.reference_segments[0][sel])

    def add(self, end_index: int, probs: np.ndarray) -> None:
        """Append one window's probabilities; older than `seconds` falls off the left."""
        if self._count == len(self._t):
            self._t[:-1] = self._t[1:]
            self._cum[:-1] = self._cum[1:]
            self._count -= 1
        self._t[self._count] = end_index
        self._cum[self._count] = np.cumsum(probs)
        self._count += 1
        t = (self._t[: self._count] - end_index) / self.fs
        width = float(np.median(np.diff(t))) if self._count > 1 else 1.0
        cum = self._cum[: self._count]
        for i, item in enumerate(self._bars):
            low = cum[:, i - 1] if i else np.zeros(self._count)
            item.setOpts(x0=t - width, y0=low, height=cum[:, i] - low, width=width)
