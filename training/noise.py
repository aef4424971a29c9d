"""Synthetic ECG noise: the generators of the robustness benchmarks and of noise-augmented training.

Three kinds, each unit-variance: white; baseline wander (0.05-0.5 Hz sines + a slow drift); electrode-
motion-like bursts (1-15 Hz noise under 0.5-2 s Hann envelopes, 1-4 s apart). SNR is relative to the
power of the signal the noise is added to.
"""

from __future__ import annotations

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
