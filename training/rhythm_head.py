"""The rhythm head: DACL embedding + the last minute's RR features → class probabilities for the AF alarm.

Trained after the DACL encoder, on windows at the monitor's hop (so the RR features come from the same
`core.rhythm` tracker the monitor runs): CinC 2017 records of the validation split (which the encoder
never fitted, so their embeddings are as a new patient's) and windows of annotated Holter records
(MIT-BIH, labels from their rhythm annotations, plus one copy with recorded NSTDB noise). The head is a
multinomial logistic regression on [DACL log-probabilities, embedding, RR features], standardised; it is
exported with a copy of the DACL head as one small graph (embedding, rhythm) → rhythm_probs.

The inputs also hold the DACL AF log-probability times each RR feature: the rhythm then modulates how much
the window's AF evidence counts (a QRS morphology the encoder calls AF is not AF when the minute shows
premature beats with compensatory pauses), which a sum of separate terms cannot express. Out of fold on
the Holter records this cut the 99th percentile of p(AF) on records without AF from 0.79 to 0.64.

Its episode detector settings are chosen by leave-records-out cross-validation on the Holter records with
the EC57 measures (`choose_episodes`): each fold's head is fitted without that fold's records.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from core import ec57
from core.events import EpisodeSettings
from core.preprocess import normalize_window
from core.rhythm import RHYTHM_FEATURES, offline_rhythm
from core.windowing import offline_windows

log = logging.getLogger(__name__)

N_CLASSES = 4
AF = 1


@dataclass
class StreamWindows:
    """One record's windows at the monitor's hop: ends, DACL outputs, RR features and labels."""

    name: str
    ends: np.ndarray  # (n,) model-rate end index
    embedding: np.ndarray  # (n, D) float32
    logp: np.ndarray  # (n, 4) DACL log-probabilities (calibrated)
    rhythm: np.ndarray  # (n, R) float32
    labels: np.ndarray  # (n,) class index

    def inputs(self, rows: slice | np.ndarray = slice(None)) -> np.ndarray:
        """The head's input rows (before standardisation): see `head_inputs`."""
        return head_inputs(self.logp[rows], self.embedding[rows], self.rhythm[rows])


def head_inputs(logp, embedding, rhythm):
    """[logp, embedding, rhythm, logp_AF × rhythm]: NumPy float64 or torch, as given."""
    if isinstance(logp, torch.Tensor):
        return torch.cat([logp, embedding, rhythm, logp[:, AF : AF + 1] * rhythm], dim=1)
    logp, rhythm = np.asarray(logp, np.float64), np.asarray(rhythm, np.float64)
    return np.hstack([logp, np.asarray(embedding, np.float64), rhythm, logp[:, AF : AF + 1] * rhythm])


DaclFn = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]  # normalised windows → (logp, embedding)


