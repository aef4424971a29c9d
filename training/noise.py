"""Synthetic ECG noise: the generators of the robustness benchmarks and of noise-augmented training.

Three kinds, each unit-variance: white; baseline wander (0.05-0.5 Hz sines + a slow drift); electrode-
motion-like bursts (1-15 Hz noise under 0.5-2 s Hann envelopes, 1-4 s apart). SNR is relative to the
power of the signal the noise is added to.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

KINDS = ("white", "baseline_wander", "electrode_motion")


def make_noise(kind: str, n: int, fs: float, rng: np.random.Generator) -> np.ndarray:
    """Unit-variance noise of a kind: white; wander (0.05–0.5 Hz sines + drift); EM-like bursts."""
    from scipy.signal import butter, sosfilt

    t = np.arange(n) / fs
    if kind == "white":
        e = rng.standard_normal(n)
    elif kind == "baseline_wander":
        e = sum(
            rng.uniform(0.5, 1.0) * np.sin(2 * np.pi * rng.uniform(0.05, 0.5) * t + rng.uniform(0, 2 * np.pi))
            for _ in range(3)
        )
        e = e + np.cumsum(rng.standard_normal(n)) / np.sqrt(n)  # slow random drift
    elif kind == "electrode_motion":
        base = sosfilt(butter(2, [1.0, 15.0], btype="bandpass", fs=fs, output="sos"), rng.standard_normal(n))
        env = np.zeros(n)
        pos = 0
        while pos < n:  # bursts of 0.5–2 s separated by 1–4 s of quiet
            pos += int(rng.uniform(1, 4) * fs)
            length = int(rng.uniform(0.5, 2.0) * fs)
            seg = env[pos : pos + length]
            env[pos : pos + length] = np.hanning(length)[: len(seg)] * rng.uniform(0.5, 1.5)
            pos += length
        e = base * env
        if not env.any():
            e = base
    else:
        raise ValueError(f"unknown noise kind {kind!r}; expected one of {KINDS}")
    e = e - e.mean()
    return e / max(e.std(), 1e-12)


def add_noise(sig: np.ndarray, fs: float, kind: str | None, snr_db: float, rng) -> np.ndarray:
    """The lead with `kind` noise at `snr_db` relative to its own power added (a copy; kind None: as is)."""
    if kind is None:
        return sig.copy()
    return sig + make_noise(kind, len(sig), fs, rng) * np.sqrt(np.var(sig) / 10 ** (snr_db / 10))


# ----- recorded noise: the MIT-BIH Noise Stress Test Database ------------------------------------------
RECORDED_KINDS = ("bw", "ma", "em")  # baseline wander, muscle artefact, electrode motion
NST_SNRS_DB = (24, 12, 6, 0, -6)  # the noise stress test's levels
# S = QRS peak-to-peak² / 8 over the noise variance reads 7.6 dB below the labels of the stress test's own
# records (118e24 … 118e_6 against 118, every level alike), so `nst` measures one of the two differently;
# this offset puts our levels on its scale: "-6 dB" adds as much noise as 118e_6 carries (tested).
NST_CALIBRATION_DB = 7.6


def load_recorded_noise(nstdb: str | Path,
                        mitdb: str | Path | None = None) -> dict[str, tuple[np.ndarray, float]]:
    """Recorded noise (signal 0, mV, and its rate) by kind: 'bw' and 'ma' as recorded; 'em' recovered.

    The electrode-motion record itself is not shared; `118e_6` minus MIT-BIH `118` (from `mitdb`,
    default the sibling folder) is that noise in the stress test's 2-minute bursts after its clean first
    5 minutes; the bursts are kept and joined. A kind whose records are missing is left out.
    """
    from scipy.ndimage import maximum_filter1d

    from core.records import RecordError, open_record

    nstdb = Path(nstdb)
    mitdb = Path(mitdb) if mitdb is not None else nstdb.parent / "mitdb"
    out: dict[str, tuple[np.ndarray, float]] = {}
    for kind in ("bw", "ma"):
        try:
            rec = open_record(nstdb / kind, 0, annotation=None)
        except RecordError:
            continue
        out[kind] = (rec.signal, rec.fs)
    try:
        noisy = open_record(nstdb / "118e_6", 0, annotation=None)
        clean = open_record(mitdb / "118", 0, annotation=None)
    except RecordError:
        return out
    d = noisy.signal - clean.signal
    # between bursts the difference is a constant (header baselines differ, and the noise leaves a DC
    # step), so a burst is where it moves
    moving = np.abs(np.diff(d, prepend=d[0])) > 1e-6
    on = maximum_filter1d(moving.astype(np.uint8), size=int(noisy.fs)) > 0
    edges = np.flatnonzero(np.diff(np.concatenate([[0], on.astype(np.int8), [0]])))
    bursts = [d[a:b] - d[a:b].mean() for a, b in zip(edges[::2], edges[1::2], strict=True)]
    if bursts:
        out["em"] = (np.concatenate(bursts), noisy.fs)
    return out


def qrs_signal_power(sig: np.ndarray, fs: float) -> float:
    """The noise stress test's signal power: (median QRS peak-to-peak amplitude)² / 8, in mV²."""
    from core.heart_rate import HeartRateEstimator

    peaks = HeartRateEstimator(fs).r_peaks(sig - np.median(sig))
    half = max(1, round(0.06 * fs))
    ptp = [np.ptp(sig[max(0, p - half) : p + half]) for p in peaks]
    amp = float(np.median(ptp)) if ptp else float(np.ptp(sig))
    return amp * amp / 8.0


