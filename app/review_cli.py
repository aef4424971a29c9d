"""`dacl-monitor review FOLDER`: the review window of an analysis folder, from the command line.

app/cli.py calls `main(argv)` for `review`; options put the cursor at a time or an episode, choose the
span, and take a screenshot (`--screenshot`, `--duration`).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from PySide6 import QtWidgets

from app import theme
from app.args import configure_logging
from app.event_loop import run_window
from app.review import SPANS_S, ReviewWindow


def build_parser() -> argparse.ArgumentParser:
    """`dacl-monitor review` command line."""
    p = argparse.ArgumentParser(prog="dacl-monitor review",
                                description="Browse the output folder of `dacl-monitor analyze`: overview, "
                                            "episodes, and the ECG at any time of the record.")
    p.add_argument("folder", help="an analyze output folder (analysis.json, <record>_windows.csv, ...)")
    p.add_argument("--record", help="the record to show first (default: the folder's first)")
    p.add_argument("--records", metavar="FOLDER",
                   help="where the analysed records are now, when not at the path the analysis stored")
    p.add_argument("--annotation", default="atr", help="reference annotation extension (default atr; "
                   "'none' for none)")
    p.add_argument("--at", type=float, metavar="S", help="put the cursor at S seconds")
    p.add_argument("--episode", type=int, metavar="K", help="put the cursor at model AF episode K (1…)")
    p.add_argument("--span", type=float, metavar="S", help=f"ECG span, one of {', '.join(map(str, SPANS_S))}")
    p.add_argument("--screenshot", metavar="FILE", help="save a PNG of the window after --duration (2 s)")
    p.add_argument("--duration", type=float, metavar="S", help="run S seconds, then exit")
    p.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    return p


def launch(args: argparse.Namespace) -> tuple[QtWidgets.QApplication, ReviewWindow, bool]:
    """Create the application and the shown window; return (app, window, whether the folder opened)."""
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([sys.argv[0]])
    theme.configure_pyqtgraph()
    window = ReviewWindow(records_dir=args.records,
                          annotation=None if args.annotation == "none" else args.annotation)
    window.show()
    ok = window.open_folder(args.folder)
    if ok and args.record and args.record != window.record.name:
        ok = window.record_box.findText(args.record) >= 0
        if ok:
            window.record_box.setCurrentText(args.record)
        else:
            window.show_error(f"no record {args.record!r} in {args.folder}")
    if ok and args.span:
        window.span_index = int(np.argmin([abs(s - args.span) for s in SPANS_S]))
    if ok and args.episode:
        episodes = window.record.episodes
        if 1 <= args.episode <= len(episodes):
            window.set_cursor(episodes[args.episode - 1].start_s)
        else:
            window.show_error(f"no model AF episode {args.episode} ({len(episodes)} in {window.record.name})")
    elif ok:
        window.set_cursor(args.at or 0.0)
    return app, window, ok


def main(argv: list[str] | None = None) -> int:
    """Run review mode; 0 ok, 1 the folder could not be opened (screenshot runs) or not saved, 2 bad args."""
    argv = list(sys.argv[1:] if argv is None else argv)
    argv = [a for i, a in enumerate(argv) if not (a == "--review" or (i == 0 and a == "review"))]
    args = build_parser().parse_args(argv)
    configure_logging(args.verbose)
    if args.screenshot and args.duration is None:
        args.duration = 2.0
    if args.duration is not None and not args.duration > 0:
        print(f"dacl-monitor review: error: --duration must be positive; {args.duration} is invalid",
              file=sys.stderr)
        return 2
    app, window, ok = launch(args)
    return run_window(app, window, args.duration, args.screenshot,
                      failure=lambda: None if ok else f"review: {window.error_text}")


if __name__ == "__main__":
    sys.exit(main())
