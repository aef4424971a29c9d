"""The RR rhythm model's inputs: features of the last `N` RR intervals at every beat, for any beat source.

One function, `rr_feature_matrix`, computes them for a whole beat sequence at once (training, `analyze
--beats`, whole-record signal analysis); `RrFeatureStream` keeps the last intervals of a live stream and
calls the same function on them, so streaming equals offline for any chunking (tests/core/test_rr_features).

At beat i the window holds the `N` intervals ending at beat i. The model's decision at beat i is about the
window's centre beat (i − N/2): it sees half a minute of rhythm on both sides of it, so onsets and offsets
are placed where the rhythm changed, at the cost of N/2 beats of delay in a live alarm.

Each interval is divided by the window's median RR, so the features describe the rhythm's shape whatever the
heart rate; the median itself (log seconds) is one feature. Intervals outside 0.2–3 s (detector misses
across a dropout, double detections) are clipped and counted. Features (FEATURES, twice: over the whole
window and over its central `CENTRE` intervals): normalised RMSSD, median and quartiles of |ΔRR| (the lower
quartile stays small in sinus rhythm however many beats are ectopic or noise), trimmed RMSSD (the largest
10 % of |ΔRR| left out: robust to a few ectopic beats), SD of RR, interquartile range, histogram entropy,
turning-point ratio, premature beats, premature beats followed by a pause, lag-1 autocorrelation of ΔRR,
lag-1 and lag-2 autocorrelation of RR (bigeminy, trigeminy), share of |ΔRR| > 10 % and < 4 % of the median.
"""

from __future__ import annotations

from collections import deque

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

N_INTERVALS = 64  # the window: about 50 s at 75 bpm
CENTRE = 24  # the central sub-window's intervals (localises changes)
RR_CLIP_S = (0.2, 3.0)
_BINS = np.linspace(0.4, 1.6, 17)  # histogram of RR / median: 16 bins, outliers in the end bins

SCALE_FEATURES = ("nrmssd", "mad_drr", "q25_drr", "q75_drr", "trimmed_rmssd", "sd", "iqr", "entropy", "tpr",
                  "premature", "compensated", "acf_drr1", "acf_rr1", "acf_rr2", "large_drr", "small_drr")
FEATURES = ("log_median_rr", "invalid") + tuple(f"{n}_{s}" for s in ("win", "ctr") for n in SCALE_FEATURES)


def _acf(x: np.ndarray, lag: int) -> np.ndarray:
    a = x - x.mean(axis=1, keepdims=True)
    num = (a[:, lag:] * a[:, :-lag]).sum(axis=1)
    den = (a * a).sum(axis=1)
    return np.where(den > 1e-12, num / np.maximum(den, 1e-12), 0.0)


def _pct(sorted_rows: np.ndarray, q: float) -> np.ndarray:
    """np.percentile(..., q, axis=1) (linear) of rows already sorted: one sort serves every quantile."""
    pos = q / 100.0 * (sorted_rows.shape[1] - 1)
    lo = int(np.floor(pos))
    hi = min(lo + 1, sorted_rows.shape[1] - 1)
    return sorted_rows[:, lo] + (pos - lo) * (sorted_rows[:, hi] - sorted_rows[:, lo])


def _scale_features(x: np.ndarray) -> np.ndarray:
    """(M, len(SCALE_FEATURES)) features of (M, n) windows of RR intervals divided by their median."""
    m, n = x.shape
    d = np.diff(x, axis=1)
    ad = np.abs(d)
    keep = max(1, int(round(0.9 * ad.shape[1])))
    xs, ads = np.sort(x, axis=1), np.sort(ad, axis=1)
    trimmed = ads[:, :keep]
    q25, q75 = _pct(xs, 25), _pct(xs, 75)
    d25, d50, d75 = _pct(ads, 25), _pct(ads, 50), _pct(ads, 75)
    bins = np.clip(np.searchsorted(_BINS, x, side="right") - 1, 0, len(_BINS) - 2)
    nb = len(_BINS) - 1
    counts = np.bincount((np.arange(m)[:, None] * nb + bins).ravel(), minlength=m * nb).reshape(m, nb)
    p = counts / n
    entropy = -(p * np.log(np.where(p > 0, p, 1.0))).sum(axis=1) / np.log(len(_BINS) - 1)
    turning = ((x[:, 1:-1] - x[:, :-2]) * (x[:, 1:-1] - x[:, 2:]) > 0).sum(axis=1) / (n - 2) / (2 / 3)
    premature = x < 0.85
    compensated = (premature[:, :-1] & (x[:, 1:] > 1.1)).mean(axis=1)
    return np.stack([
        np.sqrt((d * d).mean(axis=1)), d50, d25, d75, np.sqrt((trimmed * trimmed).mean(axis=1)),
        x.std(axis=1), q75 - q25, entropy, turning, premature.mean(axis=1), compensated, _acf(d, 1),
        _acf(x, 1), _acf(x, 2), (ad > 0.1).mean(axis=1), (ad < 0.04).mean(axis=1)], axis=1)


