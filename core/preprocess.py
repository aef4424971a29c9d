"""Turn a lead in mV, in chunks of any size, into the model-rate signal the windows are cut from.

Per stream: non-finite runs are filled (last good value held) and flagged, flat lines / lead-off are
flagged, the signal is resampled to the model rate (300 Hz) by a polyphase FIR designed once, and
band-passed 0.5–40 Hz by an IIR whose state is carried between chunks. Every stage keeps its own state,
so feeding a record in any chunking gives the same samples as one call on the whole record: the offline
`preprocess_record` is literally the streaming `Preprocessor` fed a single chunk. `normalize_window` is
the per-window normalisation applied just before the scattering graph.
"""

from __future__ import annotations

import math
from enum import IntFlag
from fractions import Fraction

import numpy as np
from scipy.ndimage import maximum_filter1d, minimum_filter1d
from scipy.signal import butter, firwin, sosfilt, sosfilt_zi

from engines.contract import BAND_HZ, BANDPASS_ORDER, MODEL_FS, STD_FLOOR_MV  # the contract's numbers

try:  # the compiled kernel behind scipy.signal.sosfilt; calling it directly saves ~90% of a small
    # chunk's cost (sosfilt's argument checks and axis shuffles), with bit-identical results
    from scipy.signal._sosfilt import _sosfilt as _sosfilt_kernel
except ImportError:  # pragma: no cover - a scipy that moved it: use the public function
    _sosfilt_kernel = None

FLAT_WINDOW_S = 1.0  # a sample is "flat" when the last second of input varies less than FLAT_PTP_MV
FLAT_PTP_MV = 0.01  # 10 µV peak-to-peak: below one or two ADC steps of any ECG front end
MIN_FS_HZ = 100.0  # lowest input rate: the 40 Hz band edge needs a Nyquist frequency clearly above it
_BLOCK = 16384  # input samples handled per inner step, to bound memory on whole records


class Flag(IntFlag):
    """Per-sample input-quality flags, OR-ed into a uint8 mask that travels with the samples."""

    NAN_FILLED = 1  # the input was NaN/inf here and was filled with the last good value
    FLAT = 2  # the last FLAT_WINDOW_S of input was flat: lead off, saturated or disconnected


FLAG_NAMES = {Flag.NAN_FILLED: "nan_filled", Flag.FLAT: "flat"}


def flag_names(mask: int | np.ndarray) -> frozenset[str]:
    """Names of the flags set anywhere in `mask` (an int or a uint8 array), e.g. {"flat"}."""
    value = int(np.bitwise_or.reduce(np.asarray(mask, dtype=np.uint8).ravel(), initial=0))
    return frozenset(name for flag, name in FLAG_NAMES.items() if value & flag)


def normalize_window(w: np.ndarray, floor: float = STD_FLOOR_MV) -> np.ndarray:
    """Return (w - mean) / max(std, floor mV) over the last axis as float32 (the model's input contract)."""
    x = np.asarray(w, dtype=np.float64)
    mean = x.mean(axis=-1, keepdims=True)
    std = x.std(axis=-1, keepdims=True)
    return ((x - mean) / np.maximum(std, floor)).astype(np.float32)


def resample_ratio(fs_in: float, fs_out: float) -> tuple[int, int]:
    """Smallest (up, down) with fs_in * up / down == fs_out (rates rounded to 1/1000 Hz)."""
    if not (math.isfinite(fs_in) and fs_in > 0 and math.isfinite(fs_out) and fs_out > 0):
        raise ValueError(f"sampling rates must be positive and finite; got {fs_in!r} in, {fs_out!r} out")
    ratio = Fraction(round(fs_out * 1000), round(fs_in * 1000))
    return ratio.numerator, ratio.denominator


