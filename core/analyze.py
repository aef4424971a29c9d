"""Whole-record analysis: every window of a recording through the live path, as fast as the engine allows.

`analyze_record` replays a record flat out (no replay clock) through the same Scheduler the monitor uses
(preprocessing, ring, windowing at the monitor's hop, batched engines, heart rate) with back-pressure
instead of dropping, feeds the results to the monitor's EventLog (the live AF episode detector) and
returns a `RecordAnalysis`: per-window times, class probabilities and heart rate, the AF episodes, and
the counts that prove nothing was lost. `core.analysis_files.write_outputs` turns it into the files
`dacl-monitor analyze` writes: WFDB rhythm annotations at the record's own sample numbers, a per-window
CSV and a JSON summary.

Times. A window is stamped with its end (model-rate index one past its last sample, as live). An
episode's onset and offset are placed at the centre of the signal behind the first decision of the run
that confirmed the change (the detector's `sample` minus `EpisodeSettings.onset_lag`: W/2, plus half the
smoothing span): a window is called AF once about half of it is AF, so its centre, not its end, is the
best estimate of when the rhythm changed.

The record's start. Live, the RR model decides nothing until it has 64 beats (about a minute) and the
alarm rests on the window alone until then. Analysis has the whole record, so the windows before the RR
model's first decision take that decision (it saw their beats: its 64 intervals start at the record's
first beat), the alarm is recomputed there and the episode detector re-run (`read_start_with_first_decision`).
A short recording (the minutes a device stores around an event) is then read by its beat sequence
from its first second, as a Holter lab reads it; everything after the first decision equals live.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.events import EpisodeDetector, EpisodeSettings, EventLog, RhythmEvent
from core.record_beats import to_record_samples
from core.record_head import SHORT_S, classify_recording
from core.records import PREFERRED_LEADS, EcgRecord
from core.results import CLASS_CODES, WindowResult, alarm_input
from core.scheduler import InferenceModel, SchedulerConfig
from core.session import MonitoringSession
from core.sources import WfdbReplaySource

log = logging.getLogger(__name__)

AF = "A"


class AnalysisError(RuntimeError):
    """A record could not be analysed to its end (its source or the engine failed)."""


@dataclass(frozen=True)
class Episode:
    """One detected rhythm episode, in the record's own sample numbers and in seconds."""

    rhythm: str
    onset_sample: int
    offset_sample: int  # one past the last sample (the record's end for an episode still running)
    fs: float

    @property
    def onset_s(self) -> float:
        """Onset time from the record's start, s."""
        return self.onset_sample / self.fs

    @property
    def offset_s(self) -> float:
        """Offset time from the record's start, s."""
        return self.offset_sample / self.fs

    @property
    def duration_s(self) -> float:
        """Length of the episode, s."""
        return (self.offset_sample - self.onset_sample) / self.fs


