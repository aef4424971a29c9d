"""Spread of the AF alarm's cross-validated figures over training seeds, from bundles `dacl-train rr` wrote.

    dacl-train rr --bundle /tmp/seed1 --seed 1     # on copies of engines/default, one per seed
    python benchmarks/alarm_seeds.py engines/default /tmp/seed1 /tmp/seed2 \\
        --json benchmarks/results/alarm_seeds_cpu_2core.json

Prints and writes, per bundle: its seed, the episode settings chosen, each fold's choice, and the nested
clean and noisy figures of each ablation (manifest "alarm.cv"); then min / max over the bundles.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.headless import machine  # noqa: E402

KEYS = ("duration_se", "duration_ppv", "episode_ppv", "episode_se_30s", "false_alarms_per_hour")
SETTING = ("on", "off", "k_on", "smooth")


def read(bundle: Path) -> dict:
    """One bundle's seed, settings and nested figures."""
    manifest = json.loads((bundle / "manifest.json").read_text())
    if "alarm" not in manifest:
        raise SystemExit(f"{bundle}: the manifest has no 'alarm' block "
                         f"(run `dacl-train rr --bundle {bundle}`)")
    alarm = manifest["alarm"]
    out = {"bundle": str(bundle), "seed": alarm["training"]["seed"],
           "settings": [alarm["episodes"][k] for k in SETTING], "ablations": {}}
    for label, cv in alarm["cv"].items():
        out["ablations"][label] = {
            "fold_choices": [[c[k] for k in SETTING] for c in cv["nested_choices"]],
            **{part: {k: cv[f"nested_{part}"].get(k) for k in KEYS} for part in ("clean", "noisy")}}
    return out


def spread(runs: list[dict]) -> dict:
    """{ablation: {part: {figure: [min, max]}}} over the runs."""
    out: dict = {}
    for label in runs[0]["ablations"]:
        for part in ("clean", "noisy"):
            for k in KEYS:
                values = [v for r in runs if (v := r["ablations"][label][part][k]) is not None]
                figures = out.setdefault(label, {}).setdefault(part, {})
                figures[k] = [min(values), max(values)] if values else None
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("bundles", nargs="+", type=Path)
    p.add_argument("--json", help="write the result here")
    args = p.parse_args()
    runs = [read(b) for b in args.bundles]
    for r in runs:
        print(f"seed {r['seed']} ({r['bundle']}): settings on/off/runs/smoothing {r['settings']}")
        for label, a in r["ablations"].items():
            print(f"  {label:12s} folds {a['fold_choices']}")
            for part in ("clean", "noisy"):
                shown = (f"{k} {a[part][k]:.3f}" for k in KEYS if a[part][k] is not None)
                print(f"    {part:5s} " + "  ".join(shown))
    result = {"runs": runs, "spread": spread(runs), "machine": machine(),
              "note": "nested leave-records-out CV on the shared MIT-BIH records (training/alarm_fusion.py)"}
    for label, parts in result["spread"].items():
        for part, figures in parts.items():
            shown = (f"{k} {v[0]:.3f}-{v[1]:.3f}" for k, v in figures.items() if v)
            print(f"{label:12s} {part:5s} " + "  ".join(shown))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
