"""The monitor's own beats for a whole record, offline: the live path's preprocessing, windows and tracker.

`detector_beats` preprocesses one lead exactly as a live stream does (core.preprocess), cuts the
monitor's windows at its hop, runs the R-peak detector on them (core.heart_rate) and keeps the beats the
live RhythmTracker keeps (core.rhythm.offline_tracking), then maps them to the record's own sample
numbers. It equals what `analyze` writes to `<record>.beats`; benchmarks/qrs_detection.py scores it.
"""

from __future__ import annotations

import numpy as np

from core.preprocess import preprocess_record
from core.rhythm import offline_tracking
from engines.contract import BAND_HZ, BANDPASS_ORDER, HOP, MODEL_FS, WINDOW


def to_record_samples(model_index: np.ndarray, fs: float, model_fs: float) -> np.ndarray:
    """Model-rate sample indices → the record's sample numbers (same instant, rounded)."""
    return np.rint(np.asarray(model_index, dtype=np.float64) * fs / model_fs).astype(np.int64)


def detector_beats(signal: np.ndarray, fs: float, model_fs: float = MODEL_FS, window: int = WINDOW,
                   hop: int = HOP, band: tuple[float, float] = BAND_HZ,
                   order: int = BANDPASS_ORDER) -> np.ndarray:
    """Beat sample numbers (at `fs`) that the live monitor detects in one lead (mV)."""
    x, _ = preprocess_record(np.asarray(signal, dtype=np.float64), fs, model_fs, band, order)
    if x.size < window:
        return np.empty(0, np.int64)
    starts = np.arange(0, x.size - window + 1, hop)
    windows = np.lib.stride_tricks.sliding_window_view(x, window)[starts].astype(np.float32)
    _, beats = offline_tracking(windows, starts + window, model_fs, features=False)
    return np.unique(to_record_samples(beats, fs, model_fs))
