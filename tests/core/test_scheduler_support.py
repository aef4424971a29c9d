"""Shared helpers (no tests) for the scheduler and headless tests: a real model bundle.

The shipped default bundle (engines/default) when it is there and loads; otherwise a bundle written by
engines.bundle.write_bundle from the real ScatteringTransformer and a small seeded encoder: a genuine,
untrained model, enough to prove streaming equals offline. The written one is cached in pytest's cache
folder under a key of the exporting code's hash, since exporting costs ~30 s.
"""

import hashlib
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


ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BUNDLE = ROOT / "engines" / "default"
EXPORT_CODE = ["engines/scattering.py", "engines/st.py", "engines/export.py", "engines/bundle.py",
               "engines/bundle_spec.py", "tests/core/test_scheduler_support.py"]


@cache
def bundle_path(root: Path) -> Path:
    """The default bundle if it loads, else a real untrained bundle written (once) under `root`."""
    from engines.bundle import BundleError, load_bundle

    if (DEFAULT_BUNDLE / "manifest.json").exists():
        try:
            return load_bundle(DEFAULT_BUNDLE).path
        except BundleError:
            pass
    key = hashlib.sha256(torch.__version__.encode())
    for name in EXPORT_CODE:
        key.update((ROOT / name).read_bytes() if (ROOT / name).exists() else b"")
    folder = root / f"scheduler_test_bundle_{key.hexdigest()[:16]}"
    try:
        return load_bundle(folder).path
    except BundleError:
        pass
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
        folder, scattering, encoder,
        projection={"matrix": encoder.proj.numpy(), "offset": np.zeros(2, np.float32)},
        reference_cloud={"points": rng.standard_normal((8, 2)), "labels": np.array(list("NAO~NAO~"))},
        scattering_params={"fs": 300, "window": 2048, "J": 8, "Q": [8, 1], "T": None, "max_order": 2},
        metrics={}, config={"purpose": "scheduler tests (untrained)"}, data_hash="none",
    )
