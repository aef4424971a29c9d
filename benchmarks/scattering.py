"""Scattering engine throughput: kymatio vs our real-matmul ScatteringTransformer, in one run.

CPU (always): kymatio's torch frontend, ours in PyTorch eager, ours in ONNX Runtime (CPU provider), at
batches 1, 64 and 1,024 with the same thread count for all. CUDA (when torch.cuda.is_available()):
kymatio on CUDA, ours eager and ours replayed from CUDA graphs (static input buffers), at batches 1, 64,
1,024 and 4,096, with TF32 off so the float32 results keep 1e-5 parity. Each point: warm-up, then the
median wall time of repeated calls (torch.cuda.synchronize() after each GPU call). Ours is the whole
exported graph (scattering and ST features); kymatio computes the scattering only. A parity check
against kymatio in float64 on the same device is recorded beside the timings.

    python benchmarks/scattering.py --json scattering.json [--quick] [--threads N]

Targets (issue 3): ONNX Runtime CPU >= 2x kymatio at batch 64; on a GPU <= 1 ms at batch 1 and
>= 1,000,000 windows/s at batch 4,096.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
# the repo root first and benchmarks/ off the path: benchmarks/engines.py must not shadow the package
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]

from engines.export import export_graph  # noqa: E402
from engines.scattering import ScatteringTransformer, import_kymatio  # noqa: E402

J, WINDOW, Q = 8, 2048, (8, 1)
CPU_BATCHES = (1, 64, 1024)
GPU_BATCHES = (1, 64, 1024, 4096)


def machine(threads: int) -> dict:
    cpu = platform.processor()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    info = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": cpu,
        "logical_cpus": os.cpu_count(),
        "threads": threads,
        "load_average_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "torch": torch.__version__,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    try:
        import onnxruntime as ort

        info["onnxruntime"] = ort.__version__
        info["onnxruntime_provider"] = "CPUExecutionProvider"
    except ImportError:
        info["onnxruntime"] = None
    info["kymatio"] = import_kymatio().__version__
    return info


def median_seconds(call: Callable[[], object], budget_s: float, max_reps: int, min_reps: int,
                   sync: Callable[[], None] = lambda: None, warmup: bool = True) -> tuple[float, int]:
    """Median wall time of repeated calls (after one warm-up call unless ``warmup`` is False)."""
    if warmup:
        call()
        sync()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < min_reps or (len(times) < max_reps and time.perf_counter() - start < budget_s):
        t0 = time.perf_counter()
        call()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), len(times)


def record(results: list, device: str, backend: str, batch: int, seconds: float, reps: int) -> None:
    results.append({"device": device, "backend": backend, "batch": batch, "ms_per_call": seconds * 1e3,
                    "windows_per_s": batch / seconds, "repeats": reps})
    print(f"  {device:4s} {backend:24s} batch {batch:5d}: {seconds * 1e3:10.3f} ms/call "
          f"{batch / seconds:14,.0f} windows/s  ({reps} repeats)", flush=True)


def parity(ours: torch.nn.Module, device: str, windows: np.ndarray) -> float:
    """Worst per-window relative L2 error of our float32 scattering vs kymatio float64 (on CPU)."""
    reference = import_kymatio().torch.Scattering1D(J, WINDOW, Q).double()
    with torch.no_grad():
        want = reference(torch.from_numpy(windows).double()).numpy().reshape(len(windows), -1)
        got = ours(torch.from_numpy(windows).to(device))[0].cpu().double().numpy().reshape(len(windows), -1)
    return float((np.linalg.norm(got - want, axis=1) / np.linalg.norm(want, axis=1)).max())


def bench_cpu(results: list, quick: bool, threads: int, model: ScatteringTransformer) -> None:
    import onnxruntime as ort

    kymatio = import_kymatio().torch.Scattering1D(J, WINDOW, Q)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        path = Path(tmp) / "scattering.onnx"  # the exporter the bundles are written with
        export_graph(model.cpu(), torch.zeros(2, WINDOW), path, Path(tmp) / "scattering.pt2", "window",
                     ("scattering", "features"))
        export_s = time.perf_counter() - t0
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        results.append({"device": "cpu", "backend": "onnx export", "seconds": export_s,
                        "onnx_mb": path.stat().st_size / 1e6})
        print(f"  ONNX export {export_s:.1f} s, {path.stat().st_size / 1e6:.1f} MB", flush=True)
        rng = np.random.default_rng(0)
        for batch in CPU_BATCHES if not quick else CPU_BATCHES[:2]:
            x = rng.standard_normal((batch, WINDOW)).astype(np.float32)
            xt = torch.from_numpy(x)
            # batch 1,024 (~15-35 s a call for kymatio on 2 cores): one timed call, already warm from 64
            big = batch >= 1024
            budget = 0.0 if big else (0.5 if quick else 2.0)
            low, high = (1, 1) if big else (3, 200)
            with torch.inference_mode():
                record(results, "cpu", "kymatio torch", batch,
                       *median_seconds(lambda xt=xt: kymatio(xt), budget, high, low, warmup=not big))
                record(results, "cpu", "ours torch", batch,
                       *median_seconds(lambda xt=xt: model(xt), budget, high, low, warmup=not big))
            record(results, "cpu", "ours onnxruntime", batch,
                   *median_seconds(lambda x=x: session.run(None, {"window": x}), budget, high, low,
                                   warmup=not big))


def bench_cuda(results: list, quick: bool, model: ScatteringTransformer) -> None:
    torch.backends.cuda.matmul.allow_tf32 = False  # parity: TF32 would cost ~1e-3 relative error
    torch.backends.cudnn.allow_tf32 = False
    dev = "cuda"
    sync = torch.cuda.synchronize
    kymatio = import_kymatio().torch.Scattering1D(J, WINDOW, Q).to(dev)
    ours = model.to(dev)
    rng = np.random.default_rng(0)
    budget = 0.3 if quick else 1.5
    for batch in GPU_BATCHES:
        x = torch.from_numpy(rng.standard_normal((batch, WINDOW)).astype(np.float32)).to(dev)
        with torch.inference_mode():
            record(results, dev, "kymatio torch", batch,
                   *median_seconds(lambda x=x: kymatio(x), budget, 200, 3, sync))
            record(results, dev, "ours torch eager", batch,
                   *median_seconds(lambda x=x: ours(x), budget, 500, 3, sync))
        static = x.clone()
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.inference_mode(), torch.cuda.stream(stream):
            for _ in range(3):
                ours(static)
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.inference_mode(), torch.cuda.graph(graph):
            static_out = ours(static)

        def replay(graph=graph, static=static, x=x) -> None:
            static.copy_(x)
            graph.replay()

        record(results, dev, "ours torch cuda-graph", batch, *median_seconds(replay, budget, 1000, 3, sync))
        with torch.inference_mode():
            err = float((static_out[0] - ours(x)[0]).abs().max() / ours(x)[0].abs().max())
        results[-1]["graph_vs_eager_max_rel"] = err
        del graph, static_out
        torch.cuda.empty_cache()


def ratios(results: list) -> dict:
    """Throughput of each of our backends divided by kymatio's, same device and batch."""
    timed = [r for r in results if "windows_per_s" in r]
    base = {(r["device"], r["batch"]): r["windows_per_s"] for r in timed if r["backend"] == "kymatio torch"}
    return {f"{r['device']} {r['backend']} b{r['batch']}": r["windows_per_s"] / base[r["device"], r["batch"]]
            for r in timed if r["backend"] != "kymatio torch" and (r["device"], r["batch"]) in base}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, default=None, help="write the results here")
    ap.add_argument("--quick", action="store_true", help="short run: CPU batches 1 and 64, short budgets")
    ap.add_argument("--threads", type=int, default=min(os.cpu_count() or 1, 16),
                    help="CPU threads for torch and ONNX Runtime alike (default: logical CPUs, at most 16)")
    ap.add_argument("--no-cpu", action="store_true", help="skip the CPU section (e.g. GPU-only rerun)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    report = {"machine": machine(args.threads),
              "transform": {"J": J, "window": WINDOW, "Q": list(Q), "T": None, "max_order": 2},
              "results": [], "parity": {}}
    print(f"scattering benchmark on {report['machine']['cpu']} ({args.threads} threads), "
          f"GPU: {report['machine']['gpu']}", flush=True)
    t0 = time.perf_counter()
    model = ScatteringTransformer(J, WINDOW, Q).eval()
    report["build_seconds"] = time.perf_counter() - t0
    windows = np.random.default_rng(1).standard_normal((8, WINDOW)).astype(np.float32)
    report["parity"]["cpu_max_rel_l2"] = parity(model, "cpu", windows)
    if not args.no_cpu:
        bench_cpu(report["results"], args.quick, args.threads, model)
    if torch.cuda.is_available():
        bench_cuda(report["results"], args.quick, model)
        torch.backends.cuda.matmul.allow_tf32 = False
        report["parity"]["cuda_max_rel_l2"] = parity(model, "cuda", windows)
    report["ratio_vs_kymatio"] = ratios(report["results"])
    print("parity (worst window rel. L2 vs kymatio float64):", report["parity"])
    for key, value in report["ratio_vs_kymatio"].items():
        print(f"  {key:40s} {value:8.2f}x kymatio")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
