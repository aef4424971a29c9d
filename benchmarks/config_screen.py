"""Paired screening of training-config variants on a few cross-validation folds.

Each variant (a dict of TrainConfig overrides) is fitted on the same stratified CV folds that
`dacl-train cv` uses, so fold k of one variant is directly comparable with fold k of another; a
full 5-fold CV is too slow on 2 cores to run per idea. Results are appended to --json after every fit
(a cut-off run keeps what finished).

    python benchmarks/config_screen.py --data ../shared/data/cinc2017 --folds 0,1 \
        --variants '[{}, {"enc_epochs": 12}]' --json screen.json [--device cuda]
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import time
from pathlib import Path

if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)  # benchmarks/engines.py would shadow the engines package

from training import dataset, pipeline, train  # noqa: E402
from training.config import TrainConfig  # noqa: E402

log = logging.getLogger("config_screen")
KEYS = ("auroc_af", "auroc_macro", "f1_challenge", "accuracy")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="WFDB folder with labels, or a pack .npz")
    ap.add_argument("--folds", default="0,1", help="which of the --k folds to fit, comma-separated")
    ap.add_argument("--k", type=int, default=5, help="number of CV folds (as `dacl-train cv --folds`)")
    ap.add_argument("--variants", required=True, help="JSON list of override dicts, or a file holding one")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", type=Path, required=True)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    text = Path(args.variants).read_text() if Path(args.variants).is_file() else args.variants
    variants = json.loads(text)
    folds = [int(f) for f in args.folds.split(",")]
    machine = platform.node() + " " + platform.processor()
    if args.device == "cuda":
        import torch

        machine += " " + torch.cuda.get_device_name(0)
    result = {"machine": machine, "device": args.device, "folds": folds, "k": args.k, "fits": []}
    t0 = time.time()
    data = {}  # one feature set per scattering/window layout
    for over in variants:
        cfg = TrainConfig(**{**TrainConfig().to_dict(), **over, "device": args.device})
        cfg.Q, cfg.noise_snr_db = tuple(cfg.Q), tuple(cfg.noise_snr_db)
        layout = (
            cfg.J,
            cfg.Q,
            cfg.T,
            cfg.hop,
            cfg.crop_seed,
            cfg.noise_copies,
            cfg.noise_hop,
            cfg.noise_snr_db,
            cfg.noise_tilde_below_db,
        )
        if layout not in data:
            data[layout] = pipeline.load_data(args.data, cfg, device=args.device)
        d = data[layout]
        splits = dataset.stratified_folds(d.windows.labels, args.k, cfg.seed)
        for k in folds:
            t = time.time()
            tr_idx, te_idx = splits[k]
            fit_set, cal_set = pipeline.training_sets(d, cfg, tr_idx)
            model, _ = train.fit(fit_set, cal_set, cfg)
            test = d.windows.subset(te_idx)
            m = pipeline.validation_metrics(model, test, pipeline.params_of(cfg), d.loader, cfg.device)
            row = {"variant": over, "fold": k, **{x: round(m[x], 4) for x in KEYS}}
            row["auroc_per_class"] = {c: round(v, 4) for c, v in m["auroc_per_class"].items()}
            row["seconds"] = round(time.time() - t, 1)
            result["fits"].append(row)
            print(json.dumps(row), flush=True)
            result["seconds"] = round(time.time() - t0, 1)
            args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
