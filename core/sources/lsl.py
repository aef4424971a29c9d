"""Live ECG from a Lab Streaming Layer (LSL) outlet, e.g. an acquisition device or `dacl-stream`.

The inlet resolves a stream by name (or by type), picks the ECG channel from its channel labels the way
records do (II / MLII / ECG / first), converts microvolts to mV from the channel unit, and watches for
silence: when the outlet is lost or no sample has arrived for `stall_timeout` seconds the source reports
"stalled" and, without blocking reads, watches for the stream to come back (a restarted sender) and
reopens the inlet; when samples flow again it reports "running".
pylsl is imported only when a stream is opened, so the rest of core works without liblsl.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np

from core.preprocess import MIN_FS_HZ
from core.records import LeadError, choose_lead
from core.sources.base import Source, SourceError

_MICROVOLT_UNITS = {"uv", "µv", "μv", "microvolts", "microvolt"}


class LslInletSource(Source):
    """Samples of one channel of an LSL stream, in mV, with stall detection and reconnection."""

    def __init__(
        self,
        name: str | None = None,
        stream_type: str = "ECG",
        channel: str | int | None = None,
        resolve_timeout: float = 5.0,
        stall_timeout: float = 2.0,
        reconnect: bool = True,
        on_state: Callable[[str, str], None] | None = None,
    ) -> None:
        """Find the stream called `name` (else the first of type `stream_type`) within `resolve_timeout` s."""
        super().__init__(name or f"LSL type {stream_type}", on_state)
        self.stream_name = name
        self.stream_type = stream_type
        self.channel = channel
        self.resolve_timeout = resolve_timeout
        self.stall_timeout = stall_timeout
        self.reconnect = reconnect
        self._inlet = None
        self.reconnects = 0  # successful reopenings after a stall

    def _reset_variables(self) -> None:
        super()._reset_variables()
        self._last_data = math.nan  # time.monotonic() of the latest sample
        self._resolver = None  # pylsl.ContinuousResolver while stalled
        self._uid = ""  # uid of the outlet the inlet is connected to
        self.channel_index = 0
        self.scale = 1.0  # to mV

    def _connect(self) -> None:
        info = self._resolve(self.resolve_timeout)
        if info is None:
            what = f"named {self.stream_name!r}" if self.stream_name else f"of type {self.stream_type!r}"
            raise SourceError(
                f"no LSL stream {what} found within {self.resolve_timeout:g} s; is the sender "
                "(e.g. dacl-stream) running on this network?"
            )
        self._open(info)
        self._last_data = time.monotonic()

    def _resolve(self, timeout: float):  # -> pylsl.StreamInfo | None
        import pylsl

        prop, value = ("name", self.stream_name) if self.stream_name else ("type", self.stream_type)
        found = pylsl.resolve_byprop(prop, value, minimum=1, timeout=timeout)
        return found[0] if found else None

    def _open(self, info) -> None:
        import pylsl

        inlet = pylsl.StreamInlet(info, max_buflen=360, recover=False)
        full = inlet.info(timeout=max(self.resolve_timeout, 1.0))
        fs = full.nominal_srate()
        if fs <= 0:
            inlet.close_stream()
            raise SourceError(f"LSL stream {full.name()!r} has an irregular rate; ECG needs a fixed rate")
        if fs < MIN_FS_HZ:
            inlet.close_stream()
            raise SourceError(
                f"LSL stream {full.name()!r} is sampled at {fs:g} Hz, below the {MIN_FS_HZ:g} Hz "
                "the model needs"
            )
        labels, units = _channel_labels(full)
        try:
            self.channel_index = choose_lead(labels, self.channel, f"LSL stream {full.name()!r}")
        except LeadError as exc:
            inlet.close_stream()
            raise SourceError(str(exc)) from exc
        self.scale = 1e-3 if units[self.channel_index].strip().lower() in _MICROVOLT_UNITS else 1.0
        inlet.open_stream(timeout=max(self.resolve_timeout, 1.0))
        self._inlet = inlet
        self._uid = full.uid()
        self.fs = fs
        self.name = full.name()
        self.n_channels = full.channel_count()

    def _read(self, timeout: float | None) -> np.ndarray | None:
        from pylsl.util import LostError

        self._poll_reconnect()
        if self._inlet is None:
            time.sleep(min(timeout if timeout is not None else 0.1, 0.1))
            return np.empty(0)
        wait = 0.1 if timeout is None else max(timeout, 0.0)
        try:
            samples = self._pull(wait)
        except LostError:
            self._inlet.close_stream()
            self._inlet = None
            self._set_state("stalled", "LSL stream lost (sender closed or network gone); reconnecting")
            return np.empty(0)
        now = time.monotonic()
        if samples is not None and len(samples):
            if self.state == "stalled":
                self._set_state("running", "samples flowing again")
            self._last_data = now
            return np.asarray(samples, dtype=np.float64)[:, self.channel_index] * self.scale
        if now - self._last_data > self.stall_timeout and self.state != "stalled":
            self._set_state("stalled", f"no samples for {now - self._last_data:.1f} s; watching for it")
        return np.empty(0)

    def _pull(self, wait: float):  # -> (n, channels) array or list of samples
        """Pull what has arrived; return as soon as one sample is there (pylsl >= 1.18), else after `wait`."""
        try:
            samples, _ = self._inlet.pull_chunk(timeout=wait, max_samples=4096, min_samples=1, as_numpy=True)
        except TypeError:  # an older pylsl without min_samples/as_numpy
            samples, _ = self._inlet.pull_chunk(timeout=wait, max_samples=4096)
        return samples

    def _poll_reconnect(self) -> None:
        """While stalled, look (without blocking) for a new outlet of the stream and switch to it.

        A background ContinuousResolver keeps the list of matching outlets; one with a new uid means the
        sender was restarted. If the old outlet merely paused, its inlet stays open and resumes by itself.
        """
        if self.state != "stalled" or not self.reconnect:
            self._resolver = None
            return
        import pylsl

        if self._resolver is None:
            prop, value = ("name", self.stream_name) if self.stream_name else ("type", self.stream_type)
            self._resolver = pylsl.ContinuousResolver(prop=prop, value=value, forget_after=2.0)
        fresh = [info for info in self._resolver.results() if info.uid() != self._uid]
        if not fresh:
            return
        if self._inlet is not None:
            self._inlet.close_stream()
            self._inlet = None
        try:
            self._open(fresh[0])
        except SourceError as exc:
            self._set_state("stalled", f"reconnect failed: {exc}")
            return
        self._resolver = None
        self.reconnects += 1
        self._last_data = time.monotonic()
        self._set_state("running", f"reconnected to {self.name!r}")

    def _close(self) -> None:
        if self._inlet is not None:
            self._inlet.close_stream()
            self._inlet = None


def _channel_labels(info) -> tuple[list[str], list[str]]:
    """Channel labels and units from an LSL StreamInfo's <desc><channels>, defaulting to ch0.. and mV."""
    labels, units = [], []
    ch = info.desc().child("channels").child("channel")
    for _ in range(info.channel_count()):
        labels.append(ch.child_value("label") if not ch.empty() else "")
        units.append(ch.child_value("unit") if not ch.empty() else "")
        ch = ch.next_sibling() if not ch.empty() else ch
    labels = [lab or f"ch{i}" for i, lab in enumerate(labels)]
    units = [u or "mV" for u in units]
    return labels, units
