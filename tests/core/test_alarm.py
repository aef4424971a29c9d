"""The AF alarm's model: the RR model's output fused with the window's, as the manifest says."""

import numpy as np
import pytest

from core.alarm import INPUTS, AlarmFusion, alarm_inputs, rr_rows
from core.events import EpisodeSettings, EventLog
from core.results import WindowResult
from engines.bundle_spec import BundleError, check_alarm_block


def block(**coef):
    names = list(coef)
    return {"inputs": names, "mean": [0.0] * len(names), "std": [1.0] * len(names),
            "coef": [float(c) for c in coef.values()], "bias": 0.0}


def test_inputs_are_log_probabilities_and_zero_before_the_rr_models_first_decision():
    dacl = np.array([[0.7, 0.1, 0.2, 0.0], [0.25, 0.25, 0.25, 0.25]])
    rr = rr_rows([None, np.array([0.2, 0.5, 0.3])])
    f = alarm_inputs(dacl, rr)
    assert set(f) == set(INPUTS)
    assert f["rr_ready"].tolist() == [0.0, 1.0]
    assert f["rr_log_p_af"][0] == 0.0 and f["rr_log_p_af"][1] == pytest.approx(np.log(0.5))
    assert f["dacl_log_p_N"][0] == pytest.approx(np.log(0.7))
    assert f["dacl_log_p_~"][0] == pytest.approx(np.log(1e-6))  # clipped, never -inf


def test_p_af_is_the_logistic_of_the_weighted_inputs():
    fusion = AlarmFusion(block(rr_log_p_af=1.0))
    p = fusion.p_af(np.full((1, 4), 0.25), np.array([[0.25, 0.5, 0.25]]))
    assert p[0] == pytest.approx(1 / 3)  # sigmoid(log 0.5) = 0.5 / 1.5
    both = AlarmFusion({**block(rr_log_p_af=1.0, dacl_log_p_A=1.0), "mean": [0.0, np.log(0.5)],
                        "std": [1.0, 2.0], "bias": 1.0})
    z = np.log(0.5) + (np.log(0.25) - np.log(0.5)) / 2 + 1.0
    assert both.p_af(np.array([[0.5, 0.25, 0.25, 0.0]]), np.array([[0.2, 0.5, 0.3]]))[0] == pytest.approx(
        1 / (1 + np.exp(-z)))


def test_alarm_probs_keep_the_windows_share_of_the_other_classes():
    fusion = AlarmFusion(block(rr_log_p_af=1.0))
    out = fusion.probs(np.array([[0.6, 0.2, 0.1, 0.1]]), np.array([[0.25, 0.5, 0.25]]))
    np.testing.assert_allclose(out.sum(1), 1.0, rtol=1e-6)
    assert out[0, 1] == pytest.approx(1 / 3)
    np.testing.assert_allclose(out[0, [0, 2, 3]], (2 / 3) * np.array([0.75, 0.125, 0.125]), rtol=1e-6)


def test_a_block_naming_an_input_this_build_does_not_compute_is_refused_by_name():
    with pytest.raises(ValueError, match="p_wave_area"):
        AlarmFusion(block(p_wave_area=1.0))


@pytest.mark.parametrize("change, message", [
    ({"std": [0.0]}, "std must be > 0"),
    ({"coef": [1.0, 2.0]}, "coef has 2 values for 1"),
    ({"bias": float("nan")}, "finite"),
])
def test_inconsistent_alarm_blocks_are_refused_naming_the_field(change, message):
    with pytest.raises(BundleError, match=message):
        check_alarm_block({**block(rr_log_p_af=1.0), **change})
    with pytest.raises(BundleError, match="no rr_model"):
        check_alarm_block(block(rr_log_p_af=1.0), has_rr_model=False)


def test_the_episode_detector_follows_the_alarm_model_over_the_rhythm_head():
    log = EventLog(settings=EpisodeSettings("A", 0.6, 0.4, 2, 2, 1))
    quiet = np.array([0.9, 0.05, 0.05, 0.0], np.float32)
    loud = np.array([0.05, 0.9, 0.05, 0.0], np.float32)
    for i in range(3):
        log(WindowResult(0, 300 * (i + 1), 0.0, 0.0, quiet, np.zeros(2), np.zeros(2), 60.0,
                         rhythm_probs=quiet, alarm_probs=loud))
    assert [e.kind for e in log.events] == ["start"]


def test_paced_rows_take_the_paced_fit_over_the_beat_sequence_alone():
    fused = {**block(rr_log_p_af=1.0, dacl_log_p_A=4.0), "bias": 5.0, "paced": block(rr_log_p_af=1.0)}
    fusion = AlarmFusion(fused)
    dacl = np.array([[0.1, 0.8, 0.1, 0.0]] * 2)  # the window reads a paced QRS as AF
    rr = np.array([[0.7, 0.1, 0.2]] * 2)  # the beat sequence is regular
    p = fusion.probs(dacl, rr, paced=np.array([False, True]))[:, 1]
    assert p[0] > 0.5
    assert p[1] == pytest.approx(0.1 / 1.1)  # sigmoid(log 0.1)
    without = AlarmFusion(block(rr_log_p_af=1.0, dacl_log_p_A=4.0))  # no paced fit: the RR model's own
    assert without.probs(dacl, rr, paced=np.array([True, True]))[:, 1] == pytest.approx([0.1, 0.1])
    with pytest.raises(BundleError, match="alarm.paced: .*std"):
        check_alarm_block({**fused, "paced": {**block(rr_log_p_af=1.0), "std": [0.0]}})


def test_analysis_reads_the_windows_before_the_rr_models_first_decision_with_it():
    from core.analyze import read_start_with_first_decision

    fusion = AlarmFusion({**block(rr_log_p_af=1.0, rr_ready=20.0), "bias": -20.0})  # not ready: p(AF) ~ 0
    n, first = 8, 3
    dacl = np.full((n, 4), 0.25)
    rr = np.full((n, 3), np.nan)
    rr[first:] = [0.05, 0.9, 0.05]
    rr[-1] = [0.9, 0.05, 0.05]
    live = fusion.probs(dacl, rr)
    assert np.all(live[:first, 1] < 1e-6)
    ends = np.arange(n) * 300 + 2048
    settings = EpisodeSettings(on=0.4, off=0.3, k_on=2, k_off=1)
    rr2, alarm, events, given = read_start_with_first_decision(fusion, dacl, rr, live.astype(np.float64),
                                                               ends, False, settings)
    assert given == first
    np.testing.assert_array_equal(rr2[:first], np.tile(rr[first], (first, 1)))
    np.testing.assert_array_equal(rr2[first:], rr[first:])
    np.testing.assert_array_equal(alarm[first:], live[first:])  # after the first decision: as live
    assert alarm[0, 1] == pytest.approx(0.9 / 1.9, rel=1e-6)  # sigmoid(log 0.9)
    # the episode now starts with the record (confirmed at window 1) and ends at the last window
    assert [(e.kind, e.sample, e.detected_sample) for e in events] == [("start", ends[0], ends[1]),
                                                                       ("end", ends[-1], ends[-1])]
    ready = rr.copy()
    ready[:first] = rr[first]
    assert read_start_with_first_decision(fusion, dacl, ready, live, ends, False, settings) is None
    assert read_start_with_first_decision(fusion, dacl, np.full((n, 3), np.nan), live, ends, False,
                                          settings) is None
