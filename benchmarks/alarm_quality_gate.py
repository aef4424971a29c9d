"""Would a beat-quality gate keep noise from raising AF alarms? (tried for issue 24, not shipped)

Noise makes false beats, false beats look irregular, and the RR model calls them AF while the window's
class often still reads Normal. The gate: each window's beat-template quality (the mean correlation of
its detected beats, ±100 ms, with their median beat), averaged over the stream's last K windows; where
that average is below a threshold the episode detector holds its state (the window neither starts, ends
nor is smoothed into an episode), so unreadable stretches read as "signal quality" rather than a rhythm.

Reads the analyses `benchmarks/alarm_noise.py --save DIR` wrote (MLII clean, the alarm stage's noisy copy,
and the stress test's 6 dB bursts of ma / em / bw), recomputes each window's quality from the same
signals, fits the alarm leave-records-out as the stage does (clean + noisy copies), and chooses the
threshold (none, 0.5, 0.6, 0.7) with the episode settings per fold by the stage's smoothed objective on
the training analyses (nested); fixed thresholds are reported beside it.

    python benchmarks/alarm_noise.py --save /tmp/alarm_windows
    python benchmarks/alarm_quality_gate.py /tmp/alarm_windows --json alarm_quality_gate.json   # ~3 min
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

from benchmarks.alarm_leads import DATA, recorded_noise  # noqa: E402
from benchmarks.alarm_noise import stressed_record  # noqa: E402
from core import ec57  # noqa: E402
from core.headless import machine  # noqa: E402
from training.alarm_fusion import INPUTS, AlarmWindows, load_windows, noisy_copy, out_of_fold  # noqa: E402
from training.rhythm_head import GRID, StreamWindows, neighbours, objective, record_scores  # noqa: E402

HALF_S = 0.1  # each beat's segment: ±100 ms around its R peak
THRESHOLDS = {"median": (None, 0.5, 0.6, 0.7), "best": (None, 0.8, 0.85, 0.9)}
GROUPS = {"clean": lambda n: "+" not in n and "@" not in n, "training_noisy": lambda n: "+" in n,
          **{f"{k}_6dB_bursts": (lambda n, k=k: n.endswith(f"@{k}6")) for k in ("ma", "em", "bw")}}


def template_quality(x: np.ndarray, peaks: np.ndarray, fs: float, measure: str = "median") -> float:
    """How alike the window's beats are; 0 with fewer than 3 whole beats.

    "median": mean correlation of each beat with the median beat; "best": mean over beats of the best
    correlation with any other beat of the window (a morphology seen twice, e.g. ectopic beats, counts).
    """
    h = round(HALF_S * fs)
    peaks = peaks[(peaks >= h) & (peaks < x.size - h)]
    if peaks.size < 3:
        return 0.0
    seg = np.stack([x[p - h : p + h] for p in peaks])
    seg -= seg.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(seg, axis=1)
    if measure == "median":
        t = np.median(seg, axis=0)
        return float(np.mean(seg @ t / (norms * np.linalg.norm(t) + 1e-12)))
    seg /= norms[:, None] + 1e-12
    c = seg @ seg.T
    np.fill_diagonal(c, -1.0)
    return float(np.mean(c.max(axis=1)))


def window_quality(a: AlarmWindows, window: int, fs_model: float, seed: int, measure: str) -> np.ndarray:
    """Each analysed window's template quality, from the signal the analysis was made of."""
    from core.heart_rate import HeartRateEstimator
    from core.preprocess import preprocess_record
    from core.records import open_record

    rec = open_record(DATA / "mitdb" / a.record)
    if "@" in a.name:
        rec = stressed_record(rec, a.name.split("@")[1][:2])
    elif "+" in a.name:
        rec, name = noisy_copy(rec, recorded_noise(), seed)
        if name != a.name:
            raise SystemExit(f"{a.name}: not the stage's seed-{seed} noisy copy ({name}); pass --seed")
    y, _ = preprocess_record(rec.signal, rec.fs)
    detector = HeartRateEstimator(fs_model)
    windows = (y[e - window : e] for e in a.ends)
    return np.array([template_quality(w, detector.r_peaks(w), fs_model, measure) for w in windows])


