"""The monitor's own beats: real MIT-BIH beats found EC57's way, T waves and small beats handled."""

import numpy as np
from wfdb.processing import compare_annotations

from core.record_beats import detector_beats
from core.records import open_record
from core.rr_irregularity import BEAT_SYMBOLS
from tests.core.test_scheduler_support import MITBIH_100, need_data


def test_record_100_beats_match_the_reference_within_150_ms():
    need_data(MITBIH_100)
    rec = open_record(MITBIH_100)
    n = round(600 * rec.fs)  # ten minutes
    beats = detector_beats(rec.signal[:n], rec.fs)
    ann = rec.annotations
    ref = np.array([s for s, sym in zip(ann.sample, ann.symbol, strict=True)
                    if sym in BEAT_SYMBOLS and s < n - 2 * rec.fs])
    c = compare_annotations(ref, beats[beats < n - 2 * rec.fs], round(0.15 * rec.fs))
    assert c.tp / c.n_ref >= 0.998 and c.fp <= 1


def synthetic_ecg(fs: float, rr: np.ndarray, qrs_mv: np.ndarray,
                  t_mv: float) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian QRS complexes (20 ms wide) with slow T waves (80 ms wide) 300 ms after each."""
    beats = np.round(np.r_[1.0, 1.0 + np.cumsum(rr)] * fs).astype(int)
    t = np.arange(beats[-1] + int(2 * fs))
    x = np.zeros(t.size)
    for b, a in zip(beats, np.r_[qrs_mv, qrs_mv[-1]], strict=True):
        x += a * np.exp(-0.5 * ((t - b) / (0.02 * fs)) ** 2)
        x += t_mv * np.exp(-0.5 * ((t - b - 0.3 * fs) / (0.08 * fs)) ** 2)
    return x, beats


def test_tall_t_waves_are_not_beats_and_small_beats_beside_big_ones_are():
    fs = 360.0
    rng = np.random.default_rng(0)
    rr = rng.uniform(0.6, 1.0, 120)
    amp = np.where(rng.random(120) < 0.2, 2.0, 0.8)  # some beats 2.5 times the others (PVC-like)
    x, beats = synthetic_ecg(fs, rr, amp, t_mv=0.6)
    got = detector_beats(x, fs)
    inner = beats[(beats > 10 * fs) & (beats < x.size - 3 * fs)]
    found = got[(got > 10 * fs) & (got < x.size - 3 * fs)]
    c = compare_annotations(inner, found, round(0.15 * fs))
    assert (c.fn, c.fp) == (0, 0), (c.fn, c.fp)
