"""One batch of windows through the model: normalisation, engines, heart rate and rhythm features.

`BatchRunner` turns a batch of PendingWindows into one WindowResult each, running the scheduler's
`core.inference_model.InferenceModel` with the `core.scheduler_config.SchedulerConfig`'s normaliser.
"""

from __future__ import annotations

import time
from collections.abc import Container

import numpy as np

from core.batching import PendingWindow
from core.heart_rate import HeartRateEstimator
from core.inference_model import InferenceModel
from core.preprocess import normalize_window
from core.results import WindowResult
from core.rhythm import RhythmTracker
from core.scheduler_config import SchedulerConfig


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