@dataclass
class RecordAnalysis:
    """Everything one analysis of one record produced."""

    record: EcgRecord = field(repr=False)
    model_fs: float
    window: int
    hop: int
    end_index: np.ndarray  # (n,) model-rate end index of each window, ascending
    probs: np.ndarray  # (n, 4) class probabilities in CLASS_CODES order
    heart_rate: np.ndarray  # (n,) bpm, nan where no beats were found
    trajectory: np.ndarray  # (n, 2) point in the bundle's 2-D projection
    flags: list[frozenset[str]]  # input-quality flags per window
    rhythm_probs: np.ndarray | None  # (n, 4) with rhythm context (the alarm input), when the model has it
    rhythm: np.ndarray | None  # (n, R) the RR features behind rhythm_probs (core.rhythm)
    events: list[RhythmEvent]
    episode_settings: EpisodeSettings
    expected_windows: int  # windows the record holds at this window and hop
    dropped: int  # windows the scheduler dropped (0 by construction with back-pressure)
    wall_s: float
    backend: str
    beats: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))  # model-rate R-peaks detected
    rr_probs: np.ndarray | None = None  # (n, 3) the RR model's latest p(sinus, AF, other) at each window
    rr_episodes: list[tuple[int, int]] | None = None  # the RR model's AF episodes (model-rate samples)
    alarm_probs: np.ndarray | None = None  # (n, 4) the alarm model's (RR model fused with the window)
    paced: bool = False  # the record was analysed as a paced patient's (marked by the user)
    record_class: np.ndarray | None = None  # (4,) the record head's class probabilities (short recordings)
    rr_backfilled: int = 0  # windows before the RR model's first decision that were given it (module doc)

    @property
    def alarm_input(self) -> np.ndarray:
        """(n, 4) what the episode detector followed (core.results.alarm_input)."""
        return alarm_input(self.alarm_probs, self.rhythm_probs, self.probs)

    def to_record_sample(self, model_index: np.ndarray | int) -> np.ndarray:
        """Model-rate sample indices → the record's own sample numbers (same instant, rounded)."""
        return to_record_samples(model_index, self.record.fs, self.model_fs)

    @property
    def record_beats(self) -> np.ndarray:
        """The detected beats at the record's own sample numbers (what `<record>.beats` holds)."""
        return np.unique(self.to_record_sample(self.beats))

    @property
    def end_sample(self) -> np.ndarray:
        """Each window's end in the record's own sample numbers."""
        return self.to_record_sample(self.end_index)

    def episodes(self, rhythm: str = AF) -> list[Episode]:
        """Detected episodes of `rhythm`, onset and offset at the centre of their confirming windows."""
        half = self.episode_settings.onset_lag(self.window, self.hop)
        end = self.record.n_samples
        out, onset = [], None
        for event in self.events:
            if event.rhythm != rhythm:
                continue
            at = int(self.to_record_sample(max(0, event.sample - half)))
            if event.kind == "start":
                onset = at
            elif onset is not None:
                out.append(Episode(rhythm, onset, max(at, onset), self.record.fs))
                onset = None
        if onset is not None:
            out.append(Episode(rhythm, onset, end, self.record.fs))
        return out

    def summary(self) -> dict[str, Any]:
        """AF burden, episodes, heart-rate statistics, signal quality, and how the analysis ran."""
        rec = self.record
        hop_s = self.hop / self.model_fs
        analysed_s = (len(self.end_index) - 1) * hop_s + self.window / self.model_fs if len(self) else 0.0
        episodes = self.episodes(AF)
        af_s = sum(e.duration_s for e in episodes)
        hr = self.heart_rate[np.isfinite(self.heart_rate)]
        calls = np.argmax(self.probs, axis=1) if len(self) else np.empty(0, dtype=int)
        flag_names = sorted({f for fl in self.flags for f in fl})
        return {
            "record": rec.name,
            # absolute, so review mode finds the record from any working folder
            "path": rec.path if rec.path.startswith("physionet:") else str(Path(rec.path).resolve()),
            "fs": rec.fs,
            "lead": rec.lead,
            "lead_note": lead_note(rec.lead),
            "samples": rec.n_samples,
            "duration_s": rec.duration_s,
            "analysed_s": analysed_s,
            "windows": len(self),
            "expected_windows": self.expected_windows,
            "dropped": self.dropped,
            "window_s": self.window / self.model_fs,
            "hop_s": hop_s,
            "af_burden": af_s / rec.duration_s if rec.duration_s > 0 else 0.0,
            "af_time_s": af_s,
            "af_episodes": [{"onset_s": e.onset_s, "offset_s": e.offset_s, "duration_s": e.duration_s,
                             "onset_sample": e.onset_sample, "offset_sample": e.offset_sample}
                            for e in episodes],
            "heart_rate_bpm": _stats(hr),
            "beats_detected": int(np.unique(self.beats).size),
            "rr_model": None if self.rr_episodes is None else {
                "af_time_s": sum(b - a for a, b in self.rr_episodes) / self.model_fs,
                "af_episodes": [{"onset_s": a / self.model_fs, "offset_s": b / self.model_fs,
                                 "duration_s": (b - a) / self.model_fs} for a, b in self.rr_episodes],
                "note": "the RR rhythm model on the detected beats alone, with its own beat-level episode "
                        "settings; the alarm above follows alarm_input"},
            "signal_quality": {
                "windows_with_beats": int(hr.size),
                "called_noisy_s": float(np.sum(calls == CLASS_CODES.index("~")) * hop_s),
                "flagged_s": {name: float(sum(name in fl for fl in self.flags) * hop_s)
                              for name in flag_names},
            },
            "time_in_class_s": {c: float(np.sum(calls == i) * hop_s) for i, c in enumerate(CLASS_CODES)},
            "episode_settings": asdict(self.episode_settings),
            "paced": {"marked_by_user": self.paced,
                      "alarm": "the RR model's beat sequence alone (core/alarm.py)" if self.paced else
                      "the RR model fused with the window"},
            "record_class": None if self.record_class is None else {
                "class": CLASS_CODES[int(np.argmax(self.record_class))],
                "probs": {c: float(p) for c, p in zip(CLASS_CODES, self.record_class, strict=True)},
                "note": "the whole recording's class from the record head (its beats, median beat and "
                        f"DACL windows), given for recordings up to {SHORT_S:.0f} s"},
            "rr_first_decision_backfilled_s": self.rr_backfilled * hop_s,
            "alarm_input": "alarm_probs" if self.alarm_probs is not None else
            "rhythm_probs" if self.rhythm_probs is not None else "probs",
            "wall_s": self.wall_s,
            "x_real_time": rec.duration_s / self.wall_s if self.wall_s > 0 else math.inf,
            "backend": self.backend,
        }

    def __len__(self) -> int:
        return int(self.end_index.size)


