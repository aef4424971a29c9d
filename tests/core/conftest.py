"""Shared fixtures for core tests: the read-only data folder next to the repository."""

from pathlib import Path

import pytest

DATA_DIR = Path(__file__).parents[2] / ".." / "shared" / "data"
SAMPLES_DIR = DATA_DIR / "wfdb-samples"
CINC_DIR = DATA_DIR / "cinc2017"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not DATA_DIR.is_dir():
        pytest.skip(f"shared data folder {DATA_DIR.resolve()} is absent; real-record tests need it")
    return DATA_DIR
