"""A/B of the live path's inference threading on the CPU: one batch on every core, or one batch per core.

    python benchmarks/inference_workers.py --json out.json [--streams 600 1000] [--repeats 2] [--duration 30]
        [--analyze ../shared/data/mitdb/201 ../shared/data/mitdb/100]

Each run is the monitor's headless mode (`core.headless.run_headless`: WFDB replay, acquisition,
preprocessing, windowing, scheduler, engines, R-peaks, RR model, alarm) on the CinC records at x1 for
`--duration` seconds, with ONNX Runtime on the CPU in one of two set-ups, alternated run by run because
this VM's speed drifts:
- "one_batch_all_cores": one inference thread, sessions with one thread per core (the code before);
- "one_batch_per_core": one inference thread per core, single-threaded sessions
  (`load_model(..., batch_per_core=True)`, the default now).
Before the runs, the engines alone on batches of 64 in both set-ups (the reference: what an ideal
scheduler would reach). Prints and writes windows/s, dropped windows, latency and CPU per run.
With `--analyze`, also whole-record analysis (`core.analyze.analyze_record`, back-pressure, nothing
dropped) of those records in both set-ups, as x real time, and whether both give the same AF episodes.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.streams import raw_throughput  # noqa: E402  (engines alone from parallel_callers threads)
from core.headless import machine, run_headless  # noqa: E402
from core.scheduler_config import SchedulerConfig  # noqa: E402
from core.scheduler_model import load_model  # noqa: E402

SETUPS = {"one_batch_all_cores": False, "one_batch_per_core": True}


def analyze_ab(models: dict, paths: list[str], repeats: int) -> dict:
    """Whole-record analysis of `paths` in each set-up, alternated: x real time per run, same episodes."""
    from core.analyze import analysis_config, analyze_record
    from core.records import open_record

    records = [open_record(p) for p in paths]
    seconds = sum(r.duration_s for r in records)
    runs, episodes = [], {}
    for rep in range(repeats):
        for name in (list(SETUPS) if rep % 2 == 0 else list(reversed(SETUPS))):
            m = models[name]
            t0 = time.perf_counter()
            analyses = [analyze_record(r, m, config=analysis_config(m)) for r in records]
            found = [[(e.onset_s, e.offset_s) for e in a.episodes()] for a in analyses]
            wall = time.perf_counter() - t0
            episodes[name] = found
            runs.append({"setup": name, "repeat": rep, "wall_s": round(wall, 2),
                         "x_real_time": round(seconds / wall, 1)})
            print(f"analyze {len(records)} records, {name}: {wall:.2f} s, {seconds / wall:.0f}x real time",
                  flush=True)
    same = len({repr(v) for v in episodes.values()}) == 1
    return {"records": paths, "signal_s": seconds, "runs": runs, "same_episodes": same}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=str(ROOT / "engines" / "default"))
    ap.add_argument("--records", default=str(ROOT.parent / "shared" / "data" / "cinc2017"))
    ap.add_argument("--streams", type=int, nargs="*", default=[600, 1000], help="none: analyze only")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--duration", type=float, default=30.0)
    ap.add_argument("--analyze", nargs="*", default=[], help="records for the whole-record A/B")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    models = {name: load_model(args.model, "onnxruntime-cpu", batch_per_core=flag)
              for name, flag in SETUPS.items()}
    out = {"machine": {**machine(), "note": "2-core VM, ONNX Runtime CPU, shipped bundle"},
           "command": " ".join(["python", "benchmarks/inference_workers.py", *(argv or sys.argv[1:])]),
           "setups": {name: {"workers": m.parallel_callers,
                             "threads_per_session": m.pipeline.info()["stages"][0]["threads"]}
                      for name, m in models.items()},
           "engines_only_windows_per_s": {name: [] for name in SETUPS}, "runs": []}
    for _ in range(2):
        for name, m in models.items():
            rate = raw_throughput(m, 64)
            out["engines_only_windows_per_s"][name].append(round(rate, 1))
            print(f"engines only, {name}: {rate:.0f} windows/s", flush=True)
    for n in args.streams:
        for rep in range(args.repeats):
            order = list(SETUPS) if rep % 2 == 0 else list(reversed(SETUPS))
            for name in order:
                m = models[name]
                r = run_headless(args.records, m, streams=n, duration=args.duration,
                                 config=SchedulerConfig.for_model(m))
                row = {"setup": name, "streams": n, "repeat": rep, "windows": r["windows"],
                       "dropped": r["dropped"], "windows_per_s": round(r["windows_per_s_after_first"], 1),
                       "latency_ms": {k: round(v, 1) for k, v in r["latency_ms"].items()},
                       "cpu_percent": round(r["cpu_percent"], 1)}
                out["runs"].append(row)
                lat = row["latency_ms"]
                print(f"{n} streams, {name}: {row['windows_per_s']:.0f} windows/s, {row['dropped']} dropped, "
                      f"p50 {lat['p50']:.0f} ms, p99 {lat['p99']:.0f} ms, CPU {row['cpu_percent']:.0f} %",
                      flush=True)
    out["analyze"] = analyze_ab(models, args.analyze, args.repeats) if args.analyze else None
    for m in models.values():
        m.close()
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    raise SystemExit(main())
