"""AF on short recordings from "another device": Holter excerpts of 1 to 15 minutes, other rates, both leads.

The hidden other-device check scores whole recordings of 1 to 17 minutes (leads I/II at 200 Hz, atrial
flutter counted as AF, nothing excluded). This is its nearest stand-in on shared data: every shared
MIT-BIH record is cut into consecutive excerpts of 1, 2, 4, 8 and 15 minutes (30 minutes in all), each
lead on its own, resampled to another rate before the monitor's own resampling, and analysed by the live
path (`core.analyze.analyze_record`). Each excerpt is scored whole (EC57 measures, no learning period,
flutter as AF); the LTAFDB excerpt in wfdb-samples (128 Hz, 5 minutes) is scored the same way.

The shipped alarm and RR model were fitted on these records (MLII), so the figures are in-sample for
them; what this measures honestly is how the first minute of a recording, before the RR model has 64
beats, and the excerpt's length move the figures.

    python benchmarks/short_records.py --rates 200 --json short.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core import ec57  # noqa: E402
from core.analyze import AF, analysis_config, analyze_record, read_start_with_first_decision  # noqa: E402
from core.headless import machine  # noqa: E402
from core.preprocess import resample_ratio  # noqa: E402
from core.records import EcgRecord, open_record  # noqa: E402

LENGTHS_MIN = (1, 2, 4, 8, 15)
DATA = ROOT.parent / "shared" / "data"


def resampled(x: np.ndarray, fs: float, rate: float) -> np.ndarray:
    """x at `rate` (polyphase, scipy.signal.resample_poly)."""
    return x if rate == fs else resample_poly(x, *resample_ratio(fs, rate))


def excerpts(rec: EcgRecord, lengths_min, rate: float, flutter_as_af: bool = True):
    """(EcgRecord at `rate`, reference AF intervals at `rate`) for consecutive excerpts of `rec`."""
    ann = rec.annotations
    ref = ec57.af_reference(ann.sample, ann.symbol, ann.aux_note, rec.n_samples, flutter_as_af)
    start = 0
    for minutes in lengths_min:
        stop = start + round(minutes * 60 * rec.fs)
        if stop > rec.n_samples:
            break
        x = resampled(rec.signal[start:stop], rec.fs, rate)
        scale = rate / rec.fs
        part = [(round((a - start) * scale), round((b - start) * scale))
                for a, b in ec57.clip(ref, start, stop)]
        name = f"{rec.name}_{rec.lead}_{minutes}min_{rate:g}Hz"
        yield dataclasses.replace(rec, name=name, fs=float(rate), signal=x, annotations=None), part, minutes
        start = stop


VARIANTS = ("live", "read_start")


def run(model, records: list[tuple[Path, int]], rates, lengths_min, log=print) -> list[dict]:
    """One row per excerpt and variant: its lead, rate, length and EC57 counts against the reference.

    Variants from one analysis: "live" (the windows before the RR model's first decision read by the
    window alone, as the live monitor does) and "read_start" (analyze's default: they take that decision).
    """
    rows = []
    config = analysis_config(model)
    for path, lead in records:
        rec = open_record(path, lead=lead)
        for rate in rates:
            for ex, ref, minutes in excerpts(rec, lengths_min, rate):
                a = analyze_record(ex, model, config=config, read_start=False)
                for variant in VARIANTS:
                    b = a
                    if variant == "read_start" and model.alarm is not None:  # (an alarm needs the RR model)
                        start = read_start_with_first_decision(
                            model.alarm, a.probs, a.rr_probs, a.alarm_probs, a.end_index, False,
                            a.episode_settings)
                        if start is not None:
                            b = dataclasses.replace(a, events=start[2])
                    det = [(e.onset_sample, e.offset_sample) for e in b.episodes(AF)]
                    s = ec57.score_record(ex.name, ref, det, ex.n_samples, ex.fs, learning_s=0.0)
                    rows.append({"excerpt": ex.name, "variant": variant, "record": rec.name, "lead": rec.lead,
                                 "rate": rate, "minutes": minutes, "dropped": a.dropped,
                                 **dataclasses.asdict(s)})
        log(f"{path.name} lead {rec.lead}: {len(rows)} rows so far")
    return rows


def gross(rows: list[dict]) -> dict:
    return ec57.gross([ec57.RecordScore(**{k: r[k] for k in
                                           (f.name for f in dataclasses.fields(ec57.RecordScore))})
                       for r in rows])


def tables(rows: list[dict]) -> dict:
    """Per variant: gross measures over all excerpts, and by lead, rate and length."""
    out = {}
    for variant in VARIANTS:
        part = [r for r in rows if r["variant"] == variant]
        out[f"{variant}"] = gross(part)
        for key in ("lead", "rate", "minutes"):
            for v in sorted({r[key] for r in part}, key=str):
                out[f"{variant} {key}={v}"] = gross([r for r in part if r[key] == v])
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(DATA / "mitdb"))
    p.add_argument("--records", help="comma-separated MIT-BIH record names (default: all in --data)")
    p.add_argument("--leads", default="0,1", help="signal indices to analyse, each on its own")
    p.add_argument("--rates", default="200", help="comma-separated rates in Hz to resample to first")
    p.add_argument("--model", default=str(ROOT / "engines" / "default"))
    p.add_argument("--engine", default="onnxruntime")
    p.add_argument("--json")
    args = p.parse_args()

    from core.scheduler_model import load_model

    data = Path(args.data)
    names = args.records.split(",") if args.records else sorted(h.stem for h in data.glob("*.hea"))
    leads = [int(v) for v in args.leads.split(",")]
    rates = [float(v) for v in args.rates.split(",")]
    model = load_model(args.model, args.engine)
    t0 = time.monotonic()
    rows = run(model, [(data / n, lead) for n in names for lead in leads], rates, LENGTHS_MIN,
               lambda s: print(s, file=sys.stderr))
    ltaf = DATA / "wfdb-samples" / "ltafdb74_s114999"
    if ltaf.with_suffix(".hea").is_file():
        rows += run(model, [(ltaf, 0)], [128.0], (5,), lambda s: print(s, file=sys.stderr))
    model.close()
    result = {"model": args.model, "backend": args.engine, "machine": machine(),
              "lengths_min": list(LENGTHS_MIN), "rates": rates, "leads": leads, "flutter_as_af": True,
              "learning_s": 0.0, "wall_s": round(time.monotonic() - t0, 1), "gross": tables(rows),
              "excerpts": rows}
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    keys = ("duration_se", "duration_ppv", "episode_ppv", "false_alarms_per_hour", "records")
    print("| excerpts | " + " | ".join(keys) + " |")
    for label, g in result["gross"].items():
        print(f"| {label} | " + " | ".join("—" if g[k] is None else f"{g[k]:.3f}" if isinstance(g[k], float)
                                           else str(g[k]) for k in keys) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
