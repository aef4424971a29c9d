"""Read a `dacl-monitor analyze` output folder for review: per-window table, episodes, events, ECG slices.

No Qt here, so the review window's data is tested on its own. The overview comes from
`<record>_windows.csv` (one row per hop) and `<record>_summary.json`; the ECG is read from the record a
slice at a time (`core.records.read_segment`), so a 24 h record never has to fit in memory at full rate.
A window's values are placed at its centre (end - window/2), where `core.analyze` places episode onsets.
"""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core import ec57
from core.records import Annotations, RecordError, read_annotations, read_segment
from core.reference import BEAT_SYMBOLS, rhythm_class, rhythm_segments
from core.results import CLASS_CODES, alarm_input

log = logging.getLogger(__name__)

AF = CLASS_CODES.index("A")
NOISY = CLASS_CODES.index("~")
MIN_RUN_S = 5.0  # noisy or flagged stretches shorter than this are not listed as events
RHYTHM_NAMES = {"(N": "sinus rhythm", "(AFIB": "atrial fibrillation", "(AFL": "atrial flutter",
                "(NOD": "nodal rhythm", "(SVTA": "supraventricular tachyarrhythmia",
                "(VT": "ventricular tachycardia", "(VFL": "ventricular flutter", "(B": "bigeminy",
                "(T": "trigeminy", "(IVR": "idioventricular rhythm", "(SBR": "sinus bradycardia",
                "(P": "paced rhythm", "(PREX": "pre-excitation", "(BII": "2° heart block",
                "(AB": "atrial bigeminy"}


class AnalysisFolderError(ValueError):
    """The folder holds no usable analysis; the message says what is missing."""


@dataclass(frozen=True)
class Span:
    """An episode or event in the list: [start_s, end_s) (end = start for a point in time)."""

    source: str  # "model" or "reference"
    kind: str  # "AF episode", "rhythm change", "noisy", "flag", "heart rate"
    start_s: float
    end_s: float
    text: str

    @property
    def duration_s(self) -> float:
        """Length, s (0 for a point)."""
        return self.end_s - self.start_s


@dataclass(frozen=True)
class WindowTable:
    """`<record>_windows.csv` as arrays, one row per analysed window."""

    end_sample: np.ndarray  # (n,) int64
    end_s: np.ndarray  # (n,)
    probs: np.ndarray  # (n, 4) in CLASS_CODES order
    heart_rate: np.ndarray  # (n,) bpm, nan without beats
    trajectory: np.ndarray  # (n, 2)
    flags: tuple[str, ...]  # per window, "|"-joined names ('' when clean)
    rhythm_probs: np.ndarray | None  # (n, 4) with 60 s rhythm context (the rhythm head), when present
    fused_probs: np.ndarray | None = None  # (n, 4) the alarm model's (RR model + window), when present

    @property
    def alarm_probs(self) -> np.ndarray:
        """What the AF alarm followed (core.results.alarm_input)."""
        return alarm_input(self.fused_probs, self.rhythm_probs, self.probs)

    @property
    def alarm_source(self) -> str | None:
        """What `alarm_probs` are, in words, when they are not the window's own."""
        if self.fused_probs is not None:
            return "the alarm model (RR model + window)"
        return None if self.rhythm_probs is None else "60 s rhythm context (the alarm's input)"

    def __len__(self) -> int:
        return int(self.end_sample.size)


def af_span(source: str, start_s: float, end_s: float) -> Span:
    """An AF episode as listed: 'AF 6:14 – 8:57'."""
    return Span(source, "AF episode", start_s, end_s, f"AF {clock(start_s)} – {clock(end_s)}")


def read_windows(path: Path) -> WindowTable:
    """Parse a windows CSV by its header names (columns added later are ignored)."""
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        raise AnalysisFolderError(f"{path.name} is empty")
    head, body = rows[0], rows[1:]
    need = ["end_sample", "end_s", *(f"p_{c}" for c in CLASS_CODES), "heart_rate_bpm", "trajectory_x",
            "trajectory_y"]
    missing = [c for c in need if c not in head]
    if missing:
        raise AnalysisFolderError(f"{path.name} lacks the columns {missing}: "
                                  "not written by dacl-monitor analyze")
    numeric = [i for i, name in enumerate(head) if name != "flags"]
    try:
        data = np.array([[float(r[i]) for i in numeric] for r in body], dtype=np.float64)
    except (ValueError, IndexError) as exc:
        raise AnalysisFolderError(f"{path.name} has a malformed row: {exc}") from exc
    data = data.reshape(len(body), len(numeric))
    at = {head[i]: k for k, i in enumerate(numeric)}

    def columns(*names: str) -> np.ndarray:
        return data[:, [at[n] for n in names]]

    rhythm = [f"rhythm_p_{c}" for c in CLASS_CODES]
    alarm = [f"alarm_p_{c}" for c in CLASS_CODES]
    flags = head.index("flags") if "flags" in head else None
    return WindowTable(
        end_sample=columns("end_sample")[:, 0].astype(np.int64),
        end_s=columns("end_s")[:, 0],
        probs=columns(*(f"p_{c}" for c in CLASS_CODES)),
        heart_rate=columns("heart_rate_bpm")[:, 0],
        trajectory=columns("trajectory_x", "trajectory_y"),
        flags=tuple(r[flags] if flags is not None else "" for r in body),
        rhythm_probs=columns(*rhythm) if all(c in at for c in rhythm) else None,
        fused_probs=columns(*alarm) if all(c in at for c in alarm) else None,
    )


