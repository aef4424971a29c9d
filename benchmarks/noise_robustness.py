"""Noise robustness of a shipped bundle: record metrics under synthetic and recorded noise, and AF alarms.

The records are the bundle's own validation split (stratified, the manifest's seed and val_fraction: never
fitted on), a stratified subset of them; noise is added to the raw lead in mV before preprocessing, then
every record goes through `evaluate`'s path: eval_windows → ONNX Runtime engine → geometric-mean
aggregation. Two families of noise:
- synthetic (training/noise.py's generators, SNR relative to the record's power): white, electrode motion;
- recorded, from the MIT-BIH Noise Stress Test Database (--nstdb): baseline wander (bw), muscle artefact
  (ma) and electrode motion (em, recovered as 118e_6 − 118), at 24, 12, 6, 0 and −6 dB on the stress
  test's own scale (QRS peak-to-peak² / 8 over the noise variance, calibrated to its 118e records).
Then the stress test's own records 118e24 … 118e_6 (and clean 118) go through `dacl-monitor analyze`,
and the AF episodes raised after the 5-minute learning period are counted per hour: 118 has no AF, so
every one is a false alarm.

    python benchmarks/noise_robustness.py --data ../shared/data/cinc2017 --model engines/default \
        --records 400 --nstdb ../shared/data/nstdb --json noise.json
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
from training.noise import (  # noqa: E402
    NST_SNRS_DB,
    RECORDED_KINDS,
    add_noise,
    add_recorded_noise,
    load_recorded_noise,  # noqa: E402
)

log = logging.getLogger("noise_robustness")
CONDITIONS = [(None, None)] + [(k, s) for k in ("white", "electrode_motion") for s in (20, 10, 5, 0)]
RECORDED_CONDITIONS = [(f"nstdb_{k}", s) for k in RECORDED_KINDS for s in NST_SNRS_DB]
STRESS_RECORDS = ("118", "118e24", "118e12", "118e00", "118e_6")


def class_counts(classes: np.ndarray) -> dict[str, int]:
    counts = np.bincount(classes, minlength=len(dataset.CLASSES)).tolist()
    return dict(zip(dataset.CLASSES, counts, strict=True))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="the WFDB folder the bundle was trained on")
    ap.add_argument("--model", type=Path, default=Path("engines/default"))
    ap.add_argument("--records", type=int, default=400, help="stratified subset of the validation split")
    ap.add_argument("--nstdb", type=Path,
                    help="MIT-BIH Noise Stress Test folder (recorded noise, 118e records)")
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
    conditions = list(CONDITIONS)
    recorded = {}
    if args.nstdb is not None:
        from scipy.signal import resample_poly

        from core.preprocess import resample_ratio

        fs_data = float(wfdb.rdheader(str(args.data / records[sub[0]].name)).fs)
        for kind, (e, fs) in load_recorded_noise(args.nstdb).items():  # resampled once, not per record
            up, down = resample_ratio(fs, fs_data)
            recorded[f"nstdb_{kind}"] = (resample_poly(e, up, down), fs_data)
        conditions += [c for c in RECORDED_CONDITIONS if c[0] in recorded]
    raw = {}
    for i in sub:
        rec = wfdb.rdrecord(str(args.data / records[i].name), channels=[0], physical=True)
        raw[records[i].name] = (np.nan_to_num(rec.p_signal[:, 0]), float(rec.fs))
    names = [records[i].name for i in sub]
    t0 = time.time()
    rows = {}
    for kind, snr in conditions:
        rng = np.random.default_rng(0)  # one stream per condition, drawn in record order

        def load(name: str, kind=kind, snr=snr, rng=rng) -> np.ndarray:
            x, fs = raw[name]
            if kind in recorded:
                return dataset.preprocess_signal(add_recorded_noise(x, fs, recorded[kind], snr, rng), fs)
            return dataset.preprocess_signal(add_noise(x, fs, kind, snr, rng), fs)

        probs = evaluate.score_records(lambda w: engine.run(w)["probs"], load, names, bundle.window)
        m = evaluate.metrics(labels[sub], probs)
        key = "clean" if kind is None else f"{kind}@{snr}dB"
        rows[key] = {k: m[k] for k in ("auroc_af", "auroc_macro", "f1_challenge", "accuracy")}
        rows[key]["predicted"] = class_counts(probs.argmax(1))
        log.info("%-22s %s", key, {k: round(v, 3) for k, v in rows[key].items() if k != "predicted"})
    stress = stress_test_alarms(args.nstdb, args.model) if args.nstdb is not None else None
    report = {
        "benchmark": "noise_robustness",
        "machine": {"host": platform.node(), "platform": platform.platform(), "cpu": platform.processor()},
        "backend": "onnxruntime-cpu",
        "bundle": str(args.model),
        "records": int(len(sub)),
        "true": class_counts(labels[sub]),
        "rows": rows,
        "stress_test_af_alarms": stress,
        "seconds": round(time.time() - t0, 1),
    }
    args.json.write_text(json.dumps(report, indent=1))
    print(json.dumps(rows, indent=1))
    if stress:
        print(json.dumps(stress, indent=1))


def stress_test_alarms(nstdb: Path, model_path: Path) -> dict:
    """False AF alarms per hour (after the learning period) on 118 and the stress test's 118e records."""
    import tempfile

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks.af_episodes import score_records
    from core.scheduler_model import load_model

    paths = [(nstdb.parent / "mitdb" / n) if n == "118" else (nstdb / n) for n in STRESS_RECORDS]
    paths = [p for p in paths if p.with_suffix(".hea").exists()]
    model = load_model(model_path, "onnxruntime")
    with tempfile.TemporaryDirectory() as out:
        result = score_records(paths, Path(out), model)
    model.close()
    return {r["record"]: {"af_episodes": (m := r["model"])["det_episodes"],
                          "false_alarms_per_hour": m["det_episodes"] / (m["scored_s"] / 3600),
                          "af_time_s": m["det_s"]} for r in result["records"]}


if __name__ == "__main__":
    main()