class PolyphaseResampler:
    """Streaming rational resampler with scipy.signal.resample_poly's filter, centred, edge-padded.

    Output sample m is at input time m * down / up exactly (the FIR's delay is removed), and equals
    `resample_poly(x, up, down, padtype="edge")[m]` for every m the input so far determines; the
    samples that would need input beyond the end (the last ~half filter length) wait for more input.
    """

    def __init__(self, fs_in: float, fs_out: float = MODEL_FS) -> None:
        self.up, self.down = resample_ratio(fs_in, fs_out)
        self.identity = self.up == self.down == 1
        self._history: np.ndarray | None = None  # last taps-1 inputs (edge-padded before the first)
        self._n_in = 0  # input samples consumed
        self._next = 0  # next output index, counting the delay outputs that are skipped
        if self.identity:  # same rate: a copy, no filter and no delay
            self.skip, self.taps, self.lag_in = 0, 1, 2
            self.phases = np.ones((1, 1))
            return
        max_rate = max(self.up, self.down)
        half_len = 10 * max_rate  # resample_poly's default design
        h = firwin(2 * half_len + 1, 1.0 / max_rate, window=("kaiser", 5.0)) * self.up
        pre_pad = self.down - half_len % self.down  # puts the filter centre on an output sample
        self.skip = (half_len + pre_pad) // self.down  # leading outputs that only carry the delay
        taps = -(-(len(h) + pre_pad) // self.up)  # input samples under the filter per output
        h = np.concatenate([np.zeros(pre_pad), h, np.zeros(taps * self.up - len(h) - pre_pad)])
        # phases[p, k] multiplies input x[i - taps + 1 + k] for an output whose up-sampled position is i*up+p
        self.phases = np.ascontiguousarray(h.reshape(taps, self.up).T[:, ::-1])
        self.taps = taps
        self._tap_offsets = np.arange(taps)
        self.lag_in = (self.skip + 1) * self.down // self.up + 2  # input samples an output may trail by

    def process(self, x: np.ndarray) -> np.ndarray:
        """Consume input samples (float64, 1-D) and return every output sample they complete."""
        if self.identity:
            return np.array(x, dtype=np.float64, copy=True)
        if x.size == 0:
            return np.empty(0)
        if self._history is None:
            self._history = np.full(self.taps - 1, x[0], dtype=np.float64)
        xx = np.concatenate([self._history, x])  # xx[k] is input n_in - (taps - 1) + k
        total = self._n_in + x.size
        stop = -(-total * self.up // self.down)  # outputs whose newest input sample has arrived
        m = np.arange(self._next, stop)
        pos = m * self.down
        first = pos // self.up - self._n_in  # index in xx of each output's oldest input sample
        y = (xx[first[:, None] + self._tap_offsets] * self.phases[pos % self.up]).sum(axis=1)
        self._history = xx[xx.size - (self.taps - 1) :].copy()
        self._n_in, self._next = total, stop
        drop = max(0, self.skip - int(m[0])) if m.size else 0
        return y[drop:]

    def input_index(self, out_index: np.ndarray) -> np.ndarray:
        """Input sample index at (or just before) the time of each output sample index."""
        return out_index * self.down // self.up


class StatefulBandPass:
    """Butterworth band-pass (second-order sections) whose state is carried from chunk to chunk.

    The state starts at the steady state for the first sample's value (sosfilt_zi), so a DC offset
    does not ring at the start. Same numbers as scipy.signal.sosfilt(sos, x, zi=zi) on the whole signal.
    """

    def __init__(self, fs: float, band: tuple[float, float] = BAND_HZ, order: int = BANDPASS_ORDER) -> None:
        self.sos = np.ascontiguousarray(butter(order, band, btype="bandpass", fs=fs, output="sos"))
        self.zi: np.ndarray | None = None  # (1, sections, 2), set from the first sample

    def process(self, y: np.ndarray) -> np.ndarray:
        """Filter the next samples (float64, 1-D); returns a new array."""
        if y.size == 0:
            return np.empty(0)
        if self.zi is None:
            self.zi = np.ascontiguousarray((sosfilt_zi(self.sos) * y[0])[None])
        if _sosfilt_kernel is None:
            out, zi = sosfilt(self.sos, y, zi=self.zi[0])
            self.zi = np.ascontiguousarray(zi[None])
            return out
        out = np.array(y, dtype=np.float64, order="C")[None]  # (1, n), filtered in place
        _sosfilt_kernel(self.sos, out, self.zi)  # updates self.zi in place
        return out[0]


class Preprocessor:
    """One stream's preprocessing: chunk of lead samples in mV → (model-rate chunk, per-sample flags)."""

    def __init__(self, fs_in: float, fs_out: float = MODEL_FS, band: tuple[float, float] = BAND_HZ,
                 order: int = BANDPASS_ORDER) -> None:
        if not fs_in >= MIN_FS_HZ:
            raise ValueError(
                f"input sampled at {fs_in:g} Hz is below the {MIN_FS_HZ:g} Hz the model needs to keep its "
                f"{band[0]:g}-{band[1]:g} Hz band; use a source sampled at {MIN_FS_HZ:g} Hz or more"
            )
        if fs_out <= 2 * band[1]:
            raise ValueError(f"fs_out={fs_out!r} Hz cannot carry the {band[1]:g} Hz band; "
                             f"use more than {2 * band[1]:g} Hz")
        self.fs_in = float(fs_in)
        self.fs_out = float(fs_out)
        self.resampler = PolyphaseResampler(self.fs_in, self.fs_out)
        self.bandpass = StatefulBandPass(self.fs_out, band, order)
        self._last_good = 0.0  # fill value for non-finite samples
        flat_n = max(3, round(FLAT_WINDOW_S * self.fs_in))
        self._flat_n = flat_n + (flat_n % 2 == 0)  # odd, so the trailing window maps onto a centred one
        self._flat_history = np.empty(0)  # last flat_n - 1 filled inputs
        self._flags_history = np.empty(0, dtype=np.uint8)  # input flags the resampler may still need
        self._flags_start = 0  # input index of _flags_history[0]
        self._flags_pending = False  # whether _flags_history holds any set flag
        self._n_in = 0
        self._n_out = 0

    @property
    def samples_in(self) -> int:
        """Input samples consumed so far."""
        return self._n_in

    @property
    def samples_out(self) -> int:
        """Model-rate samples produced so far (the next output's absolute index)."""
        return self._n_out

    def process(self, chunk: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Preprocess the next chunk; return (float64 model-rate samples, uint8 Flag mask per sample)."""
        x = np.asarray(chunk, dtype=np.float64)
        if x.ndim == 2 and x.shape[1] == 1:
            x = x[:, 0]
        if x.ndim != 1:
            raise ValueError(f"a chunk must be one lead, shape (n,) or (n, 1); got shape {x.shape}")
        if x.size <= _BLOCK:
            return self._process_block(x)
        outs, flags = [], []
        for start in range(0, x.size, _BLOCK):
            y, f = self._process_block(x[start : start + _BLOCK])
            outs.append(y)
            flags.append(f)
        return np.concatenate(outs), np.concatenate(flags)

    def _process_block(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x, in_flags = self._fill_nonfinite(x)
        in_flags |= self._flat_flags(x)
        y = self.resampler.process(x)
        out_flags = self._output_flags(in_flags, y.size)
        y = self.bandpass.process(y)
        self._n_in += x.size
        self._n_out += y.size
        return y, out_flags

    def _fill_nonfinite(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Hold the last finite value over NaN/inf runs (causal, so chunking cannot change it)."""
        flags = np.zeros(x.size, dtype=np.uint8)
        bad = ~np.isfinite(x)
        if bad.any():
            flags[bad] = Flag.NAN_FILLED
            idx = np.where(bad, 0, np.arange(x.size))
            np.maximum.accumulate(idx, out=idx)
            filled = x[idx]
            lead_in = bad & (np.cumsum(~bad) == 0)  # before the first good value of this chunk
            filled[lead_in] = self._last_good
            x = filled
        if x.size:
            self._last_good = float(x[-1])
        return x, flags

    def _flat_flags(self, x: np.ndarray) -> np.ndarray:
        """FLAT where the trailing FLAT_WINDOW_S of input has a peak-to-peak below FLAT_PTP_MV."""
        n = self._flat_n
        xx = np.concatenate([self._flat_history, x])
        self._flat_history = xx[max(0, xx.size - (n - 1)) :].copy()
        flags = np.zeros(x.size, dtype=np.uint8)
        if xx.size < n:
            return flags
        first_end = xx.size - x.size  # xx index of x[0]
        if 2 * x.size <= n and first_end >= n - 1:
            # every window ending in this chunk contains xx[xx.size - n : first_end + 1]; if that
            # shared stretch already varies, no sample here can be flat (exact, and ~10x cheaper)
            shared = xx[xx.size - n : first_end + 1]
            if shared.max() - shared.min() >= FLAT_PTP_MV:
                return flags
        centre = slice(n // 2, xx.size - n // 2)
        ptp = maximum_filter1d(xx, n)[centre] - minimum_filter1d(xx, n)[centre]
        # ptp[j] covers xx[j : j + n], i.e. the window ending at xx index j + n - 1
        ends_flat = ptp < FLAT_PTP_MV
        offset = max(0, first_end - (n - 1))
        tail = ends_flat[offset:]
        flags[x.size - tail.size :] = np.where(tail, Flag.FLAT, 0)
        return flags

    def _output_flags(self, in_flags: np.ndarray, n_out: int) -> np.ndarray:
        """Carry each output sample the flags of the input sample at its time."""
        if not self._flags_pending and not in_flags.any():  # the usual case: all clean, skip the lookup
            total = self._flags_start + self._flags_history.size + in_flags.size
            keep = min(total, self.resampler.lag_in)
            if self._flags_history.size != keep:
                self._flags_history = np.zeros(keep, dtype=np.uint8)
            self._flags_start = total - keep
            return np.zeros(n_out, dtype=np.uint8)
        hist = np.concatenate([self._flags_history, in_flags])
        out_idx = np.arange(self._n_out, self._n_out + n_out)
        out = hist[self.resampler.input_index(out_idx) - self._flags_start]
        keep = min(hist.size, self.resampler.lag_in)
        self._flags_start += hist.size - keep
        self._flags_history = hist[hist.size - keep :]
        self._flags_pending = bool(self._flags_history.any())
        return out


def preprocess_record(
    signal: np.ndarray, fs: float, fs_out: float = MODEL_FS, band: tuple[float, float] = BAND_HZ,
    order: int = BANDPASS_ORDER,
) -> tuple[np.ndarray, np.ndarray]:
    """Offline preprocessing of a whole lead: the streaming path fed one chunk, so it equals streaming."""
    return Preprocessor(fs, fs_out, band, order).process(signal)
