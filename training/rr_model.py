"""The RR rhythm model: a small MLP over core.rr_features' per-beat features → p(sinus, AF, other).

Trained on beat sequences of the LTAFDB and MIT-BIH records (training/rr_data.py): reference beats, the
Holter's own detector beats and reference beats with the monitor detector's errors. The input scaling is
part of the module, so the exported ONNX graph takes the raw features. Episode settings are chosen on
out-of-fold probabilities by the EC57 objective (`objective`), over a small grid (`SETTINGS_GRID`).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from core.beat_episodes import BeatEpisodeSettings, beat_episodes
from core.ec57 import LEARNING_S, RecordScore, gross, score_record
from core.rr_features import FEATURES

log = logging.getLogger(__name__)


class RrRhythmNet(nn.Module):
    """Standardise → 2 hidden layers → softmax over RR_CLASSES."""

    def __init__(self, mean: np.ndarray, std: np.ndarray, hidden: int = 64, n_classes: int = 3) -> None:
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))
        f = len(mean)
        self.net = nn.Sequential(nn.Linear(f, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                 nn.Linear(hidden, n_classes))

    def logits(self, rr_features: torch.Tensor) -> torch.Tensor:
        return self.net((rr_features - self.mean) / self.std)

    def forward(self, rr_features: torch.Tensor) -> torch.Tensor:  # named as the bundle graph's input
        return torch.softmax(self.logits(rr_features), dim=-1)


@dataclass(frozen=True)
class TrainConfig:
    hidden: int = 128
    epochs: int = 6
    batch: int = 2048
    lr: float = 3e-3
    weight_decay: float = 1e-4
    seed: int = 0


def train_model(x: np.ndarray, y: np.ndarray, w: np.ndarray, cfg: TrainConfig = TrainConfig(),
                progress=None) -> RrRhythmNet:
    """Fit the MLP with weighted cross-entropy (w: per-row weights) and AdamW; deterministic for a seed."""
    torch.manual_seed(cfg.seed)
    g = torch.Generator().manual_seed(cfg.seed)
    mean = x.mean(axis=0)
    std = np.maximum(x.std(axis=0), 1e-6)
    model = RrRhythmNet(mean, std, cfg.hidden)
    xt, yt, wt = torch.from_numpy(np.ascontiguousarray(x, np.float32)), torch.from_numpy(y), \
        torch.from_numpy(np.asarray(w, np.float32))
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps = cfg.epochs * ((len(x) + cfg.batch - 1) // cfg.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=steps)
    for epoch in range(cfg.epochs):
        order = torch.randperm(len(x), generator=g)
        total = 0.0
        for i in range(0, len(x), cfg.batch):
            b = order[i : i + cfg.batch]
            loss = (nn.functional.cross_entropy(model.logits(xt[b]), yt[b], reduction="none") * wt[b]).sum() \
                / wt[b].sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(b)
        log.info("rr model epoch %d: loss %.4f", epoch + 1, total / len(x))
        if progress is not None:
            progress(epoch + 1, cfg.epochs)
    return model.eval()


@torch.no_grad()
def predict(model: RrRhythmNet, x: np.ndarray) -> np.ndarray:
    """(M, 3) probabilities of (M, F) features."""
    if len(x) == 0:
        return np.empty((0, 3), np.float32)
    return model(torch.from_numpy(np.ascontiguousarray(x, np.float32))).numpy()


SETTINGS_GRID = [BeatEpisodeSettings(on=on, off=off, smooth=sm, k_on=k, k_off=k, max_invalid=mi)
                 for on, off, sm, k, mi in itertools.product((0.5, 0.6, 0.7), (0.4, 0.5), (64, 128, 256),
                                                             (16, 32), (1.0, 0.05, 0.02)) if off <= on]


@dataclass(frozen=True)
class Scored:
    """One held-out sequence's decisions and reference, ready for any episode settings."""

    name: str
    centres: np.ndarray
    p_af: np.ndarray
    reference: list[tuple[int, int]]
    n_samples: int
    fs: float
    invalid: np.ndarray | None = None  # each decision's share of RR intervals outside 0.2-3 s
    labelled_from: int = 0  # the record's first rhythm annotation: nothing before it is scored

    def score(self, settings: BeatEpisodeSettings) -> RecordScore:
        det = beat_episodes(self.centres, self.p_af, settings, self.n_samples, self.invalid)
        return self.score_intervals(det)

    def score_intervals(self, detected: Sequence[tuple[int, int]]) -> RecordScore:
        learning = max(LEARNING_S, self.labelled_from / self.fs)  # EC57's 5 min, or the unlabelled start
        return score_record(self.name, self.reference, detected, self.n_samples, self.fs, learning)


def specificity(scores: Sequence[RecordScore]) -> float | None:
    """Share of the scored non-AF time not called AF (gross over records)."""
    non_af = sum(r.scored_s - r.ref_s for r in scores)
    false = sum(r.det_s - r.both_s for r in scores)
    return None if non_af <= 0 else 1.0 - false / non_af


def measures(scores: Sequence[RecordScore]) -> dict:
    """EC57 gross measures plus specificity."""
    out = gross(scores)
    out["specificity"] = specificity(scores)
    return out


def objective(m: dict) -> float:
    """What the settings maximise: duration Se, +P and specificity, with false alarms on AF-free records."""
    def v(k):
        return m.get(k) if m.get(k) is not None else 1.0
    return v("duration_se") + v("duration_ppv") + v("specificity") + 0.5 * v("episode_ppv") \
        - 0.05 * (m.get("false_alarms_per_hour") or 0.0)


def score_grid(seqs: Sequence[Scored],
               grid: Sequence[BeatEpisodeSettings] = SETTINGS_GRID) -> list[list[RecordScore]]:
    """Every sequence scored under every setting of `grid`: [setting][sequence]."""
    return [[x.score(s) for x in seqs] for s in grid]


def choose_settings(groups: Sequence[Sequence[Scored]], keep: Callable[[str], bool] | None = None,
                    tables: Sequence[list[list[RecordScore]]] | None = None,
                    ) -> tuple[BeatEpisodeSettings, float]:
    """The grid setting with the best mean objective over `groups` (e.g. LTAFDB and MIT-BIH scored apart).

    keep(name) limits each group to some sequences (a nested fold's others); `tables` are the groups'
    `score_grid`s when already computed.
    """
    tables = tables if tables is not None else [score_grid(g) for g in groups]
    best, best_val = SETTINGS_GRID[0], -np.inf
    for i, s in enumerate(SETTINGS_GRID):
        vals = []
        for g, table in zip(groups, tables, strict=True):
            rows = [r for x, r in zip(g, table[i], strict=True) if keep is None or keep(x.name)]
            if rows:
                vals.append(objective(measures(rows)))
        val = float(np.mean(vals))
        if val > best_val:
            best, best_val = s, val
    return best, best_val


def n_features() -> int:
    return len(FEATURES)
