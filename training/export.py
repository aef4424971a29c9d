"""The inference graph features → (probs, embedding, trajectory) and the bundle writer around it.

DaclModel folds the whole trained pipeline into one nn.Module: feature normalisation constants, the
VAE's posterior mean (z0), the encoder at t = 0, the head with its calibration temperature and the 2-D
projection. The same module is used for validation metrics during training and exported to the bundle,
so the shipped graph computes exactly what was measured.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from torch import nn

from training.encoder import UNetEncoder
from training.head import ClassifierHead
from training.vae import FeatureVAE

log = logging.getLogger(__name__)


class DaclModel(nn.Module):
    """features (B, 2P, F) → probs (B, 4), embedding (B, D), trajectory (B, 2)."""

    def __init__(
        self,
        feat_mean: torch.Tensor,
        feat_std: torch.Tensor,
        vae: FeatureVAE,
        encoder: UNetEncoder,
        head: ClassifierHead,
        temperature: float,
        proj_mean: torch.Tensor,
        proj_matrix: torch.Tensor,
    ) -> None:
        super().__init__()
        self.register_buffer("feat_mean", feat_mean.reshape(1, -1, 1).float().clone())  # (1, 2P, 1)
        self.register_buffer("feat_std", feat_std.reshape(1, -1, 1).float().clone())
        self.vae = vae
        self.encoder = encoder
        self.head = head
        self.register_buffer("temperature", torch.tensor(float(temperature)))
        self.register_buffer("proj_mean", proj_mean.float().clone())  # (D,)
        self.register_buffer("proj_matrix", proj_matrix.float().clone())  # (D, 2)

    def embed(self, features: torch.Tensor) -> torch.Tensor:
        """Unit-norm embedding (B, D) of ST features: normalise → z0 = VAE posterior mean → encoder(t = 0)."""
        z0 = self.vae((features - self.feat_mean) / self.feat_std)
        t = torch.zeros(z0.shape[0], dtype=torch.long, device=z0.device)
        return self.encoder(z0, t)

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        """Uncalibrated class logits (B, 4)."""
        return self.head(self.embed(features))

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        emb = self.embed(features)
        probs = torch.softmax(self.head(emb) / self.temperature, dim=1)
        trajectory = (emb - self.proj_mean) @ self.proj_matrix
        return probs, emb, trajectory

    def projection(self) -> dict:
        """The manifest's projection: trajectory = embedding @ matrix + offset."""
        m = self.proj_matrix.numpy()
        return {"method": "lda", "matrix": m, "offset": -(self.proj_mean.numpy() @ m)}


def load_scattering_module(params) -> nn.Module:
    """engines.scattering.ScatteringTransformer for the bundle's scattering graph (needs the engines code)."""
    from engines.scattering import ScatteringTransformer

    return ScatteringTransformer(params.J, params.window, params.Q, T=params.T, max_order=params.max_order)


def write_model_bundle(
    out: Path,
    model: DaclModel,
    params,
    cloud: dict[str, list],
    metrics: dict,
    config: dict,
    data_hash: str,
    demo_windows: np.ndarray | None = None,
    extra: dict | None = None,
    rhythm: tuple | None = None,
) -> Path:
    """Write the bundle (scattering + encoder graphs, manifest) with engines.bundle.write_bundle.

    `rhythm` is training.rhythm_stage's (head, spec, episodes, report), or None for a bundle without it.
    """
    from engines.bundle import write_bundle
    from engines.contract import preprocessing_block
    from training.dataset import MODEL_FS, MONITOR_HOP

    fs = int(MODEL_FS)
    points = np.concatenate([np.asarray(v, dtype=np.float32).reshape(-1, 2) for v in cloud.values()])
    labels = np.concatenate([np.full(len(v), code) for code, v in cloud.items()])
    return write_bundle(
        out,
        load_scattering_module(params),
        model.eval(),
        projection=model.projection(),
        reference_cloud={"points": points, "labels": labels},
        metrics=metrics,
        config=config,
        data_hash=data_hash,
        scattering_params=params.as_manifest() | {"fs": fs},
        hop=MONITOR_HOP,
        fs=fs,
        preprocessing=preprocessing_block(fs),
        demo_windows=demo_windows,
        extra=extra,
        rhythm_head=rhythm[0] if rhythm else None,
        rhythm_spec=rhythm[1] if rhythm else None,
        episodes=rhythm[2] if rhythm else None,
    )
