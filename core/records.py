"""Open a WFDB record (local or PhysioNet), pick its ECG lead and return it in millivolts.

One function, `open_record`, turns any WFDB record the monitor may be given — formats 16/212/..., `.mat`
storage, 1–15 leads, any rate — into an `EcgRecord`: one lead in mV plus its sampling rate, the names of
all leads and the reference annotations when the record has them. Every problem with the input becomes a
`RecordError` subclass whose message names the record and what is wrong, so callers can show it and go on.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import wfdb
from wfdb.io._signal import DAT_FMTS

from core.preprocess import MIN_FS_HZ  # the lowest rate that keeps the 0.5-40 Hz band

log = logging.getLogger(__name__)

#: Lead names tried in order (case-insensitive) when no lead is asked for; then any name starting with "ECG".
PREFERRED_LEADS = ("II", "MLII", "ECG")

#: Physical units accepted for an ECG lead and the factor that converts them to millivolts.
UNIT_TO_MV = {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "μv": 1e-3, "v": 1e3, "nu": None}

#: Prefix that asks for a record from PhysioNet, e.g. "physionet:mitdb/100" (needs internet).
PHYSIONET_PREFIX = "physionet:"


class RecordError(Exception):
    """A WFDB record could not be used; the message names the record and the problem."""


class MissingHeaderError(RecordError, FileNotFoundError):
    """The record's .hea header file does not exist."""


class HeaderError(RecordError):
    """The header exists but cannot be parsed or describes an impossible record."""


class DataFileError(RecordError):
    """The signal data file (.dat/.mat) is missing, truncated or unreadable."""


class UnsupportedFormatError(RecordError):
    """The header names a storage format wfdb cannot read."""


class EmptyRecordError(RecordError):
    """The record holds no samples."""


class SamplingRateError(RecordError):
    """The record's sampling rate is too low for the model."""


class RemoteError(RecordError):
    """A PhysioNet record could not be fetched (no internet, wrong database or record name)."""


class LeadError(RecordError):
    """The requested lead does not exist or is not a voltage."""


@dataclass(frozen=True)
class Annotations:
    """Reference annotations of a record (e.g. MIT-BIH beat labels), indices at the record's own rate."""

    extension: str  # e.g. "atr"
    sample: np.ndarray  # (n,) int64 sample indices
    symbol: tuple[str, ...]  # (n,) annotation codes, e.g. "N", "V", "+"
    aux_note: tuple[str, ...]  # (n,) rhythm notes such as "(AFIB", often empty


@dataclass(frozen=True)
class EcgRecord:
    """One ECG lead of a WFDB record in millivolts, with what the monitor needs to know about it."""

    name: str  # record name, e.g. "100" or "A00001"
    path: str  # where it was read from: local path without extension, or "physionet:db/record"
    fs: float  # sampling rate, Hz
    signal: np.ndarray = field(repr=False)  # (n,) float64, chosen lead in mV (NaN where the data is missing)
    lead: str  # name of the chosen lead
    lead_index: int  # its index among `lead_names`
    lead_names: tuple[str, ...]  # every signal in the record, in header order
    annotations: Annotations | None = field(default=None, repr=False)

    @property
    def n_samples(self) -> int:
        """Number of samples in the chosen lead."""
        return int(self.signal.shape[0])

    @property
    def duration_s(self) -> float:
        """Length of the record in seconds."""
        return self.n_samples / self.fs


def open_record(
    path: str | Path,
    lead: str | int | None = None,
    *,
    pn_dir: str | None = None,
    annotation: str | None = "atr",
    min_fs: float = MIN_FS_HZ,
) -> EcgRecord:
    """Read one lead of a WFDB record in mV.

    `path` is a local record path with or without ".hea" (e.g. "../shared/data/wfdb-samples/100"), or
    "physionet:<db>/<record>" (e.g. "physionet:mitdb/100") to read through wfdb from PhysioNet; `pn_dir`
    does the same explicitly (path is then the bare record name). `lead` is a lead name (case-insensitive)
    or index; by default II, MLII, ECG, a name starting with "ECG", else the first signal. `annotation`
    is the annotation file extension loaded when present (None to skip).
    """
    record_name, pn_dir, where = _locate(path, pn_dir)
    header = _read_header(record_name, pn_dir, where)
    fs = _check_header(header, where, min_fs)
    names = tuple(str(n) for n in (getattr(header, "sig_name", None) or []))
    index = choose_lead(names, lead, where)
    unit_factor = _unit_factor(header, index, names[index], where)
    signal = _read_lead(record_name, pn_dir, where, index) * unit_factor
    if signal.size == 0:
        raise EmptyRecordError(f"record {where} holds no samples: there is nothing to monitor")
    annotations = _read_annotations(record_name, pn_dir, annotation) if annotation else None
    log.debug("opened %s: lead %s of %s, %.0f Hz, %.1f s", where, names[index], names, fs, signal.size / fs)
    return EcgRecord(
        name=Path(record_name).name,
        path=where,
        fs=fs,
        signal=signal,
        lead=names[index],
        lead_index=index,
        lead_names=names,
        annotations=annotations,
    )