def torch_dacl(model, scattering: nn.Module, batch: int = 256) -> DaclFn:
    """The training modules as a DaclFn: scattering → DaclModel → (calibrated log-probs, embedding)."""
    from training.features import st_features

    def run(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        emb, logp = [], []
        with torch.no_grad():
            for i in range(0, len(x), batch):
                e = model.embed(st_features(scattering(torch.from_numpy(x[i : i + batch]))))
                emb.append(e.numpy())
                logp.append(torch.log_softmax(model.head(e) / model.temperature, dim=1).numpy())
        return np.concatenate(logp), np.concatenate(emb)

    return run


def stream_windows(name: str, signal: np.ndarray, labels: Callable[[np.ndarray], np.ndarray], dacl: DaclFn,
                   fs: float, window: int, hop: int, stride: int = 1) -> StreamWindows:
    """Windows of a preprocessed model-rate `signal` at `hop` through the DACL model and the RR tracker.

    The tracker sees every window (as live); only every `stride`-th window is kept and embedded.
    """
    ws = offline_windows(signal, None, window, hop, dtype=np.float64)
    if not ws:
        raise ValueError(f"record {name}: shorter than one window ({len(signal)} < {window} samples)")
    x = np.stack([w.samples for w in ws])
    ends = np.array([w.end for w in ws], dtype=np.int64)
    rhythm = offline_rhythm(x, ends, fs)[::stride]
    x, ends = x[::stride], ends[::stride]
    logp, emb = dacl(normalize_window(x).astype(np.float32))
    return StreamWindows(name, ends, emb.astype(np.float32), logp.astype(np.float32), rhythm, labels(ends))


class FusedRhythmHead(nn.Module):
    """(embedding (B, D), rhythm (B, R)) → rhythm_probs (B, 4): logistic regression on `head_inputs`."""

    def __init__(self, head: nn.Module, temperature: float, mean: np.ndarray, std: np.ndarray,
                 weight: np.ndarray, bias: np.ndarray) -> None:
        super().__init__()
        self.head = copy.deepcopy(head).eval()
        self.register_buffer("temperature", torch.tensor(float(temperature)))
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))
        self.linear = nn.Linear(weight.shape[1], weight.shape[0])
        with torch.no_grad():
            self.linear.weight.copy_(torch.as_tensor(weight, dtype=torch.float32))
            self.linear.bias.copy_(torch.as_tensor(bias, dtype=torch.float32))

    def forward(self, embedding: torch.Tensor, rhythm: torch.Tensor) -> torch.Tensor:
        logp = torch.log_softmax(self.head(embedding) / self.temperature, dim=1)
        x = (head_inputs(logp, embedding, rhythm) - self.mean) / self.std
        return torch.softmax(self.linear(x), dim=1)


Sets = Sequence[tuple[StreamWindows, slice | np.ndarray, float]]  # (windows, rows, sample weight)


def fit_logistic(x: np.ndarray, y: np.ndarray, w: np.ndarray | None = None, c: float = 1.0):
    """Class-balanced multinomial logistic regression on standardised x (lbfgs, deterministic).

    Returns (mean, std, classifier): the classifier takes (x - mean) / std.
    """
    from sklearn.linear_model import LogisticRegression

    mean, std = x.mean(0), np.maximum(x.std(0), 1e-6)
    clf = LogisticRegression(C=c, max_iter=5000, class_weight="balanced")
    return mean, std, clf.fit((x - mean) / std, y, sample_weight=w)


def fit_head(model, sets: Sets, c: float = 1.0) -> FusedRhythmHead:
    """Fit the fused head on (windows, rows, weight) sets."""
    x = np.vstack([s.inputs(rows) for s, rows, _ in sets])
    y = np.concatenate([s.labels[rows] for s, rows, _ in sets])
    w = np.concatenate([np.full(len(s.labels[rows]), weight) for s, rows, weight in sets])
    present = sorted(set(y.tolist()))
    if len(present) < 2:
        raise ValueError(f"the rhythm head's training windows hold one class only ({present})")
    if len(present) < N_CLASSES:  # small data (tests): a class never seen gets probability ~0
        log.warning("rhythm head: no training window of class(es) %s",
                    sorted(set(range(N_CLASSES)) - set(present)))
    mean, std, clf = fit_logistic(x, y, w, c)
    coef, bias = clf.coef_, clf.intercept_
    if len(present) == 2:  # binary: sklearn keeps one row, the logit of the second class against the first
        coef, bias = np.vstack([np.zeros_like(coef), coef]), np.r_[0.0, bias]
    weight = np.zeros((N_CLASSES, x.shape[1]))
    offset = np.full(N_CLASSES, -30.0)
    weight[present], offset[present] = coef, bias
    return FusedRhythmHead(model.head, float(model.temperature), mean, std, weight, offset).eval()


def head_probs(head: FusedRhythmHead, s: StreamWindows) -> np.ndarray:
    """rhythm_probs (n, 4) of one record's windows."""
    with torch.no_grad():
        return head(torch.from_numpy(s.embedding), torch.from_numpy(s.rhythm)).numpy()


