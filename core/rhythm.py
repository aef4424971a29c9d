"""Rhythm context for the model: RR-interval features over the last minute, from the windows' own R-peaks.

A cardiologist tells AF from ectopy by the rhythm over many beats, which one 6.8 s window cannot show.
Each stream keeps a `RhythmTracker`: every window's R-peaks (core.heart_rate's detector, already run for
the heart rate) add the beats of the part of the signal no earlier window covered, up to `guard_s`
before the window's end (the detector needs signal on both sides of a beat). For a window ending at
sample e, the features describe the RR intervals of the beats in [e − guard − context, e − guard).

The beats are a function of the windows alone, so a stream gives the same features however it was
chunked, and `offline_rhythm` (training, tests) is the same tracker fed the same windows. A dropped
window leaves a gap in the beats; RR intervals longer than 3 s are not counted, so a gap only shortens
the context (its `coverage` feature says how much of the minute had beats).

Features (RHYTHM_FEATURES, in this order): coverage (fraction of the context spanned by valid RR
intervals), mean RR (s), coefficient of variation, normalised RMSSD, median |ΔRR| / median RR (robust
to a few ectopic beats), Shannon entropy of the RR histogram (16 bins, /log 16), turning-point ratio /
(2/3), fraction of premature beats (RR < 0.85 × median), fraction of those followed by a compensatory
pause (next RR > 1.1 × median: the signature of ectopy, rare in AF), normalised RMSSD without the
intervals next to premature beats (0 when none is left), and the lag-1 autocorrelation of ΔRR.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from core.heart_rate import RR_RANGE_S

RHYTHM_FEATURES = ("coverage", "mean_rr", "cv_rr", "nrmssd", "mad_drr", "entropy", "tpr", "premature",
                   "compensated", "nrmssd_sinus", "drr_lag1")
CONTEXT_S = 60.0
GUARD_S = 0.5
MIN_INTERVALS = 4  # fewer valid RR intervals than this: every feature but coverage is 0
_N_BINS = 16


def rr_features(beats: np.ndarray, fs: float, context_s: float = CONTEXT_S) -> np.ndarray:
    """The RHYTHM_FEATURES of beat sample indices (ascending) spanning `context_s` seconds, float32."""
    out = np.zeros(len(RHYTHM_FEATURES), dtype=np.float64)
    rr_all = np.diff(np.asarray(beats, dtype=np.float64)) / fs
    ok = (rr_all >= RR_RANGE_S[0]) & (rr_all <= RR_RANGE_S[1])
    rr = rr_all[ok]
    out[0] = min(1.0, rr.sum() / context_s)
    if rr.size < MIN_INTERVALS:
        return out.astype(np.float32)
    mean, median = rr.mean(), np.median(rr)
    d = np.diff(rr)
    out[1] = mean
    out[2] = rr.std() / mean
    out[3] = np.sqrt(np.mean(d * d)) / mean
    out[4] = np.median(np.abs(d)) / median
    hist, _ = np.histogram(rr, bins=_N_BINS)
    p = hist[hist > 0] / rr.size
    out[5] = -(p * np.log(p)).sum() / np.log(_N_BINS)
    turning = np.sum((rr[1:-1] - rr[:-2]) * (rr[1:-1] - rr[2:]) > 0)
    out[6] = turning / (rr.size - 2) / (2 / 3)
    premature = rr < 0.85 * median
    out[7] = premature.mean()
    followed = premature[:-1] & (rr[1:] > 1.1 * median)
    out[8] = followed.sum() / max(1, premature[:-1].sum())
    near = premature[:-1] | premature[1:] | np.r_[False, premature[:-2]]  # Δ touching a premature beat
    clean = d[~near]
    out[9] = np.sqrt(np.mean(clean * clean)) / mean if clean.size >= 2 else 0.0  # all ectopy: no sinus ΔRR
    if d.size >= 3:
        a, b = d[:-1] - d[:-1].mean(), d[1:] - d[1:].mean()
        denom = np.sqrt((a * a).sum() * (b * b).sum())
        out[10] = (a * b).sum() / denom if denom > 0 else 0.0
    return out.astype(np.float32)


class RhythmTracker:
    """Beats of one stream from its windows' R-peaks, and the rhythm features at each window's end."""

    def __init__(self, fs: float, window: int, context_s: float = CONTEXT_S,
                 guard_s: float = GUARD_S) -> None:
        self.fs, self.window, self.context_s = float(fs), int(window), float(context_s)
        self.guard = round(guard_s * fs)
        self.context = round(context_s * fs)
        self._beats: deque[int] = deque()
        self._covered = 0  # absolute index up to which beats have been taken
        self.new_beats = np.empty(0, np.int64)

    def update(self, end: int, peaks: np.ndarray, features: bool = True) -> np.ndarray | None:
        """Add one window's R-peaks (indices within the window) and return the features at its end.

        With features=False only the beats are kept (`new_beats`), for a stream without a rhythm head.
        """
        stop = end - self.guard
        start = end - self.window
        fresh = [int(p) for p in np.sort(np.asarray(peaks, dtype=np.int64)) + start
                 if self._covered <= p < stop]
        self._beats.extend(fresh)
        self.new_beats = np.asarray(fresh, dtype=np.int64)  # this window's beats (model-rate indices)
        self._covered = max(self._covered, stop)
        while self._beats and self._beats[0] < stop - self.context:
            self._beats.popleft()
        if not features:
            return None
        return rr_features(np.fromiter(self._beats, dtype=np.int64), self.fs, self.context_s)


def offline_rhythm(windows: np.ndarray, ends: np.ndarray, fs: float, estimator=None,
                   context_s: float = CONTEXT_S, guard_s: float = GUARD_S) -> np.ndarray:
    """(n, len(RHYTHM_FEATURES)) features of a stream's consecutive windows (raw band-passed mV) at `ends`."""
    return offline_tracking(windows, ends, fs, estimator, context_s, guard_s)[0]


def offline_tracking(windows: np.ndarray, ends: np.ndarray, fs: float, estimator=None,
                     context_s: float = CONTEXT_S, guard_s: float = GUARD_S,
                     features: bool = True) -> tuple[np.ndarray | None, np.ndarray]:
    """The live tracker fed a stream's consecutive windows: (features at each end, every beat it kept).

    Beats are model-rate sample indices, exactly those a live stream of the same windows detects. With
    features=False only the beats are collected (features is None).
    """
    from core.heart_rate import HeartRateEstimator

    if not len(windows):
        return np.empty((0, len(RHYTHM_FEATURES)), np.float32) if features else None, np.empty(0, np.int64)
    estimator = estimator or HeartRateEstimator(fs)
    tracker = RhythmTracker(fs, windows.shape[1], context_s, guard_s)
    rows, cols = estimator.peaks(windows)
    bounds = np.searchsorted(rows, np.arange(len(windows) + 1))
    feats, beats = [], []
    for i, e in enumerate(ends):
        feats.append(tracker.update(int(e), cols[bounds[i] : bounds[i + 1]], features))
        beats.append(tracker.new_beats)
    return (np.stack(feats) if features else None), np.concatenate(beats)
