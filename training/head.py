"""Classifier head on the frozen embedding, and temperature scaling fitted on the validation split."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ClassifierHead(nn.Module):
    """embedding (B, D) → logits (B, C): a linear layer, or a one-hidden-layer MLP when hidden > 0."""

    def __init__(self, embed_dim: int, n_classes: int, hidden: int = 0) -> None:
        super().__init__()
        if hidden > 0:
            self.net = nn.Sequential(nn.Linear(embed_dim, hidden), nn.GELU(), nn.Linear(hidden, n_classes))
        else:
            self.net = nn.Linear(embed_dim, n_classes)

    def forward(self, emb: torch.Tensor) -> torch.Tensor:
        return self.net(emb)


def train_head(
    head: ClassifierHead,
    emb: torch.Tensor,
    y: torch.Tensor,
    weights: torch.Tensor,
    steps: int,
    lr: float,
    weight_decay: float,
    batch: int,
    generator: torch.Generator,
) -> None:
    """Fit the head with class-weighted cross-entropy (the embedding stays frozen)."""
    opt = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=weight_decay)
    head.train()
    for _ in range(steps):
        idx = torch.randint(0, len(emb), (min(batch, len(emb)),), generator=generator)
        loss = F.cross_entropy(head(emb[idx]), y[idx], weight=weights)
        opt.zero_grad()
        loss.backward()
        opt.step()
    head.eval()


def fit_temperature(logits: torch.Tensor, y: torch.Tensor) -> float:
    """The temperature T > 0 minimising the NLL of softmax(logits / T) on held-out data (Guo et al. 2017)."""
    log_t = torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=100, line_search_fn="strong_wolfe")
    logits = logits.detach().double()

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(logits / log_t.double().exp(), y)
        loss.backward()
        return loss

    opt.step(closure)
    return float(log_t.detach().exp().clamp(0.05, 20.0))
