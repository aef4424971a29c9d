"""One batch of windows through the model: normalisation, engines, heart rate and rhythm features.

`InferenceModel` is what the scheduler runs (core.scheduler_model.PipelineModel for a bundle; tests
subclass it with doubles). `BatchRunner` turns a batch of PendingWindows into one WindowResult each.
"""

from __future__ import annotations

import time
from collections.abc import Container

import numpy as np

from core.batching import PendingWindow
from core.events import EpisodeSettings
from core.heart_rate import HeartRateEstimator
from core.preprocess import normalize_window
from core.results import WindowResult
from core.rhythm import RhythmTracker
from core.scheduler_config import SchedulerConfig
from engines.contract import ModelContract


class InferenceModel:
    """What the worker runs on a batch: normalised windows (B, W) float32 → probs, embedding, trajectory.

    The defaults describe a model without a bundle (a test double): no contract (SchedulerConfig's
    defaults apply), no rhythm head, the monitor's default episode settings, on the CPU.
    """

    backend: str = "model"  # e.g. "onnxruntime CPU fp32", shown by the GUI and written by the reports
    device: str = "cpu"  # where the scheduler also runs the heart-rate detector ("cuda..." or "cpu")
    contract: ModelContract | None = None  # the bundle's signal path (engines.contract)
    rhythm_context: dict | None = None  # {"context_s", "guard_s"} of the rhythm head's RR features
    episodes: EpisodeSettings | None = None  # the episode detector's settings (None: core.events' defaults)

    def infer(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return probs (B, 4), embedding (B, D), trajectory (B, 2) for a batch of normalised windows."""
        raise NotImplementedError

    def fuse(self, embedding: np.ndarray, rhythm: np.ndarray) -> np.ndarray:
        """Rhythm-context probabilities (B, 4) from embeddings and RR features (models with a rhythm head)."""
        raise RuntimeError(f"{type(self).__name__} has no rhythm head")


class BatchRunner:
    """Runs batches through a model with the config's normaliser; keeps each stream's RR history."""

    def __init__(self, model: InferenceModel, config: SchedulerConfig) -> None:
        self.model = model
        self.config = config
        device = config.heart_rate_device
        if device == "auto":
            device = "cuda" if str(model.device).startswith("cuda") else "cpu"
        # the rhythm head needs the R-peaks too; its RR features are computed per stream by RhythmTracker
        needs_peaks = config.heart_rate or model.rhythm_context is not None
        self.heart_rate = HeartRateEstimator(config.fs, device) if needs_peaks else None
        self._trackers: dict[int, RhythmTracker] = {}  # only the worker thread touches them

    def forget(self, stream_id: int) -> None:
        """Drop a removed stream's RR history."""
        self._trackers.pop(stream_id, None)

    def run(self, batch: list[PendingWindow], known: Container[int]) -> list[WindowResult]:
        """One WindowResult per window, stamped when it was done; raises what the model or detector raised.

        `known`: the streams still registered; a removed stream's late window gets a fresh, unkept
        RR history.
        """
        windows = np.stack([w.samples for w in batch])  # (B, W) band-passed mV
        n = len(batch)
        rhythm = rhythm_probs = None
        probs, embedding, trajectory = self.model.infer(normalize_window(windows, self.config.std_floor_mv))
        rates = np.full(n, np.nan)
        if self.heart_rate is not None:
            rows, cols = self.heart_rate.peaks(windows)
            if self.config.heart_rate:
                rates = self.heart_rate.rates_from_peaks(rows, cols, n)
            if self.model.rhythm_context is not None:
                rhythm = self._rhythm_features(batch, rows, cols, known)
                rhythm_probs = self.model.fuse(embedding, rhythm)
        done = time.monotonic()
        return [WindowResult(w.stream_id, w.end_index, w.arrival_time, done, probs[i], embedding[i],
                             trajectory[i], float(rates[i]), w.flags,
                             None if rhythm is None else rhythm[i],
                             None if rhythm_probs is None else rhythm_probs[i])
                for i, w in enumerate(batch)]

    def _rhythm_features(self, batch: list[PendingWindow], rows: np.ndarray, cols: np.ndarray,
                         known: Container[int]) -> np.ndarray:
        """Each window's RR features from its stream's tracker (windows of a stream arrive in order)."""
        bounds = np.searchsorted(rows, np.arange(len(batch) + 1))
        out = []
        for i, w in enumerate(batch):
            tracker = self._trackers.get(w.stream_id)
            if tracker is None:
                tracker = RhythmTracker(self.config.fs, self.config.window, **self.model.rhythm_context)
                if w.stream_id in known:
                    self._trackers[w.stream_id] = tracker
            out.append(tracker.update(w.end_index, cols[bounds[i] : bounds[i + 1]]))
        return np.stack(out)
