"""A data folder packed into one compressed .npz, so training runs where wfdb is not installed (GPU hosts).

The pack holds each record's first lead as int16 ADC counts with its gain (counts per mV) and rate,
delta-coded and zlib-compressed (CinC 2017: 169 MB of WFDB files → about 42 MB), plus the labels.
Loading it gives exactly the mV signal wfdb would.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from training import dataset


def pack_folder(data_dir: Path, out: Path, progress=None) -> Path:
    """Pack a WFDB folder's listed records (digital first lead, gain, fs, labels) into `out` (.npz)."""
    import wfdb

    records = dataset.list_records(data_dir)
    sigs, gains, rates, baselines = [], [], [], []
    for i, r in enumerate(records):
        rec = wfdb.rdrecord(str(Path(data_dir) / r.name), channels=[0], physical=False)
        sigs.append(rec.d_signal[:, 0].astype(np.int16))
        gains.append(float(rec.adc_gain[0]))
        baselines.append(int(rec.baseline[0]))
        rates.append(float(rec.fs))
        if progress is not None:
            progress(i + 1, len(records))
    allv = np.concatenate(sigs)
    delta = np.diff(allv, prepend=np.int16(0)).astype(np.int16).view(np.uint16)
    lo, hi = (delta & 0xFF).astype(np.uint8), (delta >> 8).astype(np.uint8)
    blob = zlib.compress(lo.tobytes() + hi.tobytes(), 6)
    np.savez(
        out,
        z=np.frombuffer(blob, dtype=np.uint8),
        lens=np.array([len(s) for s in sigs]),
        gains=np.array(gains),
        baselines=np.array(baselines),
        fs=np.array(rates),
        names=np.array([r.name for r in records]),
        labels=np.array([r.label for r in records]),
        data_hash=np.array(dataset.data_hash(data_dir, records)),
    )
    return Path(out)


class PackedRecords:
    """Records of a pack: `records`, `data_hash` and `signal(name)` → the lead in mV."""

    def __init__(self, path: Path) -> None:
        with np.load(path) as z:
            raw = np.frombuffer(zlib.decompress(z["z"].tobytes()), dtype=np.uint8)
            self.lens, self.gains, self.fs = z["lens"], z["gains"], z["fs"]
            self.baselines = z["baselines"]
            pairs = zip(z["names"], z["labels"], strict=True)
            self.records = [dataset.LabelledRecord(str(n), int(lb)) for n, lb in pairs]
            self.data_hash = str(z["data_hash"])
        n = len(raw) // 2
        delta = (raw[:n].astype(np.uint16) | (raw[n:].astype(np.uint16) << 8)).view(np.int16)
        self._counts = np.cumsum(delta.astype(np.int64)).astype(np.int16)
        self._bounds = np.concatenate([[0], np.cumsum(self.lens)])
        self._index = {r.name: i for i, r in enumerate(self.records)}

    def signal(self, name: str) -> tuple[np.ndarray, float]:
        """(lead in mV, sampling rate) of one record."""
        i = self._index[name]
        counts = self._counts[self._bounds[i] : self._bounds[i + 1]].astype(np.float64)
        return (counts - self.baselines[i]) / self.gains[i], float(self.fs[i])

    def load(self, name: str) -> np.ndarray:
        """The record preprocessed to the model rate (as dataset.load_record)."""
        x, fs = self.signal(name)
        return dataset.preprocess_signal(x, fs)
