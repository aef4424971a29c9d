"""Live ECG trace: the last seconds of one stream in mV, swept like a bedside monitor, on ECG paper."""

from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg

from app import theme
from app.widgets.reference import BeatLabels

MINOR_S, MAJOR_S = 0.04, 0.2  # ECG paper: 1 mm = 40 ms, 5 mm = 200 ms at 25 mm/s
MINOR_MV, MAJOR_MV = 0.1, 0.5  # 1 mm = 0.1 mV, 5 mm = 0.5 mV at 10 mm/mV
MIN_SPAN_MV = 2.0


class SweepPacer:
    """A steady display position from bursty sample arrival, so the sweep moves every frame.

    Sources deliver chunks (a replay every 0.1 s, LSL whatever the sender pushes); drawing each chunk as
    it lands would move the trace 10 times a second. The position advances at the measured sample rate
    and is pulled towards (newest sample − one typical chunk); it never passes the newest sample, shows
    everything once samples stop arriving (pause), and snaps when it falls more than 1 s behind.
    """

    CATCH_UP_PER_S = 3.0  # how fast the position closes its distance to the target

    def __init__(self, fs: float) -> None:
        self.fs = fs
        self.reset()

    def reset(self) -> None:
        """Forget the stream (a new source)."""
        self.position = -1.0
        self.rate = self.fs  # samples per second arriving, estimated
        self.chunk = self.fs / 10  # samples per arrival, estimated
        self._last_end = -1
        self._last_arrival = 0.0
        self._last_frame = 0.0

    def advance(self, end: int, now: float) -> int:
        """The sample index (exclusive) to draw up to at time `now`, given the newest index `end`."""
        if self.position < 0 or end < self._last_end:
            self.reset()
            self.position, self._last_end = float(end), end
            self._last_arrival = self._last_frame = now
            return end
        if end > self._last_end:
            gap = now - self._last_arrival
            if gap > 1e-3:
                self.rate = 0.8 * self.rate + 0.2 * min((end - self._last_end) / gap, 100 * self.fs)
            self.chunk = 0.8 * self.chunk + 0.2 * (end - self._last_end)
            self._last_end, self._last_arrival = end, now
        dt = min(now - self._last_frame, 0.25)
        self._last_frame = now
        stale = now - self._last_arrival > 0.3  # nothing new for a while: show all that arrived
        target = float(end) if stale else end - self.chunk
        if target - self.position > self.fs:  # far behind (resume, jump): do not crawl
            self.position = target
        self.position += self.rate * dt + self.CATCH_UP_PER_S * (target - self.position) * dt
        self.position = min(max(self.position, 0.0), float(end))
        return int(self.position)


