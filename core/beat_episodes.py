"""AF episodes at beat resolution from the RR rhythm model's per-beat AF probability.

The probability is averaged over the last `smooth` decisions, then a hysteresis detector starts an episode
after `k_on` consecutive averages ≥ `on` and ends it after `k_off` consecutive averages < `off`. The change
is placed where a clean step of the probability would have put the first of those averages past the
threshold (`onset_lag`), at that decision's centre beat: onsets and offsets land on beats, where the
rhythm changed, not where the detector became sure. One class serves live streams (`update`) and whole
records (`run`), so both give the same episodes. Decisions over unreliable beats (many RR intervals
outside 0.2-3 s: a detector that lost the signal) are skipped, so an episode neither starts nor ends
inside a dropout. The settings travel in the bundle's manifest (`rr_model.episodes`), chosen by
leave-records-out EC57 cross-validation (training/rr_model.py).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields

import numpy as np


@dataclass(frozen=True)
class BeatEpisodeSettings:
    """Thresholds, smoothing and run lengths (in beats) of the beat-level AF episode detector."""

    on: float = 0.5
    off: float = 0.5
    smooth: int = 32
    k_on: int = 16
    k_off: int = 16
    max_invalid: float = 1.0  # decisions with more of their RR intervals outside 0.2-3 s are skipped

    def __post_init__(self) -> None:
        if not 0.0 <= self.off <= self.on <= 1.0:
            raise ValueError(f"beat episode thresholds need 0 <= off <= on <= 1; off={self.off!r}, "
                             f"on={self.on!r} is invalid.")
        if min(self.smooth, self.k_on, self.k_off) < 1:
            raise ValueError(f"smooth, k_on and k_off must be at least 1 beat; got {self.smooth!r}, "
                             f"{self.k_on!r}, {self.k_off!r}.")

    @classmethod
    def from_manifest(cls, block: Mapping) -> BeatEpisodeSettings:
        """Settings from a manifest's "rr_model.episodes" block (extra keys such as "cv" are notes)."""
        known = {f.name for f in fields(cls)}
        missing = sorted(known - set(block) - {"max_invalid"})
        if missing:
            raise ValueError(f"manifest rr_model.episodes lacks field(s) {missing}")
        return cls(**{k: block[k] for k in known if k in block})

    def to_dict(self) -> dict:
        return asdict(self)


class BeatEpisodeDetector:
    """Hysteresis AF episode detector over a stream of (centre sample, AF probability) decisions."""

    def __init__(self, settings: BeatEpisodeSettings) -> None:
        self.settings = s = settings
        self._p: deque[float] = deque(maxlen=s.smooth)
        self._centres: deque[int] = deque(maxlen=s.smooth + 1)
        self._sum = 0.0
        self.active = False
        self._run = 0
        self._run_start = 0
        self.onset: int | None = None  # sample where the running episode began

    def update(self, centre: int, p: float, invalid: float = 0.0) -> tuple[str, int] | None:
        """Feed one decision; return ("start" | "end", sample) when it confirms a change.

        `invalid`: the share of the decision's RR intervals outside 0.2-3 s (core.rr_features' "invalid");
        above `max_invalid` the beats are too unreliable to decide anything and the state holds.
        """
        s = self.settings
        if invalid > s.max_invalid:
            return None
        if len(self._p) == s.smooth:
            self._sum -= self._p[0]
        self._p.append(float(p))
        self._sum += float(p)
        self._centres.append(int(centre))
        mean = _settle(self._sum / len(self._p))
        toward = mean < s.off if self.active else mean >= s.on
        if not toward:
            self._run = 0
            return None
        if self._run == 0:  # where the rhythm changed, were this the first average past the threshold
            lag = onset_lag(s, not self.active)
            self._run_start = self._centres[max(0, len(self._centres) - 1 - lag)]
        self._run += 1
        if self._run < (s.k_off if self.active else s.k_on):
            return None
        self._run = 0
        self.active = not self.active
        if self.active:
            self.onset = self._run_start
            return "start", self._run_start
        self.onset = None
        return "end", self._run_start

    def run(self, centres: np.ndarray, p_af: np.ndarray, end: int,
            invalid: np.ndarray | None = None) -> list[tuple[int, int]]:
        """Episodes [start, end) of a whole sequence of decisions; one still running ends at `end`."""
        out: list[tuple[int, int]] = []
        start = None
        inv = np.zeros(len(p_af)) if invalid is None else np.asarray(invalid, dtype=np.float64)
        for c, p, v in zip(np.asarray(centres).tolist(), np.asarray(p_af, dtype=np.float64).tolist(),
                           inv.tolist(), strict=True):
            event = self.update(c, p, v)
            if event is None:
                continue
            kind, sample = event
            if kind == "start":
                start = sample
            elif start is not None and sample > start:
                out.append((start, sample))
                start = None
        if start is not None and end > start:
            out.append((start, end))
        return out


