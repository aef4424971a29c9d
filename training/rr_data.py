"""Beat-sequence training data for the RR rhythm model: LTAFDB and MIT-BIH beats, labels, detector errors.

Each record gives one or more beat sequences (`sources`): the reference beats (.atr), the database's own
detector beats (.qrs, LTAFDB), the monitor's detector beats (`.beats` files written by `analyze`) and the
reference beats passed through the monitor detector's measured error profile (`perturb_beats`: missed and
extra beats, timing jitter). Every sequence becomes core.rr_features' per-beat features, labelled by the
reference rhythm at each decision's centre beat: 0 sinus (N, SBR), 1 AF, 2 any other rhythm (flutter,
bigeminy, trigeminy, SVTA, VT, paced, ...). Before a record's first rhythm annotation the label is sinus
(for LTAFDB 64 that is 18.9 h whose RR looks like AF: leaving those rows out was tried and not shipped,
docs/rhythm.md); the CV does not score that stretch (training.rr_cv.labelled_from). Features are cached
per (record, source) in `cache_dir`.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.beats import read_beats, read_header
from core.rr_features import FEATURES, N_INTERVALS, rr_feature_matrix

log = logging.getLogger(__name__)

RR_CLASSES = ("N", "A", "O")  # sinus, AF, other rhythm
SINUS_AUX = ("(N", "(SBR")
AF_AUX = "(AFIB"


@dataclass(frozen=True)
class ErrorProfile:
    """A beat detector's errors against reference beats: miss and extra rates per beat, jitter SD (s)."""

    miss: float = 0.003
    extra: float = 0.002
    jitter_s: float = 0.008


def rhythm_changes(record: str | Path) -> tuple[np.ndarray, list[str]]:
    """Sample numbers and aux notes of the rhythm changes ('+' annotations) in `<record>.atr`."""
    import wfdb

    return changes_of(wfdb.rdann(str(record), "atr"))


def changes_of(ann) -> tuple[np.ndarray, list[str]]:
    """`rhythm_changes` of an annotation already read (wfdb.Annotation)."""
    pairs = [(int(s), (a or "").strip("\x00 ").strip()) for s, sym, a in
             zip(ann.sample, ann.symbol, ann.aux_note, strict=True)
             if sym == "+" and (a or "").strip("\x00 ")]
    return np.array([p[0] for p in pairs], dtype=np.int64), [p[1] for p in pairs]


def rhythm_class(aux: str) -> int:
    """0 sinus, 1 AF, 2 other for an MIT-BIH / LTAFDB rhythm aux note (flutter is other)."""
    if aux.startswith(AF_AUX):
        return 1
    return 0 if aux in SINUS_AUX else 2


def labels_at(samples: np.ndarray, changes: np.ndarray, notes: list[str]) -> np.ndarray:
    """Rhythm class at each sample number (sinus before the first change)."""
    cls = np.array([0] + [rhythm_class(a) for a in notes], dtype=np.int64)
    return cls[np.searchsorted(changes, samples, side="right")]


def perturb_beats(samples: np.ndarray, fs: float, profile: ErrorProfile,
                  rng: np.random.Generator) -> np.ndarray:
    """Reference beats as a detector with `profile` would report them: some missed, some extra, jittered."""
    s = np.asarray(samples, dtype=np.float64)
    s = s[rng.random(s.size) >= profile.miss]
    n_extra = rng.binomial(s.size, profile.extra)
    if n_extra and s.size > 2:
        i = rng.integers(0, s.size - 1, n_extra)
        s = np.concatenate([s, s[i] + rng.uniform(0.25, 0.75, n_extra) * (s[i + 1] - s[i])])
    s = s + rng.normal(0.0, profile.jitter_s * fs, s.size)
    return np.unique(np.round(s).astype(np.int64))


def source_beats(record: Path, source: str, profile: ErrorProfile | None = None, seed: int = 0) -> np.ndarray:
    """Beat samples of one sequence: an annotation extension, or "atr+errors" (seeded by `seed` and name)."""
    if source != "atr+errors":
        return read_beats(record, source).samples
    b = read_beats(record, "atr")
    rng = np.random.default_rng([seed, int(hashlib.sha256(record.name.encode()).hexdigest()[:8], 16)])
    return perturb_beats(b.samples, b.fs, profile or ErrorProfile(), rng)


def _cache_key(record: Path, source: str, profile: ErrorProfile | None, seed: int = 0) -> str:
    """Names everything a record's cached features and labels depend on.

    The annotation files' bytes, the beat source, error profile and seed, and the code and libraries that
    read, perturb and label them.
    """
    seed = seed if "errors" in source else 0  # only the perturbed beats depend on it
    h = hashlib.sha256(f"{record.name}|{source}|{profile}|{seed}|{N_INTERVALS}|{FEATURES}".encode())
    ext = "atr" if source.startswith("atr") else source
    for suffix in dict.fromkeys((".hea", f".{ext}", ".atr")):  # the beats, the reference rhythm (labels)
        path = record.with_name(record.name + suffix)
        if path.is_file():
            st = path.stat()
            h.update(_file_digest(path, st.st_size, st.st_mtime_ns).encode())
    h.update(_code().encode())
    return h.hexdigest()[:16]


@functools.cache
def _file_digest(path: Path, size: int, mtime_ns: int) -> str:
    """SHA-256 of a file's bytes, read once per process while its size and mtime stay the same.

    The CV asks for each record's cache key in every fold; the 24 h annotation files are megabytes.
    """
    return hashlib.sha256(path.read_bytes()).hexdigest()


@functools.cache
def _code() -> str:
    import sys

    from core import beats, rr_features
    from training.features import code_digest

    return code_digest(beats, rr_features, sys.modules[__name__], libraries=("numpy", "scipy", "wfdb"))


def cached_path(record: Path, source: str, cache_dir: Path, profile: ErrorProfile | None = None,
                seed: int = 0) -> Path:
    """Where record_features caches one record's beat sequence `source`."""
    key = _cache_key(Path(record), source, profile, seed)
    return Path(cache_dir) / f"{Path(record).name}_{source.replace('+', '_')}_{key}.npz"


def record_features(record: str | Path, source: str, cache_dir: Path | None = None,
                    profile: ErrorProfile | None = None, seed: int = 0) -> dict[str, np.ndarray]:
    """Features, labels and centre samples of one record's beat sequence `source`.

    source: an annotation extension ("atr", "qrs", "beats") or "atr+errors" (reference beats through
    `profile`, seeded by `seed` and the record name).
    """
    record = Path(record)
    path = cached_path(record, source, cache_dir, profile, seed) if cache_dir else None
    if path is not None and path.is_file():
        with np.load(path) as z:
            return dict(z)
    fs, n = read_header(record)
    beats = source_beats(record, source, profile, seed)
    feats, centres = rr_feature_matrix(beats, fs)
    changes, notes = rhythm_changes(record)
    out = {"features": feats, "centres": centres, "labels": labels_at(centres, changes, notes),
           "fs": np.float64(fs), "n_samples": np.int64(max(n, int(beats[-1]) + 1))}
    if path is not None:  # written whole or not at all: warm_cache writes from several processes
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
        np.savez(tmp, **out)
        tmp.replace(path)
    return out
