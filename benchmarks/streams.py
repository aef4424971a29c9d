"""How many real-time streams the scheduler serves, per backend; and a long soak of one stream for leaks.

    python benchmarks/streams.py --json streams.json [--duration 60] [--backends onnxruntime-cpu ...]
    python benchmarks/streams.py --soak --json soak.json [--soak-hours 24]

Capacity: for each available backend, the largest N for which N streams replayed at x1 for `--duration`
seconds give zero dropped windows and a p99 latency <= 100 ms (doubling, then bisection). So that
acquisition of thousands of streams is not what is measured, the streams replay pre-filtered model-rate
signal (preprocessed once, offline, which equals streaming by the core tests) from one vectorised
ReplayBank thread that hands each due window to the scheduler (Scheduler.submit); batching, back-pressure,
normalisation, scattering + encoder, heart rate and publication are the real scheduler's. Each stream
joins with its history already buffered (a bed already connected) and streams are staggered over the
hop. A window's arrival time is the instant its last sample was due, so tick delays count as latency.
The reference in the same run: the backend's raw throughput at the scheduler's max batch, i.e. the N an
ideal scheduler would reach.

Soak: 24 h of signal (a looped record) through one stream on the whole path (WfdbReplaySource ->
preprocessing -> ring -> windowing -> scheduler -> engines -> heart rate -> episode detector) with
`analyze`'s back-pressure, so every window of the 24 h reaches the model (none dropped) as fast as the
engine allows; RSS sampled throughout; reports windows analysed against the count the signal holds and
the RSS growth after warm-up (target < 20 MB).

Records are read by core.records (wfdb), as everywhere else: on a GPU machine without wfdb, carry its wheel
(docs/device-notes.md); kymatio is not needed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import os
import platform
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.preprocess import preprocess_record  # noqa: E402
from core.records import list_records, open_record  # noqa: E402
from core.scheduler import PendingWindow, Scheduler, SchedulerConfig  # noqa: E402

log = logging.getLogger("benchmarks.streams")
DEMO_DIR = ROOT / "app" / "demo"
P99_LIMIT_MS = 100.0


# ----- signals ---------------------------------------------------------------------------------------------
def load_signals(records: list[Path], fs_model: float) -> list[np.ndarray]:
    """Model-rate band-passed signals (mV) of the records, read by core.records."""
    out = []
    for path in records:
        rec = open_record(path)
        out.append(preprocess_record(rec.signal, rec.fs, fs_model)[0])
    return out


# ----- the vectorised replay -------------------------------------------------------------------------------
class ReplayBank:
    """N streams replaying pre-filtered signals at `speed`, windowed together and submitted on a tick."""

    def __init__(self, scheduler: Scheduler, signals: list[np.ndarray], n: int, speed: float = 1.0,
                 tick_s: float = 0.005) -> None:
        cfg = scheduler.config
        self.scheduler, self.n, self.tick_s, self.window = scheduler, n, tick_s, cfg.window
        self.lengths = np.array([len(s) for s in signals])
        width = int(self.lengths.max()) + cfg.window
        self.bank = np.stack([np.resize(s, width) for s in signals])  # each record looped to `width`
        self.record = np.arange(n) % len(signals)
        self.phase = (np.arange(n) * 7919 * cfg.hop) % self.lengths[self.record]  # where each stream starts
        self.period = cfg.hop / (cfg.fs * speed)  # seconds between two windows of one stream
        self.offset = self.period * np.arange(n) / n  # staggered over one hop
        self.hop = cfg.hop
        self.ids = [scheduler.add_external_stream(f"replay {i}", cfg.fs) for i in range(n)]
        self.emitted = np.zeros(n, dtype=np.int64)
        self.submitted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="replay-bank", daemon=True)

    def start(self) -> None:
        """Start replaying now."""
        self.t0 = time.monotonic()
        self._thread.start()

    def stop(self) -> None:
        """Stop replaying."""
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        cols = np.arange(self.window)
        empty: frozenset[str] = frozenset()
        while not self._stop.wait(self.tick_s):
            elapsed = time.monotonic() - self.t0
            due = np.floor((elapsed - self.offset) / self.period).astype(np.int64) + 1  # windows due so far
            count = np.maximum(due - self.emitted, 0)
            streams = np.repeat(np.arange(self.n), count)
            if streams.size == 0:
                continue
            j = np.concatenate([np.arange(e, e + c) for e, c in zip(self.emitted[count > 0], count[count > 0],
                                                                     strict=True)])
            self.emitted += count
            rec = self.record[streams]
            start = (self.phase[streams] + j * self.hop) % self.lengths[rec]
            samples = self.bank[rec[:, None], start[:, None] + cols]  # (n, W)
            arrival = self.t0 + self.offset[streams] + j * self.period  # when the last sample was due
            ends = self.window + j * self.hop
            self.scheduler.submit([
                PendingWindow(self.ids[s], int(e), samples[k], float(a), empty)
                for k, (s, e, a) in enumerate(zip(streams, ends, arrival, strict=True))])
            self.submitted += streams.size


# ----- measurements ----------------------------------------------------------------------------------------
def raw_throughput(model, batch: int, seconds: float = 3.0) -> float:
    """Windows/s of the backend alone at one batch size (the reference an ideal scheduler would reach),
    from as many threads at once as the scheduler runs workers (`model.parallel_callers`)."""
    x = np.random.default_rng(0).standard_normal((batch, model.window)).astype(np.float32)
    model.infer(x)
    counts = [0] * model.parallel_callers
    t0 = time.perf_counter()

    def work(i: int) -> None:
        while time.perf_counter() - t0 < seconds:
            model.infer(x)
            counts[i] += batch

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(counts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.perf_counter() - t0)


def trial(model, signals: list[np.ndarray], n: int, duration: float, config: SchedulerConfig) -> dict:
    """Run N streams at x1 for `duration` s; return drops, latency and whether it met the target."""
    scheduler = Scheduler(model, config)
    latencies: list[float] = []
    scheduler.subscribe(lambda r: latencies.append(r.latency_ms))
    bank = ReplayBank(scheduler, signals, n)
    scheduler.start()
    bank.start()
    time.sleep(duration)
    bank.stop()
    scheduler.stop()
    stats = scheduler.stats()
    ms = np.asarray(latencies) if latencies else np.array([math.inf])
    result = {"streams": n, "heart_rate_device": scheduler.heart_rate_device, "windows": len(latencies),
              "submitted": bank.submitted, "dropped": stats.dropped,
              "faults": stats.faults, "pending_at_end": scheduler.pending(),
              "latency_ms": {"p50": float(np.percentile(ms, 50)), "p95": float(np.percentile(ms, 95)),
                             "p99": float(np.percentile(ms, 99)), "max": float(ms.max())},
              "windows_per_s": len(latencies) / duration}
    kept_up = result["windows"] >= bank.submitted - n  # at most one window per stream still in flight
    result["ok"] = bool(stats.dropped == 0 and stats.faults == 0 and kept_up
                        and result["latency_ms"]["p99"] <= P99_LIMIT_MS)
    log.info("N=%d: %s windows, %d dropped, p99 %.1f ms -> %s", n, result["windows"], stats.dropped,
             result["latency_ms"]["p99"], "ok" if result["ok"] else "fail")
    return result


def largest_n(model, signals, duration: float, config: SchedulerConfig, start: int, max_n: int) -> dict:
    """Double N from `start` while trials pass, then bisect to within 5 %; return N and every trial."""
    trials, good, bad = [], 0, None
    n = start
    while n <= max_n:
        t = trial(model, signals, n, duration, config)
        trials.append(t)
        if not t["ok"]:
            bad = n
            break
        good, n = n, n * 2
    if bad is None:
        return {"largest_n": good, "capped_at_max_n": True, "trials": trials}
    while bad - good > max(1, int(0.05 * good)):
        n = (good + bad) // 2
        t = trial(model, signals, n, duration, config)
        trials.append(t)
        good, bad = (n, bad) if t["ok"] else (good, n)
    return {"largest_n": good, "capped_at_max_n": False, "trials": trials}


def rss_mb() -> float:
    """Current resident set size, MiB."""
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def soak(model, record: Path, hours: float, config: SchedulerConfig, speed: float | None) -> dict:
    """`hours` of signal through one stream on the whole path, every window; RSS growth after warm-up."""
    from core.analyze import expected_windows
    from core.session import MonitoringSession
    from core.sources import WfdbReplaySource

    source = WfdbReplaySource(record, speed=speed, loop=True, chunk=300, total_s=hours * 3600)
    total = source.total
    session = MonitoringSession(model, config)  # the monitor's subscribers: episodes and latency
    scheduler = session.scheduler
    sid = session.add_source(source)
    samples: list[tuple[float, float, float]] = []  # (wall s, signal hours, rss MiB)
    t0 = time.monotonic()
    session.start()
    try:
        while not (scheduler.stream(sid).state in ("ended", "fault") and scheduler.idle()):
            time.sleep(1.0)
            samples.append((time.monotonic() - t0, source.samples_read / source.fs / 3600, rss_mb()))
            if len(samples) % 30 == 0:
                log.info("soak: %.2f h of signal, RSS %.1f MiB", samples[-1][1], samples[-1][2])
    finally:
        session.stop()
    warm = next((s for s in samples if s[1] >= 0.05 * hours), samples[0])  # after 5 % of the signal
    info = scheduler.stream(sid)
    return {"record": str(record), "signal_hours": source.samples_read / source.fs / 3600,
            "wall_s": time.monotonic() - t0, "speed": speed, "windows": len(session.latency.latencies_ms),
            "dropped": info.dropped,
            "expected_windows": expected_windows(total, source.fs, config.fs, config.window, config.hop),
            "af_events": len(session.events.events), "backpressure": config.backpressure,
            "state": info.state, "rss_after_warmup_mb": warm[2], "rss_end_mb": samples[-1][2],
            "rss_max_mb": max(s[2] for s in samples), "rss_growth_mb": samples[-1][2] - warm[2],
            "target_growth_mb": 20.0,
            "rss_trace": [list(map(float, s)) for s in samples[:: max(1, len(samples) // 200)]]}


def machine() -> dict:
    """Where the numbers were measured."""
    info = {"host": platform.node(), "cpu": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "python": platform.python_version(),
            "load_avg_1m_at_start": os.getloadavg()[0]}
    try:
        import torch

        info["torch"] = torch.__version__
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return info


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--json", help="write the results here")
    p.add_argument("--model", default=str(ROOT / "engines" / "default"), help="model bundle")
    p.add_argument("--duration", type=float, default=60.0, help="seconds per trial (default 60)")
    p.add_argument("--backends", nargs="*", help="registry backends (default: every available one)")
    p.add_argument("--records", nargs="*", help="records to replay (default: the shipped demo records)")
    p.add_argument("--start-n", type=int, help="first N tried (default 16 on CPU, 1024 on CUDA)")
    p.add_argument("--max-n", type=int, default=100_000, help="stop doubling here")
    p.add_argument("--max-batch", type=int, help="scheduler max batch (default 64 on CPU, 1024 on CUDA)")
    p.add_argument("--max-wait-ms", type=float, default=5.0)
    p.add_argument("--no-heart-rate", action="store_true", help="skip the per-window heart rate")
    p.add_argument("--soak", action="store_true", help="run the soak instead of the capacity search")
    p.add_argument("--soak-hours", type=float, default=24.0, help="hours of signal in the soak")
    p.add_argument("--soak-speed", type=float, default=0.0, help="soak replay speed; 0 = as fast as possible")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    from core.scheduler_model import load_model
    from engines.bundle import load_bundle
    from engines.registry import availability

    bundle = load_bundle(args.model)
    records = [Path(r) for r in args.records] if args.records else list_records(DEMO_DIR)
    available = [name for name, why in availability().items() if why is None]
    backends = args.backends or available
    report: dict = {"benchmark": "streams", "machine": machine(), "model": args.model,
                    "criterion": f"zero drops and p99 <= {P99_LIMIT_MS:g} ms at x1",
                    "duration_s": args.duration, "available_backends": available, "results": {}}

    if args.soak:
        name = backends[0]
        model = load_model(bundle.path, name)
        from core.analyze import analysis_config

        config = dataclasses.replace(analysis_config(model), heart_rate=not args.no_heart_rate)
        if args.soak_speed:  # paced by a clock: the live drop policy, drops counted
            config = dataclasses.replace(config, backpressure="drop", pending_per_stream=4)
        report["soak"] = {"backend": model.backend, **soak(model, records[0], args.soak_hours, config,
                                                           args.soak_speed or None)}
        log.info("soak: RSS growth %.1f MiB", report["soak"]["rss_growth_mb"])
    else:
        signals = load_signals(records, bundle.fs)
        for name in backends:
            if name not in available:
                report["results"][name] = {"skipped": availability().get(name, "unknown backend")}
                continue
            cuda = "cuda" in name or name == "tensorrt"
            max_batch = args.max_batch or (1024 if cuda else 64)
            model = load_model(bundle.path, name)
            config = SchedulerConfig.for_model(model, max_batch=max_batch, max_wait_ms=args.max_wait_ms,
                                               heart_rate=not args.no_heart_rate)
            model.warm_up(tuple(2**k for k in range(int(math.log2(max_batch)) + 1)))  # each graph bucket
            reference = raw_throughput(model, max_batch)
            start_n = args.start_n or (1024 if cuda else 16)
            trial(model, signals, start_n, min(3.0, args.duration), config)  # warm-up, discarded
            log.info("%s: raw throughput %.0f windows/s at batch %d", model.backend, reference, max_batch)
            found = largest_n(model, signals, args.duration, config, start_n, args.max_n)
            report["results"][name] = {"backend": model.backend, "max_batch": max_batch,
                                       "heart_rate": config.heart_rate,
                                       "reference_raw_windows_per_s": reference, **found}
            log.info("%s: largest N = %d streams", name, found["largest_n"])
            model.close()
    text = json.dumps(report, indent=1)
    if args.json:
        Path(args.json).write_text(text + "\n")
    print(json.dumps({k: ({n: r.get("largest_n", r.get("skipped")) for n, r in v.items()} if k == "results"
                          else v) for k, v in report.items() if k != "machine"}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
