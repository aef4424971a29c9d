"""`dacl-stream RECORD`: publish one lead of a WFDB record as an LSL outlet, paced in real time.

Lets the live path (LslInletSource → monitor) be tried without hardware: the record is replayed by
WfdbReplaySource (monotonic clock, drift-corrected) and every chunk is pushed to a one-channel float32
LSL outlet of type "ECG" whose channel carries the lead's label and the unit "millivolts".
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time

import numpy as np

from core.records import RecordError, open_record
from core.sources.replay import WfdbReplaySource

log = logging.getLogger("dacl-stream")


def build_parser() -> argparse.ArgumentParser:
    """Command-line options of dacl-stream."""
    p = argparse.ArgumentParser(prog="dacl-stream", description=__doc__.splitlines()[0])
    p.add_argument("record", help="WFDB record path (with or without .hea), or physionet:<db>/<record>")
    p.add_argument("--lead", default=None, help="lead name or index (default: II, MLII, ECG, else the first)")
    p.add_argument("--chunk", type=int, default=None, help="samples per push (default: 0.1 s of samples)")
    p.add_argument("--speed", type=float, default=1.0, help="replay speed factor (default 1 = real time)")
    p.add_argument("--loop", action="store_true", help="start over at the end of the record, forever")
    p.add_argument("--name", default=None, help="LSL stream name (default: dacl-<record name>)")
    p.add_argument("--seconds", type=float, default=None, help="publish only the first SECONDS of the record")
    p.add_argument("--wait", type=float, default=0.0, help="wait up to WAIT s for a consumer before sending")
    p.add_argument("--linger", type=float, default=1.0, help="keep the outlet open LINGER s after the end")
    p.add_argument("-v", "--verbose", action="store_true", help="log every chunk's timing")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the dacl-stream console script; returns the process exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(name)s: %(message)s")
    lead = int(args.lead) if args.lead is not None and args.lead.lstrip("-").isdigit() else args.lead
    try:
        record = open_record(args.record, lead)
        source = WfdbReplaySource(
            record, chunk=args.chunk, speed=args.speed, loop=args.loop, limit_s=args.seconds
        )
    except (RecordError, ValueError) as exc:
        print(f"dacl-stream: {exc}", file=sys.stderr)
        return 2
    try:
        import pylsl
    except (ImportError, RuntimeError) as exc:
        print(f"dacl-stream: pylsl/liblsl is not available ({exc}); install the 'lsl' extra", file=sys.stderr)
        return 2
    name = args.name or f"dacl-{record.name}"
    source_id = f"dacl-stream-{record.name}-{os.getpid()}"
    info = pylsl.StreamInfo(name, "ECG", 1, record.fs, pylsl.cf_float32, source_id)
    channel = info.desc().append_child("channels").append_child("channel")
    channel.append_child_value("label", record.lead)
    channel.append_child_value("unit", "millivolts")
    channel.append_child_value("type", "ECG")
    outlet = pylsl.StreamOutlet(info, chunk_size=source.chunk)
    log.info("publishing %s lead %s (%.0f Hz, %.1f s) as LSL stream %r at x%s%s", record.path, record.lead,
             record.fs, source.signal.size / record.fs, name, args.speed, " (loop)" if args.loop else "")
    if args.wait > 0 and not outlet.wait_for_consumers(args.wait):
        log.warning("no consumer connected within %.1f s; sending anyway", args.wait)
    try:
        source.connect()
        while (chunk := source.read()) is not None:
            outlet.push_chunk(np.ascontiguousarray(chunk, dtype=np.float32).reshape(-1, 1))
            log.debug("pushed %d samples (total %d)", chunk.size, source.samples_read)
    except KeyboardInterrupt:
        log.info("interrupted after %d samples", source.samples_read)
    finally:
        source.close()
    log.info("sent %d samples", source.samples_read)
    time.sleep(max(args.linger, 0.0))  # let consumers pull what is still in flight before the outlet closes
    del outlet
    return 0


if __name__ == "__main__":
    sys.exit(main())
