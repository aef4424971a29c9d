"""Many monitors, one Triton server: K headless monitor processes with N replay streams each.

    python benchmarks/triton_streams.py --json triton_streams.json [--processes 1,2,4] [--streams 25,50]
        [--duration 60] [--url HOST:PORT]

Without --url it exports the bundle as a Python-backend repository and starts the local tritonserver
(training/triton_server.py; `make triton-env`) on loopback. For each K in --processes and N in --streams,
K `dacl-monitor --headless --engine triton` processes replay N streams each at x1 for --duration seconds,
all at once. A configuration holds when every process reports zero dropped windows, no inference fault and
a p99 latency <= 100 ms; the report lists the total streams K x N of each and the largest that held.
Reference in the same run: one headless process with the same total streams on local ONNX Runtime CPU.
Server and monitors share this machine's cores, so on one small box the server gains nothing; the point
is the figure per server when the monitors run elsewhere, and that the path works at scale.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.headless import machine  # noqa: E402

log = logging.getLogger("benchmarks.triton_streams")
P99_LIMIT_MS = 100.0


def headless(streams: int, duration: float, out: Path, engine: list[str], model: str) -> subprocess.Popen:
    """Start one headless monitor process writing its JSON report to ``out``."""
    command = [sys.executable, "-m", "app.headless", "--streams", str(streams), "--duration", str(duration),
               "--speed", "1", "--model", model, "--json", str(out), *engine]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def run_processes(k: int, n: int, duration: float, engine: list[str], model: str, work: Path) -> dict:
    """K processes x N streams at once; the totals, the worst p99 and whether the configuration held."""
    outs = [work / f"k{k}_n{n}_{i}.json" for i in range(k)]
    procs = [headless(n, duration, out, engine, model) for out in outs]
    errors = [p.communicate()[1][-500:] for p in procs]
    reports = []
    for proc, out, err in zip(procs, outs, errors, strict=True):
        if proc.returncode != 0 or not out.exists():
            return {"processes": k, "streams_per_process": n, "total_streams": k * n,
                    "error": f"a monitor exited with {proc.returncode}: {err}"}
        reports.append(json.loads(out.read_text()))
    p99 = max(r["latency_ms"]["p99"] for r in reports)
    dropped = sum(r["dropped"] for r in reports)
    faults = sum(r["inference_faults"] for r in reports)
    return {"processes": k, "streams_per_process": n, "total_streams": k * n,
            "windows": sum(r["windows"] for r in reports), "dropped": dropped, "inference_faults": faults,
            "p99_ms_worst": p99, "p50_ms_worst": max(r["latency_ms"]["p50"] for r in reports),
            "backend": reports[0]["backend"], "held": dropped == 0 and faults == 0 and p99 <= P99_LIMIT_MS}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=str(ROOT / "engines" / "default"))
    p.add_argument("--processes", default="1,2,4", help="comma list of K (monitor processes)")
    p.add_argument("--streams", default="25,50", help="comma list of N (streams per process)")
    p.add_argument("--duration", type=float, default=60.0)
    p.add_argument("--url", help="an existing Triton server (default: start the local one)")
    p.add_argument("--server-threads", type=int, default=1, help="ONNX Runtime threads per served graph")
    p.add_argument("--json", dest="json_path", default="triton_streams.json")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    ks = [int(v) for v in args.processes.split(",")]
    ns = [int(v) for v in args.streams.split(",")]
    report: dict = {"benchmark": "triton_streams", "machine": machine(), "model": args.model,
                    "criterion": f"every process: zero drops, no fault, p99 <= {P99_LIMIT_MS:g} ms at x1",
                    "duration_s": args.duration, "triton": [], "local_onnxruntime": []}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        server = None
        url = args.url
        if url is None:
            from training.triton_repo import export_repository
            from training.triton_server import LocalTritonServer

            export_repository(args.model, work / "repo", backend="python")
            server = LocalTritonServer(work / "repo", threads_per_model=args.server_threads).start()
            url = server.grpc_url
        report["server"] = {"url": url, "local": server is not None, "threads_per_graph": args.server_threads}
        try:
            for k in ks:
                for n in ns:
                    t0 = time.monotonic()
                    row = run_processes(k, n, args.duration, ["--engine", "triton", "--triton-url", url],
                                        args.model, work)
                    log.info("triton %d x %d: %s (%.0f s)", k, n, row, time.monotonic() - t0)
                    report["triton"].append(row)
        finally:
            if server is not None:
                server.stop()
        for total in sorted({k * n for k in ks for n in ns}):
            row = run_processes(1, total, args.duration, ["--engine", "onnxruntime"], args.model, work)
            log.info("local onnxruntime %d streams: %s", total, row)
            report["local_onnxruntime"].append(row)
    held = [r["total_streams"] for r in report["triton"] if r.get("held")]
    local = [r["total_streams"] for r in report["local_onnxruntime"] if r.get("held")]
    report["summary"] = {"triton_max_streams_held": max(held, default=0),
                         "local_max_streams_held": max(local, default=0)}
    if report["summary"]["local_max_streams_held"]:
        report["summary"]["ratio_triton_to_local"] = (report["summary"]["triton_max_streams_held"]
                                                      / report["summary"]["local_max_streams_held"])
    Path(args.json_path).write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report["summary"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
