"""End-to-end: fit determinism, the exported bundle against the training modules, the --quick CLI run."""

from __future__ import annotations

import csv
import json
import os

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from training import evaluate, export, features, train
from training.config import TrainConfig

TINY = dict(
    vae_epochs=2,
    enc_epochs=2,
    head_steps=60,
    batch=64,
    enc_width=16,
    embed_dim=16,
    vae_hidden=32,
    vae_latent=8,
    cloud_per_class=5,
    threads=1,
)


def fit_metrics(ws: features.WindowSet, seed: int) -> tuple[dict, dict]:
    cfg = TrainConfig(seed=seed, **TINY)
    tr, va = train.split_windows(ws, cfg)
    model, _ = train.fit(tr, va, cfg)
    out = train.predict_windows(model, va.scattering)
    m = evaluate.metrics(va.labels, evaluate.aggregate_records(out["probs"], va.record, len(va.names)))
    return m, {k: v.clone() for k, v in model.state_dict().items()}


def test_two_runs_with_one_seed_agree_on_cpu(small_windows):
    m1, s1 = fit_metrics(small_windows, seed=7)
    m2, s2 = fit_metrics(small_windows, seed=7)
    assert m1 == m2
    assert all(torch.equal(s1[k], s2[k]) for k in s1)
    m3, s3 = fit_metrics(small_windows, seed=8)
    assert not all(torch.equal(s1[k], s3[k]) for k in s1)  # the seed really drives the run


