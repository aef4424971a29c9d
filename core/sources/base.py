"""The abstract base every sample source implements, with the state the monitor shows for it.

A source delivers one ECG lead in mV, at its own sampling rate `fs`, as chunks of any size. The base
class keeps the bookkeeping every source shares — state, status message, sample count, the optional
state callback — in one place, so a subclass only opens, reads and closes its own resource.
"""

from __future__ import annotations

import logging
import math
from abc import ABC, abstractmethod
from collections.abc import Callable

import numpy as np

from core.results import STREAM_STATES

log = logging.getLogger(__name__)

#: States a source reports: a stream's states (core.results), plus before connecting and after closing.
STATES = ("idle", *STREAM_STATES, "closed")


class SourceError(RuntimeError):
    """A source could not connect or failed while reading; the message says which source and why."""


class Source(ABC):
    """A stream of ECG samples in mV: connect(), then read() chunks until it returns None, then close().

    What a subclass must do:
    - set `self.fs` (Hz) and `self.name` no later than the end of `_connect()`;
    - `_connect()`: open its resource (file, network inlet), raising SourceError with a clear message;
    - `_read(timeout)`: return the next 1-D float64 chunk in mV (empty when nothing arrived within
      `timeout` seconds; None blocks until data or end), or None once the stream has ended for good;
      call `self._set_state("stalled", why)` / `("running")` when the data stops / resumes;
    - `_close()`: release the resource; it must be safe to call more than once.
    """

    def __init__(self, name: str, on_state: Callable[[str, str], None] | None = None) -> None:
        self.name = name
        self.fs = math.nan
        self.on_state = on_state  # called as on_state(state, message) on every state change
        self._reset_variables()

    def _reset_variables(self) -> None:
        """Post-connection state, reset in one place (on construction and on every connect)."""
        self.state = "idle"
        self.message = ""
        self.samples_read = 0

    def connect(self) -> None:
        """Open the source; afterwards `fs` is known and `read` delivers samples."""
        self._reset_variables()
        try:
            self._connect()
        except SourceError as exc:
            self._set_state("fault", str(exc))
            raise
        self._set_state("running")

    def read(self, timeout: float | None = None) -> np.ndarray | None:
        """Next chunk of samples in mV (possibly empty if `timeout` passed), or None once ended."""
        if self.state in ("idle", "closed"):
            raise SourceError(f"source {self.name!r} is {self.state}; call connect() before read()")
        if self.state == "ended":
            return None
        try:
            chunk = self._read(timeout)
        except Exception as exc:  # surfaced, not swallowed: the state says why, the caller decides
            why = str(exc) if isinstance(exc, SourceError) else f"{type(exc).__name__}: {exc}"
            self._set_state("fault", why)
            raise
        if chunk is None:
            self._set_state("ended", f"{self.samples_read} samples delivered")
            return None
        self.samples_read += chunk.size
        return chunk

    def next_due(self) -> float | None:
        """time.monotonic() before which read(0) would return nothing new, or None when not known.

        A poller may skip the source until then (most sources cannot know: they are read every tick).
        """
        return None

    def close(self) -> None:
        """Release the source; reading afterwards is an error until connect() is called again."""
        self._close()
        if self.state != "closed":
            self._set_state("closed")

    def __enter__(self) -> Source:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _set_state(self, state: str, message: str = "") -> None:
        if state not in STATES:
            raise ValueError(f"source {self.name}: unknown state {state!r}; known: {STATES}")
        if state == self.state and message == self.message:
            return
        self.state, self.message = state, message
        level = logging.WARNING if state in ("stalled", "fault") else logging.INFO
        log.log(level, "source %s: %s%s", self.name, state, f" ({message})" if message else "")
        if self.on_state is not None:
            self.on_state(state, message)

    @abstractmethod
    def _connect(self) -> None: ...

    @abstractmethod
    def _read(self, timeout: float | None) -> np.ndarray | None: ...

    @abstractmethod
    def _close(self) -> None: ...
