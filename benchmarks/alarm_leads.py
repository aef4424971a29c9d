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
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core import ec57  # noqa: E402
from core.events import EpisodeSettings  # noqa: E402
from core.headless import machine  # noqa: E402
from training.alarm_fusion import INPUTS, as_probs, fit, p_af  # noqa: E402
from training.rhythm_head import StreamWindows, choose_episodes, record_scores  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
GROUPS = {"mlii_clean": lambda s: s.name == s.record, "mlii_noisy": lambda s: "+" in s.name,
          "second_lead": lambda s: ":" in s.name}


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
    from training.noise import load_recorded_noise
    from training.rr_cv import Corpus, cross_validate, warm_cache
    from training.rr_cv import folds as rr_folds
    from training.rr_data import ErrorProfile
    from training.rr_model import TrainConfig

    corpus = Corpus.from_roots(DATA / "ltafdb", DATA / "mitdb")
    models: dict = {}
    warm_cache(corpus, DEFAULT_CACHE, ErrorProfile(), progress=say)
    cv = cross_validate(corpus, DEFAULT_CACHE, 5, seed, ErrorProfile(), TrainConfig(seed=seed), progress=say,
                        models=models)
    settings = BeatEpisodeSettings.from_manifest(cv["chosen_on_all"])
    folds = [[r for db, r in part if db == "mitdb"] for part in rr_folds(corpus, 5, seed)]
    names = [r for f in folds for r in f]
    model = load_model(bundle, "onnxruntime", batch_per_core=False)  # as the stage fits it
    rr_of = lambda r: TorchRr(models[("mitdb", r)], settings)  # noqa: E731
    records = [open_record(DATA / "mitdb" / r) for r in names]
    sets = collect(model, records, rr_of, load_recorded_noise(DATA / "nstdb", DATA / "mitdb"), seed, say)
    for r in names:
        sets += extra(model, r, rr_of(r))
        say(f"{extra.__name__}: {r}")
    geometry = (model.window, model.hop, model.fs)
    model.close()
    return sets, folds, geometry


def nested(sets: list, folds: list[list[str]], train, geometry, names=INPUTS, groups=None) -> dict:
    """Per group: gross EC57 of held-out analyses under settings chosen on the training groups' oof."""
    window, hop, fs = geometry
    oof = {}
    for fold in folds:
        block = fit([s for s in sets if s.record not in fold and train(s)], names)
        for s in sets:
            if s.record in fold:
                oof[s.name] = as_probs(p_af(block, s))
    streams = {s.name: StreamWindows(s.name, s.ends, None, None, None, s.labels) for s in sets}
    holters = {s.name: s.holter for s in sets}
    chosen_folds = [[s.name for s in sets if s.record in f and train(s)] for f in folds]
    _, cv = choose_episodes(oof, streams, holters, chosen_folds, window, hop, fs, smoothed=True)
    out = {"nested_choices": cv["nested_choices"]}
    for group, member in (groups or GROUPS).items():
        scores = []
        for f, chosen in zip(folds, cv["nested_choices"], strict=True):
            held = [s.name for s in sets if s.record in f and member(s)]
            scores += record_scores(oof, streams, holters, held, EpisodeSettings(**chosen), window, hop, fs)
        out[group] = ec57.gross(scores)
    return out


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