@pytest.mark.slow
def test_quick_run_exports_a_bundle_equal_to_the_training_modules(cinc_dir, tmp_path, monkeypatch):
    """`dacl-train run --quick`, then: ONNX Runtime bundle == DaclModel (1e-5); `evaluate` predicts."""
    from engines.backend_onnxruntime import onnxruntime_pipeline
    from engines.bundle import load_bundle
    from training.cli import app

    monkeypatch.setenv("DACL_CACHE", str(tmp_path / "cache"))
    captured = {}
    real_writer = export.write_model_bundle

    def spy(out, model, *args, **kwargs):  # the real writer; keeps the model it exported for the comparison
        captured["model"] = model
        return real_writer(out, model, *args, **kwargs)

    monkeypatch.setattr(export, "write_model_bundle", spy)
    runner = CliRunner()
    res = runner.invoke(app, ["run", "--data", str(cinc_dir), "--out", str(tmp_path / "bundle"), "--quick"])
    assert res.exit_code == 0, res.output
    assert "auroc_macro" in res.output

    bundle = load_bundle(tmp_path / "bundle")
    assert bundle.manifest["config"]["max_records"] == TrainConfig.quick().max_records
    # the contract training writes is the signal path core runs (engines.contract reads it back)
    from core.preprocess import BAND_HZ, BANDPASS_ORDER, STD_FLOOR_MV
    from engines.contract import ModelContract

    contract = ModelContract.from_manifest(bundle.manifest)
    assert (contract.band_hz, contract.bandpass_order, contract.std_floor_mv) == (BAND_HZ, BANDPASS_ORDER,
                                                                                   STD_FLOOR_MV)
    assert bundle.manifest["preprocessing"]["bandpass_order"] == BANDPASS_ORDER
    assert set(bundle.metrics) >= {"auroc_af", "auroc_macro", "f1_challenge", "confusion"}
    windows = bundle.demo_windows()
    engine = onnxruntime_pipeline(bundle, "cpu")
    got = engine.run(windows)
    model = captured["model"]
    with torch.no_grad():
        probs, emb, traj = model(torch.from_numpy(got["features"]))
    np.testing.assert_allclose(got["probs"], probs.numpy(), atol=1e-5)
    np.testing.assert_allclose(got["embedding"], emb.numpy(), atol=1e-5)
    # the trajectory is the embedding through the LDA projection, whose gain (column norm, ~40 for the
    # shipped model) scales the embedding's float32 differences: 1e-5 of the embedding, propagated
    gain = float(np.linalg.norm(model.proj_matrix.numpy(), axis=0).max())
    np.testing.assert_allclose(got["trajectory"], traj.numpy(), atol=1e-5 * max(1.0, gain))
    np.testing.assert_allclose(probs.sum(1).numpy(), 1.0, atol=1e-5)

    # evaluate through the engine runtime on a small folder labelled by REFERENCE.csv
    folder = tmp_path / "few"
    folder.mkdir()
    names = ["A00001", "A00004", "A00005"]
    for n in names:
        for suffix in (".hea", ".mat"):
            os.symlink((cinc_dir / f"{n}{suffix}").resolve(), folder / f"{n}{suffix}")
    (folder / "REFERENCE.csv").write_text("A00001,N\nA00004,A\nA00005,A\n")
    res = runner.invoke(
        app,
        [
            "evaluate",
            "--data",
            str(folder),
            "--model",
            str(tmp_path / "bundle"),
            "--json",
            str(tmp_path / "m.json"),
            "--predictions",
            str(tmp_path / "p.csv"),
        ],
    )
    assert res.exit_code == 0, res.output
    with (tmp_path / "p.csv").open(newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["record", "label", "p_N", "p_A", "p_O", "p_~"]
    assert [r[:2] for r in rows[1:]] == [["A00001", "N"], ["A00004", "A"], ["A00005", "A"]]
    assert all(abs(sum(float(v) for v in r[2:]) - 1) < 1e-4 for r in rows[1:])

    # the record head fitted into that bundle (dacl-train record) on 40 labelled records; evaluate uses it
    from training import dataset

    labelled = tmp_path / "labelled"
    labelled.mkdir()
    picked = [r for c in range(4) for r in [r for r in dataset.list_records(cinc_dir) if r.label == c][:10]]
    for r in picked:
        for suffix in (".hea", ".mat"):
            os.symlink((cinc_dir / f"{r.name}{suffix}").resolve(), labelled / f"{r.name}{suffix}")
    (labelled / "REFERENCE.csv").write_text("".join(f"{r.name},{dataset.CLASSES[r.label]}\n" for r in picked))
    res = runner.invoke(app, ["record", "--data", str(labelled), "--model", str(tmp_path / "bundle")])
    assert res.exit_code == 0, res.output
    block = load_bundle(tmp_path / "bundle").record_head
    assert block["training"]["records"] == 40 and block["max_ort_deviation"] < 1e-5
    res = runner.invoke(app, ["evaluate", "--data", str(folder), "--model", str(tmp_path / "bundle"),
                              "--json", str(tmp_path / "m2.json")])
    assert res.exit_code == 0, res.output
    m = json.loads((tmp_path / "m2.json").read_text())  # the head decides; the windows' mean beside it
    assert m["n_records"] == m["windows_mean"]["n_records"] == 3


def test_cross_validation_scores_every_record_once(small_windows, cinc_dir, tmp_path):
    from training import dataset, pipeline

    data = pipeline.Data(small_windows, "test", "wfdb", lambda name: dataset.load_record(cinc_dir, name))
    cfg = TrainConfig(seed=3, val_fraction=0.25, **TINY)  # 5 of 20 records: one per class or more
    result = pipeline.cross_validate(data, cfg, folds=2, windows_path=tmp_path / "w.npz")
    saved = np.load(tmp_path / "w.npz")  # the record head's out-of-fold inputs: every window of every record
    names = [str(n) for k in (0, 1) for n in saved[f"fold{k}_test_names"]]
    assert sorted(names) == sorted(small_windows.names)
    for k in (0, 1):
        assert len(saved[f"fold{k}_cal_names"]) == 5
        counts, wins = saved[f"fold{k}_test_counts"], saved[f"fold{k}_test_windows"]
        first = str(saved[f"fold{k}_test_names"][0])
        assert counts[0] == len(dataset.eval_windows(dataset.load_record(cinc_dir, first)))
        assert counts.sum() == len(wins) and wins.shape[1] == 4
        np.testing.assert_allclose(wins.sum(1), 1.0, atol=1e-5)
    folds = result["folds"]
    assert [f["n_records"] for f in folds] == [20, 20]  # 40 records, stratified halves
    assert sum(np.asarray(f["confusion"]).sum() for f in folds) == 40
    assert all(f["window_layout"].startswith("eval_windows") for f in folds)
    for key in ("auroc_af", "auroc_macro", "f1_challenge"):
        vals = [f[key] for f in folds]
        assert result["summary"][key] == pytest.approx(np.mean(vals))
        assert result["summary"][key + "_std"] == pytest.approx(np.std(vals))


def test_cv_rejects_one_fold(cinc_dir):
    from training.cli import app

    res = CliRunner().invoke(app, ["cv", "--data", str(cinc_dir), "--folds", "1"])
    assert res.exit_code == 2 and "need at least 2" in res.output