# ----- episode settings by leave-records-out cross-validation ------------------------------------------
# Runs up to 30 windows (30 s, the clinical episode length) and offsets down to p 0.1: long AF episodes
# with dips in p(AF) stay one episode. Against the first grid (offs 0.3-0.5, runs 3-15, smoothing 1-20)
# the nested CV on out-of-fold probabilities moved duration Se 0.81 -> 0.97 and duration +P 0.83 -> 0.76.
GRID = [EpisodeSettings("A", on, off, k, k, smooth) for on in (0.5, 0.6, 0.7, 0.8)
        for off in (0.1, 0.2, 0.3, 0.4, 0.5) if off <= on for k in (5, 10, 15, 20, 30)
        for smooth in (1, 5, 10, 20, 30)]


def smoothed_af(probs: np.ndarray, smooth: int) -> np.ndarray:
    """p(AF) after the detector's smoothing (geometric mean over the last `smooth` windows, renormalised)."""
    if smooth == 1:
        return probs[:, AF].astype(np.float64)
    lp = np.log(np.clip(probs, 1e-6, 1.0))
    c = np.cumsum(np.vstack([np.zeros((1, lp.shape[1])), lp]), axis=0)
    i = np.arange(len(lp))
    lo = np.maximum(0, i - smooth + 1)
    m = np.exp((c[i + 1] - c[lo]) / (i + 1 - lo)[:, None])
    return m[:, AF] / m.sum(1)


def detect_runs(p: np.ndarray, s: EpisodeSettings) -> list[tuple[int, int | None]]:
    """EpisodeDetector's episodes on a sequence of (smoothed) p(AF), as window indices.

    Each is (first window of the onset run, first window of the offset run or None while running).
    """
    out: list[tuple[int, int | None]] = []
    active, run, start, onset = False, 0, 0, 0
    for i, v in enumerate(p.tolist()):
        if (v < s.off) if active else (v >= s.on):
            if run == 0:
                start = i
            run += 1
            if run >= (s.k_off if active else s.k_on):
                active, run = not active, 0
                if active:
                    onset = start
                else:
                    out.append((onset, start))
        else:
            run = 0
    if active:
        out.append((onset, None))
    return out


@dataclass
class Holter:
    """An annotated record for scoring: reference AF intervals and sizes in record samples."""

    name: str
    n_samples: int
    fs: float
    reference: list[tuple[int, int]]


def episodes_at(ends: np.ndarray, runs, s: EpisodeSettings, window: int, hop: int, scale: float,
                n_samples: int) -> list[tuple[int, int]]:
    """Runs → [onset, offset) in record samples, placed as core.analyze places them."""
    lag = s.onset_lag(window, hop)
    at = lambda i: int(np.rint(max(0, int(ends[i]) - lag) * scale))  # noqa: E731
    return [(at(a), n_samples if b is None else max(at(b), at(a))) for a, b in runs]


def record_scores(probs: dict[str, np.ndarray], streams: dict[str, StreamWindows], holters: dict[str, Holter],
                  names: Sequence[str], s: EpisodeSettings, window: int, hop: int, model_fs: float) -> list:
    """Each record's EC57 score (core.ec57.score_record) under settings `s`."""
    scores = []
    for n in names:
        h = holters[n]
        runs = detect_runs(smoothed_af(probs[n], s.smooth), s)
        det = episodes_at(streams[n].ends, runs, s, window, hop, h.fs / model_fs, h.n_samples)
        scores.append(ec57.score_record(n, h.reference, det, h.n_samples, h.fs))
    return scores


def score(probs: dict[str, np.ndarray], streams: dict[str, StreamWindows], holters: dict[str, Holter],
          names: Sequence[str], s: EpisodeSettings, window: int, hop: int, model_fs: float) -> dict:
    """Gross EC57 measures of settings `s` on records `names`."""
    return ec57.gross(record_scores(probs, streams, holters, names, s, window, hop, model_fs))


