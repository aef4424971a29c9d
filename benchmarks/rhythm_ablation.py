"""Ablation of the rhythm head: with and without the DACL encoder, the rhythm context, the Holter data.

The windows are those `dacl-train run`'s rhythm stage uses (CinC validation records of the bundle, which
its encoder never fitted; every window of the annotated Holter records and one noisy copy of each),
through the bundle's own DACL model. Each variant is a class-balanced logistic regression on a subset of
[DACL log-probabilities, embedding, RR features, DACL AF log-probability × RR features], scored two ways:
- Holter (MIT-BIH) leave-records-out: out-of-fold probabilities → episode settings chosen on the other
  folds (nested) → EC57 gross measures of the held-out records;
- CinC: two-fold cross-fitting on the validation records → AF AUROC, macro AUROC, challenge F1.
"DACL head only" is the bundle's own head on the same windows (no fitting, no Holter data, no rhythm).

    python benchmarks/rhythm_ablation.py --model engines/default --json rhythm_ablation.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.headless import machine  # noqa: E402
from training.rhythm_head import AF, choose_episodes, fit_logistic, holter_folds  # noqa: E402
from training.rhythm_stage import (  # noqa: E402
    HOP,
    MODEL_FS,
    WINDOW,
    cinc_cross_fit,
    collect_streams,
    holter_out_of_fold,
    record_metrics,
)


def engine_dacl(model):
    """A rhythm_head DaclFn (windows → DACL log-probabilities, embeddings) on a loaded bundle's engines."""
    def dacl(x):
        probs, emb = [], []
        for i in range(0, len(x), 64):
            p, e, _ = model.infer(x[i : i + 64])
            probs.append(p)
            emb.append(e)
        return np.log(np.clip(np.concatenate(probs), 1e-6, 1.0)), np.concatenate(emb)

    return dacl


def bundle_streams(model_path: Path, data: Path, holter: Path, nstdb: Path) -> tuple:
    """collect_streams through the bundle's own engines (ONNX Runtime), on its validation records."""
    from core.scheduler_model import load_model
    from training import dataset

    model = load_model(model_path, "onnxruntime")
    cfg = model.bundle.manifest["config"]
    dacl = engine_dacl(model)
    records = dataset.list_records(data)
    labels = np.array([r.label for r in records])
    _, val = dataset.stratified_split(labels, cfg["val_fraction"], cfg["seed"])
    cinc = [(records[i].name, int(labels[i]), dataset.load_record(data, records[i].name)) for i in val]
    return collect_streams(dacl, cinc, holter, nstdb, cfg["seed"], cfg["noise_tilde_below_db"])

SHIPPED = ("logp", "embedding", "rhythm", "interaction")
VARIANTS = {  # name: (column groups of rhythm_head.head_inputs used, Holter windows in the fit)
    "DACL embedding + rhythm context + Holter data (shipped)": (SHIPPED, True),
    "without the DACL × rhythm interaction (separate terms)": (("logp", "embedding", "rhythm"), True),
    "without rhythm context (DACL embedding, Holter data)": (("logp", "embedding"), True),
    "without the DACL encoder (rhythm features alone, Holter data)": (("rhythm",), True),
    "without Holter data (DACL embedding + rhythm, CinC only)": (SHIPPED, False),
}
KEYS = ("episode_se", "episode_se_30s", "episode_ppv", "duration_se", "duration_ppv", "false_alarms_per_hour")


def columns(s, use, rows=slice(None)) -> np.ndarray:
    parts = {"logp": s.logp, "embedding": s.embedding, "rhythm": s.rhythm,
             "interaction": s.logp[:, AF : AF + 1] * s.rhythm}
    return np.hstack([parts[u][rows] for u in use]).astype(np.float64)


