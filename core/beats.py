"""A record's beats from its beat annotations and header alone (no signal), as a Holter lab exports them.

`read_beats("ltafdb/00", "qrs")` reads `00.hea` (sampling rate, length) and `00.qrs` (beat annotations),
keeps the annotations whose symbol marks a beat and returns them at the record's own sample numbers. The
signal file is never opened, so this works for records whose .dat is absent. Bad input is refused with a
message naming the file: a missing or malformed header, a header without a sampling rate, a missing or
corrupt annotation file, one without beats, beats out of order.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.rr_irregularity import BEAT_SYMBOLS

log = logging.getLogger(__name__)


class BeatFileError(ValueError):
    """A beat annotation file or its header cannot be used; the message names the file."""


@dataclass(frozen=True)
class BeatRecord:
    """One record's beats (sample numbers at `fs`) and its length."""

    name: str
    path: Path  # the record path without extension
    fs: float
    n_samples: int
    samples: np.ndarray  # int64, strictly increasing
    symbols: tuple[str, ...]
    extension: str

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.fs


def read_header(record: str | Path) -> tuple[float, int]:
    """(fs, n_samples) from a record's .hea; BeatFileError naming the file if it lacks either."""
    import wfdb

    record = Path(record)
    hea = record.with_name(record.name + ".hea")
    if not hea.is_file():
        raise BeatFileError(f"{hea}: header not found")
    try:
        header = wfdb.rdheader(str(record))
    except Exception as exc:  # wfdb raises many kinds on a malformed header
        raise BeatFileError(f"{hea}: malformed header ({exc})") from exc
    first = hea.read_text(errors="replace").split("\n", 1)[0].split()
    if len(first) < 3 or not first[2].split("/")[0].replace(".", "", 1).isdigit():
        raise BeatFileError(f"{hea}: the header gives no sampling rate (its first line is "
                            f"{' '.join(first)!r}); beat times cannot be read without it")
    fs = float(header.fs)
    if not fs > 0:
        raise BeatFileError(f"{hea}: sampling rate {fs!r} is not positive")
    n = int(header.sig_len or 0)
    return fs, n


def read_beats(record: str | Path, extension: str) -> BeatRecord:
    """The beat annotations `<record>.<extension>` and the header's rate and length (never the signal)."""
    import wfdb

    record = Path(record)
    fs, n = read_header(record)
    ann_path = record.with_name(f"{record.name}.{extension}")
    if not ann_path.is_file():
        raise BeatFileError(f"{ann_path}: beat annotation file not found")
    try:
        ann = wfdb.rdann(str(record), extension)
    except Exception as exc:
        raise BeatFileError(f"{ann_path}: not a readable WFDB annotation file ({exc})") from exc
    keep = np.array([s in BEAT_SYMBOLS for s in ann.symbol], dtype=bool)
    samples = np.asarray(ann.sample, dtype=np.int64)[keep]
    symbols = np.asarray(ann.symbol, dtype=object)[keep]
    if samples.size < 2:
        raise BeatFileError(f"{ann_path}: holds {samples.size} beat annotation(s); need at least 2")
    if np.any(np.diff(samples) < 0):
        raise BeatFileError(f"{ann_path}: beat annotations are not in time order")
    once = np.r_[True, np.diff(samples) > 0]
    if not once.all():  # two symbols at one sample: one beat
        log.warning("%s: %d beats share a sample with the one before; kept once", ann_path,
                    int((~once).sum()))
    samples, symbols = samples[once], tuple(symbols[once])
    if n <= 0:
        n = int(samples[-1]) + 1
    return BeatRecord(record.name, record, fs, max(n, int(samples[-1]) + 1), samples, symbols, extension)
