"""One monitoring session: a model's scheduler and the standard subscribers, assembled in one place.

The GUI (app.controller), the headless monitor (core.headless) and whole-record analysis (core.analyze)
all run a `MonitoringSession`, so every one of them detects episodes the same way and can write the
same outputs:
- `events`: the episode detector of every stream (core.events.EventLog with the bundle's settings),
  fed on the inference worker's thread, so no episode is missed when a display falls behind;
- `latency`: every result's latency (LatencyRecorder);
- optional bounded queues for a consumer on another thread (the GUI's frame timer): results, the
  episode events as they are detected, and stream status changes;
- `write_events` (CSV) and `write_annotations` (WFDB rhythm annotations per stream).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from core.events import EventLog, RhythmEvent
from core.results import StreamStatus, WindowResult
from core.scheduler import InferenceModel, ResultQueue, Scheduler, SchedulerConfig
from core.sources.base import Source


class LatencyRecorder:
    """Subscriber that keeps every result's latency and counts windows (thread-safe appends)."""

    def __init__(self) -> None:
        self.latencies_ms: list[float] = []
        self.first_done = float("nan")
        self.last_done = float("nan")
        self._lock = threading.Lock()

    def __call__(self, result: WindowResult) -> None:
        """Record one result."""
        with self._lock:
            if not self.latencies_ms:
                self.first_done = result.done_time
            self.latencies_ms.append(result.latency_ms)
            self.last_done = result.done_time

    def steady_rate(self) -> float:
        """Results per second between the first and the last result (excludes the first window's fill)."""
        span = self.last_done - self.first_done
        return (len(self.latencies_ms) - 1) / span if span > 0 else float("nan")

    def summary(self) -> dict[str, float]:
        """p50 / p95 / p99 / max latency in ms (nan before any result)."""
        ms = np.asarray(self.latencies_ms, dtype=np.float64)
        if ms.size == 0:
            return {"p50": float("nan"), "p95": float("nan"), "p99": float("nan"), "max": float("nan")}
        p50, p95, p99 = np.percentile(ms, [50, 95, 99])
        return {"p50": float(p50), "p95": float(p95), "p99": float(p99), "max": float(ms.max())}


class MonitoringSession:
    """A scheduler for `model` with the episode detector, the latency recorder and optional queues.

    `results` / `statuses`: sizes of bounded queues for a consumer on another thread (0: none).
    `events`: the episode detector to feed (default: an EventLog with the model's episode settings).
    """

    def __init__(self, model: InferenceModel, config: SchedulerConfig | None = None, *, results: int = 0,
                 statuses: int = 0, events: EventLog | None = None, strict: bool = False) -> None:
        self.model = model
        self.config = config or SchedulerConfig.for_model(model)
        self.scheduler = Scheduler(model, self.config, strict=strict)
        self.events = events or EventLog(settings=model.episodes)
        self.latency = LatencyRecorder()
        self.results = ResultQueue(results) if results else None
        self.new_events = ResultQueue(max(results, 100)) if results else None  # for the same consumer
        self.statuses = self.scheduler.status_queue(statuses) if statuses else None
        self.scheduler.subscribe(self.publish)

    def publish(self, result: WindowResult) -> RhythmEvent | None:
        """Hand one result to the session's subscribers (the scheduler calls this); return its event."""
        event = self.events(result)  # follows result.alarm_input
        self.latency(result)
        if event is not None and self.new_events is not None:
            self.new_events(event)
        if self.results is not None:
            self.results(result)
        return event

    def subscribe(self, callback: Callable[[WindowResult], object]) -> None:
        """Another result subscriber (called on the worker thread, after the session's own)."""
        self.scheduler.subscribe(callback)

    def add_source(self, source: Source, name: str | None = None, start_delay_s: float = 0.0) -> int:
        """Start monitoring a source (opened `start_delay_s` from now at the earliest); its stream id."""
        return self.scheduler.add_stream(source, name, start_delay_s)

    def set_paced(self, stream_id: int, paced: bool = True) -> None:
        """Mark a bed paced (or not), as bedside monitors let the user; from the next batch on.

        Its windows say so, and its AF alarm rests on the beat sequence, not on paced QRS morphology
        (core/alarm.py).
        """
        self.scheduler.set_paced(stream_id, paced)

    def drain(self) -> list[StreamStatus | RhythmEvent | WindowResult]:
        """Everything queued since the last call: statuses, then episode events, then results."""
        queues = (self.statuses, self.new_events, self.results)
        return [item for q in queues if q is not None for item in q.get_all()]

    def start(self) -> None:
        """Start acquisition and inference."""
        self.scheduler.start()

    def stop(self) -> None:
        """Stop the scheduler and close every source."""
        self.scheduler.stop()

    def __enter__(self) -> MonitoringSession:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def write_events(self, path: str | Path, stream_id: int | None = None) -> Path:
        """Every episode event (or one stream's) as CSV, samples at the model rate."""
        return self.events.to_csv(path, stream_id)

    def write_annotations(self, folder: str | Path) -> list[Path]:
        """Episodes of each stream with results as WFDB rhythm annotations `stream<id>.rhy` (model rate)."""
        return [self.events.to_wrann(f"stream{info.stream_id}", info.stream_id, self.config.fs, folder)
                for info in self.scheduler.streams() if info.windows]
