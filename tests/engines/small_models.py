"""Small real modules with the bundle's I/O, seeded, untrained: used to write bundles in tests."""

from __future__ import annotations

import torch
from torch import nn

from engines.st import ScatteringTransformerStage

PATHS, FRAMES, EMBED = 234, 8, 16


class ConvScattering(nn.Module):
    """window (B, 2048) -> |strided conv| (B, 234, 8) -> ST stage (B, 468, 8); quick to export."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.register_buffer("filters", torch.randn(PATHS, 1, 256, generator=g) * 0.05)
        self.st = ScatteringTransformerStage(PATHS, FRAMES)

    def forward(self, window: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s = torch.abs(nn.functional.conv1d(window[:, None, :], self.filters, stride=256))
        return s, self.st(s)


class SmallEncoder(nn.Module):
    """features (B, 2P, F) -> probs (B, 4), embedding (B, D), trajectory (B, 2); seeded random weights."""

    def __init__(self, channels: int = 2 * PATHS, dim: int = EMBED, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.conv = nn.Conv1d(channels, 32, kernel_size=3, padding=1)
        self.embed = nn.Linear(32, dim)
        self.head = nn.Linear(dim, 4)
        g = torch.Generator().manual_seed(seed + 1)
        self.register_buffer("proj", torch.randn(dim, 2, generator=g))
        self.register_buffer("offset", torch.tensor([0.5, -0.25]))

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h = torch.relu(self.conv(features)).mean(dim=2)  # (B, 32)
        z = self.embed(h)  # (B, D)
        return torch.softmax(self.head(z), dim=1), z, z @ self.proj + self.offset


def scattering_module() -> nn.Module:
    """The real engines.scattering.ScatteringTransformer with the contract's parameters."""
    from engines.scattering import ScatteringTransformer

    return ScatteringTransformer(J=8, shape=2048, Q=(8, 1))
