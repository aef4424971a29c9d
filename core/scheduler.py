"""The real-time scheduler: N streams → windows → batched inference workers → published results.

Public API (stable; the GUI, the event log and the headless reporter build on it):

    model = load_model("engines/default", engine="onnxruntime")  # core.scheduler_model (warmed up)
    sched = Scheduler(model, SchedulerConfig(max_batch=64, max_wait_ms=5))  # strict=True in tests
    sid = sched.add_stream(source, name="bed 1")    # any core.sources source; returns a stream id
    queue = sched.result_queue(maxsize=1000)        # thread-safe, bounded; the GUI drains it on its timer
    sched.subscribe(callback)                       # callback(WindowResult), on a worker, one at a time
    sched.subscribe_status(callback)                # callback(StreamStatus): running/stalled/fault/ended
    sched.start(); ...; sched.stop()                # or `with sched: ...`; stop() re-raises in strict mode
    info = sched.stream(sid)                        # StreamInfo: name, fs (source rate), ring (model-rate
                                                    # band-passed mV; GUI draws ring snapshots), state,
                                                    # windows, dropped, last error
    sched.stats()                                   # SchedulerStats: windows, dropped, latency p50/p95/p99,
                                                    # windows/s, backend
    sched.remove_stream(sid)

External streams. A producer that cuts windows itself (model-rate, band-passed mV, W samples each) can
skip acquisition: `sid = sched.add_external_stream("bed 9", fs=300.0)`, then `sched.submit([PendingWindow(
sid, end_index, samples, arrival_time, flags), ...])`. Batching, back-pressure, heart rate, rhythm
features and results are as for any stream. Used to feed many pre-filtered streams from one vectorised
producer (benchmarks/streams.py measures the scheduler's capacity that way, without acquisition cost).

This module is the façade; each part does one job in its own module:
- core.acquisition: one thread polls every source on a drift-corrected tick, preprocesses each chunk,
  writes the ring, cuts windows at hop H and queues them; it never waits for inference;
- core.batching: per-stream bounded queues; batches of up to `max_batch`, round-robin over streams,
  waiting at most `max_wait_ms` after the first window to fill a batch;
- core.inference: the inference workers run normalisation → scattering → encoder, the heart-rate detector
  (on the model's device) and the rhythm head on each batch. There are `workers` of them (default: as
  many batches as the engine runs well at once, `model.parallel_callers`: one per core for ONNX
  Runtime on the CPU, one on a GPU); their engines run concurrently, and each stream's history is
  updated and published one batch at a time, a batch after every earlier one that holds one of its
  streams;
- core.fanout: results and state changes to the subscribers; running latency.

Back-pressure. When a stream's pending queue is full, its OLDEST pending window is dropped and counted
(StreamStatus.dropped_windows, at most once a second per stream); samples are never dropped. With
`SchedulerConfig(backpressure="block")` (whole-record analysis) nothing is dropped: a stream whose queue
is full is simply not read until inference has caught up, so a flat-out replay runs exactly as fast as
the engine allows. `idle()` tells when every queued window has been published.

Errors. A source, preprocessing or inference error puts the affected streams in the "fault" state with
the error message (published as StreamStatus); the others go on. With `strict=True` (tests) the first
error stops the scheduler and `stop()` / `raise_if_failed()` re-raise it. A subscriber that raises is
logged (and re-raised in strict mode); it never stops the worker.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from core.acquisition import AcquiredStream, Acquisition
from core.batching import BatchQueue, PendingWindow
from core.fanout import Fanout, RecentLatency, ResultQueue, StreamInfo
from core.inference import BatchRunner, Inferred
from core.inference_model import InferenceModel
from core.results import StreamStatus, WindowResult
from core.scheduler_config import SchedulerConfig
from core.sources.base import Source

log = logging.getLogger(__name__)

__all__ = ["InferenceModel", "PendingWindow", "ResultQueue", "Scheduler", "SchedulerConfig", "SchedulerStats",
           "StreamInfo"]


@dataclass(frozen=True)
class SchedulerStats:
    """Running totals and recent latency for status bars and reports."""

    windows: int  # results published
    dropped: int  # windows dropped by back-pressure, all streams
    faults: int  # windows lost to inference errors
    latency_ms: dict[str, float]  # p50, p95, p99, max over the recent history (nan before any result)
    windows_per_s: float  # over the recent history
    backend: str
    streams: int


class Scheduler:
    """Runs N streams through batched inference workers and publishes WindowResults (see module doc)."""

    def __init__(self, model: InferenceModel, config: SchedulerConfig | None = None, *, strict: bool = False):
        self.model = model
        self.config = config or SchedulerConfig.for_model(model)
        self.strict = strict
        cfg = self.config
        self._queue = BatchQueue(cfg.max_batch, cfg.max_wait_ms,
                                 cfg.pending_per_stream if cfg.backpressure == "drop" else None)
        self._runner = BatchRunner(model, cfg)
        self._fanout = Fanout(self._fail)
        self._latency = RecentLatency(cfg.latency_history)
        self._acquisition = Acquisition(cfg, self._queue, self._fanout, self._stream_list, self._fault)
        self._streams: dict[int, AcquiredStream] = {}
        self._lock = threading.Lock()  # guards _streams and _next_id
        self._next_id = 0
        self._windows = 0
        self._faults = 0
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        # several workers run the engines at once; they take batches in turn and finish them in that order
        self.workers = cfg.workers or max(1, model.parallel_callers)
        self._take = threading.Lock()  # next_batch and its ticket together
        self._taken = 0  # tickets handed out
        self._turn = threading.Condition()  # guards _unfinished; one batch finishes at a time
        self._unfinished: dict[int, frozenset[int]] = {}  # ticket -> its streams, until it has finished

    # ----- streams -------------------------------------------------------------------------------------
    def add_stream(self, source: Source, name: str | None = None, start_delay_s: float = 0.0) -> int:
        """Register a source (any core.sources source); return its stream id. Works while running.

        The source is opened on a helper thread, `start_delay_s` after this call at the
        earliest (so a ward's streams can be staggered, as real beds are, instead of all in phase).
        """
        start_at = time.monotonic() + max(0.0, start_delay_s)
        stream = self._register(lambda sid: AcquiredStream(
            sid, source, name or source.name or f"stream {sid}", self.config, start_at))
        self._fanout.publish_status(stream.info)
        return stream.info.stream_id

    def add_external_stream(self, name: str, fs: float) -> int:
        """Register a stream without a source whose windows a producer hands over with `submit`.

        `fs` is the rate of the signal the producer windowed (shown like a source's rate); such a stream
        has no ring buffer. Back-pressure and results are as usual.
        """
        return self._register(lambda sid: AcquiredStream(sid, None, name, self.config, time.monotonic(),
                                                         fs)).info.stream_id

    def submit(self, windows: list[PendingWindow], now: float | None = None) -> None:
        """Queue windows of external streams (band-passed mV, model rate, W samples each) for inference.

        Raises KeyError for a stream that is not an external stream of this scheduler.
        """
        by_stream: dict[int, list[PendingWindow]] = {}
        for w in windows:
            by_stream.setdefault(w.stream_id, []).append(w)
        now = time.monotonic() if now is None else now
        for sid, items in by_stream.items():
            with self._lock:
                stream = self._streams.get(sid)
            if stream is None or stream.source is not None:
                raise KeyError(f"stream {sid} is not an external stream of this scheduler; "
                               "register it with add_external_stream first")
            self._acquisition.enqueue(stream, items, now)

    def remove_stream(self, stream_id: int) -> None:
        """Stop acquiring a stream, discard its pending windows and close its source."""
        with self._lock:
            stream = self._streams.pop(stream_id, None)
            if stream is None:
                raise KeyError(f"no stream with id {stream_id}; known ids: {sorted(self._streams)}")
        self._queue.remove_stream(stream_id)
        self._runner.forget(stream_id)
        stream.close()

    def set_paced(self, stream_id: int, paced: bool) -> None:
        """Mark a stream's bed paced (or not): its AF alarm rests on the beat sequence (core/alarm.py)."""
        with self._lock:
            if stream_id not in self._streams:
                raise KeyError(f"no stream with id {stream_id}; known ids: {sorted(self._streams)}")
        (self._runner.paced.add if paced else self._runner.paced.discard)(stream_id)

    def is_paced(self, stream_id: int) -> bool:
        """Whether the stream's bed is marked paced."""
        return stream_id in self._runner.paced

    def stream(self, stream_id: int) -> StreamInfo:
        """Name, source rate, ring buffer, state and counters of one stream."""
        with self._lock:
            stream = self._streams.get(stream_id)
        if stream is None:
            raise KeyError(f"no stream with id {stream_id}; known ids: {sorted(self._streams)}")
        return stream.info

    def streams(self) -> list[StreamInfo]:
        """StreamInfo of every stream, by id."""
        with self._lock:
            return [s.info for _, s in sorted(self._streams.items())]

    def _register(self, make: Callable[[int], AcquiredStream]) -> AcquiredStream:
        with self._lock:
            sid = self._next_id
            self._next_id += 1
        stream = make(sid)
        self._queue.add_stream(sid)  # before the stream is visible to acquisition
        with self._lock:
            self._streams[sid] = stream
        return stream

    def _stream_list(self) -> tuple[AcquiredStream, ...]:
        with self._lock:
            return tuple(self._streams.values())

    # ----- subscribers ---------------------------------------------------------------------------------
    def subscribe(self, callback: Callable[[WindowResult], object]) -> None:
        """Call `callback(result)` for every result; it must return quickly.

        It runs on an inference worker, one result at a time, each stream's in order.
        """
        self._fanout.subscribe(callback)

    def subscribe_status(self, callback: Callable[[StreamStatus], object]) -> None:
        """Call `callback(status)` on every stream state change (from the thread that saw it)."""
        self._fanout.subscribe_status(callback)

    def result_queue(self, maxsize: int = 1000) -> ResultQueue:
        """A new bounded queue subscribed to results, for consumers polling from another thread."""
        q = ResultQueue(maxsize)
        self.subscribe(q)
        return q

    def status_queue(self, maxsize: int = 1000) -> ResultQueue:
        """A new bounded queue subscribed to StreamStatus changes."""
        q = ResultQueue(maxsize)
        self.subscribe_status(q)
        return q

    # ----- life cycle ----------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the acquisition and inference threads."""
        if self._threads:
            raise RuntimeError("the scheduler is already running; call stop() before starting it again")
        self._stop.clear()
        self._threads = [
            threading.Thread(target=self._acquisition.run, args=(self._stop,), name="dacl-acquisition",
                             daemon=True),
            *(threading.Thread(target=self._work_loop, name=f"dacl-inference-{i}", daemon=True)
              for i in range(self.workers)),
        ]
        for t in self._threads:
            t.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop both threads, close every source, and in strict mode re-raise the first error."""
        self._stop.set()
        self._queue.wake()
        for t in self._threads:
            t.join(timeout)
        self._threads = []
        for stream in self._stream_list():
            stream.close()
        self.raise_if_failed()

    def __enter__(self) -> Scheduler:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """True while the threads run (false after stop() or a strict-mode error)."""
        return bool(self._threads) and not self._stop.is_set()

    def raise_if_failed(self) -> None:
        """In strict mode, re-raise the first error any stream or the worker hit."""
        if self.strict and self._error is not None:
            raise self._error

    @property
    def heart_rate_device(self) -> str | None:
        """Where the heart-rate detector runs ("cpu", "cuda"), None when it is off."""
        hr = self._runner.heart_rate
        return None if hr is None else str(hr.device)

    def pending(self) -> int:
        """Windows waiting for inference, all streams."""
        return self._queue.pending()

    def idle(self) -> bool:
        """True when no window is queued or being inferred (every window cut so far is published)."""
        return self._queue.idle()

    def stats(self) -> SchedulerStats:
        """Totals and the latency / throughput of the recent results."""
        latency, rate = self._latency.summary()
        return SchedulerStats(self._windows, self._queue.dropped, self._faults, latency, rate,
                              self.model.backend, len(self._streams))

    # ----- inference thread ----------------------------------------------------------------------------
    def _work_loop(self) -> None:
        """Take batches across streams, run the model, publish; errors fault the batch's streams.

        Each of `workers` threads runs this loop. The engines run concurrently; each stream's history
        (beats, rhythm, alarm) is updated and results are published one batch at a time, and a batch
        finishes only after every batch taken before it that holds one of its streams, so a stream's
        windows are seen in order whatever the threads do (batches of other streams do not wait).
        """
        while not self._stop.is_set():
            with self._take:
                batch = self._queue.next_batch(self._stop)
                ticket = self._taken
                streams = frozenset(w.stream_id for w in batch)
                if batch:
                    self._taken += 1
                    with self._turn:
                        self._unfinished[ticket] = streams
            if batch:
                try:
                    self._run_batch(batch, ticket, streams)
                finally:
                    self._queue.done(len(batch))

    def _run_batch(self, batch: list[PendingWindow], ticket: int, mine: frozenset[int]) -> None:
        try:
            inferred: Inferred | BaseException = self._runner.infer(batch)
        except Exception as exc:  # noqa: BLE001 - reported below, in this batch's turn
            inferred = exc
        with self._turn:
            self._turn.wait_for(lambda: not any(t < ticket and not s.isdisjoint(mine)
                                                for t, s in self._unfinished.items()))
            try:
                self._finish(batch, inferred, mine)
            finally:
                del self._unfinished[ticket]
                self._turn.notify_all()

    def _finish(self, batch: list[PendingWindow], inferred: Inferred | BaseException,
                ids: frozenset[int]) -> None:
        with self._lock:
            streams = {sid: s for sid in ids if (s := self._streams.get(sid)) is not None}
        try:
            if isinstance(inferred, BaseException):
                raise inferred
            results = self._runner.finish(batch, inferred, streams)
        except Exception as exc:  # noqa: BLE001 - surfaced as a fault of every stream in the batch
            self._faults += len(batch)
            self._fault(list(streams.values()), exc, "inference")
            return
        self._latency.add(results[0].done_time, (w.arrival_time for w in batch))
        for stream in streams.values():  # a remote engine that failed may be back (a Triton server restarted)
            if stream.info.state == "fault" and stream.info.fault_where == "inference":
                stream.info.error = stream.info.fault_where = None
                self._fanout.set_state(stream.info, "running", "inference recovered")
        for result in results:
            self._windows += 1
            if (stream := streams.get(result.stream_id)) is not None:
                stream.info.windows += 1
            self._fanout.publish(result)

    # ----- errors --------------------------------------------------------------------------------------
    def _fault(self, streams: list[AcquiredStream], exc: BaseException, where: str) -> None:
        message = f"{where} error: {type(exc).__name__}: {exc}"
        ids = [s.info.stream_id for s in streams]
        if all(s.info.state == "fault" and s.info.message == message for s in streams):
            # the same error again (a server still down): one line, not a traceback per batch
            log.info("%s again on stream(s) %s", message, ids)
        else:
            log.error("%s on stream(s) %s", message, ids, exc_info=exc)
        for stream in streams:
            stream.info.error, stream.info.fault_where = exc, where
            self._fanout.set_state(stream.info, "fault", message)
        self._fail(exc)

    def _fail(self, exc: BaseException) -> None:
        """Strict mode: remember the first error and stop, so stop()/raise_if_failed() re-raise it."""
        if self.strict:
            if self._error is None:
                self._error = exc
            self._stop.set()
