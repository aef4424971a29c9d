"""A replayed record's reference annotations in the detail view: beat labels on the ECG, strip legend.

Beat labels are one ScatterPlotItem whose symbols are the annotation codes drawn as text paths (made once
per code), so a frame that changes the visible beats is one setData on arrays, with no item per label.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtGui, QtWidgets

from app import theme

LABEL_PX = 13
NORMAL_BEAT = "N"
ECTOPIC_COLOR = "#ffd54f"  # every beat label other than N, so ectopy stands out on the trace


def _objects(items: list) -> np.ndarray:
    """A 1-D object array of `items` (numpy would otherwise look inside Qt objects)."""
    out = np.empty(len(items), dtype=object)
    for i, item in enumerate(items):
        out[i] = item
    return out


def text_symbol(text: str) -> QtGui.QPainterPath:
    """`text` as a path centred at (0, 0) in a unit box, the form ScatterPlotItem draws at `size` px."""
    font = QtGui.QFont()
    font.setPixelSize(40)
    font.setBold(True)
    path = QtGui.QPainterPath()
    path.addText(0, 0, font, text)
    box = path.boundingRect()
    scale = 1.0 / max(box.width(), box.height(), 1e-6)
    transform = QtGui.QTransform()
    transform.scale(scale, scale)
    transform.translate(-box.center().x(), -box.center().y())
    return transform.map(path)


class BeatLabels:
    """Reference beat codes (N, V, A, ...) at their samples' x, along the top of an ECG plot."""

    def __init__(self, plot: pg.PlotItem) -> None:
        self.item = pg.ScatterPlotItem(size=LABEL_PX, pen=None, pxMode=True)
        self.item.setZValue(5)
        plot.addItem(self.item)
        self._symbols = np.empty(0, dtype=object)
        self._brushes = np.empty(0, dtype=object)
        self._key: tuple = ()
        self.index = np.empty(0, dtype=np.int64)  # stream index of each label shown
        self.codes: tuple[str, ...] = ()

    def set_codes(self, codes: tuple[str, ...]) -> None:
        """The annotation codes labels can show (index i of a beat's code refers to codes[i])."""
        self.codes = tuple(codes)
        self._symbols = _objects([text_symbol(c) for c in self.codes])
        dim, bright = pg.mkBrush(theme.TEXT), pg.mkBrush(ECTOPIC_COLOR)
        self._brushes = _objects([dim if c == NORMAL_BEAT else bright for c in self.codes])
        self.clear()

    def clear(self) -> None:
        """Show no label."""
        self._key = ()
        self.index = np.empty(0, dtype=np.int64)
        self.item.setData([], [])

    def show(self, index: np.ndarray, x: np.ndarray, code: np.ndarray, y: float) -> None:
        """Labels for beats at stream `index`, drawn at `x` (s) and height `y` (mV); skipped if unchanged."""
        key = (len(index), int(index[0]) if len(index) else -1, int(index[-1]) if len(index) else -1, y,
               float(x[0]) if len(x) else 0.0)
        if key == self._key:
            return
        self._key = key
        self.index = np.asarray(index, dtype=np.int64)
        self.item.setData(x=x, y=np.full(len(x), y), symbol=self._symbols[code], brush=self._brushes[code])

    def shown(self) -> list[tuple[int, float, str]]:
        """(stream index, x in s, code) of every label drawn now, for checks."""
        x, _ = self.item.getData()
        symbols = list(self.item.data["symbol"]) if len(self.index) else []
        by_path = {id(p): c for p, c in zip(self._symbols, self.codes, strict=True)}
        return [(int(i), float(xi), by_path[id(s)]) for i, xi, s in zip(self.index, x, symbols, strict=True)]


def strip_legend() -> str:
    """Rich text naming the reference strip's colours."""
    names = (("sinus", 0), ("AF", 1), ("other", 2))
    keys = " ".join(f"<span style='color:{theme.CLASS_COLORS[i]}'>■</span> {n}" for n, i in names)
    return f"reference strip (under the bars): {keys}"


class ReferenceLine(QtWidgets.QLabel):
    """Under the class history: what the strip shows and the running AF agreement with the reference."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setStyleSheet(f"color: {theme.TEXT_DIM}; font-size: 11px;")
        self.setWordWrap(True)
        self.agreement = ""
        self.hide()

    def set_agreement(self, text: str) -> None:
        """Show the legend and the agreement line (e.g. Agreement.text())."""
        self.agreement = text
        self.setText(f"{strip_legend()}<br>{text}")
        self.show()