def list_analysed(folder: str | Path) -> list[str]:
    """Record names of an analysis folder: analysis.json's order, else every `<record>_summary.json`."""
    folder = Path(folder)
    if not folder.is_dir():
        raise AnalysisFolderError(f"{str(folder)!r} is not a folder")
    run = folder / "analysis.json"
    names: list[str] = []
    if run.is_file():
        try:
            names = [str(r["record"]) for r in json.loads(run.read_text()).get("records", [])]
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise AnalysisFolderError(f"{run} is not the analysis.json of dacl-monitor analyze: "
                                      f"{exc}") from exc
    names = [n for n in names if (folder / f"{n}_summary.json").is_file()]
    if not names:
        names = sorted(p.name[: -len("_summary.json")] for p in folder.glob("*_summary.json"))
    if not names:
        raise AnalysisFolderError(f"no analysis in {str(folder)!r}: expected analysis.json or "
                                  "<record>_summary.json with <record>_windows.csv, as written by "
                                  "`dacl-monitor analyze RECORD --out DIR`")
    return names


def find_record(stored: str, name: str, folder: Path, records_dir: str | Path | None = None) -> str | None:
    """Where the analysed record is now: in `records_dir`, at its stored path, or beside the analysis."""
    if stored.startswith("physionet:"):
        return stored
    candidates = [Path(records_dir) / name] if records_dir else []
    candidates += [Path(stored), folder / stored, folder / name]
    for c in candidates:
        if Path(f"{c}.hea").is_file():
            return str(c)
    return None


@dataclass
class ReviewRecord:
    """One analysed record, ready to browse."""

    name: str
    folder: Path
    summary: dict
    windows: WindowTable
    record_path: str | None  # None when the record's files were not found (overview only)
    problem: str = ""  # why the ECG or the reference is unavailable ('' when both are fine)
    annotations: Annotations | None = field(default=None, repr=False)
    episodes: list[Span] = field(default_factory=list)  # the model's AF episodes (the summary's)
    reference: list[Span] | None = None  # reference AF episodes; None without rhythm annotations
    rhythm: list[tuple[float, float, int]] = field(default_factory=list)  # reference (start_s, end_s, class)
    events: list[Span] = field(default_factory=list)

    @property
    def fs(self) -> float:
        """The record's sampling rate, Hz."""
        return float(self.summary["fs"])

    @property
    def n_samples(self) -> int:
        """Samples in the record."""
        return int(self.summary["samples"])

    @property
    def duration_s(self) -> float:
        """Length of the record, s."""
        return self.n_samples / self.fs

    @property
    def window_s(self) -> float:
        """Length of one analysed window, s."""
        return float(self.summary["window_s"])

    @property
    def centre_s(self) -> np.ndarray:
        """Each window's centre, s: where its values are drawn."""
        return self.windows.end_s - self.window_s / 2

    def window_at(self, t: float) -> int:
        """Index of the window whose centre is nearest `t` (s)."""
        c = self.centre_s
        i = int(np.clip(np.searchsorted(c, t), 1, max(1, len(c) - 1)))
        return i - 1 if len(c) < 2 or abs(c[i - 1] - t) <= abs(c[i] - t) else i

    def samples(self, start: int, stop: int) -> np.ndarray:
        """The analysed lead's samples [start, stop) in mV, read from disk (RecordError when unreadable)."""
        if self.record_path is None:
            raise RecordError(self.problem or f"record {self.name} not found")
        return read_segment(self.record_path, start, stop, self.summary.get("lead"))

    def beats(self, start: int, stop: int) -> tuple[np.ndarray, list[str]]:
        """Reference beat samples in [start, stop) and their codes (empty without annotations)."""
        ann = self.annotations
        if ann is None:
            return np.empty(0, dtype=np.int64), []
        i0, i1 = np.searchsorted(ann.sample, [start, stop])
        keep = [k for k in range(i0, i1) if ann.symbol[k] in BEAT_SYMBOLS]
        return ann.sample[keep].astype(np.int64), [ann.symbol[k] for k in keep]


