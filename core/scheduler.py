"""The real-time scheduler: N streams → windows → one batched inference worker → published results.

Public API (stable; the GUI, the event log and the headless reporter build on it):

    model = load_model("engines/default", engine="onnxruntime")  # core.scheduler_model (warmed up)
    sched = Scheduler(model, SchedulerConfig(max_batch=64, max_wait_ms=5))  # strict=True in tests
    sid = sched.add_stream(source, name="bed 1")    # any core.sources source; returns a stream id
    queue = sched.result_queue(maxsize=1000)        # thread-safe, bounded; the GUI drains it on its timer
    sched.subscribe(callback)                       # callback(WindowResult), called on the worker thread
    sched.subscribe_status(callback)                # callback(StreamStatus): running/stalled/fault/ended
    sched.start(); ...; sched.stop()                # or `with sched: ...`; stop() re-raises in strict mode
    info = sched.stream(sid)                        # StreamInfo: name, fs (source rate), ring (model-rate
                                                    # band-passed mV; GUI draws ring snapshots), state,
                                                    # windows, dropped, last error
    sched.stats()                                   # SchedulerStats: windows, dropped, latency p50/p95/p99,
                                                    # windows/s, backend
    sched.remove_stream(sid)
    sid = sched.add_external_stream("bed 9", fs=300.0)   # no source: a producer windows many streams
    sched.submit([PendingWindow(sid, end_index, samples, arrival_time, flags), ...])  # itself (benchmarks)

Threads. One acquisition thread polls every source on a drift-corrected tick (mne-lsl style) rather than
one thread per source: with 100+ streams on 2 cores, a hundred threads contending for the GIL cost more
than one loop that reads whatever each source has ready. It preprocesses each chunk, writes the ring,
cuts windows at hop H and pushes them to the stream's bounded pending queue; it never waits for
inference, nor for a source to open (connect() runs on a short-lived helper thread, since resolving an
LSL stream can take seconds). One worker thread batches pending windows across streams (up to
`max_batch`, waiting at most `max_wait_ms` after the first to fill a batch), runs normalisation →
scattering → encoder and the heart-rate detector (on the model's device) on the batch, and publishes
one WindowResult per window.

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
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from core.heart_rate import HeartRateEstimator
from core.preprocess import BAND_HZ, BANDPASS_ORDER, MODEL_FS, STD_FLOOR_MV, Preprocessor, normalize_window
from core.results import STREAM_STATES, StreamStatus, WindowResult
from core.rhythm import RhythmTracker
from core.ring import RingBuffer
from core.sources.base import Source
from core.windowing import Windower

log = logging.getLogger(__name__)


class InferenceModel(Protocol):
    """What the worker runs on a batch: normalised windows (B, W) float32 → probs, embedding, trajectory."""

    backend: str  # e.g. "onnxruntime CPU fp32", shown by the GUI and written by the headless reporter

    def infer(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return probs (B, 4), embedding (B, D), trajectory (B, 2) for a batch of normalised windows."""
        ...


