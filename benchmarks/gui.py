"""GUI frame timing, offscreen: frames/s and the GUI thread's CPU share with 1, 16 and 64 beds.

Targets (issues 7 and 17): >= 30 frames/s with one bed and with the 16-bed grid; GUI thread busy < 30 % of
one core with one bed. The 64-bed grid is measured against the same frame target, for the record.
A frame is a real repaint of a trace (paint events on the plot's viewport are counted, not timer ticks).
The GUI thread's CPU time comes from time.thread_time() sampled on that thread, so the scheduler's
acquisition and inference threads are not counted. Reference in the same run: the same window with no
source (what the frame loop costs when it has nothing to draw).

    QT_QPA_PLATFORM=offscreen python benchmarks/gui.py --json gui.json [--beds 1,16,64] [--seconds 15]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Run as a script, this folder comes first on sys.path, and benchmarks/engines.py would shadow the
# engines package: drop it (the project itself is installed, editable).
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

import numpy as np  # noqa: E402
import PySide6  # noqa: E402
from PySide6 import QtCore, QtWidgets  # noqa: E402

FPS_TARGET = 30.0
CPU_TARGET = 0.30


class PaintCounter(QtCore.QObject):
    """Counts paint events of the widgets it is installed on, with their times."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt override
        if event.type() == QtCore.QEvent.Type.Paint:
            self.times.append(time.perf_counter())
        return False


def spin(seconds: float) -> None:
    """Run the Qt event loop for `seconds` (a nested QEventLoop; no processEvents polling)."""
    loop = QtCore.QEventLoop()
    QtCore.QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def measure(app, window, viewports, seconds: float, warmup: float) -> dict:
    """Run the event loop `warmup` s, then `seconds` s while counting paints and GUI-thread CPU time."""
    counters = []
    for vp in viewports:
        c = PaintCounter()
        vp.installEventFilter(c)
        counters.append(c)
    spin(warmup)
    for c in counters:
        c.times.clear()
    frames0, results0 = window.frames, window.results_seen
    wall0, cpu0 = time.perf_counter(), time.thread_time()
    spin(seconds)
    wall, cpu = time.perf_counter() - wall0, time.thread_time() - cpu0
    per_view = [len(c.times) / wall for c in counters]
    intervals = np.concatenate([np.diff(c.times) for c in counters if len(c.times) > 1] or [np.zeros(1)])
    for vp, c in zip(viewports, counters, strict=True):
        vp.removeEventFilter(c)
    return {
        "wall_s": round(wall, 3),
        "frames_per_s": round(float(min(per_view)), 2),  # the slowest trace decides
        "frames_per_s_mean": round(float(np.mean(per_view)), 2),
        "timer_ticks_per_s": round((window.frames - frames0) / wall, 2),
        "frame_interval_ms": {"p50": round(float(np.percentile(intervals, 50)) * 1e3, 2),
                              "p99": round(float(np.percentile(intervals, 99)) * 1e3, 2)},
        "gui_thread_cpu_share": round(cpu / wall, 4),
        "results_per_s": round((window.results_seen - results0) / wall, 2),
    }


def run_case(app, args, streams: int) -> dict:
    """One scenario: a fresh session and window with `streams` demo replays (0: no source)."""
    from app.cli import _record_list
    from app.controller import MonitorSession
    from app.main_window import MainWindow
    from app.settings import MonitorSettings

    session = MonitorSession(args.model, args.engine, speed=1.0, loop=True)
    window = MainWindow(session, MonitorSettings(os.path.join(args.tmp, "bench.ini")))
    window.show()
    for i, record in enumerate(_record_list(None, streams) if streams else []):
        window.open_record(record, replace=False, start_delay_s=(0.77 * i) % 3.0)
    if streams > 1:
        window.show_grid()
        viewports = [window.grid.viewport()]  # every bed is drawn in this one view
    else:
        viewports = [window.waveform.viewport()]
    try:
        out = measure(app, window, viewports, args.seconds, args.warmup)
        out["backend"] = session.engine_info()
        out["streams"] = streams
        stats = session.stats()
        out["dropped_windows"] = stats["dropped"]
    finally:
        window.close()
        window.deleteLater()
        spin(0.2)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", help="write the results here")
    p.add_argument("--seconds", type=float, default=15.0, help="measured seconds per scenario")
    p.add_argument("--warmup", type=float, default=9.0, help="seconds before measuring (first window: 6.8 s)")
    p.add_argument("--model", default=None, help="model bundle (default: the shipped one)")
    p.add_argument("--engine", default="auto")
    p.add_argument("--beds", default="1,16,64", help="bed counts to measure, comma-separated")
    args = p.parse_args(argv)
    import tempfile

    from app import theme

    args.tmp = tempfile.mkdtemp(prefix="dacl-gui-bench-")
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([sys.argv[0]])
    theme.configure_pyqtgraph()
    from core.headless import machine

    beds = [int(b) for b in args.beds.split(",")]
    load_at_start = round(os.getloadavg()[0], 2)  # the VM is shared: say how busy it was
    cases = {}
    scenarios = [("reference_no_source", 0)] + [(f"beds_{n}", n) for n in beds]
    for name, n in scenarios:
        cases[name] = run_case(app, args, n)
        c = cases[name]
        print(f"{name:>22}: {c['frames_per_s']:6.1f} frames/s (slowest trace), GUI thread "
              f"{100 * c['gui_thread_cpu_share']:5.1f} % of a core, frame interval p50 "
              f"{c['frame_interval_ms']['p50']:.1f} ms p99 {c['frame_interval_ms']['p99']:.1f} ms, "
              f"{c['results_per_s']:.1f} results/s")
    verdict = {f"beds_{n}_fps_ok": cases[f"beds_{n}"]["frames_per_s"] >= FPS_TARGET for n in beds}
    if 1 in beds:
        verdict["beds_1_cpu_ok"] = cases["beds_1"]["gui_thread_cpu_share"] < CPU_TARGET
    backend = cases[f"beds_{beds[0]}"]["backend"]
    report = {
        "benchmark": "gui",
        "machine": {**machine(), "load_avg_1m_at_start": load_at_start,
                    "load_avg_1m_at_end": round(os.getloadavg()[0], 2), "nice": os.nice(0),
                    "qt_platform": os.environ.get("QT_QPA_PLATFORM"),
                    "qt": QtCore.qVersion(), "pyside6": PySide6.__version__},
        "backend": f"{backend['backend']} ({backend['device']}, {backend['precision']})",
        "model": backend["model"],
        "seconds": args.seconds,
        "targets": {"frames_per_s": FPS_TARGET, "gui_thread_cpu_share_one_bed": CPU_TARGET},
        "cases": cases,
        "verdict": verdict,
    }
    print(f"backend {report['backend']}, model {report['model']}, machine {report['machine']}")
    print("verdict:", ", ".join(f"{k}={v}" for k, v in verdict.items()))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
