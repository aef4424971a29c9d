"""Does the AF alarm hold on the second lead, and does training it on both leads help?

The shipped alarm (training/alarm_fusion.py) is fitted on the MIT-BIH records' MLII, clean and with
NSTDB noise, each record's RR input from the RR fold model that never saw it. This benchmark adds each
record's second lead (V1 mostly) analysed the same way, and compares leave-records-out (a record's
analyses always in one fold), nested (settings chosen without the held-out fold, by the stage's
objective on the training analyses):
- "MLII": the shipped recipe;
- "both leads": the same plus the second-lead analyses in training and in the choice of settings.
Each is scored on the held-out MLII clean, MLII noisy and second-lead analyses.

    python benchmarks/alarm_leads.py --json alarm_leads.json     # ~15 min on the 2-core VM
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core import ec57  # noqa: E402
from core.events import EpisodeSettings  # noqa: E402
from core.headless import machine  # noqa: E402
from training.alarm_fusion import INPUTS, out_of_fold  # noqa: E402
from training.rhythm_head import choose_episodes, record_scores  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
GROUPS = {"mlii_clean": lambda s: s.name == s.record, "mlii_noisy": lambda s: "+" in s.name,
          "second_lead": lambda s: ":" in s.name}


@functools.cache
def recorded_noise() -> dict:
    """NSTDB's recorded noise (ma, em, bw), loaded once per process."""
    from training.noise import load_recorded_noise

    return load_recorded_noise(DATA / "nstdb", DATA / "mitdb")


def second_lead(model, name: str, rr) -> list:
    """Record `name`'s second lead (V1 mostly) through the live path."""
    from core.records import open_record
    from training.alarm_fusion import analyse

    rec = open_record(DATA / "mitdb" / name, lead=1)
    return [analyse(model, rec, rr, f"{name}:{rec.lead}")]


def analyses(bundle: Path, seed: int, say, extra=second_lead) -> tuple[list, list[list[str]], tuple]:
    """Every MIT-BIH record's MLII clean and noisy analyses (the alarm stage's), RR input out of fold,
    and the analyses `extra(model, record name, its RR model)` adds for each record."""
    from core.beat_episodes import BeatEpisodeSettings
    from core.records import open_record
    from core.scheduler_model import load_model
    from training.alarm_fusion import TorchRr, collect
    from training.cli_rhythm import DEFAULT_CACHE
    from training.rr_cv import Corpus, cross_validate, mitdb_folds, warm_cache
    from training.rr_data import ErrorProfile
    from training.rr_model import TrainConfig

    corpus = Corpus.from_roots(DATA / "ltafdb", DATA / "mitdb")
    models: dict = {}
    warm_cache(corpus, DEFAULT_CACHE, ErrorProfile(), progress=say)
    cv = cross_validate(corpus, DEFAULT_CACHE, 5, seed, ErrorProfile(), TrainConfig(seed=seed), progress=say,
                        models=models)
    settings = BeatEpisodeSettings.from_manifest(cv["chosen_on_all"])
    folds = mitdb_folds(corpus, 5, seed)
    names = [r for f in folds for r in f]
    model = load_model(bundle, "onnxruntime", batch_per_core=False)  # as the stage fits it
    rr_of = lambda r: TorchRr(models[("mitdb", r)], settings)  # noqa: E731
    records = [open_record(DATA / "mitdb" / r) for r in names]
    sets = collect(model, records, rr_of, recorded_noise(), seed, say)
    for r in names:
        sets += extra(model, r, rr_of(r))
        say(f"{extra.__name__}: {r}")
    geometry = (model.window, model.hop, model.fs)
    model.close()
    return sets, folds, geometry


