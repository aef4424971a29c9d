"""Real ECG windows for verifying and benchmarking engines, made the way the monitor makes them.

Records are listed and read by core.records (the one record reader) and preprocessed by core.preprocess
with the bundle's own contract (engines.contract: rate, band-pass and order, window, hop, z-score floor),
so every backend is checked on exactly the windows the monitor would hand it.

A maintenance helper of `dacl-train verify-engines` and the benchmarks: it needs both core (the reader
and the signal path) and engines (the bundle), so it lives in training, the side that may import both;
engines.tools.verify_engines takes the windows it makes. core is imported inside the functions, and the
bundle's demo windows serve where core's readers cannot run (no wfdb on a GPU box).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from engines.bundle import Bundle

log = logging.getLogger(__name__)

SHARED_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
CINC_DIR = SHARED_DATA / "cinc2017"


def record_windows(record: Path, bundle: Bundle, per_record: int = 4) -> np.ndarray:
    """Up to ``per_record`` normalised windows (n, W), hop H apart, from one WFDB record, float32."""
    from core.preprocess import normalize_window, preprocess_record
    from core.records import open_record
    from engines.contract import ModelContract

    contract = ModelContract.from_manifest(bundle.manifest, f"bundle {bundle.path}")
    rec = open_record(record, annotation=None)
    x, _ = preprocess_record(rec.signal, rec.fs, contract.fs, contract.band_hz, contract.bandpass_order)
    starts = range(0, len(x) - contract.window + 1, contract.hop)
    chunks = [x[s:s + contract.window] for s in list(starts)[:per_record]]
    if not chunks:
        return np.empty((0, contract.window), np.float32)
    return normalize_window(np.stack(chunks), contract.std_floor_mv)


def load_windows(bundle: Bundle, count: int = 64, data_dir: Path | None = None) -> tuple[np.ndarray, str]:
    """``count`` real windows and where they came from: CinC 2017 records if present, else the bundle's demo.

    The folder's records are its RECORDS file, else its .hea files (core.records.list_records). Raises
    FileNotFoundError when neither records nor demo windows exist (say where to put data).
    """
    data_dir = Path(data_dir) if data_dir is not None else CINC_DIR
    paths = _records(data_dir)
    if paths:
        out: list[np.ndarray] = []
        for path in paths:
            out.append(record_windows(path, bundle))
            if sum(len(o) for o in out) >= count:
                break
        return np.concatenate(out)[:count], f"{data_dir.name} records"
    demo = bundle.demo_windows()
    if demo is None:
        raise FileNotFoundError(f"no real windows: {data_dir} holds no WFDB records (no RECORDS file, no "
                                f".hea file) and the bundle {bundle.path} has no demo_windows.npy")
    reps = -(-count // len(demo))
    return np.tile(demo, (reps, 1))[:count], "bundle demo windows"


def _records(data_dir: Path) -> list[Path]:
    """The folder's records, or [] when it has none or wfdb (core.records' reader) is not installed."""
    if not data_dir.is_dir():
        return []
    try:
        import wfdb  # noqa: F401  (not installed on every GPU machine)
    except ImportError:
        log.info("wfdb not installed; using the bundle's demo windows instead of %s", data_dir)
        return []
    from core.records import list_records

    try:
        return list_records(data_dir)
    except FileNotFoundError:
        return []
