"""Shared fixtures: the CinC 2017 folder and the cached windows of a small stratified set of its records."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parents[2] / ".." / "shared" / "data" / "cinc2017"


@pytest.fixture(scope="session")
def cinc_dir() -> Path:
    if not (DATA / "REFERENCE-v3.csv").is_file():
        pytest.skip(f"CinC 2017 data not found at {DATA.resolve()} (../shared/data/cinc2017)")
    return DATA


@pytest.fixture(scope="session")
def small_windows(cinc_dir, tmp_path_factory):
    """Scattering of the windows of 10 records per class (40 records, real data)."""
    from training import dataset, features

    records = dataset.list_records(cinc_dir)
    picked = [r for c in range(4) for r in [r for r in records if r.label == c][:10]]
    return features.compute_windows(cinc_dir, picked, features.ScatteringParams(), hop=2048, crop_seed=0)
