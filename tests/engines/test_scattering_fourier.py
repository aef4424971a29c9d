"""The real-valued DFT building blocks of the scattering graph, against NumPy's FFT on known signals."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engines.fourier import BandModulus, RealDFT, lowpass_matrix, split_bank


def _spectrum_at(dft: RealDFT, out: np.ndarray, bins: np.ndarray) -> np.ndarray:
    re, im, sign = dft.locate(bins)
    flat = out.reshape(dft.rows, -1)
    return flat[re] + 1j * sign[:, None] * flat[im]


@pytest.mark.parametrize("length", [64, 1024, 4096])
def test_real_dft_of_a_sine_has_two_lines(length):
    k0 = length // 8 + 3
    t = np.arange(length)
    x = np.cos(2 * np.pi * k0 * t / length)
    bins = np.arange(length)
    dft = RealDFT(length, bins)
    out = dft(torch.from_numpy(x[:, None].astype(np.float32))).numpy()
    spec = _spectrum_at(dft, out, bins)[:, 0]
    expected = np.zeros(length)
    expected[[k0, length - k0]] = length / 2  # cos = (e^{+} + e^{-}) / 2
    np.testing.assert_allclose(spec, expected, atol=1e-3 * length)


def test_real_dft_at_chosen_bins_matches_numpy_for_a_batch():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2048, 5))  # time-major: (L, signals)
    bins = np.array([0, 1, 7, 100, 1023, 1024, 1500, 2047])  # both halves: mirrors come from conjugates
    dft = RealDFT(2048, bins)
    out = dft(torch.from_numpy(x.astype(np.float32))).numpy()
    want = np.fft.fft(x, axis=0)[bins]
    np.testing.assert_allclose(_spectrum_at(dft, out, bins), want, rtol=1e-4, atol=2e-3)


def test_band_modulus_is_the_modulus_of_a_subsampled_filtered_signal():
    """|ifft(periodise(h·X, 2))| for a band-pass h, against NumPy on the full spectrum."""
    rng = np.random.default_rng(1)
    n, sub = 1024, 2
    x = rng.standard_normal(n)
    f = np.fft.fftfreq(n)
    filters = [np.exp(-((f - xi) ** 2) / (2 * 0.02**2)) for xi in (0.1, 0.15, 0.2)]
    dft = RealDFT(n, np.unique(np.concatenate([np.nonzero(h > 1e-12)[0] for h in filters])))
    bank = BandModulus(n // sub, [(h, dft.locate, 1.0 / n) for h in filters])
    source = dft(torch.from_numpy(x[:, None].astype(np.float32))).reshape(dft.rows, -1)
    got = bank(source).numpy()[:, :, 0]  # (L, filters)
    spectrum = np.fft.fft(x)
    for i, h in enumerate(filters):
        periodised = (h * spectrum).reshape(sub, n // sub).mean(axis=0)
        want = np.abs(np.fft.ifft(periodised))
        np.testing.assert_allclose(got[:, i], want, rtol=1e-4, atol=1e-5 * want.max())


def test_lowpass_matrix_of_a_constant_is_the_filter_gain():
    n, step = 256, 16
    f = np.fft.fftfreq(n)
    phi = np.exp(-(f**2) / (2 * 0.01**2))  # phi[0] = 1: averaging keeps a constant
    avg = lowpass_matrix(phi, step, 2, 10)
    assert avg.shape == (n, 8)
    np.testing.assert_allclose(np.ones(n) @ avg, np.ones(8), rtol=1e-12)


def test_split_bank_separates_wide_from_narrow_filters():
    wide = [np.arange(100, 100 + w) for w in (600, 580)]
    narrow = [np.arange(50, 50 + w) for w in (40, 30, 30, 20)]
    assert split_bank(wide + narrow, 2048) == [[0, 1], [2, 3, 4, 5]]
    assert split_bank(narrow, 2048) == [[0, 1, 2, 3]]


def test_bad_dft_length_is_a_clear_error():
    with pytest.raises(ValueError, match="DFT length must be a power of two, got 1000"):
        RealDFT(1000, [1, 2])
