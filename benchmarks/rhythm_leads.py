"""Rhythm head fitted on both Holter leads: are the alarms lead-robust, and what does it cost on MLII?

The shipped head is fitted on the MIT-BIH records' MLII (plus CinC validation windows and one noisy
MLII copy of each record). On their second lead (V1 mostly) its alarms lose specificity
(`af_episodes.py --lead 1`). Two fits, both through the bundle's own DACL model, scored by the same
leave-records-out folds (a record's two leads are always in the same fold):
- "MLII only": the shipped recipe;
- "both leads": the same plus every third window of each record's second lead.
Each is scored on the held-out records' MLII (settings chosen on the other folds' MLII, nested, as the
rhythm stage does) and on their second lead with those same per-fold settings.

    python benchmarks/rhythm_leads.py --json rhythm_leads.json
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

from benchmarks.rhythm_ablation import KEYS, SHIPPED, add_data_args, bundle_streams, engine_dacl, fitter  # noqa: E402
from core import ec57  # noqa: E402
from core.events import EpisodeSettings  # noqa: E402
from core.headless import machine  # noqa: E402
from core.preprocess import preprocess_record  # noqa: E402
from core.records import open_record  # noqa: E402
from training import mitbih  # noqa: E402
from training.rhythm_head import choose_episodes, holter_folds, record_scores, stream_windows  # noqa: E402
from training.rhythm_stage import HOP, MODEL_FS, WINDOW, holter_out_of_fold  # noqa: E402


def second_lead_streams(model_path: Path, holter: Path, names: list[str]) -> dict:
    """Each record's second signal through the bundle's DACL model, labelled like its MLII windows."""
    from core.scheduler_model import load_model

    model = load_model(model_path, "onnxruntime")
    dacl = engine_dacl(model)
    out = {}
    for name in names:
        rec = open_record(holter / name, lead=1)
        ann = rec.annotations
        labels = lambda ends, ann=ann, rec=rec: mitbih.window_labels(ann, rec.n_samples, rec.fs, ends,  # noqa: E731
                                                                      WINDOW, MODEL_FS)
        out[name] = stream_windows(f"{name}:{rec.lead}", preprocess_record(rec.signal, rec.fs, MODEL_FS)[0],
                                   labels, dacl, MODEL_FS, WINDOW, HOP)
    model.close()
    return out


def nested_with(choices: list[dict], oof: dict, streams: dict, holters: dict, folds: list[list[str]]) -> dict:
    """EC57 gross measures of each fold's records under the settings chosen for that fold."""
    scores = []
    for fold, chosen in zip(folds, choices, strict=True):
        scores += record_scores(oof, streams, holters, fold, EpisodeSettings(**chosen), WINDOW, HOP, MODEL_FS)
    return ec57.gross(scores)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_args(p)
    args = p.parse_args()
    t0 = time.time()
    cinc, streams, noisy, holters = bundle_streams(Path(args.model), Path(args.data), Path(args.holter),
                                                   Path(args.nstdb))
    lead2 = second_lead_streams(Path(args.model), Path(args.holter), sorted(streams))
    folds = holter_folds(holters)
    every = np.s_[::3]
    base_sets = [(s, slice(None), 1.0) for s in cinc]
    fit = fitter(SHIPPED)
    rows = {}
    for variant, with_lead2 in (("MLII only (shipped recipe)", False), ("both leads", True)):
        def holter_sets(names, with_lead2=with_lead2):
            sets = [(streams[n], every, 1.0) for n in names] + [(noisy[n], slice(None), 1.0) for n in names
                                                                 if n in noisy]
            return sets + ([(lead2[n], every, 1.0) for n in names] if with_lead2 else [])

        oof = holter_out_of_fold(fit, base_sets, holter_sets, streams, folds)
        _, cv = choose_episodes(oof, streams, holters, folds, WINDOW, HOP, MODEL_FS)
        oof2 = holter_out_of_fold(fit, base_sets, holter_sets, lead2, folds)
        second = nested_with(cv["nested_choices"], oof2, lead2, holters, folds)
        rows[variant] = {"mlii_nested": {k: cv["nested"][k] for k in KEYS},
                         "second_lead_same_settings": {k: second[k] for k in KEYS},
                         "nested_choices": cv["nested_choices"]}
        shown = {k: rows[variant][k] for k in ("mlii_nested", "second_lead_same_settings")}
        print(variant, json.dumps(shown), flush=True)
    result = {"benchmark": "rhythm_leads", "model": args.model, "machine": machine(), "rows": rows,
              "second_leads": {n: s.name for n, s in lead2.items()}, "folds": folds,
              "seconds": round(time.time() - t0, 1)}
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    f = lambda v: "—" if v is None else f"{v:.3f}"  # noqa: E731
    print("| fit | scored on | dur Se | dur +P | episode +P | Se (≥ 30 s) | false alarms/h |")
    print("|---|---|---|---|---|---|---|")
    for variant, r in rows.items():
        for where, key in (("MLII", "mlii_nested"), ("second lead", "second_lead_same_settings")):
            h = r[key]
            print(f"| {variant} | {where} | {f(h['duration_se'])} | {f(h['duration_ppv'])} | "
                  f"{f(h['episode_ppv'])} | {f(h['episode_se_30s'])} | {f(h['false_alarms_per_hour'])} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
