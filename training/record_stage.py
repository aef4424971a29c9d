"""`dacl-train record`: the record head (training/record_head.py) fitted for a bundle and written into it.

1. Beat features (core.record_features: RR sequence and median beat) of every labelled record, from the
   monitor's own detector; cached under the feature cache, keyed by the data hash and the feature code.
2. The bundle's own window probabilities (ONNX Runtime, `evaluate`'s layout) of its calibration split, the
   records its encoder never trained on (the split is recomputed from the manifest's config).
3. The head: trees on every record's beat features, the fusion on the calibration records; exported as
   record_head.onnx, checked against the training code within 1e-5 (engines/record_head.py).
4. With `cv_windows` (the window probabilities `dacl-train cv --windows` saved per fold), the
   cross-validated estimate and its ablation on the same folds, recorded in the manifest block.
`dacl-train run` ends with steps 1–3 on the bundle it wrote.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np

from core import record_features as rf
from training import dataset, evaluate, features, record_head

log = logging.getLogger(__name__)


FOLD_KEYS = ("auroc_af", "auroc_macro", "f1_challenge", "f1_per_class", "accuracy")


def _noop(stage: str, done: int, total: int) -> None:
    pass


def beat_matrix(data: Path, records: list, contract=None, data_hash: str | None = None,
                progress: Callable[[str, int, int], None] = _noop) -> np.ndarray:
    """(R, N_BEAT) float32 RR and morphology features of each record, cached by data and feature code."""
    from core import heart_rate, preprocess, rhythm, rr_features

    code = features.code_digest(rf, rhythm, heart_rate, rr_features, preprocess, dataset,
                                libraries=("numpy", "scipy", "torch", "wfdb"))
    code += dataset.PREPROCESS_VERSION + repr(contract)
    data_hash = data_hash or dataset.data_hash(data, records)
    key = hashlib.sha256((data_hash + code).encode()).hexdigest()[:20]
    path = features.cache_dir() / f"record-beats-{key}.npz"
    if path.is_file():
        return np.load(path)["x"]
    out = np.zeros((len(records), record_head.N_BEAT), np.float32)
    for i, r in enumerate(records):
        out[i] = rf.beat_features(dataset.load_record(data, r.name, contract=contract))
        progress("beat features", i + 1, len(records))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, x=out)
    tmp.replace(path)
    return out


def window_matrix(bundle, data: Path, names: list[str],
                  progress: Callable[[str, int, int], None] = _noop) -> np.ndarray:
    """(R, len(WINDOW_NAMES)) window summaries of records through a loaded bundle's engines (ONNX Runtime)."""
    _, wins = evaluate.bundle_scores(bundle, data, names, lambda d, n: progress("calibration windows", d, n))
    return np.stack([rf.window_summary(w) for w in wins]).astype(np.float32)


def load_cv_windows(path: Path, names: list[str]) -> dict[int, dict]:
    """`dacl-train cv --windows` output → per fold {test, test_windows, cal, cal_windows} (record indices)."""
    z = np.load(path)
    index = {n: i for i, n in enumerate(names)}
    out = {}
    for k in range(int(z["folds"])):
        fold = {}
        for part in ("test", "cal"):
            if f"fold{k}_{part}_names" not in z:
                break
            counts = z[f"fold{k}_{part}_counts"]
            split = np.split(z[f"fold{k}_{part}_windows"], np.cumsum(counts)[:-1])
            fold[part] = np.array([index[str(n)] for n in z[f"fold{k}_{part}_names"]])
            fold[f"{part}_windows"] = np.stack([rf.window_summary(w) for w in split]).astype(np.float32)
        if len(fold) == 4:
            out[k] = fold
    if not out:
        raise ValueError(f"{path}: no complete fold of window probabilities")
    return out


def train_record_stage(bundle_path: Path, data: Path, cfg: record_head.HeadConfig | None = None,
                       cv_windows: Path | None = None, data_hash: str | None = None,
                       progress: Callable[[str, int, int], None] = _noop) -> dict:
    """Fit the record head for the bundle on DATA's labelled records and write it in; returns the block."""
    from engines.bundle import load_bundle
    from engines.contract import ModelContract
    from engines.record_head import write_record_head

    t0 = time.time()
    cfg = cfg or record_head.HeadConfig()
    bundle = load_bundle(bundle_path)
    contract = ModelContract.from_manifest(bundle.manifest, f"bundle {bundle.path}")
    records = dataset.list_records(data)
    y = np.array([r.label for r in records])
    if (y < 0).any():
        raise ValueError(f"{data}: the record head needs labelled records (a REFERENCE csv)")
    names = [r.name for r in records]
    beats = beat_matrix(data, records, contract, data_hash, progress)
    split = bundle.manifest["config"]
    _, cal = dataset.stratified_split(y, split["val_fraction"], split["seed"])
    x = np.zeros((len(y), len(rf.NAMES)), np.float32)
    x[:, : record_head.N_BEAT] = beats
    x[cal, record_head.N_BEAT:] = window_matrix(bundle, data, [names[i] for i in cal], progress)
    cv = None
    if cv_windows is not None:
        cv = record_head.cross_validate(beats, y, load_cv_windows(cv_windows, names), cfg,
                                        lambda d, n: progress("record head CV", d, n))
    head = record_head.fit_record_head(x, y, cal, cfg, progress=lambda d, n: progress("beat trees", d, n))
    example = x[cal[: min(512, len(cal))]]
    spec = {"features": list(rf.NAMES),
            "training": {"records": len(y), "fusion_records": int(len(cal)), "config": asdict(cfg),
                         "seconds": round(time.time() - t0, 1),
                         "fusion_on": "the bundle's calibration split (records its encoder never saw)"},
            "cv": None if cv is None else {
                name: {**r["summary"], "per_fold": [{k: f[k] for k in FOLD_KEYS} for f in r["folds"]]}
                for name, r in cv.items() if name != "config"} | {
                "folds_from": str(cv_windows), "protocol": "the DACL CV's folds (dacl-train cv --windows): "
                "trees on each fold's training records, fusion on its calibration split, scored on its "
                "held-out records; dacl_mean_logp is the DACL windows' geometric mean (the score before)"}}
    return write_record_head(bundle.path, head.to_onnx(), spec, example, head.predict(example))
