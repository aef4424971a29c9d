"""Engine speed: windows/s and p50/p99 latency of scattering + encoder per available backend and batch size.

    python benchmarks/engines.py [--model BUNDLE] [--json FILE] [--batches 1,8,64,512] [--seconds 1.0]

Every backend that can run here is measured on the same real windows (CinC 2017 if present, else the
bundle's demo windows, else normalised noise, which costs the same). On a CUDA machine PyTorch is
measured with and without CUDA graphs. Latency is one engine call (host array in, host arrays out).
The PyTorch CPU numbers are the in-run reference each row's speed-up is computed against.
Targets (issue 4): ONNX Runtime CPU >= 500 windows/s at batch 64; PyTorch CUDA graphs <= 1 ms at batch 1.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engines import backend_onnxruntime, backend_tensorrt, backend_torch  # noqa: E402
from engines.base import Engine  # noqa: E402
from engines.bundle import Bundle, load_bundle  # noqa: E402
from training.reference_windows import load_windows  # noqa: E402

log = logging.getLogger("benchmarks.engines")
TARGETS = {"onnxruntime-cpu": ("windows_per_s", 64, ">=", 500.0),
           "torch-cuda-graphs": ("p50_ms", 1, "<=", 1.0)}


def machine() -> dict:
    import torch

    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")),
               platform.processor())
    info = {"host": platform.node(), "platform": platform.platform(), "python": platform.python_version(),
            "cpu": cpu, "cpu_count": os.cpu_count(), "load_avg_1m": os.getloadavg()[0],
            "torch": torch.__version__,
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
    try:
        import onnxruntime

        info["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        info["onnxruntime"] = None
    return info


def variants(bundle: Bundle, threads: int) -> tuple[dict, dict]:
    """Label -> factory for every backend variant that can run here, and label -> reason for the rest."""
    found, skipped = {}, {}
    for device in ("cpu", "cuda"):
        label = f"onnxruntime-{device}"
        if reason := backend_onnxruntime.unavailable_reason(device):
            skipped[label] = reason
        else:
            found[label] = lambda d=device: backend_onnxruntime.onnxruntime_pipeline(bundle, d, threads)
    found["torch-cpu"] = lambda: backend_torch.TorchEngine(bundle, "pair", "cpu")
    if reason := backend_torch.unavailable_reason("cuda"):
        skipped["torch-cuda"] = skipped["torch-cuda-graphs"] = reason
    else:
        for label, graphs in (("torch-cuda", False), ("torch-cuda-graphs", True)):
            found[label] = lambda g=graphs: backend_torch.TorchEngine(bundle, "pair", "cuda", cuda_graphs=g)
    for precision in ("fp16", "fp32"):
        label = f"tensorrt-{precision}"
        if reason := backend_tensorrt.unavailable_reason(precision):
            skipped[label] = reason
        else:
            found[label] = lambda p=precision: backend_tensorrt.tensorrt_pipeline(bundle, p)
    return found, skipped


def measure(engine: Engine, windows: np.ndarray, batch: int, seconds: float) -> dict:
    """Time repeated engine calls on one batch for about ``seconds`` (at least 3 calls)."""
    x = np.ascontiguousarray(np.resize(windows, (batch, windows.shape[1])))
    for _ in range(2):
        engine.run(x)  # warm-up: lazy init, CUDA graph capture
    latencies = []
    start = time.perf_counter()
    while len(latencies) < 3 or (time.perf_counter() - start < seconds and len(latencies) < 5000):
        t0 = time.perf_counter()
        engine.run(x)
        latencies.append(time.perf_counter() - t0)
    lat = np.array(latencies) * 1e3
    return {"batch": batch, "calls": len(lat), "windows_per_s": float(batch * len(lat) / (lat.sum() / 1e3)),
            "p50_ms": float(np.percentile(lat, 50)), "p99_ms": float(np.percentile(lat, 99)),
            "mean_ms": float(lat.mean())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=ROOT / "engines" / "default", help="bundle folder")
    parser.add_argument("--json", type=Path, help="write results here")
    parser.add_argument("--batches", default="1,8,64,512")
    parser.add_argument("--seconds", type=float, default=1.0, help="time per backend and batch size")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="CPU threads per backend")
    parser.add_argument("--only", default="", help="comma-separated labels to run (default: all available)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    import torch
    from rich.console import Console
    from rich.table import Table

    torch.set_num_threads(args.threads)
    if not (args.model / "manifest.json").is_file():
        print(f"no bundle at {args.model}: pass --model BUNDLE (a folder written by write_bundle)")
        return 2
    bundle = load_bundle(args.model)
    batches = [int(b) for b in args.batches.split(",")]
    try:
        windows, source = load_windows(bundle, max(batches))
    except FileNotFoundError:
        rng = np.random.default_rng(0)
        windows, source = rng.standard_normal((max(batches), bundle.window)).astype(np.float32), "noise"
    found, skipped = variants(bundle, args.threads)
    if args.only:
        found = {k: v for k, v in found.items() if k in args.only.split(",")}
    rows = []
    console = Console()
    for label, factory in found.items():
        engine = factory()
        for batch in batches:
            row = {"backend": label, **measure(engine, windows, batch, args.seconds)}
            rows.append(row)
            console.print(f"{label:18s} batch {batch:4d}: {row['windows_per_s']:10.1f} windows/s, "
                          f"p50 {row['p50_ms']:.3f} ms, p99 {row['p99_ms']:.3f} ms", highlight=False)
        engine.close()
    ref = {r["batch"]: r["windows_per_s"] for r in rows if r["backend"] == "torch-cpu"}
    for r in rows:
        r["speedup_vs_torch_cpu"] = r["windows_per_s"] / ref[r["batch"]] if r["batch"] in ref else None
    targets = []
    for label, (metric, batch, op, bound) in TARGETS.items():
        hit = next((r for r in rows if r["backend"] == label and r["batch"] == batch), None)
        value = None if hit is None else hit[metric]
        ok = None if value is None else bool(value >= bound if op == ">=" else value <= bound)
        targets.append({"backend": label, "batch": batch, "metric": metric, "target": f"{op} {bound}",
                        "value": value, "met": ok})
    table = Table(title=f"engines: {bundle.path.name}, windows from {source}")
    for col in ("backend", "batch", "windows/s", "p50 ms", "p99 ms", "x torch-cpu"):
        table.add_column(col, justify="left" if col == "backend" else "right", no_wrap=True)
    for r in rows:
        speed = f"{r['speedup_vs_torch_cpu']:.1f}" if r["speedup_vs_torch_cpu"] else "-"
        table.add_row(r["backend"], str(r["batch"]), f"{r['windows_per_s']:,.0f}", f"{r['p50_ms']:.3f}",
                      f"{r['p99_ms']:.3f}", speed)
    console.print(table)
    for t in targets:
        value = "not measured" if t["value"] is None else f"{t['value']:.3f}"
        verdict = "n/a" if t["met"] is None else ("MET" if t["met"] else "MISSED")
        console.print(f"target {t['backend']} batch {t['batch']} {t['metric']} {t['target']}: "
                      f"{value} -> {verdict}", highlight=False)
    for label, reason in skipped.items():
        console.print(f"skipped {label}: {reason}", highlight=False, markup=False)
    result = {"benchmark": "engines", "machine": machine(), "bundle": str(bundle.path),
              "bundle_scattering_sha256": bundle.sha256("scattering.onnx"), "windows": source,
              "threads": args.threads, "seconds_per_point": args.seconds, "rows": rows,
              "targets": targets, "skipped": skipped}
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
        console.print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
