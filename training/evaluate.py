"""Record-level metrics of the CinC 2017 task, and the aggregation of window probabilities to records.

A record's probabilities are the normalised geometric mean of its windows' probabilities
(softmax of the mean window log-probability): one confidently-AF window moves the record less than an
arithmetic mean would let a noisy window do, and every window counts. A bundle may add a per-class
record bias to the record's log-probabilities (manifest `record_decision`): chosen on held-out records
to maximise the challenge F1, because the head, fitted on the encoder's own training windows, calls too
few held-out records "Other" (5-fold CV: 1,387 predicted for 1,932 true).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from core.preprocess import STD_FLOOR_MV
from training.dataset import CLASSES, WINDOW, eval_windows


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


BIAS_GRID = np.round(np.arange(-1.5, 1.5001, 0.05), 2)  # log-prior offsets tried per class


def with_bias(probs: np.ndarray, bias: np.ndarray | None, floor: float = 1e-7) -> np.ndarray:
    """softmax(log p + bias) row-wise: record probabilities with the bundle's record bias (None: unchanged)."""
    if bias is None:
        return probs
    z = np.log(np.clip(probs, floor, 1.0)) + np.asarray(bias, dtype=np.float64)
    z -= z.max(1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(1, keepdims=True)


def challenge_f1(y: np.ndarray, pred: np.ndarray) -> float:
    """Mean F1 of N, A and O (the CinC 2017 score; noisy records count only through the others' errors)."""
    f1 = []
    for c in range(3):
        den = (pred == c).sum() + (y == c).sum()
        f1.append(2 * ((pred == c) & (y == c)).sum() / den if den else 0.0)
    return float(np.mean(f1))


def fit_record_bias(y: np.ndarray, probs: np.ndarray, grid: np.ndarray = BIAS_GRID, rounds: int = 3
                    ) -> np.ndarray:
    """Per-class log-prior offsets (N fixed at 0) maximising the challenge F1 of argmax(log p + bias).

    Coordinate ascent over `grid`, each class in turn; of equally good values the middle one of the
    plateau, so a bias is not pushed to the edge of what these records allow.
    """
    y = np.asarray(y)
    logp = np.log(np.clip(probs, 1e-7, 1.0))
    bias = np.zeros(probs.shape[1])
    for _ in range(rounds):
        for c in range(1, probs.shape[1]):
            scores = []
            for v in grid:
                trial = bias.copy()
                trial[c] = v
                scores.append(challenge_f1(y, (logp + trial).argmax(1)))
            best = np.flatnonzero(np.asarray(scores) >= max(scores) - 1e-12)
            bias[c] = grid[best[len(best) // 2]]
    return bias


def record_bias_of(manifest: dict, where: str) -> np.ndarray | None:
    """The manifest's record bias, checked; None when the bundle has none (older bundles)."""
    block = manifest.get("record_decision")
    if block is None:
        return None
    bias = np.asarray(block.get("bias", []), dtype=np.float64)
    n = len(manifest.get("classes", CLASSES))
    if bias.shape != (n,) or not np.isfinite(bias).all():
        raise ValueError(f"{where}: record_decision.bias must be {n} finite numbers, got {block.get('bias')!r}")
    return bias


def score_records(
    run_windows: Callable[[np.ndarray], np.ndarray],
    load: Callable[[str], np.ndarray],
    names: list[str],
    window: int = WINDOW,
    progress: Callable[[int, int], None] | None = None,
    std_floor_mv: float = STD_FLOOR_MV,
) -> np.ndarray:
    """(R, C) record probabilities: each record's eval_windows through run_windows, then aggregate_records.

    `evaluate` passes the ONNX Runtime engine as run_windows (windows → probs), validation the modules.
    """
    probs = np.zeros((len(names), len(CLASSES)))
    for i, name in enumerate(names):
        p = run_windows(eval_windows(load(name), window, std_floor_mv=std_floor_mv))
        probs[i] = aggregate_records(p, np.zeros(len(p), dtype=np.int64), 1)[0]
        if progress is not None:
            progress(i + 1, len(names))
    return probs


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
    """Mean and standard deviation across folds of the headline numbers (and without the record bias)."""
    out = {}
    plain = [f.get("without_record_bias") for f in folds]
    for suffix, rows in (("", folds), ("_without_record_bias", plain)):
        if any(r is None for r in rows):
            continue
        for k in ("auroc_af", "auroc_macro", "f1_challenge", "accuracy"):
            vals = np.array([r[k] for r in rows])
            out[k + suffix] = float(vals.mean())
            out[k + suffix + "_std"] = float(vals.std())
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
    model = load_model(model_path, "onnxruntime")
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
