"""CinC-2017-style datasets: a WFDB folder plus a `record,label` CSV, split and cut into model windows.

The signal contract (written into every bundle's manifest, docs/architecture.md): lead in mV → 300 Hz →
band-pass 0.5–40 Hz → windows of W = 2048 samples, each z-scored by core.preprocess.normalize_window.
core.preprocess does the work, so training sees exactly what the streaming monitor sees
(PREPROCESS_VERSION keys feature caches).
"""

from __future__ import annotations

import csv
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core import preprocess as core_preprocess
from core.windowing import cut_windows, eval_windows, window_starts  # noqa: F401  (the record layout)

log = logging.getLogger(__name__)

CLASSES = ("N", "A", "O", "~")  # class order of every probability vector in the project
CLASS_NAMES = ("normal sinus rhythm", "atrial fibrillation", "other rhythm", "too noisy")
MODEL_FS = 300.0  # model sampling rate (Hz), shared contract
WINDOW = 2048  # model window W (samples), shared contract
MONITOR_HOP = 300  # samples between the monitor's window ends (1 s): the rhythm head is fitted at it
# Record-level evaluation cuts windows at W/4 covering the record's end, so every sample is in ~4 windows:
# on a validation split this raised AF AUROC from 0.964 (hop W) to 0.977 and challenge F1 from 0.73 to 0.77
EVAL_HOP = WINDOW // 4
LABEL_FILES = ("REFERENCE-v3.csv", "REFERENCE.csv")  # looked up in this order in a data folder

PREPROCESS_VERSION = (
    f"core.preprocess:band={core_preprocess.BAND_HZ},order={core_preprocess.BANDPASS_ORDER},"
    f"floor={core_preprocess.STD_FLOOR_MV}"
)


class LabelFileError(ValueError):
    """A label CSV has a row that is not `record,label` with a known label."""


@dataclass(frozen=True)
class LabelledRecord:
    """One record of a data folder and its class index into CLASSES (-1 when unlabelled)."""

    name: str
    label: int


def find_label_file(data_dir: Path) -> Path | None:
    """The label CSV of a data folder (REFERENCE-v3.csv preferred over REFERENCE.csv), or None."""
    for name in LABEL_FILES:
        if (Path(data_dir) / name).is_file():
            return Path(data_dir) / name
    return None


def read_labels(path: Path) -> list[LabelledRecord]:
    """Parse a `record,label` CSV (REFERENCE-v3.csv layout, no header); errors name file, line and value."""
    path = Path(path)
    records: list[LabelledRecord] = []
    seen: set[str] = set()
    with path.open(newline="") as f:
        for lineno, row in enumerate(csv.reader(f), start=1):
            if not row or all(not cell.strip() for cell in row):
                continue  # blank lines are harmless
            if len(row) != 2:
                raise LabelFileError(
                    f"{path}, line {lineno}: expected 2 fields 'record,label', "
                    f"got {len(row)}: {','.join(row)!r}"
                )
            name, label = row[0].strip(), row[1].strip()
            if not name:
                raise LabelFileError(f"{path}, line {lineno}: empty record name in {','.join(row)!r}")
            if label not in CLASSES:
                raise LabelFileError(
                    f"{path}, line {lineno}: unknown label {label!r} for record {name!r}; "
                    f"expected one of {', '.join(CLASSES)}"
                )
            if name in seen:
                raise LabelFileError(f"{path}, line {lineno}: record {name!r} is listed twice")
            seen.add(name)
            records.append(LabelledRecord(name, CLASSES.index(label)))
    if not records:
        raise LabelFileError(f"{path}: no `record,label` rows found")
    return records