def rr_windows(rr: np.ndarray) -> np.ndarray:
    """(M, N) windows of the last N RR intervals (seconds), one per interval from the N-th on."""
    rr = np.asarray(rr, dtype=np.float64)
    if rr.size < N_INTERVALS:
        return np.empty((0, N_INTERVALS))
    return sliding_window_view(rr, N_INTERVALS)


def window_features(windows: np.ndarray) -> np.ndarray:
    """(M, len(FEATURES)) float32 features of (M, N) windows of RR intervals in seconds."""
    windows = np.asarray(windows, dtype=np.float64)
    if windows.ndim != 2 or windows.shape[1] != N_INTERVALS:
        raise ValueError(f"RR windows must be (M, {N_INTERVALS}); got {windows.shape}")
    if len(windows) == 0:
        return np.empty((0, len(FEATURES)), np.float32)
    invalid = ((windows < RR_CLIP_S[0]) | (windows > RR_CLIP_S[1])).mean(axis=1)
    w = np.clip(windows, *RR_CLIP_S)
    med = _pct(np.sort(w, axis=1), 50)[:, None]
    x = w / med
    lo = (N_INTERVALS - CENTRE) // 2
    return np.concatenate([np.log(med), invalid[:, None], _scale_features(x),
                           _scale_features(x[:, lo : lo + CENTRE])], axis=1).astype(np.float32)


def sequence_features(rr: np.ndarray) -> np.ndarray:
    """FEATURES' first half (median, invalid share, shape features) of one RR sequence of any length ≥ 3."""
    rr = np.asarray(rr, dtype=np.float64)[None, :]
    invalid = ((rr < RR_CLIP_S[0]) | (rr > RR_CLIP_S[1])).mean(axis=1)
    w = np.clip(rr, *RR_CLIP_S)
    med = np.median(w, axis=1, keepdims=True)
    return np.concatenate([np.log(med)[:, 0], invalid, _scale_features(w / med)[0]])


def rr_feature_matrix(beats: np.ndarray, fs: float, chunk: int = 20000) -> tuple[np.ndarray, np.ndarray]:
    """Features at every beat with N intervals before it, and the sample of each decision's centre beat.

    Returns (features (M, F) float32, centre (M,) int64 sample numbers of beat i − N/2), M = beats − N.
    """
    beats = np.asarray(beats, dtype=np.int64)
    if beats.size and np.any(np.diff(beats) <= 0):
        raise ValueError("beat sample numbers must be strictly increasing")
    rr = np.diff(beats) / float(fs)
    win = rr_windows(rr)
    feats = np.concatenate([window_features(win[i : i + chunk]) for i in range(0, len(win), chunk)]) \
        if len(win) else np.empty((0, len(FEATURES)), np.float32)
    centre = beats[N_INTERVALS // 2 : N_INTERVALS // 2 + len(win)]
    return feats, centre


class RrFeatureStream:
    """A live stream's last N RR intervals; `push` returns the features for each new beat (same code)."""

    def __init__(self, fs: float) -> None:
        self.fs = float(fs)
        self._beats: deque[int] = deque(maxlen=N_INTERVALS + 1)

    def push(self, beats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Add new beats (ascending sample numbers after the last one); features and centres they complete."""
        windows, centres = self.push_windows(beats)
        return window_features(windows), centres

    def push_windows(self, beats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """As `push`, but the (k, N) RR windows instead of their features (a caller batches many streams)."""
        rows, centres = [], []
        for b in np.asarray(beats, dtype=np.int64):
            if self._beats and b <= self._beats[-1]:
                raise ValueError(f"beat {int(b)} is not after the stream's last beat {self._beats[-1]}")
            self._beats.append(int(b))
            if len(self._beats) == N_INTERVALS + 1:
                last = np.fromiter(self._beats, dtype=np.int64)
                rows.append(np.diff(last) / self.fs)
                centres.append(last[N_INTERVALS // 2])
        if not rows:
            return np.empty((0, N_INTERVALS)), np.empty(0, np.int64)
        return np.stack(rows), np.asarray(centres, dtype=np.int64)
