"""One batch of windows through the model: normalisation, engines, heart rate and rhythm features.

`BatchRunner` turns a batch of PendingWindows into one WindowResult each, running the scheduler's
`core.inference_model.InferenceModel` with the `core.scheduler_config.SchedulerConfig`'s normaliser.
It works in two steps so that several threads can share it: `infer` (engines and R-peaks, stateless,
any thread) and `finish` (each stream's beats, rhythm and alarm history: one thread at a time, in the
order the batches were taken).
"""

from __future__ import annotations

import time
from collections.abc import Container
from dataclasses import dataclass

import numpy as np

from core.alarm import rr_rows
from core.batching import PendingWindow
from core.heart_rate import HeartRateEstimator
from core.inference_model import InferenceModel
from core.preprocess import normalize_window
from core.results import WindowResult
from core.rhythm import RhythmTracker
from core.rr_features import RrFeatureStream, window_features
from core.scheduler_config import SchedulerConfig


@dataclass
class Inferred:
    """What the engines and the R-peak detector made of one batch (BatchRunner.infer)."""

    probs: np.ndarray  # (B, 4)
    embedding: np.ndarray  # (B, D)
    trajectory: np.ndarray  # (B, 2)
    peaks: tuple[np.ndarray, np.ndarray] | None  # R-peaks as (window row, sample) arrays; None: no detector


class BatchRunner:
    """Runs batches through a model with the config's normaliser; keeps each stream's RR history."""

    def __init__(self, model: InferenceModel, config: SchedulerConfig) -> None:
        self.model = model
        self.config = config
        device = config.heart_rate_device
        if device == "auto":
            device = "cuda" if str(model.device).startswith("cuda") else "cpu"
        # the rhythm head and the RR model need the R-peaks too; each stream's beats are kept by a
        # RhythmTracker, which also computes the rhythm head's RR features
        needs_peaks = config.heart_rate or model.rhythm_context is not None or model.rr_rhythm is not None
        self.heart_rate = HeartRateEstimator(config.fs, device) if needs_peaks else None
        self._trackers: dict[int, RhythmTracker] = {}  # touched only by finish(), one batch at a time
        self._rr: dict[int, RrFeatureStream] = {}  # the RR model's input per stream
        self._rr_last: dict[int, np.ndarray] = {}  # and its latest decision
        self.paced: set[int] = set()  # streams whose bed is marked paced (set from other threads)

    def forget(self, stream_id: int) -> None:
        """Drop a removed stream's RR history."""
        self._trackers.pop(stream_id, None)
        self._rr.pop(stream_id, None)
        self._rr_last.pop(stream_id, None)
        self.paced.discard(stream_id)

    def infer(self, batch: list[PendingWindow]) -> Inferred:
        """The engines and the R-peak detector on a batch: no stream state, so any thread may run it."""
        windows = np.stack([w.samples for w in batch])  # (B, W) band-passed mV
        probs, embedding, trajectory = self.model.infer(normalize_window(windows, self.config.std_floor_mv))
        peaks = self.heart_rate.peaks(windows) if self.heart_rate is not None else None
        return Inferred(probs, embedding, trajectory, peaks)

    def finish(self, batch: list[PendingWindow], inferred: Inferred,
               known: Container[int]) -> list[WindowResult]:
        """One WindowResult per window (heart rate, beats, rhythm, alarm), stamped when it was done.

        Each stream's history is used; raises what the model or detector raised. One thread at a time,
        and batches in the order they were taken (a stream's windows in order).
        `known`: the streams still registered; a removed stream's late window gets a fresh, unkept
        RR history.
        """
        n = len(batch)
        probs, embedding, trajectory = inferred.probs, inferred.embedding, inferred.trajectory
        rhythm = rhythm_probs = None
        beats: list = [None] * n
        rr_probs: list = [None] * n
        alarm = None
        paced = np.array([w.stream_id in self.paced for w in batch])
        rates = np.full(n, np.nan)
        if inferred.peaks is not None:
            rows, cols = inferred.peaks
            if self.config.heart_rate:
                rates = self.heart_rate.rates_from_peaks(rows, cols, n)
            rhythm, beats = self._track(batch, rows, cols, known)
            if rhythm is not None:
                rhythm_probs = self.model.fuse(embedding, rhythm)
            if self.model.rr_rhythm is not None:
                rr_probs = self._rr_model(batch, beats, known)
                if self.model.alarm is not None:
                    alarm = self.model.alarm.probs(probs, rr_rows(rr_probs), paced)
        done = time.monotonic()
        return [WindowResult(w.stream_id, w.end_index, w.arrival_time, done, probs[i], embedding[i],
                             trajectory[i], float(rates[i]), w.flags,
                             None if rhythm is None else rhythm[i],
                             None if rhythm_probs is None else rhythm_probs[i], beats[i], rr_probs[i],
                             None if alarm is None else alarm[i], bool(paced[i]))
                for i, w in enumerate(batch)]

    def _track(self, batch: list[PendingWindow], rows: np.ndarray, cols: np.ndarray,
               known: Container[int]) -> tuple[np.ndarray | None, list[np.ndarray]]:
        """Each window's new beats and, with a rhythm head, its RR features, from its stream's tracker.

        Windows of a stream arrive in order.
        """
        bounds = np.searchsorted(rows, np.arange(len(batch) + 1))
        context = self.model.rhythm_context
        feats, beats = [], []
        for i, w in enumerate(batch):
            tracker = self._trackers.get(w.stream_id)
            if tracker is None:
                tracker = RhythmTracker(self.config.fs, self.config.window, **(context or {}))
                if w.stream_id in known:
                    self._trackers[w.stream_id] = tracker
            feats.append(tracker.update(w.end_index, cols[bounds[i] : bounds[i + 1]], context is not None))
            beats.append(tracker.new_beats)
        return (np.stack(feats) if context is not None else None), beats

    def _rr_model(self, batch: list[PendingWindow], beats: list[np.ndarray],
                  known: Container[int]) -> list[np.ndarray | None]:
        """The RR model's latest decision per window: new beats → RR windows of all streams → one call."""
        rr_windows, owner = [], []
        for i, w in enumerate(batch):
            stream = self._rr.get(w.stream_id)
            if stream is None:
                stream = RrFeatureStream(self.config.fs)
                if w.stream_id in known:
                    self._rr[w.stream_id] = stream
            win, _ = stream.push_windows(beats[i])
            rr_windows.append(win)
            owner += [i] * len(win)
        newest: dict[int, np.ndarray] = {}  # window → its newest decision
        if owner:
            p = self.model.rr_rhythm.probs(window_features(np.concatenate(rr_windows)))
            newest = {i: p[k] for k, i in enumerate(owner)}
        out: list[np.ndarray | None] = []
        for i, w in enumerate(batch):  # in order: a stream's later window in the batch sees its earlier one's
            if i in newest and w.stream_id in known:
                self._rr_last[w.stream_id] = newest[i]
            out.append(newest[i] if i in newest else self._rr_last.get(w.stream_id))
        return out
