"""The record head: fits separable classes, its ONNX graph equals the training code, bundles carry it."""

from __future__ import annotations

import numpy as np
import pytest

from core.record_features import NAMES, WINDOW_NAMES, window_summary
from training import record_head as rh


def synthetic(n_per_class: int = 60, seed: int = 0):
    """Beat features that tell N/A apart and window summaries that tell O/~ apart (each part half the job)."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(4), n_per_class)
    x = rng.normal(0, 1, (len(y), len(NAMES))).astype(np.float32)
    x[:, 0] += 3.0 * (y == 1)  # a beat feature marks AF
    x[:, 1] += 3.0 * (y >= 2)  # and "not N or A"
    seen = np.where(y == 1, 0, y)  # the windows cannot tell AF from normal
    alpha = np.ones((len(y), 4)) + 6.0 * (seen[:, None] == np.arange(4))
    x[:, rh.N_BEAT:] = [window_summary(rng.dirichlet(a, size=6)) for a in alpha]
    return x, y


def onnx_probs(model, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    s = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return s.run(["record_probs"], {"record_features": x.astype(np.float32)})[0]


CFG = rh.HeadConfig(max_iter=40, inner_folds=3)


@pytest.mark.parametrize("use", list(rh.ABLATIONS.values()))
def test_onnx_graph_equals_training_code(use):
    x, y = synthetic()
    head = rh.fit_record_head(x, y, np.arange(0, len(y), 2), CFG, use)
    np.testing.assert_allclose(onnx_probs(head.to_onnx(), x), head.predict(x), atol=1e-5)


def test_fused_head_beats_either_part_on_data_needing_both():
    x, y = synthetic(seed=1)
    xt, yt = synthetic(seed=2)
    acc = {}
    for name, use in rh.ABLATIONS.items():
        head = rh.fit_record_head(x, y, np.arange(len(y)), CFG, use)
        acc[name] = (head.predict(xt).argmax(1) == yt).mean()
    assert acc["fused"] > 0.9
    assert acc["fused"] > acc["beats"] + 0.1 and acc["fused"] > acc["dacl_windows"] + 0.1


def test_cross_validation_reports_every_ablation_on_each_fold():
    x, y = synthetic(40)
    folds = {}
    for k, (tr, te) in enumerate(rh.dataset.stratified_folds(y, 2, 0)):
        cal = tr[::3]
        folds[k] = {"test": te, "test_windows": x[te, rh.N_BEAT:],
                    "cal": cal, "cal_windows": x[cal, rh.N_BEAT:]}
    out = rh.cross_validate(x[:, : rh.N_BEAT], y, folds, CFG)
    for name in ("dacl_mean_logp", *rh.ABLATIONS):
        assert out[name]["summary"]["folds"] == 2
        assert sum(f["n_records"] for f in out[name]["folds"]) == len(y)
    assert out["fused"]["summary"]["accuracy"] > 0.8


def test_load_cv_windows_reads_what_cv_saves(tmp_path):
    from training.record_stage import load_cv_windows

    rng = np.random.default_rng(0)
    names = [f"r{i}" for i in range(6)]
    counts = np.array([2, 3, 1])
    wins = rng.dirichlet(np.ones(4), size=counts.sum()).astype(np.float32)
    np.savez(tmp_path / "w.npz", folds=1, fold0_test_names=np.array(["r4", "r0", "r2"]),
             fold0_test_counts=counts, fold0_test_windows=wins, fold0_cal_names=np.array(["r1"]),
             fold0_cal_counts=np.array([3]), fold0_cal_windows=wins[:3])
    folds = load_cv_windows(tmp_path / "w.npz", names)
    np.testing.assert_array_equal(folds[0]["test"], [4, 0, 2])
    np.testing.assert_allclose(folds[0]["test_windows"][1], window_summary(wins[2:5]), rtol=1e-6)
    assert folds[0]["cal_windows"].shape == (1, len(WINDOW_NAMES))

