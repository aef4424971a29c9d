"""The DDPM forward process used as augmentation: views z_t = √ᾱ_t·z0 + √(1−ᾱ_t)·ε of a latent z0."""

from __future__ import annotations

import math

import torch


def beta_schedule(kind: str, steps: int) -> torch.Tensor:
    """β_1..β_T (float64) of a 'linear' (Ho et al. 2020) or 'cosine' (Nichol & Dhariwal 2021) schedule."""
    if kind == "linear":
        return torch.linspace(1e-4, 0.02, steps, dtype=torch.float64)
    if kind == "cosine":
        s = 0.008
        t = torch.arange(steps + 1, dtype=torch.float64) / steps
        f = torch.cos((t + s) / (1 + s) * math.pi / 2) ** 2
        alpha_bar = f / f[0]
        return (1 - alpha_bar[1:] / alpha_bar[:-1]).clamp(max=0.999)
    raise ValueError(f"unknown beta schedule {kind!r}; expected 'linear' or 'cosine'")


class DiffusionViews:
    """Draws noisy views of latents at random time steps in [t_min, t_max] (1-based, inclusive)."""

    def __init__(self, kind: str = "linear", steps: int = 1000, t_min: int = 1, t_max: int = 200) -> None:
        if not 1 <= t_min <= t_max <= steps:
            raise ValueError(
                f"diffusion t range [{t_min}, {t_max}] must satisfy 1 <= t_min <= t_max <= {steps}"
            )
        self.steps = steps
        self.t_min, self.t_max = t_min, t_max
        # alpha_bar[t] for t = 0..T, with alpha_bar[0] = 1 (t = 0 is the clean latent used at inference)
        self.alpha_bar = torch.cat(
            [torch.ones(1, dtype=torch.float64), torch.cumprod(1 - beta_schedule(kind, steps), 0)]
        )

    def at(self, z0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """z_t for given integer steps t (B,) and noise ε shaped like z0."""
        ab = self.alpha_bar[t].to(z0.dtype).view(-1, *([1] * (z0.dim() - 1)))
        return ab.sqrt() * z0 + (1 - ab).sqrt() * noise

    def sample(
        self, z0: torch.Tensor, views: int, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """`views` noisy copies of each latent: (views·B, ...) stacked view-major, and their steps t."""
        z = z0.repeat(views, *([1] * (z0.dim() - 1)))
        t = torch.randint(self.t_min, self.t_max + 1, (len(z),), generator=generator)
        noise = torch.randn(z.shape, generator=generator, dtype=z.dtype)
        return self.at(z, t, noise), t


class GaussianViews:
    """Ablation: views z0 + σ·ε with a fixed σ, no schedule (the paper's 'contrastive + Gaussian noise')."""

    def __init__(self, sigma: float = 0.3) -> None:
        self.sigma = sigma

    def sample(
        self, z0: torch.Tensor, views: int, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """`views` noisy copies of each latent, with t = 0 (the encoder sees no time information)."""
        z = z0.repeat(views, *([1] * (z0.dim() - 1)))
        noise = torch.randn(z.shape, generator=generator, dtype=z.dtype)
        return z + self.sigma * noise, torch.zeros(len(z), dtype=torch.long)
