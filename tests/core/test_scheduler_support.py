"""Shared helpers (no tests) for the scheduler and headless tests: a real, untrained model bundle.

The bundle is written by engines.bundle.write_bundle from the real ScatteringTransformer and a small
seeded encoder; it is a genuine model (untrained), enough to prove streaming equals offline.
"""

from functools import cache
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

DATA = Path(__file__).parents[2] / ".." / "shared" / "data"
CINC = DATA / "cinc2017"
MITBIH_100 = DATA / "wfdb-samples" / "100"


class SeededEncoder(nn.Module):
    """features (B, 2P, F) -> probs (B, 4), embedding (B, 16), trajectory (B, 2); fixed random weights."""

    def __init__(self, channels: int, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.conv = nn.Conv1d(channels, 32, kernel_size=3, padding=1)
        self.embed = nn.Linear(32, 16)
        self.head = nn.Linear(16, 4)
        self.register_buffer("proj", torch.randn(16, 2, generator=torch.Generator().manual_seed(seed + 1)))

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h = torch.relu(self.conv(features)).mean(dim=2)
        z = self.embed(h)
        return torch.softmax(3.0 * self.head(z), dim=1), z, z @ self.proj


def need_data(path: Path) -> None:
    if not Path(str(path) + ".hea").exists() and not path.is_dir():
        pytest.skip(f"shared data not found at {path}")


@cache
def bundle_path(root: Path) -> Path:
    """Write (once per test session) a real untrained bundle under `root`; return its folder."""
    try:
        from engines.scattering import ScatteringTransformer
    except ImportError as exc:
        pytest.skip(f"engines.scattering.ScatteringTransformer is not available yet: {exc}")
    from engines.bundle import write_bundle

    torch.manual_seed(0)
    scattering = ScatteringTransformer(J=8, shape=2048, Q=(8, 1)).eval()
    with torch.no_grad():
        features = scattering(torch.zeros(1, 2048))[1]
    encoder = SeededEncoder(features.shape[1]).eval()
    rng = np.random.default_rng(0)
    return write_bundle(
        root / "scheduler_test_bundle", scattering, encoder,
        projection={"matrix": encoder.proj.numpy(), "offset": np.zeros(2, np.float32)},
        reference_cloud={"points": rng.standard_normal((8, 2)), "labels": np.array(list("NAO~NAO~"))},
        scattering_params={"fs": 300, "window": 2048, "J": 8, "Q": [8, 1], "T": None, "max_order": 2},
        metrics={}, config={"purpose": "scheduler tests (untrained)"}, data_hash="none",
    )
