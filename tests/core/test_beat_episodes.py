"""Beat-level AF episodes: the vectorised whole-record detector equals the live one, known episodes found."""

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from core.beat_episodes import BeatEpisodeDetector, BeatEpisodeSettings, beat_episodes


def test_one_block_of_af_gives_one_episode_at_its_edges():
    centres = np.arange(1000) * 100
    p = np.zeros(1000)
    p[300:600] = 1.0
    s = BeatEpisodeSettings(on=0.5, off=0.5, smooth=1, k_on=10, k_off=10)
    assert beat_episodes(centres, p, s, 100_000) == [(30_000, 60_000)]
    # smoothing over 20 decisions places the edges at the centre of what each mean saw
    s = BeatEpisodeSettings(on=0.5, off=0.5, smooth=20, k_on=5, k_off=5)
    (a, b), = beat_episodes(centres, p, s, 100_000)
    assert abs(a - 30_000) <= 200 and abs(b - 60_000) <= 200


def test_an_episode_running_at_the_end_ends_there():
    centres = np.arange(100) * 10
    assert beat_episodes(centres, np.ones(100), BeatEpisodeSettings(smooth=1, k_on=3), 5000) == [(0, 5000)]


def test_settings_are_checked():
    with pytest.raises(ValueError, match="off <= on"):
        BeatEpisodeSettings(on=0.3, off=0.6)
    with pytest.raises(ValueError, match="lacks"):
        BeatEpisodeSettings.from_manifest({"on": 0.5})


@settings(max_examples=60, deadline=None)
@example(0, 2, 1, 1, 0.25, 0.25)  # off = 0 over a mean of exact zeros: rounding once ended only one of them
@given(st.integers(0, 2**32 - 1), st.integers(1, 40), st.integers(1, 30), st.integers(1, 30),
       st.floats(0.2, 0.8), st.floats(0.0, 0.3))
def test_vectorised_equals_live_detector(seed, smooth, k_on, k_off, on, gap):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 500))
    p = np.clip(np.repeat(rng.random(n // 25 + 1), 25)[:n] + rng.normal(0, 0.2, n), 0, 1)
    centres = np.cumsum(rng.integers(40, 200, n))
    invalid = np.where(rng.random(n) < 0.1, rng.random(n), 0.0)
    s = BeatEpisodeSettings(on=on, off=max(0.0, on - gap), smooth=smooth, k_on=k_on, k_off=k_off,
                            max_invalid=float(rng.choice([1.0, 0.3])))
    end = int(centres[-1]) + 7
    live = BeatEpisodeDetector(s).run(centres, p, end, invalid)
    assert live == beat_episodes(centres, p, s, end, invalid)


def test_a_dropout_neither_starts_nor_ends_an_episode():
    centres = np.arange(1000) * 100
    p = np.ones(1000)
    invalid = np.zeros(1000)
    p[400:600], invalid[400:600] = 0.0, 0.5  # the detector lost the signal: nothing to decide on
    s = BeatEpisodeSettings(on=0.5, off=0.5, smooth=1, k_on=5, k_off=5, max_invalid=0.2)
    assert beat_episodes(centres, p, s, 100_000, invalid) == [(0, 100_000)]
    no_skip = BeatEpisodeSettings(smooth=1, k_on=5, k_off=5)
    assert len(beat_episodes(centres, p, no_skip, 100_000, invalid)) == 2