def fitter(use):
    """A rhythm_stage Fit on the columns `use` of the head's inputs."""
    def fit(sets):
        x = np.vstack([columns(s, use, rows) for s, rows, _ in sets])
        y = np.concatenate([s.labels[rows] for s, rows, _ in sets])
        w = np.concatenate([np.full(len(s.labels[rows]), weight) for s, rows, weight in sets])
        mean, std, clf = fit_logistic(x, y, w)

        def predict(s):
            out = np.zeros((len(s.labels), 4))
            out[:, clf.classes_] = clf.predict_proba((columns(s, use) - mean) / std)
            return out

        return predict

    return fit


def add_data_args(p: argparse.ArgumentParser) -> None:
    """--model, --data, --holter, --nstdb (defaults: the shipped bundle and ../shared/data) and --json."""
    p.add_argument("--model", default=str(ROOT / "engines" / "default"))
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "cinc2017"))
    p.add_argument("--holter", default=str(ROOT.parent / "shared" / "data" / "mitdb"))
    p.add_argument("--nstdb", default=str(ROOT.parent / "shared" / "data" / "nstdb"))
    p.add_argument("--json")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_args(p)
    args = p.parse_args()
    t0 = time.time()
    cinc, streams, noisy, holters = bundle_streams(Path(args.model), Path(args.data), Path(args.holter),
                                                   Path(args.nstdb))
    folds = holter_folds(holters)
    every = np.s_[::3]
    base_sets = [(s, slice(None), 1.0) for s in cinc]
    rows = {}

    base = {n: np.exp(s.logp) for n, s in streams.items()}
    _, cv = choose_episodes(base, streams, holters, folds, WINDOW, HOP, MODEL_FS)
    m = record_metrics(cinc, [np.exp(s.logp) for s in cinc])
    rows["DACL head only (no rhythm context, no Holter data)"] = {
        "holter_nested": {k: cv["nested"][k] for k in KEYS},
        "cinc": {k: m[k] for k in ("auroc_af", "auroc_macro", "f1_challenge")}}
    for name, (use, with_holter) in VARIANTS.items():
        def holter_sets(names, with_holter=with_holter):
            if not with_holter:
                return []
            return [(streams[n], every, 1.0) for n in names] + \
                [(noisy[n], slice(None), 1.0) for n in names if n in noisy]

        fit = fitter(use)
        oof = holter_out_of_fold(fit, base_sets, holter_sets, streams, folds)
        _, cv = choose_episodes(oof, streams, holters, folds, WINDOW, HOP, MODEL_FS)
        fused = cinc_cross_fit(fit, cinc, base_sets, holter_sets(list(streams)), np.random.default_rng(12))
        m = record_metrics(cinc, fused)
        rows[name] = {"holter_nested": {k: cv["nested"][k] for k in KEYS},
                      "cinc": {k: m[k] for k in ("auroc_af", "auroc_macro", "f1_challenge")}}
        print(name, json.dumps(rows[name]), flush=True)
    result = {"benchmark": "rhythm_ablation", "model": args.model, "machine": machine(), "rows": rows,
              "cinc_records": len(cinc), "holter_records": sorted(streams), "folds": folds,
              "seconds": round(time.time() - t0, 1)}
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    print("| variant | Holter dur Se | dur +P | episode +P | Se (≥ 30 s) | false alarms/h | CinC AF AUROC | "
          "macro AUROC | F1 |")
    print("|---|---|---|---|---|---|---|---|---|")
    f = lambda v: "—" if v is None else f"{v:.3f}"  # noqa: E731
    for name, r in rows.items():
        h, c = r["holter_nested"], r["cinc"]
        print(f"| {name} | {f(h['duration_se'])} | {f(h['duration_ppv'])} | {f(h['episode_ppv'])} | "
              f"{f(h['episode_se_30s'])} | {f(h['false_alarms_per_hour'])} | {f(c['auroc_af'])} | "
              f"{f(c['auroc_macro'])} | {f(c['f1_challenge'])} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
