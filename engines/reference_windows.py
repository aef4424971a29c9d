"""Real ECG windows for verifying and benchmarking engines, prepared by the bundle's recorded contract.

engines must not import core (dependencies point app -> core -> engines), so this applies the manifest's
preprocessing contract (band-pass, per-window z-score with a std floor) with scipy directly. The windows
are real ECG shaped like the monitor's; bit-equality with core.preprocess is not needed to compare
backends against each other, only that every backend sees the same windows.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from engines.bundle import Bundle

log = logging.getLogger(__name__)

SHARED_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
CINC_DIR = SHARED_DATA / "cinc2017"


def normalize_windows(windows: np.ndarray, std_floor: float) -> np.ndarray:
    """Per-window z-score (w - mean) / max(std, floor), float32, on (..., W) arrays."""
    w = np.asarray(windows, dtype=np.float64)
    mean = w.mean(axis=-1, keepdims=True)
    std = np.maximum(w.std(axis=-1, keepdims=True), std_floor)
    return ((w - mean) / std).astype(np.float32)


def record_windows(record: Path, bundle: Bundle, per_record: int = 4) -> np.ndarray:
    """Up to ``per_record`` normalised windows (n, W), hop H apart, from one WFDB record at the model rate."""
    import wfdb
    from scipy import signal

    rec = wfdb.rdrecord(str(record), channels=[0], physical=True)
    x = rec.p_signal[:, 0].astype(np.float64)
    fs, pre = bundle.fs, bundle.preprocessing
    if rec.fs != fs:
        x = signal.resample_poly(x, fs, int(rec.fs))
    sos = signal.butter(4, pre["bandpass_hz"], btype="bandpass", fs=fs, output="sos")
    x = signal.sosfiltfilt(sos, x)
    starts = range(0, len(x) - bundle.window + 1, bundle.hop)
    chunks = [x[s:s + bundle.window] for s in list(starts)[:per_record]]
    if not chunks:
        return np.empty((0, bundle.window), np.float32)
    return normalize_windows(np.stack(chunks), pre["normalization"]["std_floor_mv"])


def load_windows(bundle: Bundle, count: int = 64, data_dir: Path | None = None) -> tuple[np.ndarray, str]:
    """``count`` real windows and where they came from: CinC 2017 records if present, else the bundle's demo.

    Raises FileNotFoundError when neither exists (say where to put data or pass windows explicitly).
    """
    data_dir = Path(data_dir) if data_dir is not None else CINC_DIR
    names_file = data_dir / "RECORDS"
    if names_file.is_file():
        try:
            import wfdb  # noqa: F401  (not installed on every GPU machine)
        except ImportError:
            log.info("wfdb not installed; using the bundle's demo windows instead of %s", data_dir)
        else:
            out: list[np.ndarray] = []
            for name in names_file.read_text().split():
                out.append(record_windows(data_dir / name, bundle))
                if sum(len(o) for o in out) >= count:
                    break
            return np.concatenate(out)[:count], f"{data_dir.name} records"
    demo = bundle.demo_windows()
    if demo is None:
        raise FileNotFoundError(f"no real windows: {data_dir} has no RECORDS file and the bundle "
                                f"{bundle.path} has no demo_windows.npy")
    reps = -(-count // len(demo))
    return np.tile(demo, (reps, 1))[:count], "bundle demo windows"
