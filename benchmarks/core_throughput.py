"""Signal-core throughput on one CPU core: preprocessing + ring buffer + windowing (+ normalisation).

Many streams are fed round-robin, chunk by chunk, exactly as the monitor's acquisition does: each chunk
goes through its stream's Preprocessor (NaN fill, flat check, resample to 300 Hz, band-pass), into its
RingBuffer, and every completed window (W=2048, H=300) is read out and normalised (normalize_window),
i.e. made model-ready. Throughput is input samples per CPU-second of this one thread, and "streams"
is how many real-time streams of that rate one core could carry (target: >= 1,000 at 300 Hz).

Reference in the same run: the same records preprocessed offline in one call (preprocess_record +
offline_windows + normalize_window), and scipy's resample_poly + sosfilt on the whole signal.

    python benchmarks/core_throughput.py --json core_throughput.json [--streams 64] [--seconds 60]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"  # one core: no hidden BLAS/OpenMP threads

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import scipy  # noqa: E402
from scipy.signal import resample_poly, sosfilt, sosfilt_zi  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.preprocess import (  # noqa: E402
    MODEL_FS,
    PolyphaseResampler,
    Preprocessor,
    StatefulBandPass,
    normalize_window,
    preprocess_record,
)
from core.records import list_records, open_record  # noqa: E402
from core.ring import RingBuffer  # noqa: E402
from core.windowing import HOP, WINDOW, Windower, offline_windows  # noqa: E402

DATA = ROOT / ".." / "shared" / "data"
TARGET_STREAMS = 1000


def pin_one_core() -> int | None:
    """Pin this process to a single core (Linux) and keep torch, if present, to one thread."""
    core = None
    if hasattr(os, "sched_setaffinity"):
        core = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {core})
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    return core


def machine() -> dict:
    """Where the numbers come from."""
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "host": platform.node(),
        "cpu": cpu,
        "logical_cpus": os.cpu_count(),
        "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
    }


def load_signals() -> dict[str, tuple[np.ndarray, float, str]]:
    """Real records: CinC 2017 at 300 Hz and MIT-BIH 100 at 360 Hz (demo records if the data is absent)."""
    out = {}
    if (DATA / "cinc2017").is_dir():
        names = [p.name for p in list_records(DATA / "cinc2017")[:12]]
        parts = [open_record(DATA / "cinc2017" / name).signal for name in names]
        source = f"cinc2017 {names[0]}..{names[-1]} concatenated"
        out["cinc2017 300 Hz"] = (np.concatenate(parts), 300.0, source)
    else:
        from app.demo import RECORDS  # only for a checkout without the data folder

        parts = [open_record(p).signal for p in RECORDS.values()]
        out["cinc2017 300 Hz"] = (np.concatenate(parts), 300.0, "app/demo records concatenated")
    if (DATA / "wfdb-samples" / "100.hea").is_file():
        rec = open_record(DATA / "wfdb-samples" / "100")
        out["mitbih 360 Hz"] = (rec.signal, rec.fs, "MIT-BIH 100, lead MLII")
    return out


def streaming(signal: np.ndarray, fs: float, n_streams: int, seconds: float, chunk_s: float) -> dict:
    """Feed n_streams streams (each from its own offset in the signal) chunk by chunk, round-robin."""
    chunk = max(1, round(chunk_s * fs))
    per_stream = round(seconds * fs)
    offsets = np.linspace(0, signal.size - per_stream, n_streams).astype(int)
    streams = []
    for _ in range(n_streams):
        ring = RingBuffer(round(30 * MODEL_FS), dtype=np.float64)
        streams.append((Preprocessor(fs), ring, Windower(ring, window=WINDOW, hop=HOP)))
    windows = 0
    cpu0, wall0 = time.thread_time(), time.perf_counter()
    for start in range(0, per_stream, chunk):
        for (pre, ring, win), off in zip(streams, offsets, strict=True):
            out, flags = pre.process(signal[off + start : off + min(start + chunk, per_stream)])
            ring.write(out, flags)
            for w in win.poll():
                normalize_window(w.samples)
                windows += 1
    cpu, wall = time.thread_time() - cpu0, time.perf_counter() - wall0
    samples = n_streams * per_stream
    return {
        "chunk_samples": chunk,
        "chunk_s": chunk / fs,
        "streams_fed": n_streams,
        "signal_s_per_stream": seconds,
        "input_samples": samples,
        "windows": windows,
        "cpu_s": cpu,
        "wall_s": wall,
        "input_samples_per_cpu_s": samples / cpu,
        "realtime_streams_one_core": samples / cpu / fs,
        "overruns": sum(r.overruns for _, r, _ in streams),
    }


def offline_reference(signal: np.ndarray, fs: float, seconds: float) -> dict:
    """The same work in one call per record, and scipy's whole-signal resample + filter, for comparison."""
    x = signal[: round(seconds * fs) * 8]
    cpu0 = time.thread_time()
    out, flags = preprocess_record(x, fs)
    wins = offline_windows(out, flags, dtype=np.float64)
    for w in wins:
        normalize_window(w.samples)
    ours = time.thread_time() - cpu0
    res = PolyphaseResampler(fs)
    sos = StatefulBandPass(MODEL_FS).sos
    cpu0 = time.thread_time()
    y = x if res.identity else resample_poly(x, res.up, res.down, padtype="edge")
    sosfilt(sos, y, zi=sosfilt_zi(sos) * y[0])
    scipy_s = time.thread_time() - cpu0
    return {
        "input_samples": int(x.size),
        "preprocess_record_windows_samples_per_cpu_s": x.size / ours,
        "scipy_resample_poly_sosfilt_samples_per_cpu_s": x.size / scipy_s,
    }