def list_records(data_dir: Path) -> list[LabelledRecord]:
    """Records of a data folder: from its label CSV, else every `*.hea` there with label -1."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise FileNotFoundError(f"data folder {data_dir} does not exist")
    label_file = find_label_file(data_dir)
    if label_file is not None:
        return read_labels(label_file)
    names = sorted(p.stem for p in data_dir.glob("*.hea"))
    if not names:
        raise FileNotFoundError(
            f"{data_dir} has no label CSV ({' or '.join(LABEL_FILES)}) and no *.hea records"
        )
    return [LabelledRecord(n, -1) for n in names]


def data_hash(data_dir: Path, records: list[LabelledRecord]) -> str:
    """SHA-256 over the label list and every listed record's header and signal file bytes."""
    h = hashlib.sha256()
    for r in records:
        h.update(f"{r.name},{r.label}\n".encode())
        for suffix in (".dat", ".hea", ".mat"):  # explicit names: a glob per record is slow in big folders
            p = Path(data_dir) / f"{r.name}{suffix}"
            if p.is_file():
                h.update(p.read_bytes())
    return h.hexdigest()


def stratified_split(labels: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, val) with each class split in the same proportion, reproducible for a seed."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(labels))
    counts = np.bincount(labels[labels >= 0]) if (labels >= 0).any() else np.zeros(1)
    stratify = labels if counts[counts > 0].min() >= 2 else None  # a class of one record cannot be split
    train, val = train_test_split(idx, test_size=val_fraction, stratify=stratify, random_state=seed)
    return np.sort(train), np.sort(val)


def stratified_folds(labels: np.ndarray, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified K-fold (train, test) index pairs for a seed."""
    from sklearn.model_selection import StratifiedKFold

    skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return [(tr, te) for tr, te in skf.split(np.zeros(len(labels)), labels)]


def preprocess_signal(signal_mv: np.ndarray, fs: float, contract=None) -> np.ndarray:
    """One lead in mV at fs → model-rate band-passed float32 signal.

    `contract`: a bundle's engines.contract.ModelContract; None uses the one every model trained here has.
    """
    if contract is None:
        samples, _flags = core_preprocess.preprocess_record(signal_mv, fs)
    else:
        samples, _flags = core_preprocess.preprocess_record(signal_mv, fs, contract.fs, contract.band_hz,
                                                            contract.bandpass_order)
    return np.asarray(samples, dtype=np.float32)


def normalize_window(w: np.ndarray, std_floor_mv: float = core_preprocess.STD_FLOOR_MV) -> np.ndarray:
    """Per-window z-score with a floor on the std (0.01 mV: the shared contract), float32, on (..., W)."""
    return np.asarray(core_preprocess.normalize_window(w, std_floor_mv), dtype=np.float32)


def read_lead(data_dir: Path, name: str, lead: int = 0) -> tuple[np.ndarray, float]:
    """One WFDB record's lead in mV and its sampling rate.

    Missing samples stay NaN: core.preprocess holds the last good value and flags them, as live. Not
    core.records.open_record: it parses each header twice (its checks, then wfdb.rdrecord), 2.7x slower
    here, which would add ~90 s to a cold `dacl-train run` over 6,822 records; a test checks that both
    read the same samples.
    """
    import wfdb

    path = Path(data_dir) / name
    if not path.with_suffix(".hea").is_file():
        raise FileNotFoundError(f"record {name!r}: header {path.with_suffix('.hea')} not found")
    rec = wfdb.rdrecord(str(path), channels=[lead], physical=True)
    sig = rec.p_signal[:, 0]
    units = (rec.units or ["mV"])[0]
    if units and units.lower() in ("uv", "µv"):
        sig = sig / 1000.0
    return sig, float(rec.fs)


def load_record(data_dir: Path, name: str, lead: int = 0, contract=None) -> np.ndarray:
    """Read one WFDB record's lead in mV and preprocess it to the model rate (see preprocess_signal)."""
    return preprocess_signal(*read_lead(data_dir, name, lead), contract)


def class_weights(labels: np.ndarray, n_classes: int = len(CLASSES), power: float = 1.0) -> np.ndarray:
    """Inverse-frequency class weights raised to `power` (0: all 1), normalised to mean 1."""
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    w = (counts.sum() / np.maximum(counts, 1) / n_classes) ** power
    return (w / w.mean()).astype(np.float32)
