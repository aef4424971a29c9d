"""Record-level metrics of the CinC 2017 task, and the aggregation of window probabilities to records.

A record's probabilities are the normalised geometric mean of its windows' probabilities
(softmax of the mean window log-probability): one confidently-AF window moves the record less than an
arithmetic mean would let a noisy window do, and every window counts.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from core.preprocess import STD_FLOOR_MV
from training.dataset import CLASSES, WINDOW, eval_windows, load_record


def aggregate_records(window_probs: np.ndarray, record: np.ndarray, n_records: int,
                      floor: float = 1e-7) -> np.ndarray:
    """(R, C) record probabilities: softmax(mean over the record's windows of log max(p, floor))."""
    logp = np.log(np.clip(window_probs, floor, 1.0))
    sums = np.zeros((n_records, window_probs.shape[1]))
    np.add.at(sums, record, logp)
    counts = np.bincount(record, minlength=n_records)[:, None]
    mean = sums / np.maximum(counts, 1)
    mean -= mean.max(1, keepdims=True)
    p = np.exp(mean)
    return p / p.sum(1, keepdims=True)


def score_records(
    run_windows: Callable[[np.ndarray], np.ndarray],
    load: Callable[[str], np.ndarray],
    names: list[str],
    window: int = WINDOW,
    progress: Callable[[int, int], None] | None = None,
    std_floor_mv: float = STD_FLOOR_MV,
    windows_out: list[np.ndarray] | None = None,
) -> np.ndarray:
    """(R, C) record probabilities: each record's eval_windows through run_windows, then aggregate_records.

    `evaluate` passes the ONNX Runtime engine as run_windows (windows → probs), validation the modules.
    With `windows_out`, each record's (n_windows, C) window probabilities are appended to it (the record
    head's input).
    """
    probs = np.zeros((len(names), len(CLASSES)))
    for i, name in enumerate(names):
        p = run_windows(eval_windows(load(name), window, std_floor_mv=std_floor_mv))
        probs[i] = aggregate_records(p, np.zeros(len(p), dtype=np.int64), 1)[0]
        if windows_out is not None:
            windows_out.append(np.asarray(p, dtype=np.float32))
        if progress is not None:
            progress(i + 1, len(names))
    return probs


def bundle_scores(bundle, data, names: list[str], progress: Callable[[int, int], None] | None = None,
                  signals_out: list[np.ndarray] | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
    """Records of DATA through a loaded bundle's engines (ONNX Runtime CPU), each by the bundle's contract.

    Returns (R, C) record probabilities (score_records) and each record's window probabilities;
    `signals_out` also collects each record's preprocessed lead (the record head's input).
    """
    from engines.backend_onnxruntime import onnxruntime_pipeline
    from engines.contract import ModelContract

    contract = ModelContract.from_manifest(bundle.manifest, f"bundle {bundle.path}")
    engine = onnxruntime_pipeline(bundle, "cpu")
    windows: list[np.ndarray] = []

    def load(name: str) -> np.ndarray:
        x = load_record(data, name, contract=contract)
        if signals_out is not None:
            signals_out.append(x)
        return x

    try:
        probs = score_records(lambda w: engine.run(w)["probs"], load, names, contract.window, progress,
                              contract.std_floor_mv, windows_out=windows)
    finally:
        engine.close()
    return probs, windows


def metrics(y: np.ndarray, probs: np.ndarray) -> dict:
    """AF-vs-rest AUROC, macro one-vs-rest AUROC, per-class F1, challenge F1, accuracy, confusion."""
    from sklearn.metrics import confusion_matrix, roc_auc_score

    y = np.asarray(y)
    pred = probs.argmax(1)
    cm = confusion_matrix(y, pred, labels=list(range(len(CLASSES))))
    f1 = {}
    for c, code in enumerate(CLASSES):
        denom = cm[c, :].sum() + cm[:, c].sum()
        f1[code] = float(2 * cm[c, c] / denom) if denom else 0.0
    aurocs = {}
    for c, code in enumerate(CLASSES):
        pos = y == c
        aurocs[code] = float(roc_auc_score(pos, probs[:, c])) if 0 < pos.sum() < len(y) else float("nan")
    return {
        "n_records": int(len(y)),
        "auroc_af": aurocs["A"],
        "auroc_macro": float(np.nanmean(list(aurocs.values()))),
        "auroc_per_class": aurocs,
        "f1_per_class": f1,
        "f1_challenge": float(np.mean([f1["N"], f1["A"], f1["O"]])),
        "accuracy": float((pred == y).mean()),
        "confusion": cm.tolist(),  # rows: true class, columns: predicted, order N, A, O, ~
    }


def mean_metrics(folds: list[dict]) -> dict:
    """Mean and standard deviation across folds of the headline numbers."""
    out = {}
    for k in ("auroc_af", "auroc_macro", "f1_challenge", "accuracy"):
        vals = np.array([f[k] for f in folds])
        out[k] = float(vals.mean())
        out[k + "_std"] = float(vals.std())
    out["folds"] = len(folds)
    return out


def holter_scores(model_path, folder, learning_s: float | None = None,
                  progress: Callable[[int, int], None] = lambda done, total: None) -> dict:
    """EC57 AF scores of a bundle on annotated Holter records, through the monitor's own path.

    Every record with reference 'atr' annotations in `folder` goes through `core.analyze.analyze_record`
    (the live scheduler, the bundle's engines on ONNX Runtime, its rhythm head and episode settings); its
    AF episodes are scored against the reference by `core.ec57` (flutter counted as not AF). Returns
    {"gross": ec57.gross(...), "records": [per-record rows]}.
    """
    from core import ec57
    from core.analyze import AF, analyze_record
    from core.records import open_record
    from core.scheduler_model import load_model
    from training.mitbih import list_annotated

    paths = list_annotated(folder)
    if not paths:
        raise FileNotFoundError(f"{folder}: no records with reference 'atr' annotations")
    learning = ec57.LEARNING_S if learning_s is None else learning_s
    model = load_model(model_path, "onnxruntime", batch_per_core=False)  # as the shipped figures were made
    scores, rows = [], []
    try:
        for i, path in enumerate(paths):
            progress(i, len(paths))
            rec = open_record(path)
            ann = rec.annotations
            analysis = analyze_record(rec, model)
            detected = [(e.onset_sample, e.offset_sample) for e in analysis.episodes(AF)]
            reference = ec57.af_reference(ann.sample, ann.symbol, ann.aux_note, rec.n_samples)
            score = ec57.score_record(rec.name, reference, detected, rec.n_samples, rec.fs, learning)
            scores.append(score)
            rows.append(ec57.score_table([score])[0])
    finally:
        model.close()
    progress(len(paths), len(paths))
    return {"gross": ec57.gross(scores), "records": rows, "learning_s": learning}
