"""The AF alarm under the noise stress test's protocol, on patients it never saw (issue 24's noise check).

Each shared MIT-BIH record's MLII gets NSTDB noise at 6 dB the stress test's way (clean first 5 minutes,
then 2-minute bursts every other 2 minutes; training.noise.add_nst_bursts): muscle artefact (`ma`, the
check), electrode motion (`em`) and baseline wander (`bw`). The alarm is fitted as the stage fits it (MLII
clean and one noisy copy per record, RR input from the RR fold model that never saw the record), leave-
records-out, settings nested (benchmarks/alarm_leads.py), and scored on the held-out stressed records by
EC57 rules (first 5 minutes excluded, flutter not AF): duration Se, +P, false AF alarms/h on records
without AF.

    python benchmarks/alarm_noise.py --json alarm_noise.json     # ~12 min on the 2-core VM
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

from benchmarks.alarm_leads import DATA, analyses, nested  # noqa: E402
from core.headless import machine  # noqa: E402

KINDS = ("ma", "em", "bw")
SNR_DB = 6.0


@functools.cache
def recorded_noise() -> dict:
    from training.noise import load_recorded_noise

    return load_recorded_noise(DATA / "nstdb", DATA / "mitdb")


def stressed(model, name: str, rr) -> list:
    """Record `name`'s MLII with each kind of recorded noise at SNR_DB in the stress test's bursts."""
    from core.records import open_record
    from training.alarm_fusion import analyse

    rec = open_record(DATA / "mitdb" / name)
    return [analyse(model, stressed_record(rec, kind), rr, f"{name}@{kind}{SNR_DB:.0f}") for kind in KINDS]


def stressed_record(rec, kind: str):
    """MIT-BIH record `rec` with `kind` noise at SNR_DB in the stress test's bursts (seeded by kind, name)."""
    import dataclasses

    import numpy as np

    from training.noise import add_nst_bursts

    rng = np.random.default_rng([7, KINDS.index(kind), int(rec.name)])
    signal = add_nst_bursts(rec.signal, rec.fs, recorded_noise()[kind], SNR_DB, rng)
    return dataclasses.replace(rec, signal=signal)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=str(ROOT / "engines" / "default"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json")
    p.add_argument("--save", help="also write every analysis here (training.alarm_fusion.save_windows)")
    args = p.parse_args()
    t0 = time.monotonic()
    sets, folds, geometry = analyses(Path(args.model), args.seed, lambda m: print(m, file=sys.stderr),
                                     extra=stressed)
    if args.save:
        from training.alarm_fusion import save_windows

        save_windows(sets, args.save)
    groups = {"clean": lambda s: s.name == s.record, "training_noisy": lambda s: "+" in s.name,
              **{f"{k}_{SNR_DB:.0f}dB_bursts": (lambda s, k=k: s.name.endswith(f"@{k}{SNR_DB:.0f}"))
                 for k in KINDS}}
    shipped = nested(sets, folds, lambda s: "@" not in s.name, geometry, groups=groups)
    result = {"model": args.model, "seed": args.seed, "machine": machine(), "folds": folds, "snr_db": SNR_DB,
              "protocol": "NSTDB: clean first 5 min, then 2-min bursts every other 2 min; EC57, first 5 min "
                          "excluded, flutter not AF; fusion and settings leave-records-out (nested)",
              "shipped_recipe": shipped, "wall_s": round(time.monotonic() - t0, 1)}
    keys = ("duration_se", "duration_ppv", "episode_ppv", "false_alarms_per_hour")
    for group in groups:
        g = shipped[group]
        print(f"{group:18s} " + " ".join("—" if g[k] is None else f"{k} {g[k]:.3f}" for k in keys))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1, default=float) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