def choose_lead(names: tuple[str, ...] | list[str], lead: str | int | None, where: str = "record") -> int:
    """Return the index of the lead to use: the one asked for, else the preferred ECG lead, else 0."""
    if not names:
        raise EmptyRecordError(f"record {where} has no signals: its header lists no leads")
    lowered = [n.strip().lower() for n in names]
    if isinstance(lead, bool):
        raise LeadError(f"lead must be a name or an index, not {lead!r}")
    if isinstance(lead, int | np.integer):
        if not -len(names) <= lead < len(names):
            raise LeadError(f"lead index {lead} is out of range for record {where} with leads {list(names)}")
        return int(lead) % len(names)
    if lead is not None:
        wanted = str(lead).strip().lower()
        if wanted in lowered:
            return lowered.index(wanted)
        raise LeadError(f"unknown lead {lead!r} in record {where}; its leads are {list(names)}")
    for preferred in PREFERRED_LEADS:
        if preferred.lower() in lowered:
            return lowered.index(preferred.lower())
    for i, name in enumerate(lowered):
        if name.startswith("ecg"):
            return i
    return 0


def _locate(path: str | Path, pn_dir: str | None) -> tuple[str, str | None, str]:
    """Split the user's path into (record name for wfdb, PhysioNet dir or None, printable location)."""
    text = str(path)
    if pn_dir is None and text.startswith(PHYSIONET_PREFIX):
        remote = text[len(PHYSIONET_PREFIX) :].strip("/")
        if "/" not in remote:
            raise RecordError(f"PhysioNet path {text!r} must look like 'physionet:<database>/<record>'")
        pn_dir, text = remote.rsplit("/", 1)
    if pn_dir is not None:
        return text, pn_dir, f"{PHYSIONET_PREFIX}{pn_dir}/{text}"
    text = str(Path(text).expanduser())
    for ext in (".hea", ".dat", ".mat"):
        if text.endswith(ext):
            text = text[: -len(ext)]
            break
    return text, None, text


def _read_header(record_name: str, pn_dir: str | None, where: str) -> wfdb.Record:
    if pn_dir is None and not Path(record_name + ".hea").is_file():
        raise MissingHeaderError(f"record {where}: header file {record_name}.hea not found")
    try:
        return wfdb.rdheader(record_name, pn_dir=pn_dir)
    except FileNotFoundError as exc:
        raise MissingHeaderError(f"record {where}: header file not found ({exc})") from exc
    except Exception as exc:  # wfdb raises ValueError, HeaderSyntaxError, HTTP errors, ...
        if pn_dir is not None and not isinstance(exc, ValueError):
            raise RemoteError(
                f"record {where}: cannot fetch the header from PhysioNet ({type(exc).__name__}); "
                "check the internet connection and the database/record name"
            ) from exc
        raise HeaderError(f"record {where}: cannot read header: {exc}") from exc


def _check_header(header: wfdb.Record, where: str, min_fs: float) -> float:
    fs = getattr(header, "fs", None)
    if fs is None or not math.isfinite(float(fs)) or float(fs) <= 0:
        raise HeaderError(f"record {where}: header gives no valid sampling rate (got {fs!r})")
    fs = float(fs)
    if fs < min_fs:
        raise SamplingRateError(
            f"record {where} is sampled at {fs:g} Hz, below the {min_fs:g} Hz the model needs "
            f"to keep its 0.5-40 Hz band; use a record sampled at {min_fs:g} Hz or more"
        )
    if getattr(header, "sig_len", None) is None:
        raise HeaderError(f"record {where}: header has no valid sample count; is the record line corrupt?")
    if header.sig_len == 0:
        raise EmptyRecordError(f"record {where} holds no samples (its header says 0): nothing to monitor")
    for fmt in getattr(header, "fmt", None) or []:
        if fmt is not None and str(fmt) not in DAT_FMTS:
            raise UnsupportedFormatError(
                f"record {where}: storage format {fmt!r} is not supported (wfdb reads {', '.join(DAT_FMTS)})"
            )
    return fs


