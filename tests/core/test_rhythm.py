"""RR features with known answers, and the tracker: beats from overlapping windows, each once."""

import numpy as np
import pytest

from core.rhythm import RHYTHM_FEATURES, RhythmTracker, offline_rhythm, rr_features

FS = 300.0
F = {name: i for i, name in enumerate(RHYTHM_FEATURES)}


def beats(rr):
    return np.concatenate([[0], np.cumsum(np.round(np.asarray(rr) * FS))]).astype(np.int64)


def test_regular_rhythm_bigeminy_and_af_have_the_expected_features():
    regular = rr_features(beats(np.full(70, 0.8)), FS)
    assert regular[F["mean_rr"]] == pytest.approx(0.8, abs=1e-3)
    assert regular[F["coverage"]] == pytest.approx(min(1.0, 70 * 0.8 / 60), abs=0.01)
    assert regular[F["cv_rr"]] < 1e-3 and regular[F["nrmssd"]] < 1e-3 and regular[F["premature"]] == 0

    bigeminy = rr_features(beats(np.tile([0.55, 1.05], 35)), FS)  # premature beat + compensatory pause
    assert bigeminy[F["premature"]] == pytest.approx(0.5, abs=0.02)
    assert bigeminy[F["compensated"]] == pytest.approx(1.0)
    assert bigeminy[F["drr_lag1"]] == pytest.approx(-1.0, abs=1e-3)  # alternating differences
    assert bigeminy[F["nrmssd_sinus"]] < 0.05  # once the ectopic pairs are set aside, the rhythm is regular

    af = rr_features(beats(np.random.default_rng(0).uniform(0.4, 1.2, 80)), FS)
    assert af[F["nrmssd_sinus"]] > 0.3 and af[F["entropy"]] > 0.7 and af[F["compensated"]] < 0.7
    assert af[F["tpr"]] == pytest.approx(1.0, abs=0.2)  # random order: 2/3 of the points turn


def test_too_few_beats_leave_only_coverage():
    f = rr_features(np.array([0, 240, 480]), FS)
    assert f[F["coverage"]] == pytest.approx(1.6 / 60) and not f[1:].any()


def test_tracker_takes_each_beat_once_from_overlapping_windows_and_forgets_after_the_context():
    true = beats(np.full(200, 0.75))  # a beat every 225 samples
    window, hop = 2048, 300
    tracker = RhythmTracker(FS, window, context_s=60.0, guard_s=0.5)
    for end in range(window, int(true[-1]), hop):
        inside = true[(true >= end - window + 30) & (true < end - 30)] - (end - window)  # detector sees
        features = tracker.update(end, inside)
        got = np.array(tracker._beats)
        expected = true[(true >= max(30, end - 150 - 18000)) & (true < end - 150)]
        assert np.array_equal(got, expected)
    assert features[F["mean_rr"]] == pytest.approx(0.75, abs=1e-3) and features[F["coverage"]] > 0.98


def test_offline_rhythm_equals_the_tracker_fed_window_by_window():
    from core.heart_rate import HeartRateEstimator

    rng = np.random.default_rng(1)
    t = np.arange(60 * 300) / FS
    sig = np.zeros_like(t)
    for b in beats(rng.uniform(0.5, 1.1, 90)):
        if b < len(sig) - 10:
            sig[b : b + 6] += np.hanning(6)  # a sharp spike per beat
    ends = np.arange(2048, len(sig) + 1, 300)
    windows = np.stack([sig[e - 2048 : e] for e in ends])
    offline = offline_rhythm(windows, ends, FS)
    est, tracker = HeartRateEstimator(FS), RhythmTracker(FS, 2048)
    for i, e in enumerate(ends):
        rows, cols = est.peaks(windows[i : i + 1])
        np.testing.assert_array_equal(tracker.update(int(e), cols), offline[i])
    assert offline[-1][F["coverage"]] > 0.7 and offline[-1][F["nrmssd"]] > 0.2
