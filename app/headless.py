"""`dacl-monitor --headless`: replay records on N streams through the scheduler with no GUI, write JSON.

Thin command-line layer over core.headless.run_headless; app/cli.py calls `main(argv)` when
`--headless` is given. Example:

    dacl-monitor --headless --records ../shared/data/cinc2017 --streams 100 --speed 1 --duration 60 \
        --engine onnxruntime --json r.json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from app.args import add_engine_args
from app.controller import DEFAULT_MODEL  # the one definition of the shipped bundle's path

DEMO_RECORDS = Path(__file__).resolve().parent / "demo"


def build_parser() -> argparse.ArgumentParser:
    """The headless command line (also shown by `dacl-monitor --headless --help`)."""
    p = argparse.ArgumentParser(prog="dacl-monitor --headless",
                                description="Run N replay streams through the real-time scheduler, no GUI.")
    p.add_argument("--headless", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--records", default=str(DEMO_RECORDS),
                   help="a WFDB record or a directory of records, cycled over the streams (default: demo)")
    p.add_argument("--streams", type=int, default=1, help="concurrent replay streams (default 1)")
    p.add_argument("--speed", type=float, default=1.0, help="replay speed factor; 0 = as fast as possible")
    p.add_argument("--duration", type=float, default=60.0, help="wall-clock seconds to run (default 60)")
    add_engine_args(p)
    p.add_argument("--model", default=str(DEFAULT_MODEL), help="model bundle folder (default: shipped)")
    p.add_argument("--json", dest="json_path", help="write the report here (it is printed as well)")
    p.add_argument("--max-batch", type=int, default=64, help="windows per inference call at most")
    p.add_argument("--max-wait-ms", type=float, default=5.0, help="batch gathering wait after a first window")
    p.add_argument("--events", help="write the rhythm event log here as CSV")
    p.add_argument("--annotations", help="write each stream's rhythm episodes as WFDB annotations here")
    p.add_argument("--no-stagger", action="store_true", help="start every stream at the same instant")
    p.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the headless monitor; return the process exit status (0 ok, 2 bad arguments or input)."""
    from rich.console import Console
    from rich.progress import Progress

    from app.args import configure_logging, engine_options
    from core.headless import run_headless
    from core.scheduler import SchedulerConfig
    from core.scheduler_model import load_model

    args = build_parser().parse_args(argv)
    configure_logging(args.verbose)
    console = Console(stderr=True)
    speed = None if args.speed == 0 or math.isinf(args.speed) else args.speed
    try:
        if args.streams < 1:
            raise ValueError(f"--streams must be a positive integer; {args.streams} is invalid")
        model = load_model(args.model, args.engine, engine_options=engine_options(args))
        config = SchedulerConfig.for_model(model, max_batch=args.max_batch, max_wait_ms=args.max_wait_ms)
        console.print(f"model {args.model}: {model.selection}")
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task(f"{args.streams} streams ×{args.speed:g}", total=1.0)
            report = run_headless(args.records, model, streams=args.streams, speed=speed,
                                  duration=args.duration, config=config, stagger=not args.no_stagger,
                                  events_csv=args.events, annotations_dir=args.annotations,
                                  progress=lambda f: bar.update(task, completed=f))
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 2
    report["model"] = str(args.model)
    text = json.dumps(report, indent=1)
    if args.json_path:
        Path(args.json_path).write_text(text + "\n")
    sys.stdout.write(text + "\n")
    lat = report["latency_ms"]
    console.print(f"{report['windows']} windows, {report['dropped']} dropped, "
                  f"latency p50 {lat['p50']:.1f} ms p99 {lat['p99']:.1f} ms, "
                  f"{report['windows_per_s']:.1f} windows/s on {report['backend']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
