"""Leave-records-out CV of the RR rhythm model on LTAFDB + MIT-BIH beats, beside the textbook RR anchor.

    python benchmarks/rr_cv.py --json benchmarks/results/rr_cv.json [--seeds 0 1 2]

Prints and writes, per seed: the episode settings chosen on all out-of-fold probabilities and the nested
figures (settings chosen without the fold), for LTAFDB .qrs beats, LTAFDB reference beats with the
monitor detector's errors, MIT-BIH reference beats and MIT-BIH beats with errors; and the anchor.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training.rr_cv import Corpus, anchor, cross_validate, warm_cache  # noqa: E402
from training.rr_data import ErrorProfile  # noqa: E402
from training.rr_model import TrainConfig  # noqa: E402

KEYS = ("duration_se", "duration_ppv", "specificity", "episode_se", "episode_ppv", "false_alarms_per_hour")


def line(name: str, m: dict) -> str:
    values = (m.get(k) if m.get(k) is not None else float("nan") for k in KEYS)
    return f"{name:<34}" + " ".join(f"{v:7.3f}" for v in values)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ltafdb", type=Path, default=Path("../shared/data/ltafdb"))
    ap.add_argument("--mitdb", type=Path, default=Path("../shared/data/mitdb"))
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "dacl" / "rr")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    ap.add_argument("--hidden", type=int, default=TrainConfig.hidden)
    ap.add_argument("--no-anchor", action="store_true")
    ap.add_argument("--oof", type=Path, help="save each sequence's out-of-fold p(AF) here (npz)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    corpus = Corpus.from_roots(args.ltafdb, args.mitdb)
    out = {"machine": platform.node(), "processor": platform.processor() or platform.machine(),
           "backend": "torch CPU (training), the model's numbers", "seeds": {},
           "profile": ErrorProfile().__dict__}
    warm_cache(corpus, args.cache, ErrorProfile(), progress=logging.info)
    print(f"{'':<34}" + " ".join(f"{k[:7]:>7}" for k in KEYS))
    for seed in args.seeds:
        t = time.time()
        cfg = TrainConfig(hidden=args.hidden, epochs=args.epochs, seed=seed)
        r = cross_validate(corpus, args.cache, args.folds, seed, cfg=cfg, progress=logging.info,
                           oof_dir=args.oof / str(seed) if args.oof else None)
        r["seconds"] = round(time.time() - t, 1)
        out["seeds"][str(seed)] = r
        print(f"seed {seed}: chosen on all {r['chosen_on_all']}")
        for key, m in r["nested"].items():
            print(line(f"  nested {key}", m))
        for key, m in r["pooled"].items():
            print(line(f"  chosen on all {key}", m))
    if not args.no_anchor:
        out["anchor"] = anchor(corpus, args.cache, ErrorProfile())
        for key, m in out["anchor"].items():
            print(line(f"anchor {key}", m))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
