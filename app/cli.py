"""`dacl-monitor [RECORD]`: the desktop monitor; `--headless` hands over to app.headless (no GUI)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from app.args import add_engine_args, configure_logging, engine_options, parse_lead
from app.event_loop import run_window

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    """The monitor's command line."""
    p = argparse.ArgumentParser(
        prog="dacl-monitor",
        description="Real-time ECG monitor (DACL). With no RECORD it replays the shipped demo record.",
        epilog="Whole-record analysis: dacl-monitor analyze --help; its review: dacl-monitor review --help. "
               "Headless mode: dacl-monitor --headless --help")
    p.add_argument("record", nargs="?", help="WFDB record path (…/100 or …/100.hea), physionet:db/rec, "
                   "or a folder of records (cycled over the beds)")
    p.add_argument("--model", help="model bundle folder (default: the shipped engines/default)")
    add_engine_args(p)
    p.add_argument("--lead", help="lead name or index (default II / MLII / ECG, else the first)")
    p.add_argument("--speed", type=float, default=None, help="replay speed factor (1, 2, 5, 10; default 1)")
    p.add_argument("--loop", action=argparse.BooleanOptionalAction, default=None,
                   help="loop replays at their end (default on)")
    p.add_argument("--streams", type=int, default=1, help="beds replaying (grid when > 1)")
    p.add_argument("--screenshot", metavar="FILE", help="save a PNG of the window after --duration (12 s)")
    p.add_argument("--duration", type=float, default=None, metavar="S", help="run S seconds, then exit")
    p.add_argument("--settings", metavar="INI", help="settings file instead of the user's QSettings")
    p.add_argument("--headless", action="store_true", help="no GUI: see dacl-monitor --headless --help")
    p.add_argument("--review", metavar="DIR", help="review an analyze output folder instead (as "
                   "dacl-monitor review DIR; see its --help)")
    p.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    return p


def _record_list(record: str | None, streams: int) -> list[str]:
    """The record each bed replays: the one given, records of a folder in turn, or the demo records."""
    from app.demo import DEFAULT_RECORD, RECORDS

    if record is None:
        demo = [str(DEFAULT_RECORD)] + [str(p) for p in RECORDS.values() if p != DEFAULT_RECORD]
        return [demo[i % len(demo)] for i in range(streams)]
    if Path(record).is_dir():  # the same listing as --headless and analyze: RECORDS, else *.hea
        from core.records import list_records

        found = [str(p) for p in list_records(record)]
        return [found[i % len(found)] for i in range(streams)]
    return [record] * streams


def _check(args: argparse.Namespace) -> None:
    if args.streams < 1:
        raise ValueError(f"--streams must be a positive integer; {args.streams} is invalid")
    if args.speed is not None and not args.speed > 0:
        raise ValueError(f"--speed must be a positive factor; {args.speed} is invalid")
    if args.duration is not None and not args.duration > 0:
        raise ValueError(f"--duration must be a positive number of seconds; {args.duration} is invalid")
    if args.screenshot and args.duration is None:
        args.duration = 12.0


class ModelLoadError(RuntimeError):
    """The model bundle could not be loaded: without it there is no monitor to show."""


def launch(args: argparse.Namespace):
    """Create the QApplication (if needed), the session and the shown window with its first sources.

    Returns (app, window). A record that cannot be opened is shown in the window, not raised.
    """
    from PySide6 import QtWidgets

    from app import theme
    from app.controller import MonitorSession
    from app.main_window import MainWindow
    from app.settings import APPLICATION, ORGANIZATION, MonitorSettings

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([sys.argv[0]])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    theme.configure_pyqtgraph()
    settings = MonitorSettings(args.settings)
    speed = args.speed if args.speed is not None else settings.speed
    loop = args.loop if args.loop is not None else settings.loop
    try:
        session = MonitorSession(args.model, args.engine, speed=speed, loop=loop,
                                 engine_options=engine_options(args))
    except Exception as exc:  # noqa: BLE001 - no model, no monitor: say why
        raise ModelLoadError(f"cannot load the model: {exc}") from exc
    window = MainWindow(session, settings)
    if settings.geometry is not None and not args.screenshot:
        window.restoreGeometry(settings.geometry)
    window.show()
    try:
        records = _record_list(args.record, args.streams)
    except FileNotFoundError as exc:
        window.show_error(str(exc))
        records = []
    lead = parse_lead(args.lead)
    for i, record in enumerate(records):
        window.open_record(record, lead, replace=False, start_delay_s=(0.77 * i) % 3.0)
    return app, window


def main(argv: list[str] | None = None) -> int:
    """Run the monitor; return the exit status (0 ok, 1 screenshot failed, 2 bad arguments or model)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["analyze"]:
        from app.analyze import main as analyze_main

        return analyze_main(argv)
    if argv[:1] == ["review"] or "--review" in argv:
        from app.review_cli import main as review_main

        return review_main(argv)
    if "--headless" in argv:
        from app.headless import main as headless_main

        return headless_main(argv)
    args = build_parser().parse_args(argv)
    configure_logging(args.verbose)
    try:
        _check(args)
    except ValueError as exc:
        print(f"dacl-monitor: error: {exc}", file=sys.stderr)
        return 2

    try:
        app, window = launch(args)
    except ModelLoadError as exc:
        print(f"dacl-monitor: error: {exc}", file=sys.stderr)
        return 2
    code = run_window(app, window, args.duration, args.screenshot)
    window.settings.sync()
    return code


if __name__ == "__main__":
    sys.exit(main())
