"""How fast `dacl-monitor analyze` goes through a whole record, against the engine alone in the same run.

For each record: the wall time of `core.analyze.analyze_record` (replay flat out → preprocessing → ring →
windows → batched engines + heart rate → episode detector, back-pressure, nothing dropped), as × real
time; and, as the reference, the time the same engine takes for the same number of windows in batches
of the scheduler's max batch (inference alone). Their ratio is the overhead of the live path.

    python benchmarks/analyze_speed.py --records ../shared/data/mitdb/201 ../shared/data/mitdb/100 \
        --engine onnxruntime --repeat 3 --json analyze_speed.json
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

from core.analyze import analysis_config, analyze_record  # noqa: E402
from core.headless import machine  # noqa: E402
from core.records import open_record  # noqa: E402
from core.scheduler_model import load_model  # noqa: E402


def engine_seconds(model, windows: int, batch: int) -> float:
    """Wall time of the model alone on `windows` random windows in batches of `batch`."""
    x = np.random.default_rng(0).standard_normal((batch, model.window)).astype(np.float32)
    t0 = time.perf_counter()
    for start in range(0, windows, batch):
        model.infer(x[: min(batch, windows - start)])
    return time.perf_counter() - t0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--records", nargs="+", default=[str(ROOT.parent / "shared" / "data" / "mitdb" / "201")])
    p.add_argument("--model", default=str(ROOT / "engines" / "default"))
    p.add_argument("--engine", default="onnxruntime")
    p.add_argument("--max-batch", type=int, default=64)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--json")
    args = p.parse_args()
    model = load_model(args.model, args.engine)
    config = analysis_config(model, args.max_batch)
    rows = []
    for path in args.records:
        record = open_record(path)
        for i in range(args.repeat):
            a = analyze_record(record, model, config=config)
            ref = engine_seconds(model, len(a), args.max_batch)
            rows.append({"record": record.name, "run": i, "duration_s": record.duration_s, "fs": record.fs,
                         "windows": len(a), "dropped": a.dropped, "wall_s": a.wall_s,
                         "x_real_time": record.duration_s / a.wall_s, "engine_only_s": ref,
                         "wall_over_engine": a.wall_s / ref})
            print(f"{record.name} run {i}: {len(a)} windows ({a.dropped} dropped) in {a.wall_s:.2f} s = "
                  f"{rows[-1]['x_real_time']:.0f}x real time; engine alone {ref:.2f} s "
                  f"(ratio {rows[-1]['wall_over_engine']:.2f})")
    result = {"benchmark": "analyze_speed", "backend": model.backend, "max_batch": args.max_batch,
              "machine": machine(), "rows": rows,
              "median_wall_s": float(np.median([r["wall_s"] for r in rows])),
              "median_x_real_time": float(np.median([r["x_real_time"] for r in rows])),
              "median_wall_over_engine": float(np.median([r["wall_over_engine"] for r in rows]))}
    model.close()
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k.startswith("median")}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
