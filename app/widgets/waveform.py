"""Live ECG trace: the last seconds of one stream in mV, swept like a bedside monitor, on ECG paper."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from app import theme

MINOR_S, MAJOR_S = 0.04, 0.2  # ECG paper: 1 mm = 40 ms, 5 mm = 200 ms at 25 mm/s
MINOR_MV, MAJOR_MV = 0.1, 0.5  # 1 mm = 0.1 mV, 5 mm = 0.5 mV at 10 mm/mV
MIN_SPAN_MV = 2.0


class WaveformPlot(pg.PlotWidget):
    """A sweeping (or scrolling) trace of the newest `seconds` of signal.

    Both curves are views of one preallocated array; `set_signal` is called once per frame with the ring
    buffer's newest samples and the sample index one past the last of them.
    """

    def __init__(self, fs: float = 300.0, seconds: float = 10.0, compact: bool = False,
                 sweep: bool = True, parent=None) -> None:
        super().__init__(parent=parent)
        self.fs = float(fs)
        self.seconds = float(seconds)
        self.sweep = sweep
        self.compact = compact
        self._n = int(round(self.fs * self.seconds))
        self._gap = max(1, int(0.25 * self.fs))  # the blank "eraser" ahead of the sweep cursor
        self._x = np.arange(self._n, dtype=np.float64) / self.fs
        self._y = np.zeros(self._n, dtype=np.float64)
        self._x_scroll = self._x - self.seconds
        self._filled = 0
        self._y_range = (-1.0, 1.0)
        self._grid_on = not compact

        plot = self.getPlotItem()
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.setMouseEnabled(x=False, y=False)
        plot.setClipToView(True)
        plot.setDownsampling(auto=True, mode="peak")
        if compact:
            plot.hideAxis("left")
            plot.hideAxis("bottom")
        else:
            plot.setLabel("left", "mV")
            plot.setLabel("bottom", "s")
        self._grid = pg.PlotCurveItem(connect="pairs", pen=pg.mkPen(theme.GRID_MINOR, width=1))
        self._grid_major = pg.PlotCurveItem(connect="pairs", pen=pg.mkPen(theme.GRID_MAJOR, width=1))
        for item in (self._grid, self._grid_major):
            plot.addItem(item)
        pen = pg.mkPen(theme.ECG_GREEN, width=1.6 if compact else 2.0)
        self.curve_a = plot.plot(pen=pen, skipFiniteCheck=True)
        self.curve_b = plot.plot(pen=pen, skipFiniteCheck=True)
        self.cursor = pg.InfiniteLine(angle=90, pen=pg.mkPen((57, 255, 106, 90), width=1))
        plot.addItem(self.cursor)
        self.cursor.setVisible(sweep)
        self._set_x_range()
        self._apply_y_range(self._y_range)

    @property
    def samples_shown(self) -> int:
        """How many samples the curves currently hold (up to fs × seconds)."""
        return self._filled

    @property
    def grid_visible(self) -> bool:
        """Whether the ECG-paper grid is drawn."""
        return self._grid_on

    def set_grid(self, on: bool) -> None:
        """Show or hide the ECG-paper grid (1 mm = 40 ms / 0.1 mV, bold every 5 mm)."""
        self._grid_on = bool(on)
        self._grid.setVisible(self._grid_on)
        self._grid_major.setVisible(self._grid_on)

    def set_sweep(self, sweep: bool) -> None:
        """Choose sweep mode (fixed paper, moving cursor) or scrolling mode (newest sample at the right)."""
        self.sweep = bool(sweep)
        self.cursor.setVisible(self.sweep)
        self._set_x_range()
        self.clear_signal()

    def clear_signal(self) -> None:
        """Forget the trace (a new source was connected)."""
        self._filled = 0
        self.curve_a.setData([], [])
        self.curve_b.setData([], [])

    def set_signal(self, samples: np.ndarray, end_index: int) -> None:
        """Show `samples` (mV, model rate), the newest ones, ending just before sample index `end_index`."""
        k = min(len(samples), self._n, int(end_index))
        if k <= 0:
            return
        samples = samples[-k:]
        if self.sweep:
            self._show_sweep(samples, int(end_index))
        else:
            self._y[self._n - k:] = samples
            self.curve_a.setData(self._x_scroll[self._n - k:], self._y[self._n - k:], skipFiniteCheck=True)
            self.curve_b.setData([], [])
        self._filled = k
        self._autorange(samples)

    def _show_sweep(self, samples: np.ndarray, end_index: int) -> None:
        k, n = len(samples), self._n
        pos = np.arange(end_index - k, end_index) % n
        self._y[pos] = samples
        cursor = end_index % n
        self.curve_a.setData(self._x[:cursor], self._y[:cursor], skipFiniteCheck=True)
        start_b = cursor + self._gap
        if end_index >= n and start_b < n:
            self.curve_b.setData(self._x[start_b:], self._y[start_b:], skipFiniteCheck=True)
        else:
            self.curve_b.setData([], [])
        self.cursor.setValue(cursor / self.fs)

    def _autorange(self, samples: np.ndarray) -> None:
        """Keep a stable vertical scale: change it only when the trace leaves it, snapped to 0.5 mV."""
        finite = samples[np.isfinite(samples)]
        if finite.size == 0:
            return
        lo, hi = np.percentile(finite, [0.5, 99.5])
        cur_lo, cur_hi = self._y_range
        inside = lo >= cur_lo and hi <= cur_hi
        too_loose = (hi - lo) < 0.35 * (cur_hi - cur_lo) and (cur_hi - cur_lo) > MIN_SPAN_MV
        if inside and not too_loose:
            return
        pad = 0.15 * max(hi - lo, 0.1)
        new_lo = np.floor((lo - pad) / MAJOR_MV) * MAJOR_MV
        new_hi = np.ceil((hi + pad) / MAJOR_MV) * MAJOR_MV
        if new_hi - new_lo < MIN_SPAN_MV:
            mid = 0.5 * (new_lo + new_hi)
            new_lo, new_hi = mid - MIN_SPAN_MV / 2, mid + MIN_SPAN_MV / 2
        self._apply_y_range((float(new_lo), float(new_hi)))

    def _set_x_range(self) -> None:
        x0 = 0.0 if self.sweep else -self.seconds
        self.getPlotItem().setXRange(x0, x0 + self.seconds, padding=0)
        self._draw_grid()

    def _apply_y_range(self, y_range: tuple[float, float]) -> None:
        self._y_range = y_range
        self.getPlotItem().setYRange(*y_range, padding=0)
        self._draw_grid()

    def _draw_grid(self) -> None:
        x0 = 0.0 if self.sweep else -self.seconds
        x1 = x0 + self.seconds
        y0, y1 = self._y_range
        for item, dx, dy in ((self._grid, MINOR_S, MINOR_MV), (self._grid_major, MAJOR_S, MAJOR_MV)):
            xs = np.arange(np.ceil(x0 / dx) * dx, x1 + dx / 2, dx)
            ys = np.arange(np.ceil(y0 / dy - 1e-9) * dy, y1 + dy / 2, dy)
            vx = np.repeat(xs, 2)
            vy = np.tile([y0, y1], len(xs))
            hx = np.tile([x0, x1], len(ys))
            hy = np.repeat(ys, 2)
            item.setData(np.concatenate([vx, hx]), np.concatenate([vy, hy]))
        self.set_grid(self._grid_on)

