"""core.record_features on synthetic ECG with known beats, rate, polarity and P waves."""

from __future__ import annotations

import numpy as np
import pytest

from core.preprocess import preprocess_record
from core.record_features import (
    MORPH_NAMES,
    NAMES,
    RR_NAMES,
    WINDOW_NAMES,
    morphology_summary,
    record_beats,
    record_features,
    rr_summary,
    window_summary,
)

FS = 300.0


def ecg(beat_times: np.ndarray, duration_s: float, p_wave: bool = True, seed: int = 0) -> np.ndarray:
    """Preprocessed synthetic lead: Gaussian QRS (1 mV), T wave, optional P wave, a little noise."""
    t = np.arange(int(duration_s * FS)) / FS
    x = np.random.default_rng(seed).normal(0, 0.01, t.size)
    for b in beat_times:
        x += 1.0 * np.exp(-0.5 * ((t - b) / 0.012) ** 2)
        x += 0.3 * np.exp(-0.5 * ((t - b - 0.25) / 0.04) ** 2)
        if p_wave:
            x += 0.15 * np.exp(-0.5 * ((t - b + 0.16) / 0.025) ** 2)
    y, _ = preprocess_record(x, FS)
    return np.asarray(y, np.float32)


def feature(values: np.ndarray, names: tuple[str, ...], name: str) -> float:
    return float(values[names.index(name)])


def test_regular_rhythm_beats_rate_and_shares():
    times = np.arange(0.5, 30.0, 0.8)  # 75 bpm
    x = ecg(times, 30.0)
    beats = record_beats(x)
    truth = np.rint(times * FS).astype(int)
    matched = [np.min(np.abs(truth - b)) <= 6 for b in beats]  # within 20 ms
    assert all(matched) and len(beats) >= len(truth) - 2
    rr = rr_summary(beats, FS, 30.0)
    assert feature(rr, RR_NAMES, "n_beats_per_min") == pytest.approx(len(beats) * 2, abs=0.01)
    assert feature(rr, RR_NAMES, "rr_min") == pytest.approx(0.8, abs=0.02)
    assert feature(rr, RR_NAMES, "rr_log_median_rr") == pytest.approx(np.log(0.8), abs=0.02)
    assert feature(rr, RR_NAMES, "long_share") == 0 and feature(rr, RR_NAMES, "short_share") == 0
    assert feature(rr, RR_NAMES, "sd_s") < 0.01


def test_irregular_rhythm_scores_more_irregular_than_regular():
    rng = np.random.default_rng(1)
    irregular = np.cumsum(rng.uniform(0.45, 1.15, 40)) + 0.5
    irregular = irregular[irregular < 29.5]
    x_reg, x_irr = ecg(np.arange(0.5, 30.0, 0.8), 30.0), ecg(irregular, 30.0)
    rr_reg = rr_summary(record_beats(x_reg), FS, 30.0)
    rr_irr = rr_summary(record_beats(x_irr), FS, 30.0)
    for name in ("rr_nrmssd_win", "rr_entropy_win", "sd_s"):
        assert feature(rr_irr, RR_NAMES, name) > 5 * feature(rr_reg, RR_NAMES, name) + 0.01


def test_median_beat_is_polarity_free_and_sees_p_waves():
    times = np.arange(0.5, 30.0, 0.8)
    with_p, without_p = ecg(times, 30.0), ecg(times, 30.0, p_wave=False)
    beats = record_beats(with_p)
    up, down = morphology_summary(with_p, beats), morphology_summary(-with_p, beats)
    shape = [i for i, n in enumerate(MORPH_NAMES) if n.startswith("shape_")]
    np.testing.assert_allclose(up[shape], down[shape], atol=1e-6)
    assert feature(up, MORPH_NAMES, "log_r_amp") == pytest.approx(feature(down, MORPH_NAMES, "log_r_amp"))
    assert np.max(up[shape]) == pytest.approx(1.0, abs=0.05)  # the R peak, normalised to its amplitude
    p_with = feature(up, MORPH_NAMES, "p_energy")
    p_without = feature(morphology_summary(without_p, record_beats(without_p)), MORPH_NAMES, "p_energy")
    assert p_with > 2 * p_without
    assert feature(up, MORPH_NAMES, "corr_mean") > 0.95  # identical beats agree
    assert 0.02 < feature(up, MORPH_NAMES, "qrs_width_s") < 0.08


def test_window_summary_known_values():
    p = np.array([[1.0, 0, 0, 0], [0, 1.0, 0, 0]])
    s = window_summary(p)
    assert s.shape == (len(WINDOW_NAMES),)
    np.testing.assert_allclose(s[WINDOW_NAMES.index("mean_N")], 0.5)
    np.testing.assert_allclose(s[WINDOW_NAMES.index("logp_O")], np.log(1e-7))
    np.testing.assert_allclose(s[WINDOW_NAMES.index("logp_A")], 0.5 * np.log(1e-7))
    np.testing.assert_allclose([s[WINDOW_NAMES.index(f"top_{c}")] for c in "NAO~"], [0.5, 0.5, 0, 0])
    np.testing.assert_allclose(s[WINDOW_NAMES.index("log_n_windows")], np.log(2))
    np.testing.assert_allclose(s[WINDOW_NAMES.index("sd_A")], 0.5)


def test_short_or_flat_recordings_give_finite_neutral_features():
    f = record_features(np.zeros(1000, np.float32), np.full((1, 4), 0.25))
    assert f.shape == (len(NAMES),) and np.isfinite(f).all()
    assert f[: len(RR_NAMES)].sum() == 0  # no beats: no RR statistics


def test_bad_input_is_refused():
    x = ecg(np.arange(0.5, 10.0, 0.8), 10.0)
    x[100] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        record_features(x, np.full((2, 4), 0.25))
    with pytest.raises(ValueError, match="window probabilities"):
        window_summary(np.full((2, 3), 1 / 3))