def fitted(sets: list, folds: list[list[str]], train, geometry, names=INPUTS) -> tuple:
    """(oof, streams, holters, nested choices): the alarm fitted out of fold on the `train` analyses, and
    the episode settings each fold gets, chosen by the stage's smoothed objective on the other folds."""
    window, hop, fs = geometry
    oof, streams, holters = out_of_fold(sets, folds, names, train)
    chosen_folds = [[s.name for s in sets if s.record in f and train(s)] for f in folds]
    _, cv = choose_episodes(oof, streams, holters, chosen_folds, window, hop, fs, smoothed=True)
    return oof, streams, holters, cv["nested_choices"]


def group_scores(oof: dict, streams: dict, holters: dict, sets: list, folds: list[list[str]], per_fold: list,
                 groups: dict, geometry) -> dict:
    """Per group: gross EC57 of each fold's analyses in the group under that fold's settings."""
    out = {}
    for group, member in groups.items():
        scores = []
        for f, settings in zip(folds, per_fold, strict=True):
            held = [s.name for s in sets if s.record in f and member(s)]
            scores += record_scores(oof, streams, holters, held, settings, *geometry)
        out[group] = ec57.gross(scores)
    return out


def nested(sets: list, folds: list[list[str]], train, geometry, names=INPUTS, groups=None) -> dict:
    """Per group: gross EC57 of held-out analyses under settings chosen on the training groups' oof."""
    oof, streams, holters, choices = fitted(sets, folds, train, geometry, names)
    per_fold = [EpisodeSettings(**c) for c in choices]
    return {"nested_choices": choices,
            **group_scores(oof, streams, holters, sets, folds, per_fold, groups or GROUPS, geometry)}


def held_out_main(doc: str, extra, groups: dict, fields: dict) -> int:
    """The command line of a benchmark that scores `extra` analyses (named "<record>@<kind>") held out.

    The alarm is fitted on the clean and noisy MLII analyses only, leave-records-out with nested settings
    (`nested`), and each of `groups` is scored; `fields` go into the JSON beside the figures.
    """
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--model", default=str(ROOT / "engines" / "default"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json")
    p.add_argument("--save", help="also write every analysis here (training.alarm_fusion.save_windows)")
    args = p.parse_args()
    t0 = time.monotonic()
    sets, folds, geometry = analyses(Path(args.model), args.seed, lambda m: print(m, file=sys.stderr),
                                     extra=extra)
    if args.save:
        from training.alarm_fusion import save_windows

        save_windows(sets, args.save)
    shipped = nested(sets, folds, lambda s: "@" not in s.name, geometry, groups=groups)
    result = {"model": args.model, "seed": args.seed, "machine": machine(), "backend": "onnxruntime CPU",
              "folds": folds, **fields, "shipped_recipe": shipped, "wall_s": round(time.monotonic() - t0, 1)}
    keys = ("duration_se", "duration_ppv", "episode_ppv", "episode_se_30s", "false_alarms_per_hour")
    for group in groups:
        g = shipped[group]
        print(f"{group:20s} " + " ".join("—" if g[k] is None else f"{k} {g[k]:.3f}" for k in keys))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1, default=float) + "\n")
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=str(ROOT / "engines" / "default"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json")
    args = p.parse_args()
    t0 = time.monotonic()
    sets, folds, geometry = analyses(Path(args.model), args.seed, lambda m: print(m, file=sys.stderr))
    mlii = lambda s: ":" not in s.name  # noqa: E731
    result = {"model": args.model, "seed": args.seed, "machine": machine(), "folds": folds,
              "variants": {"MLII (shipped recipe)": nested(sets, folds, mlii, geometry),
                           "both leads": nested(sets, folds, lambda s: True, geometry)},
              "wall_s": round(time.monotonic() - t0, 1)}
    keys = ("duration_se", "duration_ppv", "episode_ppv", "false_alarms_per_hour")
    for variant, r in result["variants"].items():
        for group in GROUPS:
            g = r[group]
            print(f"{variant:22s} {group:12s} " + " ".join(
                "—" if g[k] is None else f"{k} {g[k]:.3f}" for k in keys))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1, default=float) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
