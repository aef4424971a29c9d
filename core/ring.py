"""Per-stream ring buffer of model-rate samples (and their quality flags) addressed by absolute index.

One acquisition thread writes; any number of readers (windowing, GUI, heart rate) copy snapshots out by
absolute sample index. Storage is preallocated and the lock is held only for the copy in or out. Sample
indices only grow (`total` counts every sample ever written), so a reader always knows whether what it
wants is still there: asking for samples already overwritten raises `OverwrittenError` and counts an
overrun, which is how a reader that falls behind is noticed instead of silently reading newer data.
"""

from __future__ import annotations

import threading
import time

import numpy as np


class OverwrittenError(IndexError):
    """The requested samples were overwritten: the reader fell more than `capacity` samples behind."""


class RingBuffer:
    """Fixed-capacity circular buffer of samples with a monotonically increasing absolute index."""

    def __init__(self, capacity: int, dtype: type | np.dtype = np.float32) -> None:
        if int(capacity) != capacity or capacity <= 0:
            raise ValueError(f"capacity must be a strictly positive integer; {capacity!r} is invalid")
        self.capacity = int(capacity)
        self._data = np.zeros(self.capacity, dtype=dtype)
        self._flags = np.zeros(self.capacity, dtype=np.uint8)
        self._total = 0  # samples ever written; the next sample's absolute index
        self._overruns = 0  # reads that asked for overwritten samples, plus writes larger than capacity
        self._last_write_time = float("nan")  # time.monotonic() of the latest write
        self._lock = threading.Lock()

    @property
    def dtype(self) -> np.dtype:
        """Element type of the stored samples."""
        return self._data.dtype

    @property
    def total(self) -> int:
        """Number of samples ever written: the absolute index one past the newest sample."""
        return self._total

    @property
    def oldest(self) -> int:
        """Absolute index of the oldest sample still held."""
        return max(0, self._total - self.capacity)

    @property
    def overruns(self) -> int:
        """Times data was lost to a slow reader: reads of overwritten samples plus oversize writes."""
        return self._overruns

    @property
    def last_write_time(self) -> float:
        """time.monotonic() when the newest samples were written (nan before the first write)."""
        return self._last_write_time

    def write(self, samples: np.ndarray, flags: np.ndarray | None = None) -> int:
        """Append samples (and their uint8 flags, zero if None); return the new total."""
        values = np.asarray(samples).ravel()
        n = values.size
        marks = np.zeros(n, dtype=np.uint8) if flags is None else np.asarray(flags, dtype=np.uint8).ravel()
        if marks.size != n:
            raise ValueError(f"flags must match samples: {marks.size} flags for {n} samples")
        with self._lock:
            if n > self.capacity:  # only the newest `capacity` samples can be kept
                self._overruns += 1
            self._put(self._data, values, self._total)
            self._put(self._flags, marks, self._total)
            self._total += n
            self._last_write_time = time.monotonic()
            return self._total

    def read(self, start: int, stop: int) -> np.ndarray:
        """Copy of samples with absolute indices [start, stop)."""
        return self.read_with_flags(start, stop)[0]

    def read_with_flags(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """Copies of samples and their flags with absolute indices [start, stop)."""
        if not 0 <= start <= stop:
            raise ValueError(f"read range [{start}, {stop}) is invalid: need 0 <= start <= stop")
        with self._lock:
            if stop > self._total:
                raise ValueError(f"samples up to {stop} requested but only {self._total} written yet")
            if start < self._total - self.capacity:
                self._overruns += 1
                raise OverwrittenError(
                    f"samples from {start} were overwritten (oldest held is {self.oldest}, capacity "
                    f"{self.capacity}); the reader fell behind: read more often or enlarge the buffer"
                )
            return self._get(self._data, start, stop), self._get(self._flags, start, stop)

    def latest(self, n: int) -> tuple[int, np.ndarray]:
        """(absolute start index, copy) of the newest min(n, held) samples, e.g. for a display."""
        with self._lock:
            stop = self._total
            start = max(stop - min(n, self.capacity), 0)
            return start, self._get(self._data, start, stop)

    def _put(self, buf: np.ndarray, values: np.ndarray, at: int) -> None:
        n = values.size
        if n > self.capacity:
            values, at = values[n - self.capacity :], at + n - self.capacity
            n = self.capacity
        i = at % self.capacity
        first = min(n, self.capacity - i)
        buf[i : i + first] = values[:first]
        buf[: n - first] = values[first:]

    def _get(self, buf: np.ndarray, start: int, stop: int) -> np.ndarray:
        i, n = start % self.capacity, stop - start
        if i + n <= self.capacity:
            return buf[i : i + n].copy()
        return np.concatenate([buf[i:], buf[: i + n - self.capacity]])
