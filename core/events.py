"""Rhythm episodes from per-window class probabilities, and the event log (CSV and WFDB annotations).

An episode of a rhythm (AF by default) starts when its probability stays at or above `on` for `k_on`
consecutive windows and ends when it stays below `off` for `k_off` windows. Two thresholds (on > off)
and run lengths give hysteresis, so a probability hovering near one threshold does not chatter. With
`smooth` > 1 the probability is first averaged (geometric mean of the class probabilities) over the last
`smooth` windows of the stream. The settings travel in the model bundle's manifest ("episodes"), chosen
there by cross-validation on annotated Holter records; `EpisodeSettings.from_manifest` reads them.
The detector follows `WindowResult.alarm_input`: the alarm model's probabilities (the RR model fused
with the window, core/alarm.py) when the bundle has one, else the rhythm head's, else the window's.
An event's `sample` is the end index of the first window of the run that confirmed it (the earliest
the change was seen); `detected_sample` is the end index of the window that confirmed it.

The WFDB annotation file uses rhythm annotations as MIT-BIH does: symbol '+' with aux_note '(AFIB'
at an episode's start and '(N' at its end (plus '(N' where the stream's first window ended, so a
reader knows the rhythm before the first episode, unless an episode starts right there).
"""

from __future__ import annotations

import csv
import logging
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from core.results import CLASS_CODES, WindowResult
from engines.contract import EpisodeSettings

log = logging.getLogger(__name__)

RHYTHM_AUX = {"A": "(AFIB", "N": "(N", "O": "(O", "~": "(NOISE"}  # WFDB rhythm aux_note per class code
BASELINE_AUX = "(N"  # the rhythm written where no episode is running


@dataclass(frozen=True)
class RhythmEvent:
    """Start or end of one rhythm episode on one stream."""

    stream_id: int
    kind: str  # "start" | "end"
    rhythm: str  # class code, e.g. "A"
    sample: int  # model-rate end index of the first window of the confirming run
    detected_sample: int  # model-rate end index of the window that confirmed the change
    probability: float  # the rhythm's probability in the confirming window
    time: float  # time.monotonic() at detection (0.0 when fed offline)


class EpisodeDetector:
    """Hysteresis detector of one rhythm's episodes on one stream's sequence of class probabilities."""

    def __init__(self, rhythm: str = "A", on: float = 0.6, off: float = 0.4, k_on: int = 3, k_off: int = 3,
                 smooth: int = 1, *, settings: EpisodeSettings | None = None) -> None:
        s = settings or EpisodeSettings(rhythm, on, off, k_on, k_off, smooth)
        self.settings = s
        self.rhythm, self.on, self.off, self.k_on, self.k_off = s.rhythm, s.on, s.off, s.k_on, s.k_off
        self._column = CLASS_CODES.index(s.rhythm)
        self._history: deque[np.ndarray] = deque(maxlen=s.smooth)  # log-probabilities of recent windows
        self.active = False
        self._run = 0  # consecutive windows pointing towards a change of state
        self._run_start = 0  # end index of the first window of that run

    def probability(self, probs: np.ndarray) -> float:
        """The rhythm's probability after smoothing over the last `smooth` windows (this one included)."""
        probs = np.asarray(probs, dtype=np.float64)
        if self.settings.smooth == 1:
            return float(probs[self._column])
        self._history.append(np.log(np.clip(probs, 1e-6, 1.0)))
        mean = np.exp(np.mean(self._history, axis=0))
        return float(mean[self._column] / mean.sum())

    def update(
        self, stream_id: int, probs: np.ndarray, end_index: int, time: float = 0.0
    ) -> RhythmEvent | None:
        """Feed one window's probabilities; return the start/end event it confirms, if any."""
        p = self.probability(probs)
        toward_change = p < self.off if self.active else p >= self.on
        if not toward_change:
            self._run = 0
            return None
        if self._run == 0:
            self._run_start = int(end_index)
        self._run += 1
        if self._run < (self.k_off if self.active else self.k_on):
            return None
        self.active = not self.active
        self._run = 0
        kind = "start" if self.active else "end"
        return RhythmEvent(stream_id, kind, self.rhythm, self._run_start, int(end_index), p, time)


