"""The rhythm head: the CV's fast detector equals the monitor's, folds by record, export within 1e-5."""

import numpy as np
import pytest
import torch

from core.events import EpisodeDetector, EpisodeSettings
from training.head import ClassifierHead
from training.rhythm_head import (
    GRID,
    FusedRhythmHead,
    Holter,
    detect_runs,
    holter_folds,
    neighbours,
    smoothed_af,
)


def monitor_runs(probs, s):
    det, out, onset = EpisodeDetector(settings=s), [], None
    for i, p in enumerate(probs):
        ev = det.update(0, p, i)
        if ev is not None:
            if ev.kind == "start":
                onset = ev.sample
            else:
                out.append((onset, ev.sample))
                onset = None
    return out + ([(onset, None)] if onset is not None else [])


@pytest.mark.parametrize("s", [EpisodeSettings("A", 0.6, 0.4, 3, 3, 1),
                               EpisodeSettings("A", 0.5, 0.3, 5, 2, 1),
                               EpisodeSettings("A", 0.7, 0.4, 4, 4, 6)])
def test_detect_runs_equals_the_monitors_episode_detector(s):
    rng = np.random.default_rng(0)
    blocks = [rng.dirichlet([8, 1, 1, 1], 40), rng.dirichlet([1, 8, 1, 1], 60),
              rng.dirichlet([2, 2, 1, 1], 30), rng.dirichlet([1, 9, 1, 1], 25),
              rng.dirichlet([9, 1, 1, 1], 50)]
    probs = np.vstack(blocks)
    runs = detect_runs(smoothed_af(probs, s.smooth), s)
    assert runs == monitor_runs(probs, s)
    assert len(runs) >= 1


def test_folds_spread_af_records_and_hold_each_record_once():
    holters = {n: Holter(n, 100, 360.0, [(0, 10)] if n in ("201", "203", "210") else [])
               for n in ("100", "101", "201", "203", "210", "215", "233")}
    folds = holter_folds(holters, k=4)
    assert len(folds) == 3  # no more folds than records with AF
    assert sorted(n for f in folds for n in f) == sorted(holters)
    assert all(sum(n in ("201", "203", "210") for n in f) == 1 for f in folds)


def test_fused_head_exports_to_onnx_within_1e_5(tmp_path):
    import onnxruntime as ort

    from engines.export import export_onnx_multi

    torch.manual_seed(0)
    head = ClassifierHead(16, 4, hidden=8)
    rng = np.random.default_rng(0)
    fused = FusedRhythmHead(head, 1.3, rng.normal(size=42), rng.uniform(0.5, 2, 42), rng.normal(size=(4, 42)),
                            rng.normal(size=4))
    emb = torch.randn(5, 16)
    rhythm = torch.randn(5, 11)
    export_onnx_multi(fused, {"embedding": emb, "rhythm": rhythm}, tmp_path / "r.onnx", ("rhythm_probs",))
    got = ort.InferenceSession(str(tmp_path / "r.onnx")).run(None, {"embedding": emb.numpy(),
                                                                    "rhythm": rhythm.numpy()})[0]
    with torch.no_grad():
        want = fused(emb, rhythm).numpy()
    np.testing.assert_allclose(got, want, atol=1e-5)
    np.testing.assert_allclose(got.sum(1), 1.0, atol=1e-5)
    # the same logistic regression by hand: softmax(W [logp, emb, rhythm, logp_AF * rhythm]_std + b)
    with torch.no_grad():
        logp = torch.log_softmax(head(emb) / 1.3, dim=1).numpy()
    r = rhythm.numpy()
    x = (np.hstack([logp, emb.numpy(), r, logp[:, 1:2] * r]) - fused.mean.numpy()) / fused.std.numpy()
    z = x @ fused.linear.weight.detach().numpy().T + fused.linear.bias.detach().numpy()
    np.testing.assert_allclose(got, np.exp(z) / np.exp(z).sum(1, keepdims=True), atol=1e-5)


def test_neighbours_are_one_grid_step_along_one_axis_and_symmetric():
    first = EpisodeSettings("A", 0.5, 0.1, 5, 5, 1)
    assert {(g.on, g.off, g.k_on, g.smooth) for g in neighbours(first)} == {
        (0.5, 0.1, 5, 1), (0.6, 0.1, 5, 1), (0.5, 0.2, 5, 1), (0.5, 0.1, 10, 1), (0.5, 0.1, 5, 5)}
    for s in GRID[::37]:
        assert s in neighbours(s)
        assert all(s in neighbours(t) for t in neighbours(s))
