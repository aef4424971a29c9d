"""Lightweight convolutional VAE on (normalised) ST features; its posterior mean is the latent z0.

The latent keeps the time axis (channels × F frames) so the 1-D U-Net encoder can convolve over it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class FeatureVAE(nn.Module):
    """features (B, C, L) → posterior (mu, logvar) each (B, Z, L); decoder maps z back to (B, C, L)."""

    def __init__(self, in_channels: int, latent_channels: int = 32, hidden: int = 128) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.latent_channels = latent_channels
        # pointwise in/out projections (the wide 2P side) and a 3-tap convolution over frames inside
        self.enc = nn.Sequential(
            nn.Conv1d(in_channels, hidden, 1), nn.GELU(), nn.Conv1d(hidden, hidden, 3, padding=1), nn.GELU()
        )
        self.to_stats = nn.Conv1d(hidden, 2 * latent_channels, 1)
        self.dec = nn.Sequential(
            nn.Conv1d(latent_channels, hidden, 3, padding=1), nn.GELU(), nn.Conv1d(hidden, in_channels, 1)
        )

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, logvar), each (B, Z, L)."""
        mu, logvar = self.to_stats(self.enc(x)).chunk(2, dim=1)
        return mu, logvar.clamp(-10.0, 10.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The posterior mean z0 (B, Z, L): what the rest of DACL works in."""
        return self.posterior(x)[0]

    def loss(
        self, x: torch.Tensor, beta: float, noise: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(total, reconstruction MSE, KL per latent element) of a batch, reparameterised.

        `noise` (shaped like the latent) replaces the drawn ε: distributed training draws it for the
        whole batch and gives each rank its rows.
        """
        mu, logvar = self.posterior(x)
        z = mu + (torch.randn_like(mu) if noise is None else noise) * torch.exp(0.5 * logvar)
        recon = F.mse_loss(self.dec(z), x)
        kl = -0.5 * torch.mean(1 + logvar - mu.pow(2) - logvar.exp())
        return recon + beta * kl, recon, kl


def train_vae(
    vae: FeatureVAE,
    x: torch.Tensor,
    epochs: int,
    batch: int,
    lr: float,
    beta: float,
    generator: torch.Generator,
    progress=None,
) -> list[float]:
    """Fit the VAE on features x (N, C, L); returns the mean loss of each epoch."""
    opt = torch.optim.AdamW(vae.parameters(), lr=lr, weight_decay=1e-4)
    history = []
    vae.train()
    for epoch in range(epochs):
        perm = torch.randperm(len(x), generator=generator)
        total = 0.0
        for i in range(0, len(x), batch):
            xb = x[perm[i : i + batch]]
            loss, _, _ = vae.loss(xb, beta)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(xb)
        history.append(total / len(x))
        if progress is not None:
            progress(epoch + 1, epochs)
    vae.eval()
    return history
