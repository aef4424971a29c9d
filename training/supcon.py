"""Supervised contrastive loss (Khosla et al. 2020, the L_out form), temperature configurable."""

from __future__ import annotations

import torch


def supcon_loss(embeddings: torch.Tensor, labels: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """Mean over anchors with ≥1 positive of −mean_p log softmax_{a≠i}(z_i·z_a/τ)[p].

    embeddings (N, D) are unit-norm.

    Positives of anchor i are all other samples with its label (other views and other windows of the class).
    """
    n = len(embeddings)
    sim = embeddings @ embeddings.T / temperature  # (N, N)
    self_mask = torch.eye(n, dtype=torch.bool, device=embeddings.device)
    sim = sim.masked_fill(self_mask, float("-inf"))
    log_prob = sim - torch.logsumexp(sim, dim=1, keepdim=True)
    pos = (labels[:, None] == labels[None, :]) & ~self_mask
    n_pos = pos.sum(1)
    has_pos = n_pos > 0
    mean_log_prob_pos = log_prob.masked_fill(~pos, 0.0).sum(1)[has_pos] / n_pos[has_pos]
    return -mean_log_prob_pos.mean()