def add_recorded_noise(sig: np.ndarray, fs: float, noise: tuple[np.ndarray, float], snr_db: float,
                       rng: np.random.Generator) -> np.ndarray:
    """`sig` plus a random stretch of recorded `noise` (resampled to fs) at `snr_db` on the NST's scale.

    SNR = 10 log10(S / N) + NST_CALIBRATION_DB with S from the QRS amplitude (qrs_signal_power) and N the
    noise's variance.
    """
    from scipy.signal import resample_poly

    from core.preprocess import resample_ratio

    e, noise_fs = noise
    if noise_fs != fs:
        up, down = resample_ratio(noise_fs, fs)
        e = resample_poly(e, up, down)
    if e.size < sig.size:
        e = np.tile(e, -(-sig.size // e.size))
    start = int(rng.integers(0, e.size - sig.size + 1))
    e = e[start : start + sig.size]
    e = e - e.mean()
    noise_power = qrs_signal_power(sig, fs) / 10 ** ((snr_db - NST_CALIBRATION_DB) / 10)
    gain = np.sqrt(noise_power / max(np.var(e), 1e-18))
    return sig + gain * e


NST_CLEAN_S, NST_BURST_S = 300.0, 120.0  # the stress test's clean first 5 minutes, then 2-minute bursts


def nst_bursts(n: int, fs: float) -> np.ndarray:
    """(n,) bool: where the noise stress test puts noise (2 minutes on, 2 off, after the clean 5 minutes)."""
    t = np.arange(n) / fs - NST_CLEAN_S
    return (t >= 0) & (np.floor(t / NST_BURST_S) % 2 == 0)


def add_nst_bursts(sig: np.ndarray, fs: float, noise: tuple[np.ndarray, float], snr_db: float,
                   rng: np.random.Generator) -> np.ndarray:
    """`sig` with recorded `noise` at `snr_db` (add_recorded_noise's scale) in the stress test's bursts only.

    The signal power is the whole record's, as the stress test's records were made; outside the bursts
    the signal is returned unchanged.
    """
    noisy = add_recorded_noise(sig, fs, noise, snr_db, rng)
    return np.where(nst_bursts(sig.size, fs), noisy, sig)
