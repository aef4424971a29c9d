"""1-D U-Net-style encoder with a sinusoidal time-step embedding: latent view (B, Z, L), t → embedding (B, D).

Down path (L → L/2 → L/4), bottleneck, up path with skip connections back to L, then mean+max pooling
over the frames and a linear projection. Every block adds the embedded diffusion step t, so the encoder
knows how noisy its input is; at inference t = 0.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding (B, dim) of integer steps t (B,), as in DDPM/Transformer position codes."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    angle = t.float()[:, None] * freqs[None, :]
    return torch.cat([torch.sin(angle), torch.cos(angle)], dim=1)


class ResBlock(nn.Module):
    """Two 3-tap convolutions with GroupNorm, GELU, a time-embedding shift and a residual path."""

    def __init__(self, cin: int, cout: int, tdim: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(cin, cout, 3, padding=1)
        self.conv2 = nn.Conv1d(cout, cout, 3, padding=1)
        self.norm1 = nn.GroupNorm(8, cout)
        self.norm2 = nn.GroupNorm(8, cout)
        self.temb = nn.Linear(tdim, cout)
        self.skip = nn.Conv1d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        h = F.gelu(self.norm1(self.conv1(x))) + self.temb(temb)[:, :, None]
        h = F.gelu(self.norm2(self.conv2(h)))
        return h + self.skip(x)


class UNetEncoder(nn.Module):
    """(B, Z, L) latent view + step t (B,) → unit-norm embedding (B, D). L must be divisible by 4."""

    def __init__(
        self, in_channels: int, width: int = 64, embed_dim: int = 64, tdim: int = 64, dropout: float = 0.1
    ):
        super().__init__()
        self.tdim = tdim
        self.tmlp = nn.Sequential(nn.Linear(tdim, tdim), nn.GELU(), nn.Linear(tdim, tdim))
        w1, w2 = width, 2 * width
        self.inp = nn.Conv1d(in_channels, w1, 1)
        self.down1 = ResBlock(w1, w1, tdim)  # L
        self.down2 = ResBlock(w1, w2, tdim)  # L/2
        self.mid = ResBlock(w2, w2, tdim)  # L/4
        self.up2 = ResBlock(w2 + w2, w2, tdim)  # L/2
        self.up1 = ResBlock(w2 + w1, w1, tdim)  # L
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(2 * (w1 + w2), embed_dim)

    def forward(self, z: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        temb = self.tmlp(timestep_embedding(t, self.tdim))
        h1 = self.down1(self.inp(z), temb)  # (B, w1, L)
        h2 = self.down2(F.avg_pool1d(h1, 2), temb)  # (B, w2, L/2)
        m = self.mid(F.avg_pool1d(h2, 2), temb)  # (B, w2, L/4)
        u2 = self.up2(
            torch.cat([F.interpolate(m, scale_factor=2.0, mode="nearest"), h2], 1), temb
        )  # (B, w2, L/2)
        u1 = self.up1(
            torch.cat([F.interpolate(u2, scale_factor=2.0, mode="nearest"), h1], 1), temb
        )  # (B, w1, L)
        pooled = torch.cat([u1.mean(2), u1.amax(2), m.mean(2), m.amax(2)], 1)  # multi-scale summary
        return F.normalize(self.out(self.drop(pooled)), dim=1)
