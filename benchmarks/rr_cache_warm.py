"""Cold start of the RR stage's beat-feature cache: one process against one per core, same files.

On a fresh machine `dacl-train run` first computes the RR features of every LTAFDB and MIT-BIH beat
sequence (training.rr_cv.warm_cache). This computes them twice into empty folders, with `--workers` processes
and with one, checks that every file is equal, and prints and writes the times.

    python benchmarks/rr_cache_warm.py --json benchmarks/results/rr_cache_warm_cpu_2core.json   # ~7 min
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.headless import machine  # noqa: E402
from training.rr_cv import Corpus, warm_cache  # noqa: E402
from training.rr_data import ErrorProfile  # noqa: E402

DATA = ROOT.parent / "shared" / "data"


def same_files(a: Path, b: Path) -> bool:
    names = sorted(p.name for p in a.glob("*.npz"))
    if names != sorted(p.name for p in b.glob("*.npz")):
        return False
    for n in names:
        with np.load(a / n) as x, np.load(b / n) as y:
            if x.files != y.files or any(not np.array_equal(x[k], y[k]) for k in x.files):
                return False
    return True


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ltafdb", type=Path, default=DATA / "ltafdb")
    p.add_argument("--mitdb", type=Path, default=DATA / "mitdb")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--json")
    args = p.parse_args()
    corpus = Corpus.from_roots(args.ltafdb, args.mitdb)
    out = {"machine": machine(), "backend": "NumPy (CPU), processes",
           "records": sum(map(len, corpus.records.values()))}
    with tempfile.TemporaryDirectory() as tmp:
        for workers in (args.workers, 1):
            t = time.monotonic()
            n = warm_cache(corpus, Path(tmp) / str(workers), ErrorProfile(), workers=workers)
            out[f"workers_{workers}"] = {"files": n, "seconds": round(time.monotonic() - t, 1)}
            print(f"{workers} process(es): {n} files in {out[f'workers_{workers}']['seconds']} s", flush=True)
        out["files_equal"] = same_files(Path(tmp) / str(args.workers), Path(tmp) / "1")
    out["speedup"] = round(out["workers_1"]["seconds"] / out[f"workers_{args.workers}"]["seconds"], 2)
    print(f"speed-up {out['speedup']}x, files equal: {out['files_equal']}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
    return 0 if out["files_equal"] else 1


if __name__ == "__main__":
    sys.exit(main())