def objective(g: dict) -> float:
    """Duration Se + duration +P + half episode +P, penalised for > 1 false alarm/h and missed ≥ 30 s AF."""
    v = lambda k: g[k] if g[k] is not None else 0.0  # noqa: E731
    return (v("duration_se") + v("duration_ppv") + 0.5 * v("episode_ppv")
            - 0.2 * max(0.0, v("false_alarms_per_hour") - 1.0) - 2.0 * max(0.0, 0.95 - v("episode_se_30s")))


def rounded(x):
    """Floats in nested dicts and lists rounded to 4 digits (CV reports in a manifest)."""
    if isinstance(x, float):
        return round(x, 4)
    if isinstance(x, dict):
        return {k: rounded(v) for k, v in x.items()}
    if isinstance(x, list):
        return [rounded(v) for v in x]
    return x


def neighbours(s: EpisodeSettings) -> list[EpisodeSettings]:
    """`s` and the settings of GRID one step from it along one axis (threshold on/off, runs, smoothing)."""
    names = ("on", "off", "k_on", "smooth")
    axes = [sorted({getattr(g, a) for g in GRID}) for a in names]

    def pos(g: EpisodeSettings) -> list[int]:
        return [axis.index(getattr(g, a)) for axis, a in zip(axes, names, strict=True)]

    here = pos(s)
    return [g for g in GRID if sum(abs(a - b) for a, b in zip(pos(g), here, strict=True)) <= 1]


def holter_folds(holters: dict[str, Holter], k: int = 4) -> list[list[str]]:
    """Leave-records-out folds: records with AF dealt one per fold first, then the others, in name order."""
    af = sorted(n for n, h in holters.items() if h.reference)
    rest = sorted(n for n, h in holters.items() if not h.reference)
    k = max(2, min(k, len(af))) if af else k
    folds: list[list[str]] = [[] for _ in range(k)]
    for i, n in enumerate(af + rest):
        folds[i % k].append(n)
    return [f for f in folds if f]


def choose_episodes(oof: dict[str, np.ndarray], streams: dict[str, StreamWindows], holters: dict[str, Holter],
                    folds: list[list[str]], window: int, hop: int,
                    model_fs: float, smoothed: bool = False) -> tuple[EpisodeSettings, dict]:
    """Settings maximising the objective on out-of-fold probabilities of all records, and a nested estimate.

    The nested estimate chooses the settings on the other folds and scores them on each held-out fold.
    smoothed: maximise the objective averaged over each setting's grid neighbours (`neighbours`), so a
    lone peak that a rounding difference or another seed moves is not chosen.
    """
    names = [n for f in folds for n in f]
    cache: dict[tuple, dict] = {}

    def gross(recs: Sequence[str], s: EpisodeSettings) -> dict:
        key = (tuple(recs), s)
        if key not in cache:
            cache[key] = score(oof, streams, holters, recs, s, window, hop, model_fs)
        return cache[key]

    def value(recs: Sequence[str], s: EpisodeSettings) -> float:
        near = neighbours(s) if smoothed else [s]
        return float(np.mean([objective(gross(recs, g)) for g in near]))

    best = max(GRID, key=lambda s: value(names, s))
    nested_scores, chosen = [], []
    for f in folds:
        rest = [n for n in names if n not in f]
        s = max(GRID, key=lambda s, rest=rest: value(rest, s))
        chosen.append(s)
        nested_scores += record_scores(oof, streams, holters, f, s, window, hop, model_fs)
    return best, {"chosen_on_all": gross(names, best), "nested": ec57.gross(nested_scores),
                  "nested_choices": [s.__dict__ for s in chosen], "folds": folds,
                  "grid": len(GRID), "features": list(RHYTHM_FEATURES)}
