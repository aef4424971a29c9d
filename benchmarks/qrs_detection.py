"""Score the monitor's R-peak detector against MIT-BIH reference beats the EC57 way, beside wfdb's XQRS.

For each record: the monitor's beats (core.record_beats.detector_beats: the live path's preprocessing,
windows and tracker; the same beats `analyze` writes to `<record>.beats`) and XQRS on the same lead,
each compared with the reference beats of `.atr` by `wfdb.processing.compare_annotations` with a 150 ms
matching window, the first 5 minutes excluded. Gross sensitivity and positive predictivity add the counts
of all records. Also the detector's error profile (miss and extra rates, timing error of matched beats),
which training/rr_data.py uses to train the RR model on beats like the monitor's.

    python benchmarks/qrs_detection.py --data ../shared/data/mitdb \
        --json benchmarks/results/qrs_detection.json
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.record_beats import detector_beats  # noqa: E402
from core.records import list_records, open_record  # noqa: E402
from core.rr_irregularity import BEAT_SYMBOLS  # noqa: E402

LEARNING_S = 300.0
MATCH_S = 0.150


def vf_intervals(samples: np.ndarray, symbols) -> list[tuple[int, int]]:
    """Ventricular flutter / fibrillation episodes: from each '[' to the next ']' (EC57 does not score QRS
    detection inside them: the reference marks flutter waves '!', not beats)."""
    out, start = [], None
    for s, sym in zip(samples, symbols, strict=True):
        if sym == "[":
            start = int(s)
        elif sym == "]" and start is not None:
            out.append((start, int(s)))
            start = None
    return out


def score(ref: np.ndarray, test: np.ndarray, fs: float, exclude: list[tuple[int, int]] = ()) -> dict:
    """EC57 beat-by-beat comparison after the learning period, outside `exclude`: counts, timing errors."""
    from wfdb.processing import compare_annotations

    start = round(LEARNING_S * fs)
    ref, test = ref[ref >= start], test[test >= start]
    for a, b in exclude:
        ref, test = ref[(ref < a) | (ref > b)], test[(test < a) | (test > b)]
    c = compare_annotations(ref, test, round(MATCH_S * fs))
    err = (test[c.matched_test_inds] - ref[c.matched_ref_inds]) / fs
    return {"ref": int(c.n_ref), "tp": int(c.tp), "fn": int(c.fn), "fp": int(c.fp),
            "se": c.tp / max(1, c.n_ref), "ppv": c.tp / max(1, c.tp + c.fp),
            "err_mean_ms": float(np.mean(err) * 1000) if len(err) else None,
            "err_sd_ms": float(np.std(err) * 1000) if len(err) else None}


def gross(rows: list[dict]) -> dict:
    tp, fn, fp = (sum(r[k] for r in rows) for k in ("tp", "fn", "fp"))
    return {"tp": tp, "fn": fn, "fp": fp, "se": tp / max(1, tp + fn), "ppv": tp / max(1, tp + fp),
            "miss_rate": fn / max(1, tp + fn), "extra_rate": fp / max(1, tp + fn)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="../shared/data/mitdb")
    ap.add_argument("--records", nargs="*", help="record names (default: the folder's RECORDS)")
    ap.add_argument("--no-xqrs", action="store_true", help="skip wfdb's XQRS (about 10 s per record)")
    ap.add_argument("--lead", default=None, help="lead name or index (default: MLII, II, ECG, else first)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    lead = int(args.lead) if args.lead is not None and args.lead.isdigit() else args.lead
    logging.basicConfig(level=logging.WARNING)
    from tqdm import tqdm
    from wfdb import processing

    names = args.records or [Path(p).name for p in list_records(args.data)]
    rows = []
    t_monitor = t_xqrs = 0.0
    for name in tqdm(names, desc="records", unit="rec"):
        rec = open_record(Path(args.data) / name, lead=lead)
        ref = np.array([s for s, sym in zip(rec.annotations.sample, rec.annotations.symbol, strict=True)
                        if sym in BEAT_SYMBOLS], dtype=np.int64)
        t = time.perf_counter()
        beats = detector_beats(rec.signal, rec.fs)
        t_monitor += time.perf_counter() - t
        vf = vf_intervals(rec.annotations.sample, rec.annotations.symbol)
        row = {"record": name, "lead": rec.lead, "vf_excluded_s": sum(b - a for a, b in vf) / rec.fs,
               "monitor": score(ref, beats, rec.fs, vf)}
        if not args.no_xqrs:
            t = time.perf_counter()
            x = processing.XQRS(np.nan_to_num(rec.signal), rec.fs)
            x.detect(verbose=False)
            t_xqrs += time.perf_counter() - t
            row["xqrs"] = score(ref, np.asarray(x.qrs_inds, dtype=np.int64), rec.fs, vf)
        rows.append(row)
    out = {"machine": platform.node(), "processor": platform.processor() or platform.machine(),
           "data": str(args.data), "records": len(rows), "learning_s": LEARNING_S, "match_s": MATCH_S,
           "monitor": gross([r["monitor"] for r in rows]), "monitor_seconds": round(t_monitor, 2)}
    errs = [r["monitor"] for r in rows if r["monitor"]["err_sd_ms"] is not None]
    tps = [e["tp"] for e in errs]
    out["monitor"]["err_mean_ms"] = float(np.average([e["err_mean_ms"] for e in errs], weights=tps))
    out["monitor"]["err_sd_ms"] = float(np.sqrt(np.average([e["err_sd_ms"] ** 2 for e in errs],
                                                           weights=tps)))
    if not args.no_xqrs:
        out["xqrs"] = gross([r["xqrs"] for r in rows])
        out["xqrs_seconds"] = round(t_xqrs, 2)
    out["rows"] = rows
    print(f"{'record':>8} {'mon Se':>8} {'mon +P':>8} {'fn':>5} {'fp':>5}" + ("" if args.no_xqrs else
          f" {'XQRS Se':>8} {'XQRS +P':>8} {'fn':>5} {'fp':>5}"))
    for r in rows:
        m = r["monitor"]
        line = f"{r['record']:>8} {m['se']:8.4f} {m['ppv']:8.4f} {m['fn']:5d} {m['fp']:5d}"
        if "xqrs" in r:
            x = r["xqrs"]
            line += f" {x['se']:8.4f} {x['ppv']:8.4f} {x['fn']:5d} {x['fp']:5d}"
        print(line)
    m = out["monitor"]
    print(f"monitor: Se {m['se']:.4f} +P {m['ppv']:.4f} (fn {m['fn']}, fp {m['fp']}), timing "
          f"{m['err_mean_ms']:+.1f} ± {m['err_sd_ms']:.1f} ms, {out['monitor_seconds']} s")
    if "xqrs" in out:
        x = out["xqrs"]
        print(f"XQRS:    Se {x['se']:.4f} +P {x['ppv']:.4f} (fn {x['fn']}, fp {x['fp']}), "
              f"{out['xqrs_seconds']} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
