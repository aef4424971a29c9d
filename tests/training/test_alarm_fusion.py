"""The alarm's fusion learns which input carries AF, by record, and its CV reports clean and noisy apart."""

import numpy as np
import pytest

from core.alarm import AlarmFusion
from training.alarm_fusion import (
    INPUTS,
    AlarmWindows,
    cross_validate,
    fit,
    rhythm_head_settings,
    window_labels,
)
from training.rhythm_head import Holter

FS, W, HOP = 300.0, 2048, 300


def record(name: str, af: tuple[int, int] | None, noisy: bool, rng) -> AlarmWindows:
    """15 minutes of windows; in AF (window centres in `af`, seconds) the RR model says AF, the window
    says Other, so only the RR input carries it; on the noisy copy the window says noise throughout."""
    n = 900
    ends = W + HOP * np.arange(n)
    ref = [] if af is None else [(int(af[0] * FS), int(af[1] * FS))]
    labels = window_labels(ends, ref, W, FS, FS)
    p_af = np.where(labels == 1, 0.9, 0.05) + rng.uniform(-0.04, 0.04, n)
    rr = np.stack([1 - p_af - 0.02, p_af, np.full(n, 0.02)], axis=1)
    rr[:64] = np.nan  # before the RR model's first decision
    dacl = np.tile([0.3, 0.05, 0.6, 0.05], (n, 1)) if not noisy else np.tile([0.1, 0.1, 0.1, 0.7], (n, 1))
    label = f"{name}+ma6dB" if noisy else name
    return AlarmWindows(label, name, ends, dacl, rr, labels, Holter(label, int(ends[-1]), FS, ref))


@pytest.fixture(scope="module")
def sets():
    rng = np.random.default_rng(0)
    spec = {"a1": (400, 700), "a2": (450, 800), "s1": None, "s2": None}
    return [record(name, af, noisy, rng) for name, af in spec.items() for noisy in (False, True)]


def test_the_fit_puts_its_weight_on_the_input_that_carries_af(sets):
    block = fit(sets, INPUTS)
    coef = dict(zip(block["inputs"], block["coef"], strict=True))
    assert coef["rr_log_p_af"] == max(coef.values()) and coef["rr_log_p_af"] > 1.0
    fusion = AlarmFusion(block)
    p = fusion.p_af(sets[0].probs, sets[0].rr_probs)
    assert p[sets[0].labels == 1][100:].min() > 0.5 > p[sets[0].labels == 0][64:].max()


def test_cross_validation_finds_every_af_episode_on_clean_and_noisy_copies(sets):
    settings, cv = cross_validate(sets, [["a1", "s1"], ["a2", "s2"]], W, HOP, FS)
    for part in ("nested_clean", "nested_noisy"):
        g = cv[part]
        assert g["duration_se"] > 0.9 and g["duration_ppv"] > 0.9, (part, g)
        assert g["false_alarms_per_hour"] == 0.0
    assert settings.k_on >= 5 and len(cv["nested_choices"]) == 2


def test_saved_analyses_read_back_as_they_were(tmp_path):
    from training.alarm_fusion import load_windows, save_windows

    rng = np.random.default_rng(1)
    written = [record("201", (100, 400), False, rng), record("201", (100, 400), True, rng),
               record("100", None, False, rng)]
    save_windows(written, tmp_path)
    read = load_windows(tmp_path)
    assert sorted(r.name for r in read) == sorted(w.name for w in written)
    for r in read:
        w = next(w for w in written if w.name == r.name)
        assert (r.record, r.holter) == (w.record, w.holter)
        for field in ("ends", "probs", "rr_probs", "labels"):
            np.testing.assert_array_equal(getattr(r, field), getattr(w, field))


def test_a_rerun_of_the_alarm_stage_keeps_the_rhythm_heads_own_settings():
    head = {"on": 0.6, "off": 0.4, "chosen_by": "leave-records-out CV on the Holter records"}
    first = {"episodes": {**head, "cv": {"folds": 5}}}
    assert rhythm_head_settings(first) == head  # the CV table stays out
    # after the first run `episodes` holds the alarm's settings; a second run keeps the saved ones
    alarm = {"on": 0.8, "off": 0.1, "chosen_by": "leave-records-out CV ... on the alarm model"}
    rerun = {"episodes": alarm, "alarm": {"rhythm_head_episodes": head}}
    assert rhythm_head_settings(rerun) == head
    # a manifest whose rhythm-head settings were never saved does not take the alarm's for them
    assert rhythm_head_settings({"episodes": alarm}) is None
    assert rhythm_head_settings({}) is None
