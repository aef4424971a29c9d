"""Score rhythm episodes the way arrhythmia monitors are scored (ANSI/AAMI EC57, as WFDB's `epicmp` does).

Written from the description of the rules, not from epicmp's code:
- Each record's first `learning_s` seconds (5 min) are the detector's learning period: both sides'
  episodes are clipped to start after it, and those that lie wholly inside it are not counted.
- Episode sensitivity: the fraction of reference episodes that overlap at least one detected episode.
  Episode positive predictivity: the fraction of detected episodes that overlap at least one reference
  episode. Sensitivity is also given over the reference episodes lasting 30 s or more (after clipping),
  the clinical definition of an AF episode.
- Duration sensitivity: time in both over reference time; duration positive predictivity: time in both
  over detected time.
- Gross figures add the counts and times of all records before dividing; a ratio with nothing to divide
  by is None. False alarms per hour: detected episodes on records whose reference has no AF at all
  (after the learning period), per hour of their scored time.

Reference AF comes from MIT-BIH rhythm annotations: symbol '+' whose aux note starts a rhythm ('(AFIB',
'(N', '(AFL', ...); a rhythm lasts until the next rhythm annotation or the record's end. Atrial flutter
('(AFL') is not AF by default (`flutter_as_af=False`): the CinC classes the model learnt call flutter
"Other", and counting it as AF would score the model on a rhythm it was never asked to alarm on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

LEARNING_S = 300.0  # EC57's learning period at the start of each record
CLINICAL_EPISODE_S = 30.0  # AF lasting at least this long is an AF episode in the clinical definition
AF_AUX = "(AFIB"
FLUTTER_AUX = "(AFL"

Interval = tuple[int, int]  # [start, end) in samples


def rhythm_intervals(samples: Sequence[int], symbols: Sequence[str], aux_notes: Sequence[str],
                     n_samples: int, rhythms: Iterable[str] = (AF_AUX,)) -> list[Interval]:
    """[start, end) sample intervals during which the annotated rhythm is one of `rhythms`.

    Rhythm changes are '+' annotations with an aux note such as '(AFIB'; each rhythm runs until the next
    '+' annotation or `n_samples`. Adjacent intervals of the chosen rhythms are merged.
    """
    wanted = set(rhythms)
    changes = [(int(s), (a or "").strip("\x00 ").strip()) for s, sym, a in
               zip(samples, symbols, aux_notes, strict=True)
               if sym == "+" and (a or "").strip("\x00 ").startswith("(")]
    out: list[Interval] = []
    for i, (start, rhythm) in enumerate(changes):
        end = changes[i + 1][0] if i + 1 < len(changes) else n_samples
        if rhythm in wanted and end > start:
            if out and out[-1][1] >= start:
                out[-1] = (out[-1][0], max(out[-1][1], end))
            else:
                out.append((start, end))
    return out


def af_reference(samples: Sequence[int], symbols: Sequence[str], aux_notes: Sequence[str], n_samples: int,
                 flutter_as_af: bool = False) -> list[Interval]:
    """Reference AF intervals of a record's rhythm annotations (flutter counted as AF only if asked)."""
    rhythms = (AF_AUX, FLUTTER_AUX) if flutter_as_af else (AF_AUX,)
    return rhythm_intervals(samples, symbols, aux_notes, n_samples, rhythms)


def clip(intervals: Iterable[Interval], start: int, end: int) -> list[Interval]:
    """Intervals cut to [start, end); those left empty are removed."""
    out = []
    for a, b in intervals:
        a, b = max(a, start), min(b, end)
        if b > a:
            out.append((a, b))
    return out


def overlap(a: Sequence[Interval], b: Sequence[Interval]) -> int:
    """Total samples in both interval sets (each set's intervals must not overlap each other)."""
    total = 0
    for a0, a1 in a:
        for b0, b1 in b:
            total += max(0, min(a1, b1) - max(a0, b0))
    return total


def _overlaps_any(x: Interval, others: Sequence[Interval]) -> bool:
    return any(min(x[1], o[1]) > max(x[0], o[0]) for o in others)


