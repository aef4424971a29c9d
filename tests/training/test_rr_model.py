"""The RR rhythm model: learns AF from irregular RR on known synthetic rhythms, exports to ONNX within 1e-5,
detector-error beats keep their rate, rhythm labels from known annotations."""

import shutil
from pathlib import Path

import numpy as np
import pytest

from core.beat_episodes import BeatEpisodeSettings
from core.rr_features import FEATURES, rr_feature_matrix
from training.rr_data import ErrorProfile, labels_at, perturb_beats, rhythm_class
from training.rr_model import Scored, TrainConfig, predict, train_model

ROOT = Path(__file__).resolve().parents[2]
FS = 128.0


def synthetic(seed: int, n: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    """Beats alternating blocks of sinus (with a few PVCs) and AF; labels at each decision's centre."""
    rng = np.random.default_rng(seed)
    rr, lab = [], []
    for block in range(n // 150):
        af = block % 2 == 1
        r = rng.uniform(0.35, 1.1, 150) if af else 0.85 + rng.normal(0, 0.02, 150)
        if not af:
            pvc = rng.random(150) < 0.05
            r[pvc] *= 0.6
        rr.append(r)
        lab.append(np.full(150, int(af)))
    beats = np.round(np.r_[0, np.cumsum(np.concatenate(rr))] * FS).astype(np.int64) + 100
    label = np.r_[0, np.concatenate(lab)]
    feats, centres = rr_feature_matrix(beats, FS)
    return feats, label[np.searchsorted(beats, centres)]


@pytest.fixture(scope="module")
def model():
    x, y = synthetic(0)
    return train_model(x, y, np.ones(len(y), np.float32), TrainConfig(epochs=6, batch=256, seed=0))


def test_learns_af_from_irregular_rr_on_unseen_beats(model):
    x, y = synthetic(1)
    p = predict(model, x)[:, 1]
    core = np.abs(np.diff(np.r_[y[0], y])) == 0  # away from block edges the answer is known
    acc = np.mean((p[core] > 0.5) == (y[core] == 1))
    assert acc > 0.95


def test_bundle_onnx_equals_the_training_module(model, tmp_path):
    from core.beat_analysis import RrRhythm
    from engines.bundle import load_bundle
    from engines.rr_model import write_rr_model

    bundle = tmp_path / "bundle"
    shutil.copytree(ROOT / "engines" / "default", bundle)
    x, _ = synthetic(2)
    episodes = {"on": 0.6, "off": 0.4, "smooth": 8, "k_on": 4, "k_off": 4}
    block = write_rr_model(bundle, model, {"features": list(FEATURES), "n_intervals": 64,
                                           "episodes": episodes}, x[:256])
    assert block["max_ort_deviation"] <= 1e-5
    rr = RrRhythm(load_bundle(bundle))
    np.testing.assert_allclose(rr.probs(x), predict(model, x), atol=1e-5)
    assert rr.settings.smooth == 8


def test_a_bundle_asking_for_other_features_is_refused(model, tmp_path):
    import json

    from core.beat_analysis import RrRhythm
    from engines.bundle import load_bundle
    from engines.rr_model import write_rr_model

    bundle = tmp_path / "bundle"
    shutil.copytree(ROOT / "engines" / "default", bundle)
    x, _ = synthetic(3)
    write_rr_model(bundle, model, {"features": list(FEATURES), "n_intervals": 64,
                                   "episodes": {"on": 0.5, "off": 0.5, "smooth": 1, "k_on": 1, "k_off": 1}},
                   x[:64])
    m = json.loads((bundle / "manifest.json").read_text())
    m["rr_model"]["n_intervals"] = 32
    (bundle / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ValueError, match="rr_model.n_intervals=32"):
        RrRhythm(load_bundle(bundle))


def test_detector_errors_keep_the_rate_and_add_the_profiles_errors():
    rng = np.random.default_rng(0)
    beats = np.arange(100_000) * 100
    got = perturb_beats(beats, 100.0, ErrorProfile(miss=0.01, extra=0.005, jitter_s=0.01), rng)
    assert abs(got.size - beats.size * (1 - 0.01 + 0.005)) < 300
    nearest = beats[np.clip(np.searchsorted(beats, got), 0, beats.size - 1)]
    near = np.abs(got - nearest)
    assert np.median(near[near < 5]) <= 1  # jitter of 1 sample SD at 100 Hz


def test_rhythm_labels_follow_the_annotations():
    assert [rhythm_class(a) for a in ("(N", "(SBR", "(AFIB", "(AFL", "(B", "(P")] == [0, 0, 1, 2, 2, 2]
    changes = np.array([100, 500, 900])
    got = labels_at(np.array([0, 100, 499, 500, 899, 2000]), changes, ["(N", "(AFIB", "(B"])
    np.testing.assert_array_equal(got, [0, 0, 0, 1, 1, 2])


def test_time_before_the_first_rhythm_annotation_is_not_scored():
    """LTAFDB 64 has no rhythm annotation for 18.9 h: AF called there is neither false nor true."""
    fs, n = 1.0, 20_000
    centres = np.arange(0, n, 10)
    p = np.where(centres < 9_000, 0.95, 0.05)  # the model reads AF for the first 9,000 s
    settings = BeatEpisodeSettings(on=0.5, off=0.5, smooth=1, k_on=1, k_off=1)
    scored = Scored("r", centres, p, [], n, fs)
    late = Scored("r", centres, p, [], n, fs, labelled_from=10_000)
    assert scored.score(settings).det_s > 8_000  # all of it false AF when the start counts as sinus
    s = late.score(settings)
    assert s.det_s == 0 and s.scored_s == 10_000
