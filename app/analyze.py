"""`dacl-monitor analyze RECORD|DIR --out DIR`: every window of whole recordings, annotations and a report.

For each record: `<record>.<ext>` WFDB rhythm annotations (at the record's own sample numbers),
`<record>_windows.csv` (per-window time, class probabilities, heart rate), `<record>_summary.json` (AF
burden, episodes, heart-rate statistics, signal quality, speed) and `<record>_report.png`; plus
`<record>.beats` (the R-peaks the monitor detected, WFDB beat annotations) and `analysis.json` listing
every record analysed or skipped. With `--beats EXT` the rhythm comes from the beat annotations
`<record>.EXT` and the header alone (the RR rhythm model, docs/rhythm.md): `<record>.<ext>`,
`<record>_rhythm.csv`, `<record>_summary.json` and `<record>_report.png`. An unreadable record is
reported with the reason and skipped. Exit status: 0 when at least one record was analysed, 1 when none
could be, 2 for bad arguments or an unusable model.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.args import add_engine_args, configure_logging, engine_options, parse_lead
from app.headless import DEFAULT_MODEL
from core.record_head import describe

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    """The analyze command line."""
    p = argparse.ArgumentParser(prog="dacl-monitor analyze",
                                description="Analyse every window of whole WFDB records (no replay clock, "
                                            "nothing dropped): rhythm annotations, per-window table, summary "
                                            "and a one-page PNG report per record.")
    p.add_argument("analyze", choices=["analyze"], help=argparse.SUPPRESS)
    p.add_argument("records", help="a WFDB record (…/201 or …/201.hea) or a folder (its RECORDS, else *.hea)")
    p.add_argument("--out", required=True, help="output folder (created if missing)")
    p.add_argument("--model", default=str(DEFAULT_MODEL),
                   help="model bundle folder (default: the shipped one)")
    add_engine_args(p)
    p.add_argument("--beats", metavar="EXT",
                   help="analyse the rhythm from beat annotations only: <record>.EXT (e.g. qrs, atr, or the "
                        "beats a signal analysis wrote) and the header, never the signal; runs the bundle's "
                        "RR rhythm model")
    p.add_argument("--lead", help="lead name or index (default II / MLII / ECG, else the first)")
    p.add_argument("--paced", action="store_true",
                   help="the patient is paced (as marking a bed paced): the AF alarm rests on the beat "
                        "sequence, and the summary and report say so")
    p.add_argument("--ext", default="dacl", help="annotation file extension (default: dacl → 201.dacl)")
    p.add_argument("--max-batch", type=int, default=64, help="windows per inference call at most")
    p.add_argument("--no-report", action="store_true", help="skip the PNG reports (faster on many records)")
    p.add_argument("--json", nargs="?", const="-", metavar="FILE",
                   help="print the run's JSON to stdout, or write it to FILE")
    p.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    return p


def _each_record(paths: list[Path], analyse: Callable, write: Callable[..., dict[str, Path]],
                 errors: tuple[type[BaseException], ...],
                 on_record: Callable[[str, int, int], None] | None) -> tuple[list, list]:
    """Analyse and write each record; one that raises `errors` is logged and listed as skipped."""
    analysed: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    for i, path in enumerate(paths):
        if on_record is not None:
            on_record(path.name, i, len(paths))
        try:
            analysis = analyse(path)
        except errors as exc:
            log.warning("skipping record %s: %s", path, exc)
            skipped.append({"record": str(path), "error": f"{type(exc).__name__}: {exc}"})
            continue
        analysed.append(json.loads(write(analysis)["summary"].read_text()))
    return analysed, skipped


def analyze_paths(
    records: str | Path | list[Path],
    out: str | Path,
    model,  # core.scheduler_model.PipelineModel (or any InferenceModel with fs/window/hop)
    *,
    lead: str | int | None = None,
    extension: str = "dacl",
    max_batch: int = 64,
    report: bool = True,
    on_record: Callable[[str, int, int], None] | None = None,
    on_windows: Callable[[int, int], None] | None = None,
    paced: bool = False,
) -> dict[str, Any]:
    """Analyse each record named by `records` (a record, a folder, or a list of records) into `out`.

    Returns the run's JSON (summaries and skips).
    `on_record(name, index, total)` is called before each record and `on_windows(done, expected)` during
    it, for progress bars. A record that cannot be read or analysed is logged and listed as skipped.
    """
    from core.analysis_files import write_outputs
    from core.analyze import AnalysisError, analysis_config, analyze_record
    from core.headless import machine
    from core.records import RecordError, list_records, open_record

    paths = [Path(r) for r in records] if isinstance(records, list) else list_records(records)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    config = analysis_config(model, max_batch)

    def analyse(path: Path):
        return analyze_record(open_record(path, lead), model, config=config, progress=on_windows,
                              paced=paced)

    def write(analysis) -> dict[str, Path]:
        extra = {}
        if report:
            from app.report import write_report

            extra["report"] = write_report(analysis, out / f"{analysis.record.name}_report.png")
        return write_outputs(analysis, out, extension, extra)

    analysed, skipped = _each_record(paths, analyse, write, (RecordError, AnalysisError, OSError, ValueError),
                                     on_record)
    run = {"records": analysed, "skipped": skipped, "annotation_extension": extension,
           "backend": model.backend, "machine": machine()}
    (out / "analysis.json").write_text(json.dumps(run, indent=1) + "\n")
    return run


def analyze_beat_paths(
    records: str | Path | list[Path],
    out: str | Path,
    rhythm,  # core.beat_analysis.RrRhythm
    *,
    beats: str,
    extension: str = "dacl",
    report: bool = True,
    on_record: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Beats-only analysis of each record named by `records` into `out`; returns the run's JSON.

    A record whose beat file or header cannot be used is logged and listed as skipped, with the reason.
    """
    from core.beat_analysis import analyze_beats, write_beat_outputs
    from core.beats import BeatFileError, read_beats
    from core.headless import machine
    from core.records import list_records

    paths = [Path(r) for r in records] if isinstance(records, list) else list_records(records)
    paths = [p.with_suffix("") if p.suffix == ".hea" else p for p in paths]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)

    def write(analysis) -> dict[str, Path]:
        extra = {}
        if report:
            from app.beat_report import write_beat_report

            extra["report"] = write_beat_report(analysis, out / f"{analysis.record.name}_report.png")
        return write_beat_outputs(analysis, out, extension, extra)

    analysed, skipped = _each_record(paths, lambda p: analyze_beats(read_beats(p, beats), rhythm), write,
                                     (BeatFileError, OSError, ValueError), on_record)
    if on_record is not None:
        on_record("", len(paths), len(paths))
    run = {"records": analysed, "skipped": skipped, "annotation_extension": extension,
           "input": f"beats ({beats})",
           "backend": "onnxruntime CPU (RR rhythm model)", "machine": machine()}
    (out / "analysis.json").write_text(json.dumps(run, indent=1) + "\n")
    return run