class SweepTrace:
    """A sweeping (or scrolling) trace of the newest `seconds` of signal, drawn into a PlotItem.

    `set_signal` is called once per frame with the ring buffer's newest samples and the sample index one
    past the last of them; only the samples that are new since the last frame are written into one
    preallocated array. In sweep mode the trace is cut into 0.25 s segments, one PlotCurveItem each
    (setData on views of the preallocated arrays, skipFiniteCheck): a frame rebuilds and repaints only
    the segment under the cursor, and the segment ahead of it is hidden as the eraser gap, as a bedside
    monitor does. Scrolling mode redraws one PlotDataItem with clip-to-view and peak downsampling.
    """

    SEGMENT_S = 0.25

    def __init__(self, plot: pg.PlotItem, fs: float = 300.0, seconds: float = 10.0, compact: bool = False,
                 sweep: bool = True) -> None:
        self.plot = plot
        self.fs = float(fs)
        self.seconds = float(seconds)
        self.sweep = sweep
        self.compact = compact
        self._n = int(round(self.fs * self.seconds))
        self._seg = max(2, int(round(self.SEGMENT_S * self.fs)))  # samples per sweep segment
        self._x = np.arange(self._n, dtype=np.float64) / self.fs
        self._y = np.zeros(self._n, dtype=np.float64)
        self._x_scroll = self._x - self.seconds
        self._y_scroll = np.zeros(self._n, dtype=np.float64)
        self._end = 0  # sample index one past the newest sample drawn
        self.pacer = SweepPacer(self.fs)
        self._filled = 0
        self._y_range = (-1.0, 1.0)
        self._grid_on = not compact
        self._since = 0  # first sample index drawn since the last clear
        self.reference = None  # a core.reference.ReferenceTrack whose beats are labelled, or None
        self.beat_labels: BeatLabels | None = None

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
        # a one-pixel cosmetic pen takes Qt's fast line path: 64 compact beds draw 34-35 frames/s with it
        # against 25-28 with 1.6 px (benchmarks/gui.py, alternated runs)
        pen = pg.mkPen(theme.ECG_GREEN, width=1.0 if compact else 2.0)
        self.segments: list[pg.PlotCurveItem] = []
        for _ in range(-(-self._n // self._seg)):
            item = pg.PlotCurveItem(pen=pen, skipFiniteCheck=True)
            item.setVisible(False)
            plot.addItem(item)
            self.segments.append(item)
        self.scroll_curve = plot.plot(pen=pen, skipFiniteCheck=True)
        self._set_x_range()
        self._apply_y_range(self._y_range)

    @property
    def samples_shown(self) -> int:
        """How many samples the trace currently holds (up to fs × seconds)."""
        return self._filled

    @property
    def capacity(self) -> int:
        """Samples the trace spans (fs × seconds)."""
        return self._n

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
        """Choose sweep mode (fixed paper, moving eraser) or scrolling mode (newest sample at the right)."""
        self.sweep = bool(sweep)
        self._set_x_range()
        self.clear_signal()

    def clear_signal(self) -> None:
        """Forget the trace (a new source was connected)."""
        self._end = 0
        self._filled = 0
        self.pacer.reset()
        for item in self.segments:
            item.setVisible(False)
        self.scroll_curve.setData([], [])
        if self.beat_labels is not None:
            self.beat_labels.clear()

    def set_reference(self, track) -> None:
        """Label the beats of `track` (a core.reference.ReferenceTrack) where they are drawn; None: none."""
        self.reference = track
        if self.beat_labels is None:
            if track is None:
                return
            self.beat_labels = BeatLabels(self.plot)
        self.beat_labels.set_codes(track.symbols if track is not None else ())

    def displayed(self) -> tuple[np.ndarray, np.ndarray]:
        """(sample index, mV) of every point drawn now, for checks: what the trace shows, not the buffer."""
        n, end = self._n, self._end
        cursor = end % n
        index, values = [], []
        if self.sweep:
            for item in self.segments:
                if item.isVisible() and item.xData is not None:
                    pos = np.rint(item.xData * self.fs).astype(int)
                    index.append(np.where(pos < cursor, end - cursor + pos, end - cursor - n + pos))
                    values.append(item.yData)
        else:
            x, y = self.scroll_curve.getOriginalDataset()
            if x is not None:
                index.append(end + np.rint(x * self.fs).astype(int))
                values.append(y)
        if not index:
            return np.empty(0, int), np.empty(0)
        return np.concatenate(index), np.concatenate(values)

    def set_signal(self, samples: np.ndarray, end_index: int, now: float | None = None) -> None:
        """Show `samples` (mV, model rate) ending just before index `end_index`, as far as the pacer says.

        `now` is the frame time (default: the monotonic clock).
        """
        end = self.pacer.advance(int(end_index), time.monotonic() if now is None else now)
        samples = samples[: max(0, len(samples) - (int(end_index) - end))]
        if end < self._end:  # the stream restarted: start a fresh sweep
            self.clear_signal()
        new = min(end - self._end, len(samples), self._n)
        if new <= 0:
            return  # nothing new: no setData, no repaint
        previous = self._end
        if previous == 0:
            self._since = end - new
        self._y[np.arange(end - new, end) % self._n] = samples[len(samples) - new:]
        self._end = end
        self._filled = min(end, self._n)
        if self.sweep:
            self._draw_sweep(previous, end)
        else:
            k = min(len(samples), self._n, end)
            self._y_scroll[self._n - k:] = samples[len(samples) - k:]
            self.scroll_curve.setData(self._x_scroll[self._n - k:], self._y_scroll[self._n - k:],
                                      skipFiniteCheck=True)
        if end // self._seg != previous // self._seg:  # re-check the scale about 4 times a second
            self._autorange(samples[len(samples) - min(len(samples), self._n):])
        if self.reference is not None:
            self._draw_labels()

    def _draw_labels(self) -> None:
        """Beat labels over the samples on screen (in sweep mode: not under the eraser gap, as the trace)."""
        n, seg, end = self._n, self._seg, self._end
        index, code = self.reference.beats(max(self._since, end - n), end)
        if self.sweep:
            count = len(self.segments)
            cursor = end % n
            current = cursor // seg
            pos = index % n
            part = pos // seg
            gap = (current + 1) % count  # the hidden segment ahead of the cursor
            fresh = index >= end - cursor  # drawn in this sweep, left of the cursor
            keep = (part != gap) & (fresh | (part != current))  # old sweep: not in the cursor's segment
            x = pos / self.fs
        else:
            keep = np.ones(len(index), dtype=bool)
            x = (index - end) / self.fs
        y0, y1 = self._y_range
        self.beat_labels.show(index[keep], x[keep], code[keep], y1 - 0.07 * (y1 - y0))

    def _draw_sweep(self, previous: int, end: int) -> None:
        n, seg, count = self._n, self._seg, len(self.segments)
        cursor = end % n
        current = cursor // seg
        if end - previous >= n:
            touched = range(count)  # a full sweep or more since the last frame: redraw everything
        else:
            first = (previous % n) // seg
            touched = [(first + j) % count for j in range((current - first) % count + 1)]
        for j in touched:
            lo = max(j * seg - 1, 0)  # one sample of overlap joins the segment to the one before it
            hi = cursor if j == current else min((j + 1) * seg, n)
            item = self.segments[j]
            if hi - lo < 2:
                item.setVisible(False)
                continue
            item.setData(self._x[lo:hi], self._y[lo:hi], skipFiniteCheck=True)
            item.setVisible(True)
        self.segments[(current + 1) % count].setVisible(False)  # the eraser gap ahead of the cursor

    def _autorange(self, samples: np.ndarray) -> None:
        """Keep a stable vertical scale: change it only when the trace leaves it, snapped to 0.5 mV."""
        finite = samples[np.isfinite(samples)]
        if finite.size == 0:
            return
        lo, hi = float(finite.min()), float(finite.max())
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
        self.plot.setXRange(x0, x0 + self.seconds, padding=0)
        self._draw_grid()

    def _apply_y_range(self, y_range: tuple[float, float]) -> None:
        self._y_range = y_range
        self.plot.setYRange(*y_range, padding=0)
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



class WaveformPlot(pg.PlotWidget):
    """A widget with one SweepTrace: the detail view's ECG."""

    def __init__(self, fs: float = 300.0, seconds: float = 10.0, compact: bool = False,
                 sweep: bool = True, parent=None) -> None:
        super().__init__(parent=parent)
        self.trace = SweepTrace(self.getPlotItem(), fs, seconds, compact, sweep)

    @property
    def samples_shown(self) -> int:
        """How many samples the trace currently holds."""
        return self.trace.samples_shown

    @property
    def grid_visible(self) -> bool:
        """Whether the ECG-paper grid is drawn."""
        return self.trace.grid_visible

    def set_grid(self, on: bool) -> None:
        """Show or hide the ECG-paper grid."""
        self.trace.set_grid(on)

    def set_sweep(self, sweep: bool) -> None:
        """Sweep (True) or scrolling (False) mode."""
        self.trace.set_sweep(sweep)

    def clear_signal(self) -> None:
        """Forget the trace."""
        self.trace.clear_signal()

    def set_reference(self, track) -> None:
        """Label a record's reference beats on the trace (None: no labels); see SweepTrace.set_reference."""
        self.trace.set_reference(track)

    def set_signal(self, samples: np.ndarray, end_index: int, now: float | None = None) -> None:
        """Show the newest samples; see SweepTrace.set_signal."""
        self.trace.set_signal(samples, end_index, now)

    def displayed(self) -> tuple[np.ndarray, np.ndarray]:
        """(sample index, mV) of every point drawn now."""
        return self.trace.displayed()

    @property
    def capacity(self) -> int:
        """Samples the trace spans (fs × seconds)."""
        return self.trace.capacity