def trailing_mean(q: np.ndarray, k: int) -> np.ndarray:
    c = np.cumsum(np.r_[0.0, q])
    i = np.arange(q.size)
    lo = np.maximum(0, i - k + 1)
    return (c[i + 1] - c[lo]) / (i + 1 - lo)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("windows", type=Path, help="the folder `alarm_noise.py --save` wrote")
    p.add_argument("--model", default=str(ROOT / "engines" / "default"))
    p.add_argument("--average", type=int, default=10, help="windows the quality is averaged over (K)")
    p.add_argument("--seed", type=int, default=0, help="the seed alarm_noise.py drew the noisy copies with")
    p.add_argument("--measure", choices=sorted(THRESHOLDS), default="median", help="template_quality's")
    p.add_argument("--json")
    args = p.parse_args()
    t0 = time.monotonic()
    manifest = json.loads((Path(args.model) / "manifest.json").read_text())
    folds = manifest["alarm"]["training"]["folds"]
    window, hop, fs = manifest["window"], manifest["hop"], float(manifest["fs"])
    sets = load_windows(args.windows)
    train = [s for s in sets if "@" not in s.name]  # what the stage fits on: clean + its noisy copies
    quality = {}
    for i, s in enumerate(sets):
        quality[s.name] = trailing_mean(window_quality(s, window, fs, args.seed, args.measure),
                                        args.average)
        print(f"quality {i + 1}/{len(sets)}: {s.name}", file=sys.stderr)
    oof, _, holters = out_of_fold(sets, folds, INPUTS, lambda s: "@" not in s.name)
    views = {}  # threshold → (probs, streams) with the held windows left out
    thresholds = THRESHOLDS[args.measure]
    for tau in thresholds:
        probs, streams = {}, {}
        for s in sets:
            keep = np.ones(len(s.ends), bool) if tau is None else quality[s.name] >= tau
            keep = keep if keep.any() else np.ones_like(keep)
            probs[s.name] = oof[s.name][keep]
            streams[s.name] = StreamWindows(s.name, s.ends[keep], None, None, None, s.labels[keep])
        views[tau] = (probs, streams)
    cache: dict = {}

    def value(tau, names, st):
        key = (tau, tuple(names), st)
        if key not in cache:
            probs, streams = views[tau]
            scores = record_scores(probs, streams, holters, names, st, window, hop, fs)
            cache[key] = objective(ec57.gross(scores))
        return cache[key]

    def smoothed(tau, names, st):
        near = neighbours(st)
        return sum(value(tau, names, g) for g in near) / len(near)

    result = {"model": args.model, "measure": args.measure, "average_windows": args.average,
              "machine": machine(), "rows": {}}
    for label, taus in [("nested: threshold chosen per fold", thresholds)] + [
            (f"threshold {t} fixed", (t,)) for t in thresholds]:
        held = {g: [] for g in GROUPS}
        choices = []
        for fold in folds:
            rest = [s.name for s in train if s.record not in fold]
            tau, st = max(((t, g) for t in taus for g in GRID), key=lambda c, r=rest: smoothed(c[0], r, c[1]))
            choices.append([tau, st.on, st.off, st.k_on, st.smooth])
            probs, streams = views[tau]
            for g, member in GROUPS.items():
                names = [s.name for s in sets if s.record in fold and member(s.name)]
                held[g] += record_scores(probs, streams, holters, names, st, window, hop, fs)
        row = {"fold_choices": choices, **{g: ec57.gross(v) for g, v in held.items()}}
        result["rows"][label] = row
        print(f"{label}: folds chose [threshold, on, off, runs, smoothing] {choices}")
        for g in GROUPS:
            r = row[g]
            print(f"  {g:18s} duration Se {r['duration_se']:.3f}  +P {r['duration_ppv']:.3f}  "
                  f"false alarms/h {r['false_alarms_per_hour']:.2f}")
    result["wall_s"] = round(time.monotonic() - t0, 1)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1, default=float) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
