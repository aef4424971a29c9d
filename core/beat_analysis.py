"""Rhythm analysis of a whole record from its beats alone: the RR rhythm model and beat-level AF episodes.

`RrRhythm` is a bundle's RR model (engines/rr_model.py) bound to the feature code it was trained with: it
refuses a bundle whose "rr_model" asks for other features or another number of intervals, naming the
field. `analyze_beats` runs it over every beat of a record (`core.beats.read_beats`: annotations and
header, never the signal) and returns a `BeatAnalysis`; `write_beat_outputs` writes what `dacl-monitor
analyze --beats` writes: `<record>.dacl` rhythm annotations at the record's own sample numbers, the
model's output at every beat (`<record>_rhythm.csv`) and a summary JSON (AF burden, episodes, heart rate).
"""

from __future__ import annotations

import csv
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.beat_episodes import BeatEpisodeSettings, beat_episodes
from core.beats import BeatRecord
from core.events import RhythmEvent, write_rhythm_annotations
from core.results import write_summary
from core.rr_features import FEATURES, N_INTERVALS, RR_CLIP_S, rr_feature_matrix

RR_CLASS_NAMES = {"N": "sinus", "A": "AF", "O": "other rhythm"}


class RrRhythm:
    """A bundle's RR model with its episode settings, checked against this build's feature code."""

    def __init__(self, bundle) -> None:
        from engines.rr_model import RrModelEngine

        block = bundle.rr_model
        if block is None:
            raise ValueError(f"bundle {bundle.path} has no RR rhythm model (manifest field 'rr_model'); "
                             "add one with `dacl-train rr --bundle ...`")
        if list(block["features"]) != list(FEATURES):
            raise ValueError(f"bundle {bundle.path}: rr_model.features {block['features']} differ from the "
                             f"features this build computes {list(FEATURES)} (core/rr_features.py)")
        if block["n_intervals"] != N_INTERVALS:
            raise ValueError(f"bundle {bundle.path}: rr_model.n_intervals={block['n_intervals']} but this "
                             f"build computes {N_INTERVALS}")
        self.engine = RrModelEngine(bundle.path, block)
        self.settings = BeatEpisodeSettings.from_manifest(block["episodes"])

    def probs(self, features: np.ndarray) -> np.ndarray:
        """(M, 3) p(sinus, AF, other) of (M, F) features."""
        return self.engine.run(features)


@dataclass
class BeatAnalysis:
    """One record's rhythm from its beats: the model's output at every decision and the AF episodes."""

    record: BeatRecord
    centres: np.ndarray  # (M,) record sample of each decision's centre beat
    probs: np.ndarray  # (M, 3) p(sinus, AF, other)
    heart_rate: np.ndarray  # (M,) bpm: 60 / the window's median RR
    episodes: list[tuple[int, int]]  # AF [start, end) in record samples
    settings: BeatEpisodeSettings
    wall_s: float
    invalid: np.ndarray | None = None  # (M,) share of each decision's RR intervals outside 0.2-3 s

    def summary(self) -> dict[str, Any]:
        rec = self.record
        fs = rec.fs
        af_s = sum(b - a for a, b in self.episodes) / fs
        rr = np.diff(rec.samples) / fs
        ok = (rr >= RR_CLIP_S[0]) & (rr <= RR_CLIP_S[1])
        hr = 60.0 / rr[ok] if ok.any() else np.empty(0)
        calls = np.argmax(self.probs, axis=1) if len(self.probs) else np.empty(0, int)
        return {
            "record": rec.name,
            "path": str(Path(rec.path).resolve()),
            "input": f"beats ({rec.extension})",
            "fs": fs,
            "samples": rec.n_samples,
            "duration_s": rec.duration_s,
            "beats": int(rec.samples.size),
            "decisions": int(len(self.centres)),
            "analysed_s": float((self.centres[-1] - self.centres[0]) / fs) if len(self.centres) else 0.0,
            "af_burden": af_s / rec.duration_s if rec.duration_s > 0 else 0.0,
            "af_time_s": af_s,
            "af_episodes": [{"onset_s": a / fs, "offset_s": b / fs, "duration_s": (b - a) / fs,
                             "onset_sample": int(a), "offset_sample": int(b)} for a, b in self.episodes],
            "heart_rate_bpm": _stats(hr),
            "beat_intervals_outside_0.2_3s": int((~ok).sum()),
            "unreadable_s": self.unreadable_s(),
            "beats_in_rr_class": {c: int(np.sum(calls == i)) for i, c in enumerate(RR_CLASS_NAMES)},
            "episode_settings": self.settings.to_dict(),
            "alarm_input": "rr_model (beats only)",
            "wall_s": self.wall_s,
            "x_real_time": rec.duration_s / self.wall_s if self.wall_s > 0 else math.inf,
            "backend": "onnxruntime CPU",
        }


    def unreadable(self) -> list[tuple[int, int]]:
        """Stretches [start, end) (record samples) whose rhythm the beats cannot tell.

        A decision is skipped (the episode state holds) when more than the settings' `max_invalid` of its
        RR intervals lie outside 0.2-3 s: the beat detector lost the signal (LTAFDB 112's .qrs for hours).
        Each skipped decision covers the time from its centre beat to the next decision's.
        """
        if self.invalid is None or len(self.centres) < 2:
            return []
        skipped = np.concatenate([[False], self.invalid[:-1] > self.settings.max_invalid, [False]])
        edges = np.flatnonzero(np.diff(skipped.astype(np.int8)))  # run starts, run ends alternate
        return [(int(self.centres[a]), int(self.centres[b])) for a, b in zip(edges[::2], edges[1::2],
                                                                            strict=True)]

    def unreadable_s(self) -> float:
        """Total time of `unreadable` (seconds)."""
        return sum(b - a for a, b in self.unreadable()) / self.record.fs