def beat_episodes(centres: np.ndarray, p_af: np.ndarray, settings: BeatEpisodeSettings,
                  end: int, invalid: np.ndarray | None = None) -> list[tuple[int, int]]:
    """AF episodes [start, end) of one record's decisions, as BeatEpisodeDetector.run gives them.

    Vectorised (whole 24 h records, and the cross-validation's grid of settings): the running mean and
    the confirmed runs are array operations, and only the few changes of state are walked in Python.
    """
    s = settings
    centres = np.asarray(centres, dtype=np.int64)
    p = np.asarray(p_af, dtype=np.float64)
    if invalid is not None:  # skipped decisions: the state holds across them (BeatEpisodeDetector.update)
        keep = np.asarray(invalid, dtype=np.float64) <= s.max_invalid
        centres, p = centres[keep], p[keep]
    if p.size == 0:
        return []
    c = np.cumsum(np.r_[0.0, p])
    idx = np.arange(p.size)
    lo = np.maximum(0, idx - s.smooth + 1)
    mean = _settle((c[idx + 1] - c[lo]) / (idx + 1 - lo))
    at_on = centres[np.maximum(0, idx - onset_lag(s, True))]
    at_off = centres[np.maximum(0, idx - onset_lag(s, False))]
    on_conf = np.flatnonzero(_runs(mean >= s.on, s.k_on))
    off_conf = np.flatnonzero(_runs(mean < s.off, s.k_off))
    out: list[tuple[int, int]] = []
    pos = 0
    while True:
        i = np.searchsorted(on_conf, pos)
        if i == on_conf.size:
            break
        e = int(on_conf[i])
        start = int(at_on[e - s.k_on + 1])
        j = np.searchsorted(off_conf, e + 1)
        if j == off_conf.size:
            if end > start:
                out.append((start, int(end)))
            break
        f = int(off_conf[j])
        stop = int(at_off[f - s.k_off + 1])
        if stop > start:
            out.append((start, stop))
        pos = f + 1
    return out


def _settle(mean):
    """A running mean without its last bits of rounding, kept in [0, 1].

    The live running sum and the vectorised cumulative sum round differently, and a mean of exact zeros
    must not read as below an offset threshold of 0 in one and not the other.
    """
    return np.clip(np.round(mean, 12), 0.0, 1.0)


def onset_lag(s: BeatEpisodeSettings, starting: bool) -> int:
    """Decisions from a change of rhythm to the first mean past the threshold (a clean step of p).

    The mean of the last `smooth` decisions reaches `on` `on × smooth` decisions after a step from 0 to
    1, and falls below `off` `(1 − off) × smooth` decisions after a step down: the change is placed that
    far back, not at the centre of the averaging window (which put onsets late and offsets early by
    |threshold − ½| × smooth).
    """
    return round((s.on if starting else 1.0 - s.off) * s.smooth) if s.smooth > 1 else 0


def _runs(flag: np.ndarray, k: int) -> np.ndarray:
    """True where `flag` has held for the last k entries (this one included)."""
    c = np.cumsum(np.r_[0, flag.astype(np.int64)])
    out = np.zeros(flag.size, dtype=bool)
    if flag.size >= k:
        out[k - 1 :] = (c[k:] - c[:-k]) == k
    return out
