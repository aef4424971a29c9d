"""The one-page PNG report of a whole-record analysis (matplotlib, no display needed).

Top: AF probability over the whole record with the detected AF episodes shaded (and the reference AF
episodes as a band when the record has rhythm annotations); then heart rate; then a 10 s ECG strip at
the onset of each of the first few episodes (or at the start of the record when there is none).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.analyze import AF, RecordAnalysis
from core.ec57 import af_reference
from core.record_head import describe
from core.results import CLASS_CODES

STRIP_S = 10.0
MAX_STRIPS = 3
AF_COLOUR = "#d62728"
REF_COLOUR = "#7f7f7f"


def reference_af(analysis: RecordAnalysis) -> list[tuple[int, int]]:
    """The record's reference AF intervals in samples (empty without rhythm annotations)."""
    ann = analysis.record.annotations
    if ann is None:
        return []
    return af_reference(ann.sample, ann.symbol, ann.aux_note, analysis.record.n_samples)


def write_report(analysis: RecordAnalysis, path: str | Path) -> Path:
    """Draw the report of `analysis` into the PNG `path`."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    rec = analysis.record
    minutes = analysis.end_sample / rec.fs / 60.0
    episodes = analysis.episodes(AF)
    ref = reference_af(analysis)
    summary = analysis.summary()
    strips = [max(0.0, e.onset_s - 2.0) for e in episodes[:MAX_STRIPS]] or [0.0]

    fig = Figure(figsize=(11.7, 8.3), dpi=110, layout="constrained")
    grid = fig.add_gridspec(2 + len(strips), 1, height_ratios=[1.3, 1.0] + [0.9] * len(strips))
    hr_stats = summary["heart_rate_bpm"]
    fig.suptitle(
        f"{rec.name}  ·  lead {rec.lead}  ·  {rec.duration_s / 60:.1f} min at {rec.fs:g} Hz  ·  "
        f"AF burden {100 * summary['af_burden']:.1f} %  ·  {len(episodes)} AF episode(s)  ·  "
        f"median HR {hr_stats['median'] or float('nan'):.0f} bpm"
        f"{'  ·  PACED (marked by the user)' if analysis.paced else ''}"
        f"{'  ·  whole recording: ' + describe(summary['record_class']) if summary['record_class'] else ''}\n"
        f"{len(analysis)} windows ({analysis.dropped} dropped) analysed in {analysis.wall_s:.1f} s "
        f"({summary['x_real_time']:.0f}× real time) on {analysis.backend}", fontsize=10)

    ax = fig.add_subplot(grid[0])
    label = ("p(AF), RR model + window" if analysis.alarm_probs is not None else
             "p(AF), 60 s rhythm context" if analysis.rhythm_probs is not None else "p(AF)")
    ax.plot(minutes, analysis.alarm_input[:, CLASS_CODES.index(AF)], color="black", lw=0.7, label=label)
    for i, e in enumerate(episodes):
        ax.axvspan(e.onset_s / 60, e.offset_s / 60, color=AF_COLOUR, alpha=0.25, lw=0,
                   label="detected AF" if i == 0 else None)
    for i, (a, b) in enumerate(ref):
        ax.axvspan(a / rec.fs / 60, b / rec.fs / 60, ymin=1.02, ymax=1.08, color=REF_COLOUR, clip_on=False,
                   label="reference AF" if i == 0 else None)
    ax.set_ylim(0, 1)
    ax.set_xlim(0, rec.duration_s / 60)
    ax.set_ylabel("p(AF)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    ax.set_title("AF probability per window (detected episodes shaded, reference AF as the grey band above)",
                 fontsize=9, loc="left", pad=14)

    ax_hr = fig.add_subplot(grid[1], sharex=ax)
    ax_hr.plot(minutes, analysis.heart_rate, color="#1f77b4", lw=0.7)
    for e in episodes:
        ax_hr.axvspan(e.onset_s / 60, e.offset_s / 60, color=AF_COLOUR, alpha=0.2, lw=0)
    ax_hr.set_ylabel("heart rate (bpm)")
    ax_hr.set_xlabel("time (min)")

    for k, t0 in enumerate(strips):
        ax_s = fig.add_subplot(grid[2 + k])
        a = int(t0 * rec.fs)
        b = min(rec.n_samples, a + int(STRIP_S * rec.fs))
        t = np.arange(a, b) / rec.fs
        ax_s.plot(t, rec.signal[a:b], color="black", lw=0.6)
        for e in episodes:
            if e.onset_s < t[-1] and e.offset_s > t[0]:
                ax_s.axvspan(max(e.onset_s, t[0]), min(e.offset_s, t[-1]), color=AF_COLOUR, alpha=0.12, lw=0)
        ax_s.set_xlim(t[0], t[0] + STRIP_S)
        ax_s.set_ylabel("mV")
        ax_s.grid(True, color="#f4b6b6", lw=0.4)
        what = f"AF episode {k + 1} onset at {_clock(episodes[k].onset_s)}" if episodes else \
            "no AF episode detected: first 10 s of the record"
        ax_s.set_title(f"{what}  (strip from {_clock(t0)}, {rec.lead})", fontsize=9, loc="left")
    ax_s.set_xlabel("time (s)")

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def _clock(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