def _stats(x: np.ndarray) -> dict[str, float | None]:
    if x.size == 0:
        return {"mean": None, "min": None, "max": None, "p5": None, "p95": None}
    p5, p95 = np.percentile(x, [5, 95])
    return {"mean": float(x.mean()), "min": float(x.min()), "max": float(x.max()), "p5": float(p5),
            "p95": float(p95)}


def rr_episodes_of(beats: np.ndarray, fs: float, model: RrRhythm, end: int) -> list[tuple[int, int]]:
    """AF episodes [start, end) of a beat sequence (samples at `fs`) by the RR model and its settings."""
    beats = np.unique(np.asarray(beats, dtype=np.int64))
    feats, centres = rr_feature_matrix(beats, fs)
    if len(feats) == 0:
        return []
    return beat_episodes(centres, model.probs(feats)[:, 1], model.settings, end,
                         feats[:, FEATURES.index("invalid")])


def analyze_beats(record: BeatRecord, model: RrRhythm) -> BeatAnalysis:
    """The RR model at every beat of `record` and its AF episodes (beat resolution)."""
    t0 = time.perf_counter()
    feats, centres = rr_feature_matrix(record.samples, record.fs)
    probs = model.probs(feats)
    episodes = beat_episodes(centres, probs[:, 1], model.settings, record.n_samples,
                             feats[:, FEATURES.index("invalid")])
    heart_rate = 60.0 / np.exp(feats[:, FEATURES.index("log_median_rr")].astype(np.float64))
    return BeatAnalysis(record, centres, probs, heart_rate, episodes, model.settings,
                        time.perf_counter() - t0, feats[:, FEATURES.index("invalid")])


def write_beat_outputs(analysis: BeatAnalysis, out_dir: str | Path, extension: str = "dacl",
                       extra_files: dict[str, Path] | None = None) -> dict[str, Path]:
    """`<record>.<extension>` ('+' '(AFIB' / '(N' at episode edges), `<record>_rhythm.csv`, summary JSON."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rec = analysis.record
    events = []
    for a, b in analysis.episodes:
        events.append(RhythmEvent(0, "start", "A", int(a), int(a), math.nan, 0.0))
        if b < rec.n_samples:
            events.append(RhythmEvent(0, "end", "A", int(b), int(b), math.nan, 0.0))
    first = int(analysis.centres[0]) if len(analysis.centres) else 0
    first = min(first, events[0].sample) if events else first
    paths = {"annotations": write_rhythm_annotations(events, rec.name, rec.fs, out, extension,
                                                     baseline_sample=first)}
    paths["rhythm"] = out / f"{rec.name}_rhythm.csv"
    table = np.column_stack([analysis.centres, analysis.centres / rec.fs, analysis.probs,
                             analysis.heart_rate])
    with paths["rhythm"].open("w", newline="") as f:
        csv.writer(f).writerow(["centre_sample", "centre_s", "p_sinus", "p_AF", "p_other", "heart_rate_bpm"])
        np.savetxt(f, table, fmt=["%d", "%.3f", "%.5f", "%.5f", "%.5f", "%.1f"], delimiter=",")
    paths.update(extra_files or {})
    return write_summary(analysis.summary(), paths, out, rec.name)