@dataclass(frozen=True)
class SchedulerConfig:
    """Windowing, batching and back-pressure settings (defaults: the model contract and a 2-core PC)."""

    fs: float = MODEL_FS  # model sampling rate, Hz
    window: int = 2048  # W, samples per window
    hop: int = 300  # H, samples between window ends (1 s at 300 Hz)
    max_batch: int = 64  # windows per inference call at most
    max_wait_ms: float = 5.0  # how long the idle worker waits after a first window to fill a batch
    pending_per_stream: int = 4  # bounded per-stream queue of windows waiting for inference
    ring_seconds: float = 30.0  # per-stream ring buffer of the model-rate signal (≥ one window)
    poll_interval_ms: float = 20.0  # acquisition tick
    stall_after_s: float = 5.0  # a running source with no samples for this long is "stalled"
    max_reads_per_tick: int = 64  # chunks taken from one source per tick (bounds a flat-out replay)
    heart_rate: bool = True  # compute heart rate per window (batched R-peak detector)
    heart_rate_device: str = "auto"  # "cpu", "cuda", or "auto": the model's device (InferenceModel.device)
    latency_history: int = 2000  # results kept for the running latency / windows-per-second statistics
    backpressure: str = "drop"  # "drop": live, drop a full queue's oldest window; "block": stop reading it
    band_hz: tuple[float, float] = BAND_HZ  # each stream's band-pass (the model contract)
    bandpass_order: int = BANDPASS_ORDER
    std_floor_mv: float = STD_FLOOR_MV  # normalize_window's floor (the model contract)

    @classmethod
    def for_model(cls, model, **settings) -> SchedulerConfig:
        """The config whose signal path is `model.contract`'s (core.contract.ModelContract), plus `settings`.

        A model without a contract (a test double) gets the defaults.
        """
        c = getattr(model, "contract", None)
        if c is None:
            return cls(**settings)
        return cls(fs=c.fs, window=c.window, hop=c.hop, band_hz=c.band_hz, bandpass_order=c.bandpass_order,
                   std_floor_mv=c.std_floor_mv, **settings)

    def __post_init__(self) -> None:
        for name in ("window", "hop", "max_batch", "pending_per_stream"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer; {getattr(self, name)!r} is invalid.")
        if self.ring_seconds * self.fs < self.window:
            raise ValueError(
                f"ring_seconds={self.ring_seconds!r} holds fewer samples than one window ({self.window}); "
                f"use at least {self.window / self.fs:.2f} s."
            )
        if self.backpressure not in ("drop", "block"):
            raise ValueError(f"backpressure must be 'drop' or 'block'; {self.backpressure!r} is invalid.")
        if self.max_wait_ms < 0 or self.poll_interval_ms <= 0:
            raise ValueError(
                f"max_wait_ms must be >= 0 and poll_interval_ms > 0; got {self.max_wait_ms!r}, "
                f"{self.poll_interval_ms!r}."
            )


@dataclass
class PendingWindow:
    """One window waiting for inference."""

    stream_id: int
    end_index: int  # model-rate index one past the window's last sample
    samples: np.ndarray  # (W,) float64 band-passed mV
    arrival_time: float  # time.monotonic() when its last sample was read
    flags: frozenset[str]


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


class _Stream:
    """Acquisition-side state of one stream: source, preprocessing, ring, windowing, pending windows."""

    def __init__(self, stream_id: int, source: Source | None, name: str, config: SchedulerConfig,
                 start_at: float, fs: float = float("nan")) -> None:
        self.source = source  # None: an external stream whose windows arrive through Scheduler.submit
        self.config = config
        self.preprocessor: Preprocessor | None = None  # made at connect, when the source's fs is known
        ring = RingBuffer(round(config.ring_seconds * config.fs), dtype=np.float64) if source else None
        self.info = StreamInfo(stream_id, name, float(source.fs) if source else fs, ring)
        self.windower = Windower(ring, stream_id, config.window, config.hop) if ring else None
        self.pending: deque[PendingWindow] = deque()
        self.rhythm: RhythmTracker | None = None  # the worker's RR history of this stream (rhythm head)
        self.start_at = start_at  # time.monotonic() before which the source is not connected
        self.last_data = time.monotonic()
        self.last_drop_report = 0.0
        self.connected = False
        self.connecting = False  # a connect() is under way on a helper thread

    def connect(self) -> None:
        """Open the source and set up preprocessing from its sampling rate."""
        self.source.connect()
        self.info.fs = float(self.source.fs)
        cfg = self.config
        self.preprocessor = Preprocessor(self.info.fs, cfg.fs, cfg.band_hz, cfg.bandpass_order)
        self.last_data = time.monotonic()
        self.connected = True  # last: the acquisition thread reads from now on

    def read(self) -> tuple[np.ndarray | None, float]:
        """Everything the source has ready now (None once it ended), and the time it was read."""
        chunks = []
        for _ in range(self.config.max_reads_per_tick):
            chunk = self.source.read(0)
            if chunk is None:
                if not chunks:
                    return None, time.monotonic()
                break
            if len(chunk) == 0:
                break
            chunks.append(chunk)
        now = time.monotonic()
        if len(chunks) == 1:
            return chunks[0], now
        return (np.concatenate(chunks) if chunks else np.empty(0)), now

    def ingest(self, chunk: np.ndarray, now: float) -> list[PendingWindow]:
        """Preprocess a chunk, append it to the ring and return the windows it completed."""
        assert self.preprocessor is not None and self.windower is not None, "ingest() before connect()"
        samples, flags = self.preprocessor.process(chunk)
        ring, sid = self.windower.ring, self.info.stream_id
        step = ring.capacity - self.config.window + 1  # write at most this much between polls, so no
        out: list[PendingWindow] = []  # window is overwritten before it is cut, however big the chunk
        for start in range(0, len(samples), step):
            ring.write(samples[start : start + step], flags[start : start + step])
            out.extend(PendingWindow(sid, w.end, w.samples, now, w.flags) for w in self.windower.poll())
        return out


class Scheduler:
    """Runs N streams through one batched inference worker and publishes WindowResults (see module doc)."""

    def __init__(self, model: InferenceModel, config: SchedulerConfig | None = None, *, strict: bool = False):
        self.model = model
        self.config = config or SchedulerConfig.for_model(model)
        self.strict = strict
        hr_device = self.config.heart_rate_device
        if hr_device == "auto":
            hr_device = "cuda" if str(getattr(model, "device", "cpu")).startswith("cuda") else "cpu"
        # the rhythm head needs the R-peaks too; its RR features are computed per stream by RhythmTracker
        self._rhythm_context = getattr(model, "rhythm_context", None)
        needs_peaks = self.config.heart_rate or self._rhythm_context is not None
        self._hr = HeartRateEstimator(self.config.fs, hr_device) if needs_peaks else None
        self._streams: dict[int, _Stream] = {}
        self._next_id = 0
        self._cond = threading.Condition()  # guards every _Stream.pending, _ready and _n_pending
        self._ready: OrderedDict[int, None] = OrderedDict()  # streams with pending windows, round-robin
        self._n_pending = 0
        self._in_flight = 0  # windows taken by the worker and not yet published
        self._subscribers: tuple[Callable[[WindowResult], object], ...] = ()
        self._status_subscribers: tuple[Callable[[StreamStatus], object], ...] = ()
        self._recent: deque[tuple[float, float]] = deque(maxlen=self.config.latency_history)  # (done, ms)
        self._recent_lock = threading.Lock()  # stats() may be read from the GUI thread
        self._windows = 0
        self._dropped = 0
        self._faults = 0
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # ----- streams -------------------------------------------------------------------------------------
    def add_stream(self, source: Source, name: str | None = None, start_delay_s: float = 0.0) -> int:
        """Register a source (any core.sources source); return its stream id. Works while running.

        The source is opened on a helper thread, `start_delay_s` after this call at the
        earliest (so a ward's streams can be staggered, as real beds are, instead of all in phase).
        """
        with self._cond:
            sid = self._next_id
            self._next_id += 1
        start_at = time.monotonic() + max(0.0, start_delay_s)
        label = name or source.name or f"stream {sid}"
        stream = _Stream(sid, source, label, self.config, start_at)
        with self._cond:
            self._streams[sid] = stream
        self._publish_status(stream)
        return sid

    def add_external_stream(self, name: str, fs: float) -> int:
        """Register a stream without a source whose windows a producer hands over with `submit`.

        For producers that window many streams at once themselves (benchmarks replaying thousands of
        pre-filtered streams); such a stream has no ring buffer. Back-pressure and results are as usual.
        """
        with self._cond:
            sid = self._next_id
            self._next_id += 1
            self._streams[sid] = _Stream(sid, None, name, self.config, time.monotonic(), fs)
        return sid

    def submit(self, windows: list[PendingWindow], now: float | None = None) -> None:
        """Queue windows of external streams (band-passed mV, model rate, W samples each) for inference."""
        by_stream: dict[int, list[PendingWindow]] = {}
        for w in windows:
            by_stream.setdefault(w.stream_id, []).append(w)
        now = time.monotonic() if now is None else now
        for sid, items in by_stream.items():
            with self._cond:
                stream = self._streams.get(sid)
            if stream is None or stream.source is not None:
                raise KeyError(f"stream {sid} is not an external stream of this scheduler; "
                               "register it with add_external_stream first")
            self._enqueue(stream, items, now)

    def remove_stream(self, stream_id: int) -> None:
        """Stop acquiring a stream, discard its pending windows and close its source."""
        with self._cond:
            stream = self._streams.pop(stream_id, None)
            if stream is None:
                raise KeyError(f"no stream with id {stream_id}; known ids: {sorted(self._streams)}")
            self._n_pending -= len(stream.pending)
            stream.pending.clear()
            self._ready.pop(stream_id, None)
        self._close(stream)

    def stream(self, stream_id: int) -> StreamInfo:
        """Name, source rate, ring buffer, state and counters of one stream."""
        with self._cond:
            stream = self._streams.get(stream_id)
        if stream is None:
            raise KeyError(f"no stream with id {stream_id}; known ids: {sorted(self._streams)}")
        return stream.info

    def streams(self) -> list[StreamInfo]:
        """StreamInfo of every stream, by id."""
        with self._cond:
            return [s.info for _, s in sorted(self._streams.items())]

    # ----- subscribers ---------------------------------------------------------------------------------
    def subscribe(self, callback: Callable[[WindowResult], object]) -> None:
        """Call `callback(result)` on the worker thread for every result; it must return quickly."""
        self._subscribers = (*self._subscribers, callback)

    def subscribe_status(self, callback: Callable[[StreamStatus], object]) -> None:
        """Call `callback(status)` on every stream state change (from the thread that saw it)."""
        self._status_subscribers = (*self._status_subscribers, callback)

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
            threading.Thread(target=self._acquire_loop, name="dacl-acquisition", daemon=True),
            threading.Thread(target=self._work_loop, name="dacl-inference", daemon=True),
        ]
        for t in self._threads:
            t.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop both threads, close every source, and in strict mode re-raise the first error."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        for t in self._threads:
            t.join(timeout)
        self._threads = []
        for stream in list(self._streams.values()):
            self._close(stream)
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
        return None if self._hr is None else str(self._hr.device)

    def pending(self) -> int:
        """Windows waiting for inference, all streams."""
        return self._n_pending

    def idle(self) -> bool:
        """True when no window is queued or being inferred (every window cut so far is published)."""
        with self._cond:
            return self._n_pending == 0 and self._in_flight == 0

    def stats(self) -> SchedulerStats:
        """Totals and the latency / throughput of the recent results."""
        with self._recent_lock:
            recent = list(self._recent)
        if recent:
            ms = np.array([r[1] for r in recent])
            latency = {k: float(np.percentile(ms, q)) for k, q in (("p50", 50), ("p95", 95), ("p99", 99))}
            latency["max"] = float(ms.max())
            span = recent[-1][0] - recent[0][0]
            rate = (len(recent) - 1) / span if span > 0 else float("nan")
        else:
            latency = {k: float("nan") for k in ("p50", "p95", "p99", "max")}
            rate = float("nan")
        return SchedulerStats(self._windows, self._dropped, self._faults, latency, rate,
                              self.model.backend, len(self._streams))

    # ----- acquisition thread --------------------------------------------------------------------------
    def _acquire_loop(self) -> None:
        """Poll every source on a drift-corrected tick; never waits on inference."""
        interval = self.config.poll_interval_ms / 1e3
        next_tick = time.monotonic()
        while not self._stop.is_set():
            with self._cond:
                streams = tuple(self._streams.values())
            for stream in streams:
                if stream.source is not None and stream.info.state not in ("fault", "ended"):
                    self._acquire(stream)
            next_tick += interval
            delay = next_tick - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)
            elif delay < -interval:  # fell behind by more than a tick: restart the grid, do not burst
                next_tick = time.monotonic()

    def _acquire(self, stream: _Stream) -> None:
        """Read what one source has ready, preprocess it, window it and queue the windows."""
        if not stream.connected:
            if not stream.connecting and time.monotonic() >= stream.start_at:
                stream.connecting = True  # connect off this thread: an LSL resolve may take seconds
                threading.Thread(target=self._connect, args=(stream,), daemon=True).start()
            return
        if self.config.backpressure == "block" and len(stream.pending) >= self.config.pending_per_stream:
            return  # inference is behind: leave the samples in the source until it catches up
        try:
            chunk, now = stream.read()
            if chunk is None:
                self._set_state(stream, "ended", "the source has no more samples")
                return
            if len(chunk) == 0:
                source_state = stream.source.state
                if stream.info.state == "running" and source_state == "stalled":
                    self._set_state(stream, "stalled", stream.source.message or "no samples")
                elif stream.info.state == "running" and now - stream.last_data > self.config.stall_after_s:
                    self._set_state(stream, "stalled", f"no samples for {self.config.stall_after_s:g} s")
                return
            stream.last_data = now
            if stream.info.state == "stalled":
                self._set_state(stream, "running", "samples arrive again")
            windows = stream.ingest(chunk, now)
        except Exception as exc:  # noqa: BLE001 - any source/preprocessing error faults this stream only
            self._fault([stream], exc, "acquisition")
            return
        if windows:
            self._enqueue(stream, windows, now)

    def _connect(self, stream: _Stream) -> None:
        """Open one source (on its own short-lived thread); a failure faults only that stream."""
        try:
            stream.connect()
        except Exception as exc:  # noqa: BLE001 - e.g. SourceError: no such LSL stream
            self._fault([stream], exc, "connect")

    def _enqueue(self, stream: _Stream, windows: list[PendingWindow], now: float) -> None:
        """Append windows to the stream's bounded queue, dropping its oldest when full."""
        limit = self.config.pending_per_stream if self.config.backpressure == "drop" else None
        dropped = 0
        with self._cond:
            if stream.info.stream_id not in self._streams:
                return  # removed meanwhile
            for w in windows:
                if limit is not None and len(stream.pending) >= limit:
                    stream.pending.popleft()
                    self._n_pending -= 1
                    dropped += 1
                stream.pending.append(w)
                self._n_pending += 1
            if stream.info.stream_id not in self._ready:
                self._ready[stream.info.stream_id] = None
            stream.info.dropped += dropped
            self._dropped += dropped
            self._cond.notify()
        if dropped:
            if now - stream.last_drop_report >= 1.0:
                stream.last_drop_report = now
                stream.info.message = "inference is behind: dropping this stream's oldest pending windows"
                self._publish_status(stream)

    # ----- inference thread ----------------------------------------------------------------------------
    def _work_loop(self) -> None:
        """Take batches across streams, run the model, publish; errors fault the batch's streams."""
        while not self._stop.is_set():
            batch = self._next_batch()
            if batch:
                self._run_batch(batch)

    def _next_batch(self) -> list[PendingWindow]:
        """Up to max_batch windows, round-robin over streams, after at most max_wait_ms of gathering."""
        cfg = self.config
        with self._cond:
            while not self._ready and not self._stop.is_set():
                self._cond.wait(0.1)
            if self._stop.is_set():
                return []
            oldest = self._streams[next(iter(self._ready))].pending[0].arrival_time
            deadline = oldest + cfg.max_wait_ms / 1e3
            while self._n_pending < cfg.max_batch and not self._stop.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            batch: list[PendingWindow] = []
            while self._ready and len(batch) < cfg.max_batch:
                sid, _ = self._ready.popitem(last=False)
                pending = self._streams[sid].pending
                batch.append(pending.popleft())
                self._n_pending -= 1
                if pending:
                    self._ready[sid] = None  # back of the line: fair across streams
            self._in_flight = len(batch)
            return batch

    def _run_batch(self, batch: list[PendingWindow]) -> None:
        try:
            self._infer_and_publish(batch)
        finally:
            with self._cond:
                self._in_flight = 0

    def _infer_and_publish(self, batch: list[PendingWindow]) -> None:
        windows = np.stack([w.samples for w in batch])  # (B, W) band-passed mV
        n = len(batch)
        rhythm = rhythm_probs = None
        try:
            x = normalize_window(windows, self.config.std_floor_mv)
            probs, embedding, trajectory = self.model.infer(x)
            rates = np.full(n, np.nan)
            if self._hr is not None:
                rows, cols = self._hr.peaks(windows)
                if self.config.heart_rate:
                    rates = self._hr.rates_from_peaks(rows, cols, n)
                if self._rhythm_context is not None:
                    rhythm = self._rhythm_features(batch, rows, cols)
                    rhythm_probs = self.model.fuse(embedding, rhythm)
        except Exception as exc:  # noqa: BLE001 - surfaced as a fault of every stream in the batch
            self._faults += len(batch)
            with self._cond:
                streams = [self._streams[s] for s in {w.stream_id for w in batch} if s in self._streams]
            self._fault(streams, exc, "inference")
            return
        with self._cond:
            infos = {sid: s.info for sid in {w.stream_id for w in batch} if (s := self._streams.get(sid))}
        subscribers = self._subscribers
        done = time.monotonic()
        with self._recent_lock:
            self._recent.extend((done, (done - w.arrival_time) * 1e3) for w in batch)
        for i, w in enumerate(batch):
            result = WindowResult(w.stream_id, w.end_index, w.arrival_time, done, probs[i], embedding[i],
                                  trajectory[i], float(rates[i]), w.flags,
                                  None if rhythm is None else rhythm[i],
                                  None if rhythm_probs is None else rhythm_probs[i])
            self._windows += 1
            if (info := infos.get(w.stream_id)) is not None:
                info.windows += 1
            for callback in subscribers:
                self._call(callback, result)

    def _rhythm_features(self, batch: list[PendingWindow], rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Each window's RR features from its stream's tracker (windows of a stream arrive in order)."""
        bounds = np.searchsorted(rows, np.arange(len(batch) + 1))
        with self._cond:
            streams = {sid: self._streams.get(sid) for sid in {w.stream_id for w in batch}}
        out = []
        for i, w in enumerate(batch):
            stream = streams[w.stream_id]
            tracker = stream.rhythm if stream is not None else None
            if tracker is None:
                tracker = RhythmTracker(self.config.fs, self.config.window, **self._rhythm_context)
                if stream is not None:
                    stream.rhythm = tracker
            out.append(tracker.update(w.end_index, cols[bounds[i] : bounds[i + 1]]))
        return np.stack(out)

    # ----- status and errors ---------------------------------------------------------------------------
    def _call(self, callback: Callable, item: object) -> None:
        try:
            callback(item)
        except Exception as exc:  # noqa: BLE001 - a broken subscriber must not stop the others
            log.exception("subscriber %r raised on %r", callback, type(item).__name__)
            self._fail(exc)

    def _fault(self, streams: list[_Stream], exc: BaseException, where: str) -> None:
        message = f"{where} error: {type(exc).__name__}: {exc}"
        log.error("%s on stream(s) %s", message, [s.info.stream_id for s in streams], exc_info=exc)
        for stream in streams:
            stream.info.error = exc
            self._set_state(stream, "fault", message)
        self._fail(exc)

    def _fail(self, exc: BaseException) -> None:
        """Strict mode: remember the first error and stop, so stop()/raise_if_failed() re-raise it."""
        if self.strict:
            if self._error is None:
                self._error = exc
            self._stop.set()

    def _set_state(self, stream: _Stream, state: str, message: str) -> None:
        if state not in STREAM_STATES:
            raise ValueError(f"unknown stream state {state!r}; known: {STREAM_STATES}")
        if stream.info.state == state and stream.info.message == message:
            return
        stream.info.state, stream.info.message = state, message
        log.info("stream %d (%s): %s - %s", stream.info.stream_id, stream.info.name, state, message)
        self._publish_status(stream)

    def _publish_status(self, stream: _Stream) -> None:
        info = stream.info
        status = StreamStatus(info.stream_id, info.state, info.message, info.dropped)
        for callback in self._status_subscribers:
            self._call(callback, status)

    def _close(self, stream: _Stream) -> None:
        if stream.connected and stream.source is not None:
            stream.connected = False
            try:
                stream.source.close()
            except Exception as exc:  # noqa: BLE001 - closing must not stop the others from closing
                log.warning("closing stream %d (%s) failed: %s", stream.info.stream_id, stream.info.name, exc)
