"""A replayed record's reference annotations beside the live model: times, rhythm strip, beats, agreement.

The live path works in model-rate stream indices (the ring's), the reference in the record's own sample
numbers. `StreamMap` converts between them the way whole-record analysis does (index × fs / model_fs,
rounded); a looping replay continues the stream past the record's end, so a stream index falls in pass
`k` of the record at sample `position mod n_samples`.

Model decisions are placed as `core.analyze` places them: a window's call belongs to the centre of the
signal behind it (its end minus `EpisodeSettings.onset_lag`). Episode times, the annotations the monitor
saves and the running agreement all use that rule, so the live figures match `dacl-monitor analyze`
and the EC57 scorer (`core.ec57`) for the same span. Only the first pass of a looping replay is scored
and saved: the record is scored once, as the benchmark does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from wfdb.io.annotation import ann_labels, is_qrs

from core import ec57
from core.events import RhythmEvent
from core.records import Annotations, EcgRecord

#: Annotation codes that mark a beat (WFDB's isqrs table: N, L, R, A, a, J, S, V, F, e, j, Q, ...).
BEAT_SYMBOLS = tuple(label.symbol for label in ann_labels if is_qrs[label.label_store])
AF_RHYTHM = ec57.AF_AUX
NORMAL_RHYTHM = "(N"


def clean_note(note: str | None) -> str:
    """An aux note without WFDB's trailing NUL bytes and spaces."""
    return (note or "").strip("\x00 ").strip()


def rhythm_class(rhythm: str) -> int:
    """The model class (CLASS_CODES index) a reference rhythm is drawn as: (N Normal, (AFIB AF, else Other.

    Flutter is Other, as `core.ec57` scores it by default and as the CinC classes call it.
    """
    return {NORMAL_RHYTHM: 0, AF_RHYTHM: 1}.get(rhythm, 2)


@dataclass(frozen=True)
class StreamMap:
    """Model-rate stream indices of a replay ↔ its record's own sample numbers."""

    record_fs: float
    model_fs: float
    n_samples: int

    def position(self, index: np.ndarray | int) -> np.ndarray:
        """Stream index → continuous record sample (pass k covers k·n_samples ... (k+1)·n_samples - 1)."""
        return np.rint(np.asarray(index, dtype=np.float64) * self.record_fs / self.model_fs).astype(np.int64)

    def index(self, position: np.ndarray | int) -> np.ndarray:
        """Continuous record sample → stream index (rounded)."""
        pos = np.asarray(position, dtype=np.float64)
        return np.rint(pos * self.model_fs / self.record_fs).astype(np.int64)


@dataclass(frozen=True)
class Agreement:
    """The model's AF against the reference over one span of the record (times in seconds)."""

    score: ec57.RecordScore
    start: int  # scored span [start, end) in record samples
    end: int

    @property
    def duration_se(self) -> float | None:
        """Time in both over reference AF time (None without reference AF)."""
        return self.score.measures()["duration_se"]

    @property
    def duration_ppv(self) -> float | None:
        """Time in both over detected AF time (None without detected AF)."""
        return self.score.measures()["duration_ppv"]

    @property
    def disagree_s(self) -> float:
        """Time one side calls AF and the other does not."""
        return self.score.ref_s + self.score.det_s - 2 * self.score.both_s

    @property
    def scored_s(self) -> float:
        """Length of the span."""
        return self.score.scored_s

    def text(self) -> str:
        """One line: 'AF vs reference (2.0 min): duration Se 91 % · +P 88 % · disagree 14 s'."""
        def pct(x: float | None) -> str:
            return "–" if x is None else f"{100 * x:.0f} %"

        return (f"AF vs reference ({self.scored_s / 60:.1f} min): duration Se {pct(self.duration_se)} · "
                f"+P {pct(self.duration_ppv)} · disagree {self.disagree_s:.0f} s")


