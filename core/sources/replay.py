"""Replay a WFDB record as a live stream: chunks paced by a monotonic clock at speed ×k, or flat out.

Chunk k is released when the wall clock reaches the time its last sample would have been recorded,
computed from the replay's start (t0 + samples_so_far / (fs · speed)), not by sleeping a fixed period:
oversleeping on one chunk is made up on the next, so timing errors never accumulate (drift correction).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from core.records import EcgRecord, open_record
from core.sources.base import Source, SourceError


class WfdbReplaySource(Source):
    """A record (or a path to one) replayed in chunks of `chunk` samples at `speed` × real time."""

    def __init__(
        self,
        record: EcgRecord | str | Path,
        lead: str | int | None = None,
        chunk: int | None = None,
        speed: float | None = 1.0,
        loop: bool = False,
        limit_s: float | None = None,
        total_s: float | None = None,
        on_state: Callable[[str, str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Prepare the replay (nothing is sent before connect()).

        `chunk` defaults to 0.1 s of samples; `speed` None or inf replays as fast as possible;
        `limit_s` replays only the first seconds of the record; `loop` starts over at the end, forever
        or until `total_s` seconds of signal have been sent (e.g. 24 h of a looped half-hour record).
        """
        if speed is not None and not speed > 0:
            raise ValueError(f"speed must be a positive factor (None: flat out); {speed!r} is invalid")
        if chunk is not None and chunk <= 0:
            raise ValueError(f"chunk must be a strictly positive number of samples; {chunk!r} is invalid")
        self.record = record if isinstance(record, EcgRecord) else open_record(record, lead)
        super().__init__(self.record.name, on_state)
        self.fs = self.record.fs
        self.signal = self.record.signal
        if limit_s is not None:
            self.signal = self.signal[: max(1, round(limit_s * self.fs))]
        self.chunk = int(chunk) if chunk else max(1, round(self.fs / 10))
        self.speed = None if speed is None or math.isinf(speed) else float(speed)
        self.loop = loop
        if total_s is not None and not total_s > 0:
            raise ValueError(f"total_s must be a positive number of seconds; {total_s!r} is invalid")
        self.total = None if total_s is None else max(1, round(total_s * self.fs))
        self.clock = clock

    def _reset_variables(self) -> None:
        super()._reset_variables()
        self.position = 0  # index in the record of the next sample to send
        self.t0 = math.nan  # clock() at connect

    def _connect(self) -> None:
        if self.signal.size == 0:
            raise SourceError(f"record {self.name!r} has no samples to replay")
        self.t0 = self.clock()

    def due_time(self) -> float:
        """Clock time at which the next chunk is released (its last sample's recording time)."""
        if self.speed is None:
            return self.t0
        return self.t0 + (self.samples_read + self._next_size()) / (self.fs * self.speed)

    def next_due(self) -> float | None:
        """When the next chunk is released, if this source's clock is time.monotonic (else unknown)."""
        if self.clock is not time.monotonic or self.state != "running":
            return None
        return self.due_time()

    def _next_size(self) -> int:
        if not self.loop:
            return min(self.chunk, self.signal.size - self.position)
        return self.chunk if self.total is None else min(self.chunk, self.total - self.samples_read)

    def _read(self, timeout: float | None) -> np.ndarray | None:
        if self.position >= self.signal.size and not self.loop:
            return None
        if self.total is not None and self.samples_read >= self.total:
            return None
        wait = self.due_time() - self.clock()
        if wait > 0:
            if timeout is not None and wait > timeout:
                if timeout > 0:  # never sleep(0): each one hands the GIL away and waits to get it back
                    time.sleep(timeout)
                return np.empty(0)
            time.sleep(wait)
        return self._take(self._next_size())

    def _take(self, n: int) -> np.ndarray:
        if not self.loop:
            out = self.signal[self.position : self.position + n].copy()
            self.position += out.size
            return out
        idx = (self.position + np.arange(n)) % self.signal.size
        self.position = int((self.position + n) % self.signal.size)
        return self.signal[idx]

    def _close(self) -> None:
        """Nothing to release: the record is in memory."""