def load_record(folder: str | Path, name: str, records_dir: str | Path | None = None,
                annotation: str | None = "atr") -> ReviewRecord:
    """Read one record's analysis from `folder`; find the record for its ECG and reference annotations."""
    folder = Path(folder)
    try:
        summary = json.loads((folder / f"{name}_summary.json").read_text())
        fs, n = float(summary["fs"]), int(summary["samples"])
        summary["window_s"] = float(summary["window_s"])
        episodes = [af_span("model", float(e["onset_s"]), float(e["offset_s"]))
                    for e in summary.get("af_episodes", [])]
    except FileNotFoundError as exc:
        raise AnalysisFolderError(f"no {name}_summary.json in {str(folder)!r}") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise AnalysisFolderError(f"{name}_summary.json is not a summary of dacl-monitor analyze: "
                                  f"{exc}") from exc
    csv_path = folder / f"{name}_windows.csv"
    if not csv_path.is_file():
        raise AnalysisFolderError(f"no {csv_path.name} in {str(folder)!r}: the per-window table is missing")
    windows = read_windows(csv_path)
    path = find_record(str(summary.get("path", "")), name, folder, records_dir)
    review = ReviewRecord(name, folder, summary, windows, path, episodes=episodes)
    if path is None:
        review.problem = (f"record {summary.get('path')!r} not found (a relative path is relative to where "
                          "analyze ran): overview only; give the records' folder to see the ECG")
    else:
        _check_record(review, fs, n)
    if review.record_path is not None and annotation:
        _load_reference(review, annotation)
    review.events = sorted(_reference_events(review) + _model_events(review), key=lambda s: s.start_s)
    log.info("review %s: %d windows, %d episodes, record %s", name, len(windows), len(episodes), path)
    return review


def _check_record(review: ReviewRecord, fs: float, n: int) -> None:
    """The record found must be the one analysed (same rate and length), else overview only."""
    import wfdb

    try:
        header = wfdb.rdheader(review.record_path)
        same = float(header.fs) == fs and int(header.sig_len) == n
    except Exception as exc:  # noqa: BLE001 - any unreadable header: overview only, say why
        review.problem, review.record_path = f"record {review.record_path}: header unreadable ({exc})", None
        return
    if not same:
        review.problem = (f"record {review.record_path} ({header.sig_len} samples at {header.fs:g} Hz) is "
                          f"not the record analysed ({n} at {fs:g} Hz): overview only")
        review.record_path = None


def _load_reference(review: ReviewRecord, extension: str) -> None:
    ann = read_annotations(review.record_path, extension)
    if ann is None:
        return
    review.annotations = ann
    fs, n = review.fs, review.n_samples
    pieces = rhythm_segments(ann, n)
    if not pieces:
        return  # beat labels only: no rhythm to compare with
    review.rhythm = [(a / fs, b / fs, rhythm_class(r)) for a, b, r in pieces]
    review.reference = [af_span("reference", a / fs, b / fs)
                        for a, b in ec57.af_reference(ann.sample, ann.symbol, ann.aux_note, n)]


def _reference_events(review: ReviewRecord) -> list[Span]:
    """Every rhythm change of the reference annotations."""
    if review.annotations is None:
        return []
    ann, out = review.annotations, []
    for s, sym, note in zip(ann.sample, ann.symbol, ann.aux_note, strict=True):
        note = (note or "").strip("\x00 ").strip()
        if sym == "+" and note.startswith("("):
            t = int(s) / review.fs
            out.append(Span("reference", "rhythm change", t, t, f"reference: {RHYTHM_NAMES.get(note, note)}"))
    return out


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[i, j) index runs where `mask` is true."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def _model_events(review: ReviewRecord) -> list[Span]:
    """Stretches the model called noisy, stretches with input flags, and the heart rate's extremes."""
    w, c = review.windows, review.centre_s
    if not len(w):
        return []
    hop = float(review.summary.get("hop_s", 1.0))
    out = []
    named = {"noisy": np.argmax(w.probs, axis=1) == NOISY}
    for flag in sorted({f for fl in w.flags for f in fl.split("|") if f}):
        named[f"flag {flag}"] = np.array([flag in fl.split("|") for fl in w.flags])
    for what, mask in named.items():
        for i, j in _runs(mask):
            if (j - i) * hop >= MIN_RUN_S:
                out.append(Span("model", what, float(c[i]), float(c[j - 1]) + hop,
                                f"{what} for {(j - i) * hop:.0f} s"))
    hr = w.heart_rate
    if np.isfinite(hr).any():
        for label, i in (("highest", int(np.nanargmax(hr))), ("lowest", int(np.nanargmin(hr)))):
            out.append(Span("model", "heart rate", float(c[i]), float(c[i]),
                            f"{label} heart rate {hr[i]:.0f} bpm"))
    return out


def clock(seconds: float) -> str:
    """h:mm:ss (m:ss under an hour), as the list and the axes show times."""
    m, s = divmod(int(round(float(seconds))), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"

