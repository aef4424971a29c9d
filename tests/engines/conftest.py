"""Fixtures shared by the engines tests: one small real bundle per session and real CinC 2017 windows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).parents[2] / ".." / "shared" / "data"
CINC = DATA / "cinc2017"


def write_small_bundle(out_dir: Path, demo_windows: np.ndarray | None = None) -> Path:
    """A bundle from the real ScatteringTransformer and a small seeded (untrained) encoder."""
    from engines.bundle import write_bundle
    from tests.engines.small_models import SmallEncoder, scattering_module

    encoder = SmallEncoder()
    labels = np.array(list("NAO~") * 5)
    points = np.random.default_rng(0).normal(size=(len(labels), 2)).astype(np.float32)
    return write_bundle(
        out_dir, scattering_module(), encoder,
        projection={"matrix": encoder.proj.numpy(), "offset": encoder.offset.numpy(), "method": "random"},
        reference_cloud={"points": points, "labels": labels},
        metrics={"auroc_macro": 0.5, "note": "untrained seeded encoder"},
        config={"seed": 0, "encoder": "SmallEncoder"},
        data_hash="0" * 64,
        scattering_params={"fs": 300, "window": 2048, "J": 8, "Q": [8, 1], "T": None, "max_order": 2},
        demo_windows=demo_windows,
    )


@pytest.fixture(scope="session")
def real_windows() -> np.ndarray:
    """32 normalised 2048-sample windows from the first CinC 2017 records."""
    if not (CINC / "RECORDS").is_file():
        pytest.skip(f"CinC 2017 data not found at {CINC.resolve()} (see /work/shared/data/README.md)")
    import wfdb
    from scipy import signal

    from core.preprocess import normalize_window

    sos = signal.butter(4, [0.5, 40.0], btype="bandpass", fs=300, output="sos")
    out = []
    for name in (CINC / "RECORDS").read_text().split()[:8]:
        x = signal.sosfiltfilt(sos, wfdb.rdrecord(str(CINC / name)).p_signal[:, 0])
        out.extend(x[s:s + 2048] for s in range(0, 4 * 300, 300))
    return normalize_window(np.stack(out), 0.01)


@pytest.fixture(scope="session")
def small_bundle(tmp_path_factory, real_windows) -> Path:
    """Path of a bundle written once per session by write_bundle, with 8 real demo windows."""
    return write_small_bundle(tmp_path_factory.mktemp("bundle") / "small", real_windows[:8])
