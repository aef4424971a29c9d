"""A textbook RR-irregularity AF detector (Dash et al., Ann Biomed Eng 37(9), 2009), the benchmarks' anchor.

Over a sliding window of `n_beats` RR intervals (128 as in the paper), AF is called when all three hold:
- normalised RMSSD (root mean square of successive RR differences over the mean RR) ≥ 0.1,
- Shannon entropy of the RR histogram (16 bins, normalised by log 16) ≥ 0.7,
- turning-point ratio (local extrema over the expected 2(N − 2)/3) within 0.54–0.77 of N, i.e. RR
  intervals as random as white noise, computed on the window as given.
RMSSD and entropy are computed after removing the 8 longest and 8 shortest intervals (scaled with
`n_beats`), which keeps one ectopic beat from deciding a window. The window advances by `step` beats and
each window decides the span of its central `step` beats, so AF onsets are located to a few beats.
It runs on beat times (reference annotations or any R-peak detector) and sees nothing but rhythm.
"""

from __future__ import annotations

import numpy as np

#: MIT-BIH / WFDB annotation codes that mark a beat (the others mark rhythm, noise, artefacts).
BEAT_SYMBOLS = frozenset("NLRBAaJSVrFejnE/fQ?")

NRMSSD_MIN = 0.1
ENTROPY_MIN = 0.7
TPR_RANGE = (0.54, 0.77)
N_BINS = 16


def beat_samples(samples: np.ndarray, symbols: list[str] | tuple[str, ...]) -> np.ndarray:
    """Sample numbers of the beat annotations among WFDB annotations."""
    keep = np.array([s in BEAT_SYMBOLS for s in symbols], dtype=bool)
    return np.asarray(samples, dtype=np.int64)[keep]


def window_is_af(rr: np.ndarray, trim: int) -> bool:
    """Dash et al.'s three criteria on one window of RR intervals (seconds)."""
    rr = np.asarray(rr, dtype=np.float64)
    n = rr.size
    turning = np.sum((rr[1:-1] - rr[:-2]) * (rr[1:-1] - rr[2:]) > 0)
    tpr = turning / n
    core = np.sort(rr)[trim : n - trim] if n > 2 * trim + 2 else rr
    order = rr[np.isin(np.arange(n), np.argsort(rr)[trim : n - trim])] if n > 2 * trim + 2 else rr
    nrmssd = np.sqrt(np.mean(np.diff(order) ** 2)) / np.mean(core)
    hist, _ = np.histogram(core, bins=N_BINS)
    p = hist[hist > 0] / core.size
    entropy = float(-(p * np.log(p)).sum() / np.log(N_BINS))
    return bool(nrmssd >= NRMSSD_MIN and entropy >= ENTROPY_MIN and TPR_RANGE[0] <= tpr <= TPR_RANGE[1])


def rr_af_intervals(beats: np.ndarray, fs: float, n_beats: int = 128, step: int = 8) -> list[tuple[int, int]]:
    """AF intervals [start, end) in samples from beat sample numbers, by sliding-window RR irregularity."""
    beats = np.sort(np.asarray(beats, dtype=np.int64))
    rr = np.diff(beats) / fs
    if rr.size < n_beats:
        return []
    trim = max(1, round(8 * n_beats / 128))
    label = np.zeros(rr.size, dtype=bool)  # label[i]: the interval beats[i] → beats[i + 1] is AF
    decided = np.zeros(rr.size, dtype=bool)
    for start in range(0, rr.size - n_beats + 1, step):
        verdict = window_is_af(rr[start : start + n_beats], trim)
        centre = start + (n_beats - step) // 2
        lo = 0 if start == 0 else centre  # the first and last windows also decide the record's edges
        hi = rr.size if start + step > rr.size - n_beats else centre + step
        label[lo:hi] = np.where(decided[lo:hi], label[lo:hi], verdict)
        decided[lo:hi] = True
    out: list[tuple[int, int]] = []
    for i in np.flatnonzero(label):
        a, b = int(beats[i]), int(beats[i + 1])
        if out and out[-1][1] == a:
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out
