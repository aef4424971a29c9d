"""The monitor's session: one model, one real-time scheduler, the sources, and replay controls.

This is the only GUI module that talks to core: the window asks it to add sources, drains its result
and status queues on the frame timer, and reads ring-buffer snapshots for the traces. Nothing here
touches Qt, so the session's threads (the scheduler's) never call into the GUI.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import numpy as np

from core.events import EventLog, RhythmEvent
from core.results import CLASS_CODES, StreamStatus, WindowResult
from core.scheduler import SchedulerConfig
from core.session import MonitoringSession

log = logging.getLogger(__name__)

DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "engines" / "default"
MAX_CLOUD_POINTS = 3000  # reference points drawn in the trajectory plot


class ReplayClock:
    """A clock for replay sources that runs at `speed` × real time and stands still while paused.

    WfdbReplaySource paces itself on the clock it is given, so pausing and changing speed is a matter
    of changing how this clock advances; the sources themselves are untouched. Thread-safe.
    """

    def __init__(self, speed: float = 1.0) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be a positive factor; {speed!r} is invalid")
        self._lock = threading.Lock()
        self._real0 = time.monotonic()
        self._virtual0 = self._real0
        self._speed = float(speed)
        self._paused = False

    def __call__(self) -> float:
        """Virtual seconds: advance at `speed` while running, frozen while paused."""
        with self._lock:
            if self._paused:
                return self._virtual0
            return self._virtual0 + (time.monotonic() - self._real0) * self._speed

    def _rebase(self) -> None:
        now = time.monotonic()
        if not self._paused:
            self._virtual0 += (now - self._real0) * self._speed
        self._real0 = now

    @property
    def speed(self) -> float:
        """Replay speed factor."""
        return self._speed

    @property
    def paused(self) -> bool:
        """Whether replay stands still."""
        return self._paused

    def set_speed(self, speed: float) -> None:
        """Change the speed from now on (what was replayed stays replayed)."""
        if not speed > 0:
            raise ValueError(f"speed must be a positive factor; {speed!r} is invalid")
        with self._lock:
            self._rebase()
            self._speed = float(speed)

    def set_paused(self, paused: bool) -> None:
        """Freeze or resume the clock."""
        with self._lock:
            self._rebase()
            self._paused = bool(paused)


class MonitorSession:
    """A loaded model and a running scheduler to which record replays and LSL inlets are added."""

    def __init__(self, model_path: str | Path | None = None, engine: str = "auto", speed: float = 1.0,
                 loop: bool = True, config: SchedulerConfig | None = None,
                 engine_options: dict[str, dict] | None = None) -> None:
        from core.scheduler_model import load_model

        self.model_path = Path(model_path) if model_path else DEFAULT_MODEL
        if not (self.model_path / "manifest.json").is_file():
            raise FileNotFoundError(f"model bundle {str(self.model_path)!r} has no manifest.json: pass "
                                    "--model with a folder written by dacl-train (or engines/default)")
        self.model = load_model(self.model_path, engine, engine_options=engine_options)
        self.fs = float(self.model.fs)
        self.config = config or SchedulerConfig.for_model(self.model)
        self.clock = ReplayClock(speed)
        self.loop = loop
        # the same assembly as headless and analyze: episodes are detected on the worker thread, so the
        # alarm never depends on the frame timer keeping up with the result queue
        self.monitoring = MonitoringSession(self.model, self.config, results=5000, statuses=1000)
        self.scheduler = self.monitoring.scheduler
        self.sources: dict[int, object] = {}
        self.descriptions: dict[int, str] = {}
        self._beds = 0  # beds added so far, for their titles
        self.monitoring.start()

    # ----------------------------------------------------------------- model facts
    @property
    def speed(self) -> float:
        """Replay speed factor."""
        return self.clock.speed

    @property
    def paused(self) -> bool:
        """Whether replays are paused."""
        return self.clock.paused

    def engine_info(self) -> dict:
        """Model name, backend, device, precision and skipped backends, for the status bar."""
        info = self.model.pipeline.info()
        try:
            from engines.registry import availability

            skipped = [f"{name}: {why}" for name, why in availability().items() if why]
        except Exception as exc:  # noqa: BLE001 - the status bar still shows the backend in use
            skipped = [f"backend availability unknown: {exc}"]
        metrics = getattr(self.model.bundle, "metrics", {}) or {}
        numbers = {k: v for k, v in metrics.items() if isinstance(v, int | float)}
        return {"model": self.model_path.name, "metrics": numbers, "backend": info.get("name", "?"),
                "device": info.get("device", "?"), "precision": info.get("precision", "?"),
                "skipped": skipped, "selection": getattr(self.model, "selection", "")}

    def reference_cloud(self) -> tuple[np.ndarray, np.ndarray]:
        """The bundle's training reference points (M, 2) and class indices (M,), subsampled for drawing."""
        cloud = self.model.bundle.reference_cloud()
        points = np.asarray(cloud.get("points", np.zeros((0, 2))), dtype=float)
        raw = np.asarray(cloud.get("labels", np.zeros(0, dtype=str)))
        if np.issubdtype(raw.dtype, np.integer):  # class indices already
            labels = np.clip(raw.astype(int), 0, len(CLASS_CODES) - 1)
        else:  # class codes N, A, O, ~
            labels = np.array([CLASS_CODES.index(c) if c in CLASS_CODES else 3 for c in raw.astype(str)],
                              dtype=int)
        if len(points) > MAX_CLOUD_POINTS:
            keep = np.random.default_rng(0).choice(len(points), MAX_CLOUD_POINTS, replace=False)
            points, labels = points[keep], labels[keep]
        return points, labels

    # ----------------------------------------------------------------- sources
    def open_replay(self, path: str | Path, lead: str | int | None = None, annotation: str | None = "atr"):
        """A replay source for a record, paced by the session clock; raises when it cannot be read.

        `annotation` is the extension of the reference annotations to load with it (None: none).
        """
        from core.records import open_record
        from core.sources import WfdbReplaySource

        record = open_record(path, lead, annotation=annotation)
        return WfdbReplaySource(record, speed=1.0, loop=self.loop, clock=self.clock)

    def open_lsl(self, info):
        """An LSL inlet source for the stream a pylsl.StreamInfo describes (connects when added)."""
        from core.sources import LslInletSource

        return LslInletSource(name=info.name(), stream_type=info.type() or "ECG", resolve_timeout=5.0)

    def add_source(self, source, start_delay_s: float = 0.0, description: str = "") -> tuple[int, str]:
        """Start a source on the scheduler; return (stream id, bed title)."""
        record = getattr(source, "record", None)
        if record is not None:
            title = f"bed {self._beds + 1} · {record.name} · {record.lead}"
            description = description or f"replay {record.name} lead {record.lead} ({record.fs:g} Hz)"
        else:
            title = f"bed {self._beds + 1} · {source.name}"
            description = description or f"LSL {source.name}"
        sid = self.monitoring.add_source(source, title, start_delay_s=start_delay_s)
        self._beds += 1
        self.sources[sid] = source
        self.descriptions[sid] = description
        return sid, title

    def add_record(self, path: str | Path, lead: str | int | None = None,
                   start_delay_s: float = 0.0) -> tuple[int, str]:
        """Replay a WFDB record; return (stream id, bed title)."""
        return self.add_source(self.open_replay(path, lead), start_delay_s)

    def remove_stream(self, stream_id: int) -> None:
        """Stop and forget one stream."""
        self.sources.pop(stream_id, None)
        self.descriptions.pop(stream_id, None)
        try:
            self.scheduler.remove_stream(stream_id)
        except KeyError:
            pass

    def set_paced(self, stream_id: int, paced: bool) -> None:
        """Mark a bed paced (core.session.MonitoringSession.set_paced)."""
        self.monitoring.set_paced(stream_id, paced)

    def is_paced(self, stream_id: int) -> bool:
        return self.monitoring.scheduler.is_paced(stream_id)

    def describe(self, stream_id: int) -> str:
        """One line for the status bar: what the stream is and its replay speed."""
        desc = self.descriptions.get(stream_id, f"stream {stream_id}")
        if desc.startswith("replay"):
            desc += " paused" if self.paused else f" ×{self.speed:g}"
        return desc

    # ----------------------------------------------------------------- replay controls
    def set_paused(self, paused: bool) -> None:
        """Pause or resume every replay."""
        self.clock.set_paused(paused)

    def set_speed(self, speed: float) -> None:
        """Change every replay's speed."""
        self.clock.set_speed(speed)

    def set_loop(self, loop: bool) -> None:
        """Loop (or not) every replay at its end."""
        self.loop = bool(loop)
        for source in self.sources.values():
            if hasattr(source, "loop"):
                source.loop = self.loop

    # ----------------------------------------------------------------- polling (GUI timer)
    @property
    def events(self) -> EventLog:
        """The episode detector of every stream (its events are what File ▸ Save writes)."""
        return self.monitoring.events

    def drain(self) -> list[StreamStatus | RhythmEvent | WindowResult]:
        """Every status, episode event and result published since the last call, in that order."""
        return self.monitoring.drain()

    def snapshot(self, stream_id: int, n: int) -> tuple[np.ndarray, int]:
        """The newest up to n model-rate samples (mV) of a stream and the index one past the last."""
        try:
            ring = self.scheduler.stream(stream_id).ring
        except KeyError:
            return np.empty(0), 0
        start, samples = ring.latest(n)
        return samples, start + len(samples)

    def stats(self) -> dict:
        """Latency p50/p99 (ms), windows/s and dropped windows, all streams."""
        s = self.scheduler.stats()
        rate = s.windows_per_s if np.isfinite(s.windows_per_s) else 0.0
        return {"p50_ms": s.latency_ms["p50"], "p99_ms": s.latency_ms["p99"], "windows_per_s": rate,
                "dropped": s.dropped, "windows": s.windows}

    def close(self) -> None:
        """Stop the scheduler (closing every source) and release the model."""
        try:
            self.monitoring.stop()
        finally:
            self.model.close()
