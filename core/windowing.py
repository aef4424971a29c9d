"""Cut model windows (W samples every H samples) from a stream's ring buffer, each exactly once.

A `Windower` remembers the start index of the next window it owes; `poll()` returns every window the
ring now completes, in order. Windows start at absolute model-rate indices 0, H, 2H, ... so the same
record gives the same windows however it was chunked. If the reader fell so far behind that a window's
samples were overwritten, it skips ahead to the oldest complete window still held and counts what it
skipped. `offline_windows` cuts the same windows from a whole preprocessed record (training, tests);
`eval_windows` cuts the layout a whole recording is classified on (hop W/4, one window flush with its end).
Windows are raw mV (cast to the ring's dtype); apply `core.preprocess.normalize_window` before the model.
"""

from __future__ import annotations

import logging
from typing import NamedTuple

import numpy as np

from core.preprocess import STD_FLOOR_MV, flag_names, normalize_window
from core.ring import OverwrittenError, RingBuffer
from engines.contract import HOP, WINDOW  # the model contract's window and the monitor's hop

log = logging.getLogger(__name__)


class Window(NamedTuple):
    """One window of one stream: absolute start index at the model rate, raw samples, quality flags."""

    stream_id: int
    start: int
    samples: np.ndarray  # (W,) in mV, ring dtype (float32 by default)
    flags: frozenset[str]  # core.preprocess flag names seen anywhere in the window, e.g. {"flat"}

    @property
    def end(self) -> int:
        """Absolute index one past the window's last sample."""
        return self.start + int(self.samples.shape[0])


class Windower:
    """Yield each (stream_id, start, window) of a ring buffer exactly once, at a fixed hop."""

    def __init__(self, ring: RingBuffer, stream_id: int = 0, window: int = WINDOW, hop: int = HOP) -> None:
        if window <= 0 or hop <= 0:
            raise ValueError(f"window and hop must be positive; got window={window!r}, hop={hop!r}")
        if window > ring.capacity:
            raise ValueError(f"window={window} does not fit in a ring of capacity {ring.capacity}")
        self.ring = ring
        self.stream_id = stream_id
        self.window = window
        self.hop = hop
        self.next_start = 0  # absolute start index of the next window owed
        self.skipped = 0  # windows lost because their samples were overwritten before being read

    def poll(self) -> list[Window]:
        """Every window completed since the last call, oldest first."""
        out: list[Window] = []
        while self.next_start + self.window <= self.ring.total:
            start = self.next_start
            try:
                samples, marks = self.ring.read_with_flags(start, start + self.window)
            except OverwrittenError:
                self._skip_to_held()
                continue
            out.append(Window(self.stream_id, start, samples, flag_names(marks)))
            self.next_start = start + self.hop
        return out

    def _skip_to_held(self) -> None:
        oldest = self.ring.oldest
        behind = max(1, -(-(oldest - self.next_start) // self.hop))  # hops to reach a held start
        self.skipped += behind
        self.next_start += behind * self.hop
        log.warning("stream %s: %d window(s) overwritten before being read; skipped", self.stream_id, behind)


def offline_windows(
    signal: np.ndarray,
    flags: np.ndarray | None = None,
    window: int = WINDOW,
    hop: int = HOP,
    stream_id: int = 0,
    dtype: type | np.dtype = np.float32,
) -> list[Window]:
    """The windows a Windower would yield for this whole model-rate signal (same dtype, same flags)."""
    values = np.asarray(signal).astype(dtype, copy=False)
    marks = np.zeros(values.shape[0], dtype=np.uint8) if flags is None else np.asarray(flags, dtype=np.uint8)
    return [
        Window(stream_id, s, values[s : s + window].copy(), flag_names(marks[s : s + window]))
        for s in range(0, values.shape[0] - window + 1, hop)
    ]


def window_starts(
    n: int, hop: int, offset: int = 0, window: int = WINDOW, cover_end: bool = False
) -> np.ndarray:
    """Start indices of windows of `window` at `hop` from `offset` (clipped so one window fits).

    cover_end adds a last window flush with the record's end (evaluation covers every sample; training
    crops do not, so every training window starts on the hop grid of its random phase). A record
    shorter than the window yields one start (0); cut_windows pads it by repeating the record.
    """
    if n <= window:
        return np.zeros(1, dtype=np.int64)
    offset = min(offset, n - window)
    starts = list(range(offset, n - window + 1, hop))
    if cover_end and starts[-1] != n - window:
        starts.append(n - window)
    return np.asarray(starts, dtype=np.int64)


def eval_windows(x: np.ndarray, window: int = WINDOW, hop: int | None = None,
                 std_floor_mv: float = STD_FLOOR_MV) -> np.ndarray:
    """The windows (K, W) a record is scored on: at `hop` (default W/4) from its start, one at its end."""
    hop = hop or window // 4
    return cut_windows(x, window_starts(len(x), hop, 0, window, cover_end=True), window, std_floor_mv)


def cut_windows(x: np.ndarray, starts: np.ndarray, window: int = WINDOW,
                std_floor_mv: float = STD_FLOOR_MV) -> np.ndarray:
    """Windows (K, W) of x, each normalised; a record shorter than W is tiled (repeated) up to W.

    Tiling keeps the rhythm statistics of a short record, where zero padding would add a flat line the
    model never sees in the monitor.
    """
    if len(x) < window:
        reps = -(-window // max(len(x), 1))
        x = np.tile(x, reps)[:window]
    out = np.stack([x[s : s + window] for s in starts])
    return np.asarray(normalize_window(out, std_floor_mv), dtype=np.float32)
