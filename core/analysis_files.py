"""The files `dacl-monitor analyze` writes from a RecordAnalysis (core/analyze.py).

`<record>.<ext>` rhythm annotations and `<record>.beats` at the record's own sample numbers, the per-window
CSV and the summary JSON.
"""

from __future__ import annotations

import csv
import logging
import math
from pathlib import Path

import numpy as np

from core.analyze import AF, RecordAnalysis
from core.events import RhythmEvent, write_rhythm_annotations
from core.results import CLASS_CODES, write_summary

log = logging.getLogger(__name__)


def write_outputs(analysis: RecordAnalysis, out_dir: str | Path, extension: str = "dacl",
                  extra_files: dict[str, Path] | None = None) -> dict[str, Path]:
    """Write `<record>.<extension>` (rhythm annotations), `<record>_windows.csv` and `<record>_summary.json`.

    The annotations are '+' with aux notes '(AFIB' at each AF episode's onset and '(N' at its offset and
    at the first analysed sample, at the record's own rate and sample numbers, so `wfdb.rdann(record,
    extension)` and WFDB viewers line them up with the record.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    name = analysis.record.name
    paths = {"annotations": _write_annotations(analysis, out, extension)}
    if analysis.beats.size:  # WFDB cannot write an empty annotation file (a flat line has no beats)
        paths["beats"] = write_beats(analysis.record_beats, name, analysis.record.fs, out)
    else:
        log.warning("record %s: no beats detected; no %s.beats written", name, name)
    paths["windows"] = out / f"{name}_windows.csv"
    with paths["windows"].open("w", newline="") as f:
        writer = csv.writer(f)
        rp, rr, ap = analysis.rhythm_probs, analysis.rr_probs, analysis.alarm_probs
        writer.writerow(["end_sample", "end_s", *(f"p_{c}" for c in CLASS_CODES), "heart_rate_bpm",
                         "trajectory_x", "trajectory_y", "flags",
                         *((f"rhythm_p_{c}" for c in CLASS_CODES) if rp is not None else ()),
                         *(("rr_p_sinus", "rr_p_AF", "rr_p_other") if rr is not None else ()),
                         *((f"alarm_p_{c}" for c in CLASS_CODES) if ap is not None else ())])
        for i, end in enumerate(analysis.end_sample):
            writer.writerow([int(end), f"{end / analysis.record.fs:.4f}",
                             *(f"{p:.6f}" for p in analysis.probs[i]), f"{analysis.heart_rate[i]:.2f}",
                             f"{analysis.trajectory[i, 0]:.6f}", f"{analysis.trajectory[i, 1]:.6f}",
                             "|".join(sorted(analysis.flags[i])),
                             *((f"{p:.6f}" for p in rp[i]) if rp is not None else ()),
                             *((f"{p:.6f}" for p in rr[i]) if rr is not None else ()),  # nan: none yet
                             *((f"{p:.6f}" for p in ap[i]) if ap is not None else ())])
    paths.update(extra_files or {})
    return write_summary(analysis.summary(), paths, out, name)


def write_beats(samples: np.ndarray, record_name: str, fs: float, out: Path,
                extension: str = "beats") -> Path:
    """The monitor's beats as WFDB beat annotations ('N' at each R-peak, the record's sample numbers)."""
    import wfdb

    samples = np.unique(np.asarray(samples, dtype=np.int64))
    wfdb.wrann(record_name, extension, samples, symbol=["N"] * len(samples), fs=fs, write_dir=str(out))
    return out / f"{record_name}.{extension}"


def _write_annotations(analysis: RecordAnalysis, out: Path, extension: str) -> Path:
    """Episodes as RhythmEvents at record sample numbers, written by the monitor's annotation writer."""
    fs = analysis.record.fs
    events = []
    for ep in analysis.episodes(AF):
        events.append(RhythmEvent(0, "start", AF, ep.onset_sample, ep.onset_sample, math.nan, 0.0))
        if ep.offset_sample < analysis.record.n_samples:
            events.append(RhythmEvent(0, "end", AF, ep.offset_sample, ep.offset_sample, math.nan, 0.0))
    lag = analysis.episode_settings.onset_lag(analysis.window, analysis.hop)
    first = int(analysis.to_record_sample(max(0, analysis.end_index[0] - lag))) if len(analysis) else 0
    first = min(first, events[0].sample) if events else first
    return write_rhythm_annotations(events, analysis.record.name, fs, out, extension, baseline_sample=first)
