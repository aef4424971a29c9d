"""Qt offscreen, isolated settings, real records, and the model bundle the GUI tests run on.

The bundle is the shipped engines/default when it exists; otherwise one is written once per session by
engines.bundle.write_bundle from the real ScatteringTransformer and a small seeded (untrained) encoder,
with a reference cloud made by running it on real CinC 2017 windows of each class.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

REPO = Path(__file__).parents[2]
DATA = REPO / ".." / "shared" / "data"
CINC = DATA / "cinc2017"
SAMPLES = DATA / "wfdb-samples"
DEFAULT_BUNDLE = REPO / "engines" / "default"


def start(qtbot, bundle, settings_path, *argv: str):
    """The monitor window as `dacl-monitor ARGV --model BUNDLE --settings INI` opens it."""
    from app.cli import _check, build_parser, launch

    args = build_parser().parse_args([*argv, "--model", str(bundle), "--settings", settings_path])
    _check(args)
    _, window = launch(args)
    qtbot.addWidget(window)
    return window


def deliver(window, *results) -> None:
    """Results as the scheduler publishes them (through the session's episode detector), then one frame."""
    for result in results:
        window.session.monitoring.publish(result)
    window.on_frame()


def need(path: Path) -> Path:
    """Skip unless the shared record (or folder) exists."""
    if not (Path(str(path) + ".hea").exists() or path.is_dir()):
        pytest.skip(f"shared data not found at {path.resolve()} (see ../shared/data/README.md)")
    return path


def build_test_bundle(out_dir: Path) -> Path:
    """A real, untrained bundle: the project's ScatteringTransformer and a seeded conv encoder."""
    import torch
    from torch import nn

    from core.preprocess import normalize_window, preprocess_record
    from core.records import open_record
    from engines.bundle import write_bundle
    from engines.scattering import ScatteringTransformer

    class SeededEncoder(nn.Module):
        """features (B, 2P, F) -> probs (B, 4), embedding (B, 16), trajectory (B, 2)."""

        def __init__(self, channels: int) -> None:
            super().__init__()
            torch.manual_seed(0)
            self.conv = nn.Conv1d(channels, 32, kernel_size=3, padding=1)
            self.embed = nn.Linear(32, 16)
            self.head = nn.Linear(16, 4)
            self.register_buffer("proj", torch.randn(16, 2, generator=torch.Generator().manual_seed(1)))

        def forward(self, features):
            z = self.embed(torch.relu(self.conv(features)).mean(dim=2))
            return torch.softmax(3.0 * self.head(z), dim=1), z, z @ self.proj

    scattering = ScatteringTransformer(J=8, shape=2048, Q=(8, 1)).eval()
    windows, labels = [], []
    for line in (CINC / "REFERENCE-v3.csv").read_text().split()[:120]:
        name, label = line.split(",")
        rec = open_record(CINC / name)
        x, _ = preprocess_record(rec.signal, rec.fs)
        windows.extend(x[s:s + 2048] for s in range(0, len(x) - 2048, 1500)[:3])
        labels.extend([label] * len(range(0, len(x) - 2048, 1500)[:3]))
    batch = torch.from_numpy(normalize_window(np.stack(windows)).astype(np.float32))
    with torch.no_grad():
        features = scattering(batch)[1]
        encoder = SeededEncoder(features.shape[1]).eval()
        points = encoder(features)[2].numpy()
    return write_bundle(
        out_dir, scattering, encoder,
        projection={"matrix": encoder.proj.numpy(), "offset": np.zeros(2, np.float32), "method": "random"},
        reference_cloud={"points": points, "labels": np.array(labels)},
        metrics={"note": "untrained seeded encoder for GUI tests"},
        config={"seed": 0}, data_hash="0" * 64,
        scattering_params={"fs": 300, "window": 2048, "J": 8, "Q": [8, 1], "T": None, "max_order": 2},
    )


@pytest.fixture(scope="session")
def bundle(request) -> Path:
    """The model bundle the GUI runs on: the shipped default, else a test bundle kept in pytest's cache
    (writing one exports two graphs, over a minute on 2 cores, so it is reused while it still loads)."""
    if (DEFAULT_BUNDLE / "manifest.json").is_file():
        return DEFAULT_BUNDLE
    need(CINC)
    from engines.bundle import load_bundle

    path = Path(request.config.cache.mkdir("dacl-gui-test-bundle")) / "bundle"
    try:
        load_bundle(path)
        return path
    except Exception:  # noqa: BLE001 - absent or stale: write it again
        return build_test_bundle(path)


@pytest.fixture
def settings_path(tmp_path) -> str:
    """An INI file so tests never read or write the user's settings."""
    return str(tmp_path / "settings.ini")