class EventLog:
    """Subscriber that runs one EpisodeDetector per stream and keeps every event; thread-safe.

    Call it with each WindowResult (it is a scheduler subscriber); read `events` at any time.
    """

    def __init__(self, rhythm: str = "A", on: float = 0.6, off: float = 0.4, k_on: int = 3, k_off: int = 3,
                 smooth: int = 1, *, settings: EpisodeSettings | None = None):
        self.settings = settings or EpisodeSettings(rhythm, on, off, k_on, k_off, smooth)  # validated here
        self._detectors: dict[int, EpisodeDetector] = {}
        self._first_end: dict[int, int] = {}
        self._events: list[RhythmEvent] = []
        self._lock = threading.Lock()

    def __call__(self, result: WindowResult) -> RhythmEvent | None:
        """Feed one result; return the event it produced, if any."""
        with self._lock:
            detector = self._detectors.get(result.stream_id)
            if detector is None:
                detector = self._detectors[result.stream_id] = EpisodeDetector(settings=self.settings)
                self._first_end[result.stream_id] = result.end_index
            event = detector.update(result.stream_id, result.alarm_input, result.end_index, result.done_time)
            if event is not None:
                self._events.append(event)
                log.info("stream %d: %s episode %s at sample %d", event.stream_id, event.rhythm,
                         event.kind, event.sample)
            return event

    @property
    def events(self) -> list[RhythmEvent]:
        """A copy of all events so far, in the order they were detected."""
        with self._lock:
            return list(self._events)

    def stream_events(self, stream_id: int) -> list[RhythmEvent]:
        """Events of one stream, in order."""
        return [e for e in self.events if e.stream_id == stream_id]

    def to_csv(self, path: str | Path, stream_id: int | None = None) -> Path:
        """Write every event (or one stream's) as one CSV row (columns: RhythmEvent's fields)."""
        path = Path(path)
        events = self.events if stream_id is None else self.stream_events(stream_id)
        with path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=[fl.name for fl in fields(RhythmEvent)])
            writer.writeheader()
            for event in events:
                writer.writerow(asdict(event))
        return path

    def to_wrann(self, record_name: str, stream_id: int, fs: float, write_dir: str | Path,
                 extension: str = "rhy") -> Path:
        """Write one stream's episodes as a WFDB rhythm annotation file `<record_name>.<extension>`."""
        with self._lock:
            first = self._first_end.get(stream_id)
        if first is None:
            raise ValueError(f"stream {stream_id} has no results yet; nothing to write for {record_name!r}.")
        return write_rhythm_annotations(self.stream_events(stream_id), record_name, fs, write_dir,
                                        extension, baseline_sample=first)


def write_rhythm_annotations(events: Iterable[RhythmEvent], record_name: str, fs: float,
                             write_dir: str | Path, extension: str = "rhy", baseline_sample: int = 0) -> Path:
    """Write events as WFDB rhythm annotations ('+' with aux_note '(AFIB' / '(N'); rdann reads them back."""
    import wfdb  # imported here so GPU benchmark machines without wfdb can still import this module

    samples, notes = [int(baseline_sample)], [BASELINE_AUX]
    for event in events:
        samples.append(max(event.sample, samples[-1]))  # WFDB needs non-decreasing sample numbers
        notes.append(RHYTHM_AUX[event.rhythm] if event.kind == "start" else BASELINE_AUX)
    keep = [i for i in range(len(samples)) if i + 1 == len(samples) or samples[i + 1] != samples[i]]
    samples, notes = [samples[i] for i in keep], [notes[i] for i in keep]  # of two at one sample, the later
    write_dir = Path(write_dir)
    write_dir.mkdir(parents=True, exist_ok=True)
    wfdb.wrann(record_name, extension, np.array(samples, dtype=np.int64), symbol=["+"] * len(samples),
               aux_note=notes, fs=fs, write_dir=str(write_dir))
    return write_dir / f"{record_name}.{extension}"
