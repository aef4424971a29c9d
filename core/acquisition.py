"""Acquisition: every source polled by one thread, preprocessed, windowed and queued for inference.

One thread polls every source on a drift-corrected tick (mne-lsl style) rather than one thread per
source: with 100+ streams on 2 cores, a hundred threads contending for the GIL cost more than one loop
that reads whatever each source has ready. It never waits for inference, nor for a source to open
(connect() runs on a short-lived helper thread, since resolving an LSL stream can take seconds).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import numpy as np

from core.batching import BatchQueue, PendingWindow
from core.fanout import Fanout, StreamInfo
from core.preprocess import Preprocessor
from core.ring import RingBuffer
from core.scheduler_config import SchedulerConfig
from core.sources.base import Source
from core.windowing import Windower

log = logging.getLogger(__name__)


class AcquiredStream:
    """One stream's acquisition state: its source, preprocessing, ring and windowing.

    A stream without a source is an external stream: its windows are cut elsewhere and handed to
    Scheduler.submit, so it has no ring, preprocessing or windowing here.
    """

    def __init__(self, stream_id: int, source: Source | None, name: str, config: SchedulerConfig,
                 start_at: float, fs: float = float("nan")) -> None:
        self.source = source
        self.config = config
        self.preprocessor: Preprocessor | None = None  # made at connect, when the source's fs is known
        ring = RingBuffer(round(config.ring_seconds * config.fs), dtype=np.float64) if source else None
        self.info = StreamInfo(stream_id, name, float(source.fs) if source else fs, ring)
        self.windower = Windower(ring, stream_id, config.window, config.hop) if ring else None
        self.start_at = start_at  # time.monotonic() before which the source is not connected
        self.last_data = time.monotonic()
        self.last_drop_report = 0.0
        self.next_due: float | None = None  # the source's next chunk is not out before this (Source.next_due)
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

    def read(self) -> tuple[list[tuple[np.ndarray, float]] | None, float]:
        """The chunks the source has ready now (None once it ended), and the time they were read.

        Each chunk comes with when it came out: the source's release time where it knows one
        (Source.next_due, a replay), else the time of this read. A window's latency runs from there.
        """
        chunks: list[tuple[np.ndarray, float | None]] = []
        for _ in range(self.config.max_reads_per_tick):
            released = self.next_due  # when the chunk about to be read came out, if the source knows
            chunk = self.source.read(0)
            self.next_due = self.source.next_due()
            if chunk is None:
                if not chunks:
                    return None, time.monotonic()
                break
            if len(chunk) == 0:
                break
            chunks.append((chunk, released))
        now = time.monotonic()
        return [(c, now if t is None else min(t, now)) for c, t in chunks], now

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

    def close(self) -> None:
        """Close the source (once); a failure is logged, so closing the others goes on."""
        if self.connected and self.source is not None:
            self.connected = False
            try:
                self.source.close()
            except Exception as exc:  # noqa: BLE001 - closing must not stop the others from closing
                log.warning("closing stream %d (%s) failed: %s", self.info.stream_id, self.info.name, exc)


class Acquisition:
    """The acquisition thread's work: read, preprocess, window and queue every stream with a source.

    `streams()` gives the registered streams (read once per tick); `fault(streams, exc, where)` is the
    scheduler's error handling (state "fault", strict mode).
    """

    def __init__(self, config: SchedulerConfig, queue: BatchQueue, fanout: Fanout,
                 streams: Callable[[], tuple[AcquiredStream, ...]],
                 fault: Callable[[list[AcquiredStream], BaseException, str], None]) -> None:
        self.config = config
        self.queue = queue
        self.fanout = fanout
        self.streams = streams
        self.fault = fault

    def run(self, stop: threading.Event) -> None:
        """Poll every source on a drift-corrected tick until `stop`; never waits on inference."""
        interval = self.config.poll_interval_ms / 1e3
        next_tick = time.monotonic()
        while not stop.is_set():
            for stream in self.streams():
                # an inference fault is the engine's, not the source's: keep reading (see StreamInfo)
                if stream.source is not None and (stream.info.state not in ("fault", "ended")
                                                  or stream.info.fault_where == "inference"):
                    self.acquire(stream)
            next_tick += interval
            delay = next_tick - time.monotonic()
            if delay > 0:
                stop.wait(delay)
            elif delay < -interval:  # fell behind by more than a tick: restart the grid, do not burst
                next_tick = time.monotonic()

    def acquire(self, stream: AcquiredStream) -> None:
        """Read what one source has ready, preprocess it, window it and queue the windows."""
        cfg = self.config
        if not stream.connected:
            if not stream.connecting and time.monotonic() >= stream.start_at:
                stream.connecting = True  # connect off this thread: an LSL resolve may take seconds
                threading.Thread(target=self._connect, args=(stream,), daemon=True).start()
            return
        if cfg.backpressure == "block" and self.queue.count(stream.info.stream_id) >= cfg.pending_per_stream:
            return  # inference is behind: leave the samples in the source until it catches up
        if stream.next_due is not None and time.monotonic() < stream.next_due:
            return  # nothing new yet (a replay knows when its next chunk is out): skip the read
        try:
            chunks, now = stream.read()
            if chunks is None:
                self.fanout.set_state(stream.info, "ended", "the source has no more samples")
                return
            if not chunks:
                self._check_stall(stream, now)
                return
            stream.last_data = now
            if stream.info.state == "stalled":
                self.fanout.set_state(stream.info, "running", "samples arrive again")
            if len({t for _, t in chunks}) == 1:  # one release time (one chunk, or a live source's): one pass
                data = chunks[0][0] if len(chunks) == 1 else np.concatenate([c for c, _ in chunks])
                windows = stream.ingest(data, chunks[0][1])
            else:  # each window stamped with when the chunk that completed it came out
                windows = [w for c, t in chunks for w in stream.ingest(c, t)]
        except Exception as exc:  # noqa: BLE001 - any source/preprocessing error faults this stream only
            self.fault([stream], exc, "acquisition")
            return
        if windows:
            self.enqueue(stream, windows, now)

    def enqueue(self, stream: AcquiredStream, windows: list[PendingWindow], now: float) -> None:
        """Queue a stream's windows; report drops (at most once a second per stream)."""
        dropped = self.queue.put(stream.info.stream_id, windows)
        if dropped:
            stream.info.dropped += dropped
            if now - stream.last_drop_report >= 1.0:
                stream.last_drop_report = now
                stream.info.message = "inference is behind: dropping this stream's oldest pending windows"
                self.fanout.publish_status(stream.info)

    def _check_stall(self, stream: AcquiredStream, now: float) -> None:
        """A running stream with no samples: stalled when its source says so or after stall_after_s."""
        if stream.info.state != "running":
            return
        if stream.source.state == "stalled":
            self.fanout.set_state(stream.info, "stalled", stream.source.message or "no samples")
        elif now - stream.last_data > self.config.stall_after_s:
            self.fanout.set_state(stream.info, "stalled", f"no samples for {self.config.stall_after_s:g} s")

    def _connect(self, stream: AcquiredStream) -> None:
        """Open one source (on its own short-lived thread); a failure faults only that stream."""
        try:
            stream.connect()
        except Exception as exc:  # noqa: BLE001 - e.g. SourceError: no such LSL stream
            self.fault([stream], exc, "connect")
