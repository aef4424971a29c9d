"""The record bias: chosen for the challenge F1, applied exactly to the geometric-mean record probabilities."""

from __future__ import annotations

import numpy as np
import pytest

from training import evaluate


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(1, keepdims=True)


def test_bias_recovers_a_known_shift_of_the_other_class():
    """Records whose O log-probability was lowered by 1.0: the fitted bias puts it back, F1 goes to 1."""
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2, 3], [60, 20, 30, 10])
    margin = rng.uniform(0.2, 0.8, len(y))  # each record's true class leads by 0.2-0.8 before the shift
    z = np.zeros((len(y), 4))
    z[np.arange(len(y)), y] = margin
    z[:, 2] -= 1.0
    probs = _softmax(z)
    assert evaluate.challenge_f1(y, probs.argmax(1)) < 0.8  # most O records are called something else
    bias = evaluate.fit_record_bias(y, probs)
    assert bias[0] == 0.0
    assert evaluate.challenge_f1(y, evaluate.with_bias(probs, bias).argmax(1)) == 1.0
    # every O bias between 1 - 0.2 and 1 + 0.2 separates these records; the plateau's middle is near 1
    assert bias[2] - bias[1] == pytest.approx(1.0, abs=0.25)


def test_challenge_f1_is_the_mean_of_n_a_o():
    y = np.array([0, 0, 1, 1, 2, 2, 3])
    pred = np.array([0, 1, 1, 1, 2, 0, 3])
    # N: tp 1, 2 true + 2 predicted → 0.5; A: tp 2, 2 + 3 → 0.8; O: tp 1, 2 + 1 → 2/3
    assert evaluate.challenge_f1(y, pred) == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)


def test_bias_on_record_probs_equals_bias_on_every_window():
    """softmax(mean log p + b) = the geometric-mean record of windows whose log-probabilities carry b."""
    rng = np.random.default_rng(1)
    windows = _softmax(rng.normal(size=(12, 4)))
    record = np.repeat([0, 1, 2], 4)
    bias = np.array([0.0, 0.6, -0.3, 0.25])
    left = evaluate.with_bias(evaluate.aggregate_records(windows, record, 3), bias)
    right = evaluate.aggregate_records(_softmax(np.log(windows) + bias), record, 3)
    np.testing.assert_allclose(left, right, atol=1e-12)
    np.testing.assert_allclose(evaluate.with_bias(windows, None), windows)


def test_manifest_record_bias_is_checked():
    classes = [{"code": c} for c in "NAO~"]
    assert evaluate.record_bias_of({"classes": classes}, "bundle b") is None
    got = evaluate.record_bias_of({"classes": classes, "record_decision": {"bias": [0, 0.5, 0.1, 0]}}, "b")
    np.testing.assert_array_equal(got, [0, 0.5, 0.1, 0])
    with pytest.raises(ValueError, match=r"bundle x: record_decision.bias must be 4 finite numbers"):
        evaluate.record_bias_of({"classes": classes, "record_decision": {"bias": [0, 1]}}, "bundle x")
    with pytest.raises(ValueError, match="finite"):
        evaluate.record_bias_of({"classes": classes, "record_decision": {"bias": [0, float("nan"), 0, 0]}}, "b")