class ReferenceTrack:
    """One record's reference rhythm and beats, looked up by live stream index."""

    def __init__(self, record: EcgRecord, model_fs: float) -> None:
        ann = record.annotations
        if ann is None:
            raise ValueError(f"record {record.name} has no reference annotations")
        self.name = record.name
        self.map = StreamMap(float(record.fs), float(model_fs), record.n_samples)
        self.annotations: Annotations = ann
        segments = rhythm_segments(ann, record.n_samples)
        self.seg_start = np.array([s[0] for s in segments], dtype=np.int64)
        self.seg_end = np.array([s[1] for s in segments], dtype=np.int64)
        self.seg_rhythm = tuple(s[2] for s in segments)
        self.seg_class = np.array([rhythm_class(r) for r in self.seg_rhythm], dtype=np.int64)
        beat = np.isin(np.asarray(ann.symbol, dtype=object), BEAT_SYMBOLS)
        self.beat_sample = ann.sample[beat].astype(np.int64)
        beat_symbols = [s for s, b in zip(ann.symbol, beat, strict=True) if b]
        self.symbols = tuple(sorted(set(beat_symbols)))  # the codes this record uses
        lookup = {s: i for i, s in enumerate(self.symbols)}
        self.beat_code = np.array([lookup[s] for s in beat_symbols], dtype=np.int64)
        self.af = ec57.af_reference(ann.sample, ann.symbol, ann.aux_note, record.n_samples)

    @property
    def has_rhythm(self) -> bool:
        """Whether the annotations hold rhythm changes ('+' with '(…' notes)."""
        return len(self.seg_rhythm) > 0

    def _passes(self, lo: float, hi: float) -> range:
        n = self.map.n_samples
        return range(max(0, int(lo // n)), max(0, int(np.ceil(hi / n)) - 1) + 1)

    def strip(self, lo_index: int, hi_index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Reference rhythm over stream indices [lo, hi): (start index, end index, class) per piece, float."""
        ratio = self.map.model_fs / self.map.record_fs
        lo, hi = lo_index / ratio, hi_index / ratio  # unrounded, so the strip ends exactly at `hi_index`
        starts, ends, classes = [], [], []
        for k in self._passes(lo, hi):
            a = np.maximum(self.seg_start + k * self.map.n_samples, lo)
            b = np.minimum(self.seg_end + k * self.map.n_samples, hi)
            keep = b > a
            starts.append(a[keep])
            ends.append(b[keep])
            classes.append(self.seg_class[keep])
        if not starts:
            return np.empty(0), np.empty(0), np.empty(0, dtype=np.int64)
        return np.concatenate(starts) * ratio, np.concatenate(ends) * ratio, np.concatenate(classes)

    def beats(self, lo_index: int, hi_index: int) -> tuple[np.ndarray, np.ndarray]:
        """Reference beats with stream index in [lo, hi): (stream index, index into `symbols`)."""
        lo, hi = (int(v) for v in self.map.position([lo_index, hi_index]))
        index, code = [], []
        for k in self._passes(lo, hi):
            off = k * self.map.n_samples
            i0, i1 = np.searchsorted(self.beat_sample + off, [lo, hi])
            index.append(self.map.index(self.beat_sample[i0:i1] + off))
            code.append(self.beat_code[i0:i1])
        if not index:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
        index, code = np.concatenate(index), np.concatenate(code)
        keep = (index >= lo_index) & (index < hi_index)  # rounding at the edges
        return index[keep], code[keep]

    def agreement(self, events: Sequence[RhythmEvent], first_end: int, last_end: int, lag: int) -> Agreement:
        """The model's AF episodes (from `events`) against the reference AF, first pass, so far.

        The span runs from the centre of the first window (`first_end` - `lag`) to the centre of the
        newest (`last_end` - `lag`), in record samples, and is scored by `ec57.score_record` with that
        start as its learning period: the same figures as the EC57 scorer over the same span.
        """
        n = self.map.n_samples
        start = int(min(n, self.map.position(max(0, first_end - lag))))
        end = int(min(n, self.map.position(max(0, last_end - lag))))
        detected = episodes(record_events(events, self.map, lag), end)
        score = ec57.score_record(self.name, self.af, detected, end, self.map.record_fs,
                                  learning_s=start / self.map.record_fs)
        return Agreement(score, start, end)


def rhythm_segments(ann: Annotations, n_samples: int) -> list[tuple[int, int, str]]:
    """(start, end, rhythm) pieces of a record's rhythm annotations, in order, via `ec57.rhythm_intervals`."""
    rhythms = {clean_note(a) for s, a in zip(ann.symbol, ann.aux_note, strict=True)
               if s == "+" and clean_note(a).startswith("(")}
    out = [(a, b, r) for r in rhythms
           for a, b in ec57.rhythm_intervals(ann.sample, ann.symbol, ann.aux_note, n_samples, (r,))]
    return sorted(out)


def record_events(events: Sequence[RhythmEvent], smap: StreamMap, lag: int) -> list[RhythmEvent]:
    """Episode events moved to record sample numbers at the centre of their deciding window (first pass).

    Events past the record's first pass (a looping replay) are left out.
    """
    out = []
    for e in events:
        at = int(smap.position(max(0, e.sample - lag)))
        if at >= smap.n_samples:
            break
        out.append(RhythmEvent(e.stream_id, e.kind, e.rhythm, at, at, e.probability, e.time))
    return out


def episodes(events: Sequence[RhythmEvent], end: int, rhythm: str = "A") -> list[ec57.Interval]:
    """[onset, offset) intervals of `rhythm` from start/end events; an episode still running ends at `end`."""
    out, onset = [], None
    for e in events:
        if e.rhythm != rhythm:
            continue
        if e.kind == "start":
            onset = e.sample
        elif onset is not None:
            out.append((onset, max(e.sample, onset)))
            onset = None
    if onset is not None and end > onset:
        out.append((onset, end))
    return [(a, min(b, end)) for a, b in out if min(b, end) > a]


def baseline_sample(first_end: int, smap: StreamMap, lag: int, events: Sequence[RhythmEvent] = ()) -> int:
    """Where the saved annotations' first '(N' goes: the first window's centre (or the first event)."""
    first = int(smap.position(max(0, first_end - lag)))
    return min(first, events[0].sample) if events else first

