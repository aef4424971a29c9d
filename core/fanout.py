"""Where results and stream states go: subscribers, bounded queues for other threads, recent latency.

A subscriber is any callable; results are delivered on the inference worker's thread, status changes
on the thread that saw them. A subscriber that raises is logged and reported to `on_error` (strict mode
stops the scheduler there); it never stops the worker or the other subscribers.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from core.results import STREAM_STATES, StreamStatus, WindowResult
from core.ring import RingBuffer

log = logging.getLogger(__name__)


@dataclass
class StreamInfo:
    """What subscribers and the GUI may read about one stream (the ring is written only by acquisition)."""

    stream_id: int
    name: str
    fs: float  # the source's own sampling rate, Hz
    ring: RingBuffer | None  # model-rate, band-passed mV for the GUI's snapshots; None for external streams
    state: str = "running"  # one of core.results.STREAM_STATES
    message: str = ""
    windows: int = 0  # results published
    dropped: int = 0  # windows dropped by back-pressure
    error: BaseException | None = field(default=None, repr=False)
    # what faulted it: "acquisition", "connect" or "inference"; an inference fault is the engine's (a
    # remote server down), so the stream is still read and the next good batch brings it back
    fault_where: str | None = None


class ResultQueue:
    """Bounded thread-safe queue of results (or statuses) for a consumer on another thread (the GUI timer).

    When the consumer falls behind, the oldest results are discarded and counted (`discarded`), so the
    worker never blocks on a slow consumer.
    """

    def __init__(self, maxsize: int = 1000) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be a positive integer; {maxsize!r} is invalid.")
        self._items: deque[WindowResult] = deque(maxlen=maxsize)
        self._lock = threading.Lock()
        self.discarded = 0

    def __call__(self, result: WindowResult) -> None:
        """Append a result (the scheduler calls this)."""
        with self._lock:
            if len(self._items) == self._items.maxlen:
                self.discarded += 1
            self._items.append(result)

    def get_all(self) -> list[WindowResult]:
        """Remove and return every queued result, oldest first."""
        with self._lock:
            items = list(self._items)
            self._items.clear()
        return items

    def __len__(self) -> int:
        return len(self._items)


class Fanout:
    """The result and status subscribers of one scheduler, and the state changes it publishes."""

    def __init__(self, on_error: Callable[[BaseException], None]) -> None:
        self.on_error = on_error
        self._results: tuple[Callable[[WindowResult], object], ...] = ()
        self._statuses: tuple[Callable[[StreamStatus], object], ...] = ()

    def subscribe(self, callback: Callable[[WindowResult], object]) -> None:
        """Call `callback(result)` for every result (tuples: the worker iterates without a lock)."""
        self._results = (*self._results, callback)

    def subscribe_status(self, callback: Callable[[StreamStatus], object]) -> None:
        """Call `callback(status)` on every stream state change."""
        self._statuses = (*self._statuses, callback)

    def publish(self, result: WindowResult) -> None:
        """Hand one result to every result subscriber."""
        for callback in self._results:
            self._call(callback, result)

    def publish_status(self, info: StreamInfo) -> None:
        """Hand a stream's current state, message and drop count to every status subscriber."""
        status = StreamStatus(info.stream_id, info.state, info.message, info.dropped)
        for callback in self._statuses:
            self._call(callback, status)

    def set_state(self, info: StreamInfo, state: str, message: str) -> None:
        """Change a stream's state and publish it (nothing when neither state nor message changed)."""
        if state not in STREAM_STATES:
            raise ValueError(f"unknown stream state {state!r}; known: {STREAM_STATES}")
        if info.state == state and info.message == message:
            return
        info.state, info.message = state, message
        log.info("stream %d (%s): %s - %s", info.stream_id, info.name, state, message)
        self.publish_status(info)

    def _call(self, callback: Callable, item: object) -> None:
        try:
            callback(item)
        except Exception as exc:  # noqa: BLE001 - a broken subscriber must not stop the others
            log.exception("subscriber %r raised on %r", callback, type(item).__name__)
            self.on_error(exc)


class RecentLatency:
    """Publication times and latencies of the last `history` results, for running statistics."""

    def __init__(self, history: int) -> None:
        self._recent: deque[tuple[float, float]] = deque(maxlen=history)  # (done, ms)
        self._lock = threading.Lock()  # read from the GUI thread

    def add(self, done: float, arrivals: Iterable[float]) -> None:
        """Record results published at `done` whose windows' last samples arrived at `arrivals`."""
        with self._lock:
            self._recent.extend((done, (done - a) * 1e3) for a in arrivals)

    def summary(self) -> tuple[dict[str, float], float]:
        """Latency p50 / p95 / p99 / max (ms) and results per second (nan before any result)."""
        with self._lock:
            recent = list(self._recent)
        if not recent:
            return {k: float("nan") for k in ("p50", "p95", "p99", "max")}, float("nan")
        ms = np.array([r[1] for r in recent])
        latency = {k: float(np.percentile(ms, q)) for k, q in (("p50", 50), ("p95", 95), ("p99", 99))}
        latency["max"] = float(ms.max())
        span = recent[-1][0] - recent[0][0]
        return latency, (len(recent) - 1) / span if span > 0 else float("nan")
