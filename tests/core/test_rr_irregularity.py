"""The RR-irregularity AF anchor on RR series with known answers."""

import numpy as np

from core.rr_irregularity import beat_samples, rr_af_intervals, window_is_af

FS = 250.0


def beats_from_rr(rr):
    return np.concatenate([[0], np.cumsum(np.round(np.asarray(rr) * FS))]).astype(np.int64)


def test_sinus_rhythm_and_bigeminy_are_not_af_random_rr_is():
    rng = np.random.default_rng(0)
    sinus = 0.8 + 0.01 * rng.standard_normal(128)
    bigeminy = np.tile([0.55, 1.05], 64)  # an ectopic beat every other beat: irregular, but patterned
    af = rng.uniform(0.4, 1.2, 128)  # irregularly irregular
    assert not window_is_af(sinus, 8)
    assert not window_is_af(bigeminy, 8)
    assert window_is_af(af, 8)


def test_af_run_is_located_within_a_few_dozen_beats():
    rng = np.random.default_rng(1)
    rr = np.concatenate([0.8 + 0.01 * rng.standard_normal(300), rng.uniform(0.4, 1.2, 500),
                         0.8 + 0.01 * rng.standard_normal(300)])
    beats = beats_from_rr(rr)
    intervals = rr_af_intervals(beats, FS)
    assert len(intervals) == 1
    (start, end), = intervals
    assert abs(start - beats[300]) < 40 * 0.8 * FS
    assert abs(end - beats[800]) < 40 * 0.8 * FS


def test_too_few_beats_gives_no_episode_and_non_beat_annotations_are_ignored():
    assert rr_af_intervals(np.arange(50) * 200, FS) == []
    samples = np.array([10, 20, 30, 40])
    assert list(beat_samples(samples, ["N", "+", "V", "~"])) == [10, 30]
