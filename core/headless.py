"""The headless monitor: N replay streams through the scheduler, no GUI, one JSON report.

`run_headless` opens the records (a directory or one record; unreadable ones are reported and skipped),
replays them on N concurrent streams (stream i replays record i mod R, looping), starts the streams
staggered over one hop (beds are not in phase; in-phase streams would make every window of the ward
arrive in the same millisecond), runs for `duration` seconds of wall time and returns the report:
windows, dropped, latency_ms {p50, p95, p99, max}, windows_per_s, backend, cpu_percent, peak_rss_mb,
plus the configuration, the machine and the skipped records.
"""

from __future__ import annotations

import logging
import os
import platform
import resource
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from core.records import EcgRecord, RecordError, list_records, open_record
from core.scheduler import InferenceModel, SchedulerConfig
from core.session import MonitoringSession
from core.sources import WfdbReplaySource

log = logging.getLogger(__name__)


def open_records(paths: Sequence[Path], needed: int) -> tuple[list[EcgRecord], list[dict[str, str]]]:
    """Open records in order until `needed` have been read; return them and the skipped ones with why."""
    records: list[EcgRecord] = []
    skipped: list[dict[str, str]] = []
    for path in paths:
        if len(records) >= needed:
            break
        try:
            records.append(open_record(path))
        except (RecordError, OSError, ValueError) as exc:
            log.warning("skipping record %s: %s", path, exc)
            skipped.append({"record": str(path), "error": f"{type(exc).__name__}: {exc}"})
    return records, skipped


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, MiB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def machine() -> dict[str, Any]:
    """Where the numbers were measured."""
    return {"host": platform.node(), "cpu": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "python": platform.python_version(), "system": platform.platform()}


def run_headless(
    records: str | Path,
    model: InferenceModel,
    *,
    streams: int = 1,
    speed: float | None = 1.0,
    duration: float = 60.0,
    config: SchedulerConfig | None = None,
    stagger: bool = True,
    events_csv: str | Path | None = None,
    annotations_dir: str | Path | None = None,
    progress: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    """Replay `records` on `streams` concurrent streams for `duration` s of wall time; return the report.

    `speed` is the replay factor (None: as fast as possible). The rhythm event log is written to
    `events_csv` and, per stream, as WFDB rhythm annotations `stream<i>.rhy` in `annotations_dir`.
    `progress(fraction)` is called about ten times a second. Raises FileNotFoundError / ValueError
    when no record at all can be read.
    """
    if streams < 1:
        raise ValueError(f"streams must be a positive integer; {streams!r} is invalid.")
    if not duration > 0:
        raise ValueError(f"duration must be a positive number of seconds; {duration!r} is invalid.")
    config = config or SchedulerConfig.for_model(model)
    opened, skipped = open_records(list_records(records), streams)
    if not opened:
        raise ValueError(f"none of the records in {records} could be read; skipped: {skipped}")
    session = MonitoringSession(model, config, statuses=100_000)
    hop_s = config.hop / config.fs / (speed or 1000.0)
    for i in range(streams):
        record = opened[i % len(opened)]
        source = WfdbReplaySource(record, speed=speed, loop=True)
        delay = hop_s * i / streams if stagger else 0.0
        session.add_source(source, name=f"{record.name}#{i}", start_delay_s=delay)

    proc_times = os.times()
    t0 = time.monotonic()
    session.start()
    try:
        while (elapsed := time.monotonic() - t0) < duration:
            if progress is not None:
                progress(elapsed / duration)
            time.sleep(min(0.1, duration - elapsed))
    finally:
        session.stop()
    wall = time.monotonic() - t0
    proc_after = os.times()
    cpu_s = (proc_after.user - proc_times.user) + (proc_after.system - proc_times.system)
    if events_csv is not None:
        session.write_events(events_csv)
    if annotations_dir is not None:
        session.write_annotations(annotations_dir)

    stats = session.scheduler.stats()
    latency, events = session.latency, session.events
    faults = [asdict(s) for s in session.statuses.get_all() if s.state == "fault"]
    return {
        "windows": len(latency.latencies_ms),
        "dropped": stats.dropped,
        "latency_ms": latency.summary(),
        "windows_per_s": len(latency.latencies_ms) / wall,
        "windows_per_s_after_first": latency.steady_rate(),  # from the first result on (no window fill)
        "backend": model.backend,
        "cpu_percent": 100.0 * cpu_s / wall,
        "peak_rss_mb": peak_rss_mb(),
        "streams": streams,
        "speed": speed,
        "duration_s": wall,
        "inference_faults": stats.faults,
        "inference_workers": session.scheduler.workers,
        "faults": faults,
        "events": len(events.events),
        "records_used": [r.path for r in opened],
        "records_skipped": skipped,
        "config": asdict(config),
        "machine": machine(),
    }
