"""The parameter-free Scattering Transformer (ST) stage that turns scattering coefficients into features.

DESIGN.md, method step 1: log compression, sinusoidal positional encoding over the time frames and
self-attention with no learned weights, softmax(X Xᵀ / √d) · X. Nothing here is trained, so it lives
inside the exported scattering graph and every backend computes it identically.
"""

from __future__ import annotations

import math

import torch
from torch import nn

LOG_EPS = 1e-3  # floor for log(|S| + eps): per-window z-scored ECG gives order-2 coefficients ~1e-2


def sinusoidal_encoding(frames: int, dim: int) -> torch.Tensor:
    """Transformer positional encoding, shape (frames, dim): sin on even channels, cos on odd ones."""
    pos = torch.arange(frames, dtype=torch.float64)[:, None]
    i = torch.arange(0, dim, 2, dtype=torch.float64)
    angle = pos / torch.pow(10000.0, i / dim)  # (frames, ceil(dim/2))
    pe = torch.zeros(frames, dim, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle[:, : dim // 2])
    return pe.float()


class ScatteringTransformerStage(nn.Module):
    """Scattering (B, P, F) → features (B, 2P, F): [log-scattering + PE ; weight-free attention of it].

    Channels-first output so a 1-D encoder convolves over the F time frames.
    """

    def __init__(self, paths: int, frames: int, eps: float = LOG_EPS) -> None:
        super().__init__()
        self.eps = eps
        self.paths = paths
        self.frames = frames
        self.register_buffer("pe", sinusoidal_encoding(frames, paths), persistent=False)  # (F, P)

    def forward(self, scattering: torch.Tensor) -> torch.Tensor:
        x = torch.log(torch.abs(scattering) + self.eps).transpose(1, 2) + self.pe  # (B, F, P) tokens
        scores = torch.matmul(x, x.transpose(1, 2)) * (1.0 / math.sqrt(self.paths))  # (B, F, F)
        context = torch.matmul(torch.softmax(scores, dim=-1), x)  # (B, F, P)
        return torch.cat([x, context], dim=2).transpose(1, 2)  # (B, 2P, F)
