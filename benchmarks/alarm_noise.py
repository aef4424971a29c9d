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

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.alarm_leads import DATA, held_out_main, recorded_noise  # noqa: E402

KINDS = ("ma", "em", "bw")
SNR_DB = 6.0


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
    groups = {"clean": lambda s: s.name == s.record, "training_noisy": lambda s: "+" in s.name,
              **{f"{k}_{SNR_DB:.0f}dB_bursts": (lambda s, k=k: s.name.endswith(f"@{k}{SNR_DB:.0f}"))
                 for k in KINDS}}
    return held_out_main(__doc__, stressed, groups, {
        "snr_db": SNR_DB,
        "protocol": "NSTDB: clean first 5 min, then 2-min bursts every other 2 min; EC57, first 5 min "
                    "excluded, flutter not AF; fusion and settings leave-records-out (nested)"})


if __name__ == "__main__":
    sys.exit(main())
