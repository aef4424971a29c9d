"""AF episode detection on annotated records, scored by the EC57 rules (core.ec57), with an RR anchor.

Runs `dacl-monitor analyze` (app.analyze.analyze_paths, the same code) on every record of a folder,
reads the rhythm annotations it wrote back with `wfdb.rdann`, and scores them against the records'
reference rhythm annotations ('atr'): episode Se / +P, Se over episodes ≥ 30 s, duration Se / +P, per
record and gross, the first 5 min of each record excluded, and false AF alarms per hour on the records
without AF. In the same run the anchor, a textbook RR-irregularity detector (core.rr_irregularity, Dash
et al. 2009) on the records' reference beat annotations, is scored the same way. Atrial flutter counts
as not-AF unless --flutter-as-af.

    python benchmarks/af_episodes.py --data ../shared/data/mitdb --out /tmp/af --json af.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import wfdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.analyze import DEFAULT_MODEL, analyze_paths  # noqa: E402
from app.args import parse_lead  # noqa: E402
from core import ec57  # noqa: E402
from core.rr_irregularity import beat_samples, rr_af_intervals  # noqa: E402

MEASURES = ("episode_se", "episode_se_30s", "episode_ppv", "duration_se", "duration_ppv")


def detected_intervals(ann_path: Path, extension: str, n_samples: int) -> list[tuple[int, int]]:
    """AF intervals of an annotation file written by analyze ('+' with '(AFIB' / '(N')."""
    ann = wfdb.rdann(str(ann_path), extension)
    return ec57.rhythm_intervals(ann.sample, ann.symbol, ann.aux_note, n_samples)


def score_records(paths: list[Path], out: Path, model, extension: str = "dacl", flutter_as_af: bool = False,
                  learning_s: float = ec57.LEARNING_S, report: bool = False,
                  lead: str | int | None = None) -> dict:
    """Analyse and score records (each with reference 'atr' annotations beside it); return the JSON."""
    by_name = {p.name: p for p in paths}
    t0 = time.monotonic()
    run = analyze_paths(list(paths), out, model, lead=lead, extension=extension, report=report,
                        on_record=lambda name, i, n: print(f"[{i + 1}/{n}] {name}", file=sys.stderr))
    wall = time.monotonic() - t0
    model_scores, anchor_scores, rows = [], [], []
    for summary in run["records"]:
        name, n, fs = summary["record"], summary["samples"], summary["fs"]
        atr = wfdb.rdann(str(by_name[name]), "atr")
        reference = ec57.af_reference(atr.sample, atr.symbol, atr.aux_note, n, flutter_as_af)
        detected = detected_intervals(out / name, extension, n)
        anchor = rr_af_intervals(beat_samples(atr.sample, atr.symbol), fs)
        m = ec57.score_record(name, reference, detected, n, fs, learning_s)
        a = ec57.score_record(name, reference, anchor, n, fs, learning_s)
        model_scores.append(m)
        anchor_scores.append(a)
        rows.append({"record": name, "x_real_time": summary["x_real_time"], "windows": summary["windows"],
                     "dropped": summary["dropped"], "model": ec57.score_table([m])[0],
                     "anchor": ec57.score_table([a])[0]})
    return {
        "records_scored": [str(p) for p in paths],
        "backend": model.backend,
        "flutter_as_af": flutter_as_af,
        "lead": "default (II, MLII, ECG, else the first)" if lead is None else lead,
        "learning_s": learning_s,
        "gross": {"model": ec57.gross(model_scores), "anchor_rr_dash2009": ec57.gross(anchor_scores)},
        "records": rows,
        "skipped": run["skipped"],
        "analyze_wall_s": wall,
        "windows": sum(r["windows"] for r in rows),
        "dropped": sum(r["dropped"] for r in rows),
        "machine": run["machine"],
    }


def fmt(v) -> str:
    return "—" if v is None else f"{v:.2f}"


def markdown(result: dict) -> str:
    """The README table: gross measures of the model and the anchor, and the per-record rows."""
    lines = ["| detector | episode Se | Se (≥ 30 s) | episode +P | duration Se | duration +P | "
             "false alarms / h (no-AF records) |", "|---|---|---|---|---|---|---|"]
    for label, key in (("DACL model (analyze)", "model"), ("RR irregularity (Dash 2009, reference beats)",
                                                           "anchor_rr_dash2009")):
        g = result["gross"][key]
        lines.append(f"| {label} | " + " | ".join(fmt(g[m]) for m in MEASURES)
                     + f" | {fmt(g['false_alarms_per_hour'])} ({g['false_alarms']}) |")
    lines += ["", "| record | ref episodes | model: det, Se, +P, dur Se, dur +P "
              "| anchor: det, dur Se, dur +P |",
              "|---|---|---|---|"]
    for r in result["records"]:
        m, a = r["model"], r["anchor"]
        lines.append(f"| {r['record']} | {m['ref_episodes']} | {m['det_episodes']}, {fmt(m['episode_se'])}, "
                     f"{fmt(m['episode_ppv'])}, {fmt(m['duration_se'])}, {fmt(m['duration_ppv'])} | "
                     f"{a['det_episodes']}, {fmt(a['duration_se'])}, {fmt(a['duration_ppv'])} |")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "mitdb"),
                   help="folder of records with reference 'atr' annotations")
    p.add_argument("--records", help="comma-separated record names in --data (default: all of them)")
    p.add_argument("--out", default="/tmp/dacl-af-episodes", help="where analyze writes its files")
    p.add_argument("--model", default=str(DEFAULT_MODEL))
    p.add_argument("--engine", default="onnxruntime")
    p.add_argument("--ext", default="dacl")
    p.add_argument("--lead", help="lead name or index (default: II, MLII, ECG, else the first signal)")
    p.add_argument("--flutter-as-af", action="store_true", help="count atrial flutter as AF in the reference")
    p.add_argument("--learning-s", type=float, default=ec57.LEARNING_S)
    p.add_argument("--report", action="store_true", help="also draw each record's PNG report")
    p.add_argument("--json", help="write the result here")
    args = p.parse_args()

    from core.scheduler_model import load_model

    model = load_model(args.model, args.engine)
    from core.records import list_records

    paths = list_records(args.data)
    if args.records:
        wanted = args.records.split(",")
        paths = [Path(args.data) / name for name in wanted]
    result = score_records(paths, Path(args.out), model, args.ext, args.flutter_as_af, args.learning_s,
                           args.report, parse_lead(args.lead))
    model.close()
    result["model"] = args.model
    text = json.dumps(result, indent=1)
    if args.json:
        Path(args.json).write_text(text + "\n")
    print(markdown(result))
    print(f"{result['windows']} windows, {result['dropped']} dropped, "
          f"analyze {result['analyze_wall_s']:.0f} s "
          f"on {result['backend']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
