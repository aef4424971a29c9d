"""Does the AF alarm hold on other amplifiers? Polarity, gain, band limit and baseline, on unseen patients.

Issue 24 asks the alarm to hold across devices: leads and rates (benchmarks/short_records.py,
alarm_leads.py) but also an amplifier's gain, polarity, band limit and baseline. Each shared MIT-BIH
record's MLII is analysed through the live path once per variation below, with the RR input from the RR
fold model that never saw the record. The alarm is fitted as the stage fits it (clean and one noisy copy
per record), leave-records-out with nested settings (benchmarks/alarm_leads.py), and the held-out
variations are scored by EC57 rules (first 5 minutes excluded, flutter not AF) beside the clean records:
- `inverted`: the lead upside down (an electrode pair swapped);
- `gain_x0.25`, `gain_x4`: a quarter and four times the amplitude (a 16-fold range of front-end gains);
- `lowpass_25Hz`: a causal 2nd-order Butterworth low-pass at 25 Hz (monitor-mode filtering, slurred QRS);
- `baseline_0dB`: NSTDB baseline wander added throughout at 0 dB (not in bursts).

    python benchmarks/alarm_amplifiers.py --json alarm_amplifiers.json     # ~16 min on the 2-core VM
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.alarm_leads import DATA, held_out_main, recorded_noise  # noqa: E402

LOWPASS_HZ = 25.0
BASELINE_SNR_DB = 0.0


def varied(signal: np.ndarray, fs: float, kind: str, seed: int) -> np.ndarray:
    """`signal` (mV, (n,) or (n, 1)) as another amplifier would record it."""
    from scipy.signal import butter, sosfilt

    if kind == "inverted":
        return -signal
    if kind.startswith("gain_x"):
        return signal * float(kind.removeprefix("gain_x"))
    if kind == "lowpass_25Hz":
        return sosfilt(butter(2, LOWPASS_HZ, fs=fs, output="sos"), signal, axis=0)
    if kind == "baseline_0dB":
        from training.noise import add_recorded_noise

        rng = np.random.default_rng([11, seed])
        return add_recorded_noise(signal, fs, recorded_noise()["bw"], BASELINE_SNR_DB, rng)
    raise ValueError(f"unknown variation {kind!r}")


KINDS = ("inverted", "gain_x0.25", "gain_x4", "lowpass_25Hz", "baseline_0dB")


def variations(model, name: str, rr) -> list:
    """Record `name`'s MLII through each variation of KINDS."""
    from core.records import open_record
    from training.alarm_fusion import analyse

    rec = open_record(DATA / "mitdb" / name)
    return [analyse(model, dataclasses.replace(rec, signal=varied(rec.signal, rec.fs, kind, int(name))), rr,
                    f"{name}@{kind}") for kind in KINDS]


def main() -> int:
    groups = {"clean": lambda s: s.name == s.record,
              **{kind: (lambda s, k=kind: s.name.endswith(f"@{k}")) for kind in KINDS}}
    return held_out_main(__doc__, variations, groups, {
        "lowpass_hz": LOWPASS_HZ, "baseline_snr_db": BASELINE_SNR_DB,
        "protocol": "EC57, first 5 min excluded, flutter not AF; fusion and settings leave-records-out "
                    "(nested), fitted on clean and noisy MLII only"})


if __name__ == "__main__":
    sys.exit(main())