def main(argv: list[str] | None = None) -> int:
    """Run every case, print a table and write the JSON report."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, default=None, help="write the results here")
    ap.add_argument("--streams", type=int, default=64, help="streams fed round-robin (default 64)")
    ap.add_argument("--seconds", type=float, default=60.0, help="signal seconds per stream (default 60)")
    ap.add_argument("--chunks", type=float, nargs="+", default=[0.1, 1.0], help="chunk lengths in s")
    args = ap.parse_args(argv)

    core = pin_one_core()
    report = {
        "benchmark": "core_throughput",
        "machine": machine(),
        "pinned_core": core,
        "threads": 1,
        "window": WINDOW,
        "hop": HOP,
        "model_fs": MODEL_FS,
        "target_streams_300hz": TARGET_STREAMS,
        "cases": [],
    }
    print(f"core throughput on one core ({report['machine']['cpu']}, pinned to core {core})")
    print(f"{'signal':18s} {'chunk':>7s} {'samples/s':>12s} {'streams':>9s} {'windows':>8s} {'cpu s':>7s}")
    for label, (signal, fs, source) in load_signals().items():
        for chunk_s in args.chunks:
            res = streaming(signal, fs, args.streams, args.seconds, chunk_s)
            res.update({"signal": label, "source": source, "fs": fs})
            report["cases"].append(res)
            print(f"{label:18s} {chunk_s:6.2f}s {res['input_samples_per_cpu_s']:12,.0f} "
                  f"{res['realtime_streams_one_core']:9,.0f} {res['windows']:8d} {res['cpu_s']:7.2f}")
        ref = offline_reference(signal, fs, args.seconds)
        ref.update({"signal": label, "fs": fs})
        report.setdefault("offline_reference", []).append(ref)
        ours = ref["preprocess_record_windows_samples_per_cpu_s"]
        theirs = ref["scipy_resample_poly_sosfilt_samples_per_cpu_s"]
        print(f"{label:18s} offline, samples/s: preprocess_record+windows {ours:,.0f}; "
              f"scipy resample_poly+sosfilt alone {theirs:,.0f}")
    main_case = [c for c in report["cases"] if c["fs"] == MODEL_FS]
    worst = min(c["realtime_streams_one_core"] for c in main_case) if main_case else float("nan")
    report["streams_300hz_worst_chunking"] = worst
    report["meets_target"] = bool(worst >= TARGET_STREAMS)
    print(f"300 Hz streams per core (worst chunking): {worst:,.0f} (target {TARGET_STREAMS:,}) "
          f"{'MET' if report['meets_target'] else 'NOT MET'}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