def _stats(x: np.ndarray) -> dict[str, float | None]:
    if x.size == 0:
        return {"mean": None, "median": None, "min": None, "max": None, "p5": None, "p95": None}
    p5, p50, p95 = np.percentile(x, [5, 50, 95])
    return {"mean": float(x.mean()), "median": float(p50), "min": float(x.min()), "max": float(x.max()),
            "p5": float(p5), "p95": float(p95)}


def expected_windows(n_samples: int, fs: float, model_fs: float, window: int, hop: int) -> int:
    """Windows the live path cuts from a whole record: those whose end the resampler has produced.

    The streaming resampler holds back the outputs that need input past the record's end (half its
    filter), exactly as live, so the count comes from running the same Preprocessor's arithmetic.
    """
    from core.preprocess import PolyphaseResampler

    res = PolyphaseResampler(fs, model_fs)
    if res.identity:
        produced = n_samples
    else:
        produced = max(0, -(-n_samples * res.up // res.down) - res.skip)
    return 0 if produced < window else (produced - window) // hop + 1


def analysis_config(model: InferenceModel, max_batch: int = 64) -> SchedulerConfig:
    """The scheduler settings for whole-record analysis: the model's contract, back-pressure, big reads."""
    return SchedulerConfig.for_model(model, max_batch=max_batch, max_wait_ms=2.0,
                                     pending_per_stream=4 * max_batch, backpressure="block",
                                     poll_interval_ms=5.0, max_reads_per_tick=16)


def lead_note(lead: str) -> str | None:
    """A warning for a lead unlike those the AF alarms were fitted on, else None.

    The rhythm head's Holter windows are MIT-BIH MLII; on the records' second lead (V1 mostly) its
    alarms lose positive predictivity (docs/alarms.md, `benchmarks/af_episodes.py --lead 1`).
    """
    name = lead.strip().upper()
    if name in PREFERRED_LEADS or name.startswith("ECG"):
        return None
    return (f"lead {lead}: the AF alarms were fitted on lead II/MLII-like ECG; on other leads (e.g. V1) "
            "expect more false AF time (docs/alarms.md)")


def analyze_record(
    record: EcgRecord,
    model: InferenceModel,
    *,
    config: SchedulerConfig | None = None,
    events: EventLog | None = None,
    progress: Callable[[int, int], None] | None = None,
    paced: bool = False,
    read_start: bool = True,
) -> RecordAnalysis:
    """Analyse every window of `record` through the live path with back-pressure; return the analysis.

    `events` is the episode detector (default: the monitor's EventLog settings). `progress(done,
    expected)` is called about twenty times a second. `paced`: analyse as a bed marked paced
    (MonitoringSession.set_paced). `read_start`: read the windows before the RR model's first decision
    with it (module doc); False keeps exactly what the live monitor decided. Raises AnalysisError when
    the source, the preprocessing or the engine fails before the record's end.
    """
    config = config or analysis_config(model)
    note = lead_note(record.lead)
    if note is not None:
        log.warning("record %s: %s", record.name, note)
    if config.backpressure != "block":
        raise ValueError("analyze_record needs a SchedulerConfig with backpressure='block' (nothing dropped)")
    expected = expected_windows(record.n_samples, record.fs, config.fs, config.window, config.hop)
    session = MonitoringSession(model, config, events=events)
    collected: list[WindowResult] = []  # every result: the worker thread appends, unbounded on purpose
    session.subscribe(collected.append)
    source = WfdbReplaySource(record, speed=None, loop=False, chunk=max(1, round(record.fs)))
    sid = session.add_source(source, name=record.name)
    session.set_paced(sid, paced)
    t0 = time.monotonic()
    session.start()
    try:
        while True:
            info = session.scheduler.stream(sid)
            if info.state == "fault":
                raise AnalysisError(f"record {record.path}: {info.message}")
            if info.error is not None:  # an inference fault: reading goes on, but a window is lost
                raise AnalysisError(f"record {record.path}: inference error: {type(info.error).__name__}: "
                                    f"{info.error}")
            if info.state == "ended" and session.scheduler.idle():
                break
            if progress is not None:
                progress(len(collected), expected)
            time.sleep(0.05)
    finally:
        session.stop()
    if progress is not None:
        progress(len(collected), expected)
    results = sorted(collected, key=lambda r: r.end_index)
    stats = session.scheduler.stats()
    beats = np.concatenate([r.beats for r in results if r.beats is not None] or [np.empty(0, np.int64)])
    rr_episodes = None
    if model.rr_rhythm is not None:  # the beats-only rhythm of the monitor's own beats, by the same code
        from core.beat_analysis import rr_episodes_of

        end = round(record.n_samples * config.fs / record.fs)  # the record's end at the model rate
        rr_episodes = rr_episodes_of(beats, config.fs, model.rr_rhythm, end)
    record_class = None
    if model.record_head is not None and record.duration_s <= SHORT_S:
        record_class = classify_recording(record.signal, record.fs, model)
    end_index = np.array([r.end_index for r in results], dtype=np.int64)
    probs = np.array([r.probs for r in results], dtype=np.float64).reshape(-1, len(CLASS_CODES))
    rr_probs = np.array([np.full(3, np.nan) if r.rr_probs is None else r.rr_probs for r in results],
                        dtype=np.float64).reshape(-1, 3) if model.rr_rhythm is not None else None
    alarm_probs = np.array([r.alarm_probs for r in results], dtype=np.float64).reshape(-1, 4) \
        if results and results[0].alarm_probs is not None else None
    events = session.events.stream_events(sid)
    backfilled = 0
    if read_start and model.alarm is not None and rr_probs is not None and alarm_probs is not None:
        start = read_start_with_first_decision(model.alarm, probs, rr_probs, alarm_probs, end_index, paced,
                                               session.events.settings, sid)
        if start is not None:
            rr_probs, alarm_probs, events, backfilled = start
    wall = time.monotonic() - t0
    return RecordAnalysis(
        record=record,
        model_fs=config.fs,
        window=config.window,
        hop=config.hop,
        end_index=end_index,
        probs=probs,
        heart_rate=np.array([r.heart_rate for r in results], dtype=np.float64),
        trajectory=np.array([r.trajectory for r in results], dtype=np.float64).reshape(-1, 2),
        flags=[r.flags for r in results],
        rhythm_probs=np.array([r.rhythm_probs for r in results], dtype=np.float64).reshape(-1, 4)
        if results and results[0].rhythm_probs is not None else None,
        rhythm=np.array([r.rhythm for r in results], dtype=np.float64)
        if results and results[0].rhythm is not None else None,
        beats=beats,
        rr_episodes=rr_episodes,
        alarm_probs=alarm_probs,
        rr_probs=rr_probs,
        events=events,
        episode_settings=session.events.settings,
        expected_windows=expected,
        dropped=stats.dropped,
        wall_s=wall,
        backend=model.backend,
        paced=paced,
        record_class=record_class,
        rr_backfilled=backfilled,
    )


def read_start_with_first_decision(alarm, probs: np.ndarray, rr_probs: np.ndarray, alarm_probs: np.ndarray,
                                   end_index: np.ndarray, paced: bool, settings: EpisodeSettings,
                                   stream_id: int = 0) -> tuple | None:
    """The record's start read with the RR model's first decision (module doc); None if nothing changes.

    Windows before the first decision (NaN rows of `rr_probs`) are given it, their alarm probabilities
    are recomputed by `alarm` (core.alarm.AlarmFusion) and the episode detector is re-run over every
    window. Returns (rr_probs, alarm_probs, events, number of windows given the decision).
    """
    ready = np.isfinite(rr_probs).all(axis=1)
    if not ready.any() or ready[0]:
        return None
    first = int(np.argmax(ready))
    rr = rr_probs.copy()
    rr[:first] = rr_probs[first]
    out = alarm_probs.copy()
    out[:first] = alarm.probs(probs[:first], rr[:first], np.full(first, paced))
    detector = EpisodeDetector(settings=settings)
    events = [e for i in range(len(out))
              if (e := detector.update(stream_id, out[i], int(end_index[i]))) is not None]
    return rr, out, events, first
