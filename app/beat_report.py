"""The one-page PNG report of a beats-only analysis (`dacl-monitor analyze --beats`): no signal to show.

Top: p(AF) of the RR rhythm model over the whole record (hours for a Holter), the detected AF episodes
shaded and, when the record's reference rhythm annotations (.atr) lie beside it, the reference AF as a
band above; then heart rate; then the RR tachogram of the first minutes of the first few episodes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.beat_analysis import BeatAnalysis
from core.ec57 import af_reference

AF_COLOUR = "#d62728"
LOST_COLOUR = "#9467bd"  # where the beats cannot tell the rhythm (summary unreadable_s)
REF_COLOUR = "#7f7f7f"
MAX_POINTS = 4000  # a 24 h record has ~100,000 decisions: plot bin means, not every one
MAX_STRIPS = 2
STRIP_S = 120.0


def reference_af(analysis: BeatAnalysis) -> list[tuple[int, int]]:
    """The reference AF intervals from `<record>.atr` beside the beats, or [] when there is none."""
    rec = analysis.record
    if not rec.path.with_name(rec.path.name + ".atr").is_file():
        return []
    import wfdb

    try:
        ann = wfdb.rdann(str(rec.path), "atr")
    except Exception:  # an unreadable reference only loses the grey band
        return []
    return af_reference(ann.sample, ann.symbol, ann.aux_note, rec.n_samples)


def _binned(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if x.size <= MAX_POINTS:
        return x, y
    k = -(-x.size // MAX_POINTS)
    n = x.size // k * k
    return x[:n].reshape(-1, k).mean(axis=1), y[:n].reshape(-1, k).mean(axis=1)


def write_beat_report(analysis: BeatAnalysis, path: str | Path) -> Path:
    """Draw the report of `analysis` into the PNG `path`."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    rec = analysis.record
    s = analysis.summary()
    hours = rec.duration_s > 2 * 3600
    scale, unit = (3600.0, "h") if hours else (60.0, "min")
    t = analysis.centres / rec.fs / scale
    ref = reference_af(analysis)
    strips = [a for a, _ in analysis.episodes[:MAX_STRIPS]]
    fig = Figure(figsize=(11.7, 8.3), dpi=90)  # fixed margins: a constrained layout costs 0.6 s a page
    fig.subplots_adjust(left=0.07, right=0.86, top=0.9, bottom=0.06, hspace=0.45)
    grid = fig.add_gridspec(2 + len(strips), 1, height_ratios=[1.3, 1.0] + [0.8] * len(strips))
    fig.suptitle(f"{rec.name}  ·  beats from .{rec.extension} (no signal)  ·  "
                 f"{rec.duration_s / 3600:.1f} h at "
                 f"{rec.fs:g} Hz  ·  {s['beats']:,} beats  ·  AF burden {100 * s['af_burden']:.1f} %  ·  "
                 f"{len(analysis.episodes)} AF episode(s)"
                 + (f"  ·  {s['unreadable_s'] / 3600:.1f} h unreadable" if s["unreadable_s"] >= 60 else "")
                 + "\nRR rhythm model, analysed in "
                 f"{analysis.wall_s:.1f} s "
                 f"({s['x_real_time']:,.0f}× real time)", fontsize=10)
    ax = fig.add_subplot(grid[0])
    ax.plot(*_binned(t, analysis.probs[:, 1]), color="black", lw=0.7, label="p(AF), RR model")
    for i, (a, b) in enumerate(analysis.episodes):
        ax.axvspan(a / rec.fs / scale, b / rec.fs / scale, color=AF_COLOUR, alpha=0.25, lw=0,
                   label="detected AF" if i == 0 else None)
    for i, (a, b) in enumerate(analysis.unreadable()):  # no usable beats: the state only held there
        ax.axvspan(a / rec.fs / scale, b / rec.fs / scale, ymin=0, ymax=0.06, color=LOST_COLOUR, lw=0,
                   label="beats lost" if i == 0 else None)
    for i, (a, b) in enumerate(ref):
        ax.axvspan(a / rec.fs / scale, b / rec.fs / scale, ymin=1.02, ymax=1.08, color=REF_COLOUR,
                   clip_on=False, label="reference AF" if i == 0 else None)
    ax.set_ylim(0, 1)
    ax.set_xlim(0, rec.duration_s / scale)
    ax.set_ylabel("p(AF)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    ax.set_title("AF probability at each beat (detected episodes shaded, reference AF as the grey band "
                 "above)",
                 fontsize=9, loc="left", pad=14)
    ax_hr = fig.add_subplot(grid[1], sharex=ax)
    ax_hr.plot(*_binned(t, analysis.heart_rate), color="#1f77b4", lw=0.7)
    ax_hr.set_ylabel("heart rate (bpm)")
    ax_hr.set_xlabel(f"time ({unit})")
    beats = rec.samples / rec.fs
    for k, a in enumerate(strips):
        ax_s = fig.add_subplot(grid[2 + k])
        t0 = max(0.0, a / rec.fs - STRIP_S / 4)
        keep = (beats[1:] >= t0) & (beats[1:] < t0 + STRIP_S)
        ax_s.plot(beats[1:][keep], np.diff(beats)[keep], ".", ms=2, color="black")
        ax_s.axvline(a / rec.fs, color=AF_COLOUR, lw=1)
        ax_s.set_ylabel("RR (s)")
        ax_s.set_title(f"RR intervals around AF episode {k + 1}'s onset", fontsize=9, loc="left")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path