@dataclass(frozen=True)
class RecordScore:
    """Counts and times of one record's comparison (times in seconds)."""

    record: str
    scored_s: float  # time after the learning period
    ref_episodes: int
    ref_detected: int  # reference episodes overlapped by a detection
    ref_long_episodes: int  # reference episodes ≥ 30 s
    ref_long_detected: int
    det_episodes: int
    det_true: int  # detected episodes overlapping a reference episode
    ref_s: float
    det_s: float
    both_s: float

    @property
    def has_af(self) -> bool:
        """Whether the reference has AF after the learning period."""
        return self.ref_episodes > 0

    def measures(self) -> dict[str, float | None]:
        """Episode Se / +P, Se over ≥ 30 s episodes, duration Se / +P of this record."""
        return _measures(self.ref_detected, self.ref_episodes, self.det_true, self.det_episodes,
                         self.ref_long_detected, self.ref_long_episodes, self.both_s, self.ref_s, self.det_s)


def _ratio(num: float, den: float) -> float | None:
    return float(num) / float(den) if den > 0 else None


def _measures(ref_detected, ref_episodes, det_true, det_episodes, long_detected, long_episodes,
              both_s, ref_s, det_s) -> dict[str, float | None]:
    return {
        "episode_se": _ratio(ref_detected, ref_episodes),
        "episode_ppv": _ratio(det_true, det_episodes),
        "episode_se_30s": _ratio(long_detected, long_episodes),
        "duration_se": _ratio(both_s, ref_s),
        "duration_ppv": _ratio(both_s, det_s),
    }


def score_record(name: str, reference: Sequence[Interval], detected: Sequence[Interval], n_samples: int,
                 fs: float, learning_s: float = LEARNING_S) -> RecordScore:
    """Compare one record's detected episodes with its reference episodes (samples at rate `fs`)."""
    start = min(n_samples, round(learning_s * fs))
    ref = clip(sorted(reference), start, n_samples)
    det = clip(sorted(detected), start, n_samples)
    long_ref = [r for r in ref if (r[1] - r[0]) >= CLINICAL_EPISODE_S * fs]
    return RecordScore(
        record=name,
        scored_s=(n_samples - start) / fs,
        ref_episodes=len(ref),
        ref_detected=sum(_overlaps_any(r, det) for r in ref),
        ref_long_episodes=len(long_ref),
        ref_long_detected=sum(_overlaps_any(r, det) for r in long_ref),
        det_episodes=len(det),
        det_true=sum(_overlaps_any(d, ref) for d in det),
        ref_s=sum(b - a for a, b in ref) / fs,
        det_s=sum(b - a for a, b in det) / fs,
        both_s=overlap(ref, det) / fs,
    )


def gross(scores: Sequence[RecordScore]) -> dict[str, float | int | None]:
    """Gross EC57 measures over records, and false alarms per hour on the records without AF."""
    s = {k: sum(getattr(r, k) for r in scores) for k in
         ("ref_episodes", "ref_detected", "ref_long_episodes", "ref_long_detected", "det_episodes",
          "det_true", "ref_s", "det_s", "both_s")}
    out: dict[str, float | int | None] = _measures(
        s["ref_detected"], s["ref_episodes"], s["det_true"], s["det_episodes"], s["ref_long_detected"],
        s["ref_long_episodes"], s["both_s"], s["ref_s"], s["det_s"])
    no_af = [r for r in scores if not r.has_af]
    hours = sum(r.scored_s for r in no_af) / 3600.0
    out["false_alarms"] = sum(r.det_episodes for r in no_af)
    out["false_alarms_per_hour"] = _ratio(out["false_alarms"], hours)
    out["records"] = len(scores)
    out["records_without_af"] = len(no_af)
    out.update({k: (round(v, 3) if isinstance(v, float) else v) for k, v in s.items()})
    return out


def score_table(scores: Sequence[RecordScore]) -> list[dict]:
    """One row per record: its counts, times and measures."""
    return [{**asdict(r), **r.measures()} for r in scores]

