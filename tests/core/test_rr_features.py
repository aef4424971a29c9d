"""RR features: known answers on known rhythms, and a live stream equals the whole record for any chunking."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from core.rr_features import FEATURES, N_INTERVALS, RrFeatureStream, rr_feature_matrix

FS = 128.0


def beats_from_rr(rr_s: np.ndarray, fs: float = FS) -> np.ndarray:
    return np.round(np.r_[0.0, np.cumsum(rr_s)] * fs).astype(np.int64) + 1000


def feature(f: np.ndarray, name: str) -> np.ndarray:
    return f[:, FEATURES.index(name)]


def test_regular_rhythm_has_no_irregularity_and_its_rate():
    f, centres = rr_feature_matrix(beats_from_rr(np.full(200, 0.8)), FS)
    assert f.shape == (200 - N_INTERVALS + 1, len(FEATURES))
    np.testing.assert_allclose(np.exp(feature(f, "log_median_rr")), 0.8, atol=0.01)
    assert np.all(feature(f, "nrmssd_win") < 0.02)
    assert np.all(feature(f, "small_drr_win") > 0.95)
    assert np.all(feature(f, "premature_win") == 0)


def test_bigeminy_alternates_and_af_is_random():
    big = feature(rr_feature_matrix(beats_from_rr(np.tile([0.5, 1.1], 100)), FS)[0], "acf_rr1_win")
    assert np.all(big < -0.95)  # short-long-short-long: lag-1 autocorrelation of RR near -1
    rng = np.random.default_rng(0)
    af = rr_feature_matrix(beats_from_rr(rng.uniform(0.4, 1.0, 300)), FS)[0]
    assert np.median(feature(af, "nrmssd_win")) > 0.25
    assert np.median(feature(af, "entropy_win")) > 0.6
    assert abs(np.median(feature(af, "tpr_win")) - 1.0) < 0.15  # random: 2/3 of beats are turning points


def test_centres_are_the_middle_beat_of_each_window():
    beats = beats_from_rr(np.full(100, 0.7))
    _, centres = rr_feature_matrix(beats, FS)
    np.testing.assert_array_equal(centres, beats[N_INTERVALS // 2 : N_INTERVALS // 2 + len(centres)])


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=30), st.integers(0, 2**32 - 1))
def test_stream_equals_offline_for_any_chunking(chunks, seed):
    rng = np.random.default_rng(seed)
    rr = np.where(rng.random(220) < 0.5, rng.uniform(0.35, 1.2, 220), 0.8 + rng.normal(0, 0.02, 220))
    beats = beats_from_rr(rr)
    want, want_c = rr_feature_matrix(beats, FS)
    stream, got, got_c, i = RrFeatureStream(FS), [], [], 0
    while i < beats.size:
        n = chunks[len(got) % len(chunks)]
        f, c = stream.push(beats[i : i + n])
        got.append(f)
        got_c.append(c)
        i += n
    np.testing.assert_array_equal(np.concatenate(got_c), want_c)
    np.testing.assert_allclose(np.concatenate(got), want, rtol=0, atol=1e-6)
