"""A whole recording's summary for the record head: its beat sequence, its median beat, its DACL windows.

The 2017 challenge's best entries decided on the whole record (Teijeiro et al., Datta et al.): RR statistics
over every beat, ectopy counts, the averaged beat's shape. `record_features` computes exactly that for one
preprocessed recording (mV at the model rate) together with a summary of its DACL window probabilities, in
the same code for training (`training/record_head.py`), `dacl-train evaluate` and `analyze` of short
recordings. Beats come from the monitor's own detector and tracker (core.rhythm.offline_tracking) on
windows at the monitor's hop plus one flush with the record's end, so every beat of the record counts.
Missing parts (too few beats, no beat with a full segment) get neutral values, never NaN: the ONNX head
has no notion of a missing input.
"""

from __future__ import annotations

import numpy as np

from core.rhythm import offline_tracking
from core.rr_features import FEATURES as RR_FEATURES
from core.rr_features import sequence_features
from core.windowing import window_starts
from engines.contract import CLASS_CODES, HOP, MODEL_FS, WINDOW

BEFORE_S, AFTER_S = 0.3, 0.5  # the beat segment around each R peak
SHAPE_STEP = 8  # median-beat samples kept: every 8th at 300 Hz (27 ms), 30 points

RR_NAMES = tuple(f"rr_{n}" for n in RR_FEATURES[: 2 + (len(RR_FEATURES) - 2) // 2]) + (
    "n_beats_per_min", "rr_min", "rr_max_rel", "pause_s", "long_share", "short_share", "rmssd_s", "sd_s")
MORPH_NAMES = ("log_r_amp", "qrs_width_s", "p_energy", "p_residual", "t_amp", "residual_ratio",
               "corr_mean", "corr_p10", "corr_low_share", "hf_ratio", "flat_share", "log_signal_sd") + tuple(
    f"shape_{i}" for i in range(int((BEFORE_S + AFTER_S) * MODEL_FS) // SHAPE_STEP))
WINDOW_NAMES = tuple(f"{s}_{c}" for s in ("logp", "mean", "max", "min", "sd", "top") for c in CLASS_CODES) + (
    "log_n_windows",)
NAMES = RR_NAMES + MORPH_NAMES + WINDOW_NAMES


def record_beats(x: np.ndarray, fs: float = MODEL_FS, window: int = WINDOW, hop: int = HOP) -> np.ndarray:
    """Beat indices (samples of x) the monitor's detector keeps over the whole preprocessed recording."""
    if x.size < window:
        return np.empty(0, np.int64)
    starts = window_starts(x.size, hop, 0, window, cover_end=True)
    windows = np.lib.stride_tricks.sliding_window_view(np.asarray(x, np.float32), window)[starts]
    _, beats = offline_tracking(np.ascontiguousarray(windows), starts + window, fs, features=False)
    return np.unique(beats)


def rr_summary(beats: np.ndarray, fs: float, duration_s: float) -> np.ndarray:
    """RR_NAMES: the RR model's shape features over all intervals, rate, extremes, pauses, ectopy shares."""
    rr = np.diff(beats) / fs
    out = np.zeros(len(RR_NAMES))
    out[-8] = len(beats) / max(duration_s, 1e-6) * 60.0
    if rr.size < 4:
        return out
    out[: len(RR_NAMES) - 8] = sequence_features(rr)
    med = np.median(rr)
    d = np.diff(rr)
    out[-7:] = [rr.min(), rr.max() / med, rr.max(), (rr > 1.5 * med).mean(), (rr < 0.7 * med).mean(),
                np.sqrt((d * d).mean()), rr.std()]
    return out


def morphology_summary(x: np.ndarray, beats: np.ndarray, fs: float = MODEL_FS) -> np.ndarray:
    """MORPH_NAMES: the median beat (polarity set by its R), QRS width, P and T waves, beats' agreement."""
    out = np.zeros(len(MORPH_NAMES))
    x = np.asarray(x, np.float64)
    d = np.diff(x)
    out[9] = np.mean(np.diff(d) ** 2) / max(np.mean(d * d), 1e-12)  # high-frequency share: noise
    out[10] = (np.abs(d) < 1e-4).mean()  # flat line / clipping
    out[11] = np.log(max(x.std(), 1e-6))
    before, after = int(BEFORE_S * fs), int(AFTER_S * fs)
    beats = beats[(beats >= before) & (beats + after <= x.size)]
    if beats.size < 3:
        return out
    seg = x[beats[:, None] + np.arange(-before, after)[None, :]]
    seg -= np.median(seg[:, : int(0.05 * fs)], axis=1, keepdims=True)  # baseline from the segment's start
    med = np.median(seg, axis=0)
    r = before
    near = med[r - int(0.05 * fs) : r + int(0.05 * fs)]
    peak = near[np.argmax(np.abs(near))]
    sign = 1.0 if peak >= 0 else -1.0
    seg, med, amp = seg * sign, med * sign, max(abs(peak), 1e-3)
    slope = np.abs(np.diff(med[r - int(0.12 * fs) : r + int(0.12 * fs)]))
    p_win = slice(r - int(0.25 * fs), r - int(0.08 * fs))
    t_win = slice(r + int(0.15 * fs), r + int(0.45 * fs))
    resid = seg - med
    c_win = slice(r - int(0.1 * fs), r + int(0.4 * fs))
    a = seg[:, c_win] - seg[:, c_win].mean(axis=1, keepdims=True)
    b = med[c_win] - med[c_win].mean()
    corr = (a @ b) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b), 1e-9)
    out[:9] = [np.log(amp), (slope > 0.2 * slope.max()).sum() / fs, med[p_win].std() / amp,
               resid[:, p_win].std() / amp, np.abs(med[t_win]).max() / amp * np.sign(med[t_win][np.argmax(
                   np.abs(med[t_win]))]), (resid ** 2).mean() / max((med ** 2).mean(), 1e-12),
               corr.mean(), np.percentile(corr, 10), (corr < 0.7).mean()]
    out[12:] = med[::SHAPE_STEP][: len(MORPH_NAMES) - 12] / amp
    return out


def window_summary(window_probs: np.ndarray, floor: float = 1e-7) -> np.ndarray:
    """WINDOW_NAMES: per class the mean log p (the record score's input), mean, max, min, SD, top share."""
    p = np.asarray(window_probs, np.float64)
    if p.ndim != 2 or p.shape[1] != len(CLASS_CODES) or not len(p):
        raise ValueError(f"window probabilities must be (K ≥ 1, {len(CLASS_CODES)}); got {p.shape}")
    top = np.bincount(p.argmax(1), minlength=p.shape[1]) / len(p)
    return np.concatenate([np.log(np.clip(p, floor, 1.0)).mean(0), p.mean(0), p.max(0), p.min(0), p.std(0),
                           top, [np.log(len(p))]])


def beat_features(x: np.ndarray, fs: float = MODEL_FS) -> np.ndarray:
    """RR_NAMES + MORPH_NAMES (float32) of one preprocessed recording x (mV at fs), from its own beats."""
    x = np.asarray(x, np.float64)
    if not np.isfinite(x).all():
        raise ValueError("recording has non-finite samples")
    beats = record_beats(x, fs)
    return np.concatenate([rr_summary(beats, fs, x.size / fs), morphology_summary(x, beats, fs)]).astype(
        np.float32)


def record_features(x: np.ndarray, window_probs: np.ndarray, fs: float = MODEL_FS) -> np.ndarray:
    """(len(NAMES),) float32 features of one preprocessed recording x (mV at fs) and its windows' probs."""
    return np.concatenate([beat_features(x, fs), window_summary(window_probs)]).astype(np.float32)
