"""The windows waiting for inference: one bounded queue per stream, taken in batches round-robin.

Acquisition puts windows in (`put`), the inference workers take batches out (`next_batch`, then `done`).
Fairness: a batch takes one window from each stream with pending windows in turn, so a stream that
produced many windows at once (a catching-up replay) cannot starve the others.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass

import numpy as np


@dataclass
class PendingWindow:
    """One window waiting for inference."""

    stream_id: int
    end_index: int  # model-rate index one past the window's last sample
    samples: np.ndarray  # (W,) float64 band-passed mV
    arrival_time: float  # time.monotonic() when its last sample was read
    flags: frozenset[str]


class BatchQueue:
    """Per-stream bounded queues of PendingWindows and the batches the worker takes from them.

    `limit` is the per-stream bound under the "drop" policy: a put into a full queue drops that stream's
    OLDEST windows (counted). None: unbounded ("block" policy; acquisition then stops reading a stream
    whose queue holds `limit`-many windows, see `count`). Thread-safe.
    """

    def __init__(self, max_batch: int, max_wait_ms: float, limit: int | None) -> None:
        self.max_batch = max_batch
        self.max_wait_s = max_wait_ms / 1e3
        self.limit = limit
        self.dropped = 0  # windows dropped by back-pressure, all streams
        self._cond = threading.Condition()  # guards every queue, _ready, _n_pending and _in_flight
        self._queues: dict[int, deque[PendingWindow]] = {}
        self._ready: OrderedDict[int, None] = OrderedDict()  # streams with pending windows, round-robin
        self._n_pending = 0
        self._in_flight = 0  # windows taken by the workers and not yet published

    def add_stream(self, stream_id: int) -> None:
        """Open an empty queue for a new stream."""
        with self._cond:
            self._queues[stream_id] = deque()

    def remove_stream(self, stream_id: int) -> None:
        """Discard a stream's pending windows and its queue."""
        with self._cond:
            queue = self._queues.pop(stream_id, None)
            if queue is not None:
                self._n_pending -= len(queue)
            self._ready.pop(stream_id, None)

    def put(self, stream_id: int, windows: list[PendingWindow]) -> int:
        """Append windows to a stream's queue; return how many of its oldest were dropped to make room."""
        dropped = 0
        with self._cond:
            queue = self._queues.get(stream_id)
            if queue is None:
                return 0  # removed meanwhile
            for w in windows:
                if self.limit is not None and len(queue) >= self.limit:
                    queue.popleft()
                    self._n_pending -= 1
                    dropped += 1
                queue.append(w)
                self._n_pending += 1
            if stream_id not in self._ready:
                self._ready[stream_id] = None
            self.dropped += dropped
            self._cond.notify()
        return dropped

    def count(self, stream_id: int) -> int:
        """Windows pending for one stream."""
        with self._cond:
            queue = self._queues.get(stream_id)
            return 0 if queue is None else len(queue)

    def next_batch(self, stop: threading.Event) -> list[PendingWindow]:
        """Up to max_batch windows, round-robin over streams, after at most max_wait_ms of gathering.

        Waits for a first window; returns [] once `stop` is set. The batch is in flight until `done()`.
        """
        with self._cond:
            while not self._ready and not stop.is_set():
                self._cond.wait(0.1)
            if stop.is_set():
                return []
            oldest = self._queues[next(iter(self._ready))][0].arrival_time
            deadline = oldest + self.max_wait_s
            while self._n_pending < self.max_batch and not stop.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            batch: list[PendingWindow] = []
            while self._ready and len(batch) < self.max_batch:
                sid, _ = self._ready.popitem(last=False)
                queue = self._queues[sid]
                batch.append(queue.popleft())
                self._n_pending -= 1
                if queue:
                    self._ready[sid] = None  # back of the line: fair across streams
            self._in_flight += len(batch)
            return batch

    def done(self, n: int) -> None:
        """A batch of n windows taken by `next_batch` has been published (or failed)."""
        with self._cond:
            self._in_flight -= n

    def wake(self) -> None:
        """Wake a worker waiting in next_batch (to see a stop)."""
        with self._cond:
            self._cond.notify_all()

    def pending(self) -> int:
        """Windows waiting for inference, all streams."""
        return self._n_pending

    def idle(self) -> bool:
        """True when no window is queued or being inferred."""
        with self._cond:
            return self._n_pending == 0 and self._in_flight == 0