def _unit_factor(header: wfdb.Record, index: int, lead: str, where: str) -> float:
    units = (getattr(header, "units", None) or [None] * (index + 1))[index]
    key = (units or "mV").strip().lower()
    factor = UNIT_TO_MV.get(key)
    if factor is None:
        raise LeadError(
            f"lead {lead!r} of record {where} is in {units!r}, not a voltage; choose an ECG lead in mV or uV"
        )
    return factor


def _read_lead(record_name: str, pn_dir: str | None, where: str, index: int) -> np.ndarray:
    try:
        rec = wfdb.rdrecord(record_name, pn_dir=pn_dir, channels=[index], physical=True)
    except FileNotFoundError as exc:
        raise DataFileError(f"record {where}: data file missing ({exc.filename or exc})") from exc
    except KeyError as exc:
        raise UnsupportedFormatError(f"record {where}: storage format {exc} is not supported") from exc
    except Exception as exc:  # truncated data raises ValueError, a corrupt .mat IndexError, ...
        why = f"{type(exc).__name__}: {exc}"
        raise DataFileError(f"record {where}: data file is corrupt or truncated ({why})") from exc
    signal = rec.p_signal
    if signal is None or signal.ndim != 2 or signal.shape[1] != 1:
        raise DataFileError(f"record {where}: data file gave no samples for lead {index}")
    return np.ascontiguousarray(signal[:, 0], dtype=np.float64)


def _read_annotations(record_name: str, pn_dir: str | None, extension: str) -> Annotations | None:
    if pn_dir is None and not Path(f"{record_name}.{extension}").is_file():
        return None
    try:
        ann = wfdb.rdann(record_name, extension, pn_dir=pn_dir)
    except Exception as exc:  # annotations are optional: a bad or absent file must not stop the record
        log.warning("record %s: annotations .%s not loaded: %s", record_name, extension, exc)
        return None
    return Annotations(
        extension=extension,
        sample=np.asarray(ann.sample, dtype=np.int64),
        symbol=tuple(ann.symbol or ()),
        aux_note=tuple(ann.aux_note or ()),
    )


def read_segment(path: str | Path, start: int, stop: int, lead: str | int | None = None, *,
                 pn_dir: str | None = None) -> np.ndarray:
    """Samples [start, stop) of one lead in mV, read without the rest of the record (review of long records).

    `path` and `lead` are as for `open_record`; the range is clipped to the record. Problems raise the same
    `RecordError` subclasses as `open_record`.
    """
    record_name, pn_dir, where = _locate(path, pn_dir)
    header = _read_header(record_name, pn_dir, where)
    _check_header(header, where, min_fs=0.0)
    names = tuple(str(n) for n in (getattr(header, "sig_name", None) or []))
    index = choose_lead(names, lead, where)
    unit_factor = _unit_factor(header, index, names[index], where)
    start, stop = max(0, int(start)), min(int(header.sig_len), int(stop))
    if stop <= start:
        return np.empty(0, dtype=np.float64)
    try:
        rec = wfdb.rdrecord(record_name, sampfrom=start, sampto=stop, pn_dir=pn_dir, channels=[index],
                            physical=True)
    except FileNotFoundError as exc:
        raise DataFileError(f"record {where}: data file missing ({exc.filename or exc})") from exc
    except Exception as exc:  # truncated data raises ValueError, a corrupt .mat IndexError, ...
        raise DataFileError(f"record {where}: cannot read samples {start}-{stop} ({type(exc).__name__}: "
                            f"{exc})") from exc
    return np.ascontiguousarray(rec.p_signal[:, 0], dtype=np.float64) * unit_factor


def read_annotations(path: str | Path, extension: str = "atr", *,
                     pn_dir: str | None = None) -> Annotations | None:
    """A record's annotation file alone (no signal read); None when it is absent or unreadable."""
    record_name, pn_dir, _ = _locate(path, pn_dir)
    return _read_annotations(record_name, pn_dir, extension)


def list_records(spec: str | Path) -> list[Path]:
    """Record paths (without extension) named by `spec`: the one record listing of every command.

    `spec` is a directory (its RECORDS file, else every .hea in it, sorted) or one record (with or
    without .hea).
    """
    path = Path(spec)
    if path.is_dir():
        listing = path / "RECORDS"
        if listing.is_file():
            names = [line.strip() for line in listing.read_text().splitlines() if line.strip()]
        else:
            names = sorted(p.stem for p in path.glob("*.hea"))
        if not names:
            raise FileNotFoundError(f"directory {path} holds no WFDB records (no RECORDS file, no .hea file)")
        return [path / n for n in names]
    record = path.with_suffix("") if path.suffix == ".hea" else path
    if not record.with_suffix(".hea").is_file():
        raise FileNotFoundError(f"record {spec} not found: not a directory, and no WFDB header {record}.hea")
    return [record]
