"""Noise robustness of a shipped bundle: record metrics with white noise or electrode motion added.

The records are the bundle's own validation split (stratified, the manifest's seed and val_fraction: never
fitted on), a stratified subset of them; noise is added to the raw lead in mV before preprocessing (SNR
relative to the record's power, the noise of benchmarks/ablation.py), then every record goes through
`evaluate`'s path: eval_windows → ONNX Runtime engine → geometric-mean aggregation.

    python benchmarks/noise_robustness.py --data ../shared/data/cinc2017 --model engines/default \
        --records 400 --json noise.json
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import time
from pathlib import Path

import numpy as np

if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)  # benchmarks/engines.py would shadow the engines package

from training import dataset, evaluate, pipeline  # noqa: E402
from training.noise import add_noise  # noqa: E402

log = logging.getLogger("noise_robustness")
CONDITIONS = [(None, None)] + [(k, s) for k in ("white", "electrode_motion") for s in (20, 10, 5, 0)]


def class_counts(classes: np.ndarray) -> dict[str, int]:
    counts = np.bincount(classes, minlength=len(dataset.CLASSES)).tolist()
    return dict(zip(dataset.CLASSES, counts, strict=True))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="the WFDB folder the bundle was trained on")
    ap.add_argument("--model", type=Path, default=Path("engines/default"))
    ap.add_argument("--records", type=int, default=400, help="stratified subset of the validation split")
    ap.add_argument("--json", type=Path, required=True)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    import wfdb

    from engines.backend_onnxruntime import onnxruntime_pipeline
    from engines.bundle import load_bundle

    bundle = load_bundle(args.model)
    cfg = bundle.manifest["config"]
    records = dataset.list_records(args.data)
    labels = np.array([r.label for r in records])
    _, val = dataset.stratified_split(labels, cfg["val_fraction"], cfg["seed"])
    sub = val[pipeline.quick_subset(labels[val], args.records, 0)]
    engine = onnxruntime_pipeline(bundle, "cpu")
    raw = {}
    for i in sub:
        rec = wfdb.rdrecord(str(args.data / records[i].name), channels=[0], physical=True)
        raw[records[i].name] = (np.nan_to_num(rec.p_signal[:, 0]), float(rec.fs))
    names = [records[i].name for i in sub]
    t0 = time.time()
    rows = {}
    for kind, snr in CONDITIONS:
        rng = np.random.default_rng(0)  # one stream per condition, drawn in record order

        def load(name: str, kind=kind, snr=snr, rng=rng) -> np.ndarray:
            x, fs = raw[name]
            return dataset.preprocess_signal(add_noise(x, fs, kind, snr, rng), fs)

        probs = evaluate.score_records(lambda w: engine.run(w)["probs"], load, names, bundle.window)
        m = evaluate.metrics(labels[sub], probs)
        key = "clean" if kind is None else f"{kind}@{snr}dB"
        rows[key] = {k: m[k] for k in ("auroc_af", "auroc_macro", "f1_challenge", "accuracy")}
        rows[key]["predicted"] = class_counts(probs.argmax(1))
        log.info("%-22s %s", key, {k: round(v, 3) for k, v in rows[key].items() if k != "predicted"})
    report = {
        "benchmark": "noise_robustness",
        "machine": {"host": platform.node(), "platform": platform.platform(), "cpu": platform.processor()},
        "backend": "onnxruntime-cpu",
        "bundle": str(args.model),
        "records": int(len(sub)),
        "true": class_counts(labels[sub]),
        "rows": rows,
        "seconds": round(time.time() - t0, 1),
    }
    args.json.write_text(json.dumps(report, indent=1))
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