def main_beats(args: argparse.Namespace) -> int:
    """`analyze --beats EXT`: the RR rhythm model on beat annotations, with a progress bar over records."""
    import time

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from core.beat_analysis import RrRhythm
    from engines.bundle import load_bundle

    console = Console(stderr=True)
    try:
        rhythm = RrRhythm(load_bundle(args.model))
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        console.print(f"[red]error:[/red] cannot load the RR rhythm model of {args.model}: {exc}")
        return 2
    t0 = time.perf_counter()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    try:
        with Progress(*columns, console=console, transient=True) as bar:
            task = bar.add_task("records", total=None)
            run = analyze_beat_paths(args.records, args.out, rhythm, beats=args.beats, extension=args.ext,
                                     report=not args.no_report,
                                     on_record=lambda n, i, t: bar.update(task, completed=i, total=t,
                                                                          description=f"records ({n})"))
    except (FileNotFoundError, ValueError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 2
    wall = time.perf_counter() - t0
    total = sum(s["duration_s"] for s in run["records"])
    for s in run["records"]:
        lost = s["unreadable_s"]  # the beats lost the signal: no rhythm can be read there
        note = f", [yellow]{lost / 3600:.1f} h unreadable (beats lost)[/yellow]" if lost >= 60 else ""
        console.print(f"{s['record']}: {s['beats']:,} beats, {len(s['af_episodes'])} AF episode(s), "
                      f"AF burden {100 * s['af_burden']:.1f} %, {s['x_real_time']:,.0f}× real time{note}")
    for s in run["skipped"]:
        console.print(f"[yellow]skipped[/yellow] {s['record']}: {s['error']}")
    console.print(f"{len(run['records'])} analysed, {len(run['skipped'])} skipped → {args.out} "
                  f"({total / 3600:.1f} h of beats in {wall:.1f} s, "
                  f"{total / max(wall, 1e-9):,.0f}× real time)")
    _emit_json(run, args.json)
    return 0 if run["records"] else 1


def _emit_json(run: dict[str, Any], target: str | None) -> None:
    if target:
        text = json.dumps(run, indent=1) + "\n"
        if target == "-":
            sys.stdout.write(text)
        else:
            Path(target).write_text(text)


def main(argv: list[str] | None = None) -> int:
    """Run `dacl-monitor analyze`; return the exit status (0 ok, 1 nothing analysed, 2 bad input)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from core.scheduler_model import load_model

    args = build_parser().parse_args(argv)
    configure_logging(args.verbose)
    if args.beats:
        return main_beats(args)
    console = Console(stderr=True)
    lead = parse_lead(args.lead)
    try:
        if args.max_batch < 1:
            raise ValueError(f"--max-batch must be a positive integer; {args.max_batch} is invalid")
        model = load_model(args.model, args.engine, engine_options=engine_options(args))
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        console.print(f"[red]error:[/red] cannot load the model {args.model}: {exc}")
        return 2
    console.print(f"model {args.model}: {model.selection}")
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    try:
        with Progress(*columns, console=console, transient=True) as bar:
            rec_task = bar.add_task("records", total=None)
            win_task = bar.add_task("windows", total=None)

            def on_record(name: str, i: int, total: int) -> None:
                bar.update(rec_task, completed=i, total=total, description=f"records ({name})")
                bar.reset(win_task)

            run = analyze_paths(args.records, args.out, model, lead=lead, extension=args.ext,
                                max_batch=args.max_batch, report=not args.no_report, on_record=on_record,
                                on_windows=lambda d, n: bar.update(win_task, completed=d, total=n),
                                paced=args.paced)
    except (FileNotFoundError, ValueError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 2
    finally:
        model.close()
    for s in run["records"]:
        whole = s.get("record_class")
        console.print(f"{s['record']}: {s['windows']} windows, {s['dropped']} dropped, "
                      f"{len(s['af_episodes'])} AF episode(s), AF burden {100 * s['af_burden']:.1f} %, "
                      f"{s['x_real_time']:.0f}× real time"
                      + (f", whole recording: {describe(whole)}" if whole else ""))
    for s in run["skipped"]:
        console.print(f"[yellow]skipped[/yellow] {s['record']}: {s['error']}")
    console.print(f"{len(run['records'])} analysed, {len(run['skipped'])} skipped → {args.out}")
    _emit_json(run, args.json)
    return 0 if run["records"] else 1


if __name__ == "__main__":
    sys.exit(main())
