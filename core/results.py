"""What the real-time scheduler publishes: one result per window, and per-stream status changes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engines.contract import CLASS_CODES, CLASS_NAMES  # the model's classes (the contract)

__all__ = ["CLASS_CODES", "CLASS_NAMES", "STREAM_STATES", "StreamStatus", "WindowResult", "write_summary"]


def alarm_input(alarm, rhythm, window):
    """What the episode detector follows: the alarm model's output, else the rhythm head's, else the window's.

    Probabilities of one window or of a whole record's windows alike.
    """
    if alarm is not None:
        return alarm
    return window if rhythm is None else rhythm


@dataclass(frozen=True)
class WindowResult:
    """The model's output for one window of one stream, with its timing."""

    stream_id: int
    end_index: int  # model-rate sample index one past the window's last sample
    arrival_time: float  # time.monotonic() when the window's last sample arrived
    done_time: float  # time.monotonic() when this result was published
    probs: np.ndarray  # (4,) in CLASS_CODES order
    embedding: np.ndarray  # (D,)
    trajectory: np.ndarray  # (2,) point in the bundle's 2-D projection
    heart_rate: float  # beats per minute over the window; nan when no beats were found
    flags: frozenset[str] = field(default_factory=frozenset)  # input quality: "nan_filled", "flat", ...
    rhythm: np.ndarray | None = None  # (R,) RR features of the last minute (core.rhythm), with a rhythm head
    rhythm_probs: np.ndarray | None = None  # (4,) class probabilities with rhythm context (the alarm input)
    beats: np.ndarray | None = None  # model-rate indices of the beats this window added to its stream
    rr_probs: np.ndarray | None = None  # (3,) p(sinus, AF, other) of the RR model's latest decision
    alarm_probs: np.ndarray | None = None  # (4,) the AF alarm's model: RR model fused with the window
    paced: bool = False  # the stream's bed was marked paced when this window ran (core/alarm.py)

    @property
    def alarm_input(self) -> np.ndarray:
        """What the episode detector follows (`alarm_input`)."""
        return alarm_input(self.alarm_probs, self.rhythm_probs, self.probs)

    @property
    def latency_ms(self) -> float:
        """Wall time from the arrival of the window's last sample to publication, in ms."""
        return (self.done_time - self.arrival_time) * 1e3


#: The states of a monitored stream, defined here only (sources add "idle" before and "closed" after).
STREAM_STATES = ("running", "stalled", "fault", "ended")


@dataclass(frozen=True)
class StreamStatus:
    """A change in a stream's state that subscribers must see: connected, stalled, fault, ended."""

    stream_id: int
    state: str  # one of STREAM_STATES
    message: str = ""
    dropped_windows: int = 0


def write_summary(summary: dict[str, Any], paths: dict[str, Path], out: Path, name: str) -> dict[str, Path]:
    """Write an analysis' `<name>_summary.json`, listing the files written beside it; return all paths."""
    paths["summary"] = out / f"{name}_summary.json"
    summary["files"] = {k: str(v.name) for k, v in paths.items()}
    paths["summary"].write_text(json.dumps(summary, indent=1) + "\n")
    return paths
