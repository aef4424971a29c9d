"""Preprocessing: streaming equals offline, and each stage gives its known answer.

Tolerance for streaming == offline: 1e-12 mV absolute. Every output sample is computed by the same
arithmetic in the same order whatever the chunking — the FIR is a dot product over the same taps and
inputs, sosfilt runs the same per-sample recursion from the carried state — so on one machine the results
are bit-identical (the tests also check that). The 1e-12 mV allowance (a billionth of the 5 µV ADC step
of MIT-BIH) only admits a different SIMD summation order should numpy pick one by array length.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.signal import butter, resample_poly, sosfilt, sosfilt_zi

from core.preprocess import (
    BAND_HZ,
    BANDPASS_ORDER,
    MODEL_FS,
    Flag,
    PolyphaseResampler,
    Preprocessor,
    flag_names,
    normalize_window,
    preprocess_record,
)
from core.records import open_record

ATOL_MV = 1e-12

chunkings = st.lists(st.integers(min_value=1, max_value=3000), min_size=1, max_size=40)


def stream(signal, fs, sizes):
    """Feed `signal` to a fresh Preprocessor in chunks cycling through `sizes`."""
    pre = Preprocessor(fs)
    outs, flags, i, k = [], [], 0, 0
    while i < signal.size:
        n = sizes[k % len(sizes)]
        out, flag = pre.process(signal[i : i + n])
        outs.append(out)
        flags.append(flag)
        i, k = i + n, k + 1
    return np.concatenate(outs), np.concatenate(flags)


@pytest.fixture(scope="module")
def cinc(data_dir):
    rec = open_record(data_dir / "cinc2017" / "A00004")
    return rec.signal, rec.fs, preprocess_record(rec.signal, rec.fs)


@pytest.fixture(scope="module")
def mitbih(data_dir):
    rec = open_record(data_dir / "wfdb-samples" / "100")
    signal = rec.signal[: 30 * 360].copy()  # half a minute keeps each example fast
    signal[5000:5400] = np.nan  # a 1.1 s dropout: filled, and flat once it lasts a second
    return signal, rec.fs, preprocess_record(signal, rec.fs)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sizes=chunkings)
def test_streaming_equals_offline_cinc_300hz(cinc, sizes):
    signal, fs, (ref, ref_flags) = cinc
    out, flags = stream(signal, fs, sizes)
    assert out.shape == ref.shape == (9000,)
    np.testing.assert_allclose(out, ref, rtol=0, atol=ATOL_MV)
    assert np.array_equal(out, ref)  # bit-identical in practice (see module docstring)
    assert np.array_equal(flags, ref_flags)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sizes=chunkings)
def test_streaming_equals_offline_mitbih_360_to_300hz(mitbih, sizes):
    signal, fs, (ref, ref_flags) = mitbih
    out, flags = stream(signal, fs, sizes)
    # 10800 input samples at 360 Hz -> 9000 at 300 Hz, less the 11 the FIR still waits for
    assert out.shape == ref.shape == (9000 - 11,)
    np.testing.assert_allclose(out, ref, rtol=0, atol=ATOL_MV)
    assert np.array_equal(flags, ref_flags)
    assert flag_names(ref_flags) == {"nan_filled", "flat"}


@pytest.mark.parametrize("fs", [360.0, 250.0, 500.0, 1000.0, 128.0, 257.0])
def test_resampler_equals_scipy_resample_poly(fs):
    x = np.random.default_rng(1).standard_normal(4000)
    res = PolyphaseResampler(fs, MODEL_FS)
    out = np.concatenate([res.process(x[i : i + 333]) for i in range(0, x.size, 333)])
    ref = resample_poly(x, res.up, res.down, padtype="edge")
    assert res.up * fs == pytest.approx(res.down * MODEL_FS)
    assert 0 < ref.size - out.size <= res.skip + 1  # only the tail that needs future input is missing
    np.testing.assert_allclose(out, ref[: out.size], rtol=0, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(sizes=chunkings, runs=st.lists(st.tuples(st.integers(0, 7400), st.integers(1, 900)), max_size=4))
def test_streaming_flags_equal_offline_with_nan_runs_and_flat_lines(sizes, runs):
    fs = 250.0
    t = np.arange(7500) / fs
    x = 0.8 * np.sin(2 * np.pi * 1.1 * t) ** 15 + 0.05 * np.sin(2 * np.pi * 7 * t)
    for start, length in runs:
        x[start : start + length] = np.nan if length % 2 else 0.25  # dropouts and lead-off plateaus
    ref, ref_flags = preprocess_record(x, fs)
    out, flags = stream(x, fs, sizes)
    np.testing.assert_allclose(out, ref, rtol=0, atol=ATOL_MV)
    assert np.array_equal(flags, ref_flags)
    assert np.isfinite(out).all()


def test_bandpass_equals_scipy_sosfilt_from_the_first_samples_steady_state(cinc):
    signal, fs, (ref, _) = cinc
    sos = butter(BANDPASS_ORDER, BAND_HZ, btype="bandpass", fs=MODEL_FS, output="sos")
    expected = sosfilt(sos, signal, zi=sosfilt_zi(sos) * signal[0])[0]
    np.testing.assert_allclose(ref, expected, rtol=0, atol=ATOL_MV)


def test_resampled_sine_is_the_same_sine_at_300hz():
    t_in = np.arange(3600) / 360.0
    out = PolyphaseResampler(360.0).process(np.sin(2 * np.pi * 7.0 * t_in))
    t_out = np.arange(out.size) / 300.0  # no delay: output m sits at input time m / 300 s
    inner = slice(100, out.size - 100)
    np.testing.assert_allclose(out[inner], np.sin(2 * np.pi * 7.0 * t_out[inner]), atol=2e-3)


def _gain(freq, fs=300.0, seconds=40.0):
    t = np.arange(int(seconds * fs)) / fs
    out, _ = preprocess_record(np.sin(2 * np.pi * freq * t), fs)
    tail = out[out.size // 2 :]  # after the filter has settled
    return np.sqrt(2) * tail.std()


def test_bandpass_keeps_ecg_band_and_removes_wander_and_mains():
    assert _gain(10.0) == pytest.approx(1.0, abs=0.01)
    assert _gain(1.0) == pytest.approx(1.0, abs=0.03)
    assert _gain(0.05, seconds=200) < 0.01  # baseline wander
    assert _gain(60.0) < 0.3  # mains
    assert _gain(100.0) < 0.07


def test_dc_offset_starts_at_rest():
    noise = 0.001 * np.random.default_rng(0).standard_normal(3000)
    out, _ = preprocess_record(2.5 + noise, 360)
    assert np.abs(out).max() < 0.01  # no step transient from the first sample's offset


def test_nan_run_is_filled_and_flagged_at_its_time():
    fs = 360.0
    x = np.sin(2 * np.pi * 1.2 * np.arange(7200) / fs)
    x[1800:2160] = np.nan  # input seconds 5.0-6.0
    x[3000] = np.inf
    out, flags = preprocess_record(x, fs)
    assert np.isfinite(out).all()
    filled = np.flatnonzero(flags & Flag.NAN_FILLED)
    assert filled[0] == 1500 and 1797 <= filled[-2] <= 1800  # 5.0-6.0 s at 300 Hz
    assert filled[-1] == 2500  # the single inf at 3000 / 360 s
    assert flag_names(flags) == {"nan_filled"}


def test_nan_at_the_very_start_is_filled():
    x = np.sin(np.arange(3000) / 30.0)
    x[:50] = np.nan
    out, flags = preprocess_record(x, 300.0)
    assert np.isfinite(out).all() and flags[:50].all() and not flags[60:].any()


def test_flat_line_is_flagged_after_one_second():
    fs = 500.0
    x = 0.5 * np.sin(2 * np.pi * 1.3 * np.arange(10 * 500) / fs)
    x[2000:4000] = 0.2  # lead off for 4 s (input seconds 4-8)
    out, flags = preprocess_record(x, fs)
    flat = np.flatnonzero(flags & Flag.FLAT)
    # a sample is flat once the previous second was flat: 5 s to 8 s at 300 Hz
    assert abs(flat[0] - 1500) <= 1 and abs(flat[-1] - 2400) <= 1
    assert flat.size == flat[-1] - flat[0] + 1
    assert flag_names(flags) == {"flat"}


def test_real_record_is_not_flagged(data_dir):
    rec = open_record(data_dir / "cinc2017" / "A00001")
    assert not preprocess_record(rec.signal, rec.fs)[1].any()


def test_normalize_window():
    rng = np.random.default_rng(3)
    w = 3.0 + 0.5 * rng.standard_normal((4, 2048))
    z = normalize_window(w)
    assert z.dtype == np.float32 and z.shape == (4, 2048)
    np.testing.assert_allclose(z.mean(axis=-1), 0, atol=1e-6)
    np.testing.assert_allclose(z.std(axis=-1), 1, atol=1e-5)
    np.testing.assert_allclose(z[1], (w[1] - w[1].mean()) / w[1].std(), atol=1e-5)
    flat = np.full(2048, 0.7) + 1e-4 * np.sin(np.arange(2048))  # std below the 0.01 mV floor
    np.testing.assert_allclose(normalize_window(flat), (flat - flat.mean()) / 0.01, rtol=1e-6)


def test_bad_chunk_shape_and_rate():
    with pytest.raises(ValueError, match=r"one lead, shape \(n,\) or \(n, 1\); got shape \(10, 2\)"):
        Preprocessor(360.0).process(np.zeros((10, 2)))
    with pytest.raises(ValueError, match="sampling rates must be positive and finite"):
        PolyphaseResampler(0.0)


def test_input_rate_below_the_models_needs():
    with pytest.raises(ValueError, match="input sampled at 50 Hz is below the 100 Hz the model needs"):
        Preprocessor(50.0)


def test_empty_chunks_change_nothing(mitbih):
    signal, fs, (ref, ref_flags) = mitbih
    pre = Preprocessor(fs)
    outs, flags = [], []
    for i in range(0, signal.size, 500):
        for chunk in (signal[i : i + 500], signal[:0]):
            out, flag = pre.process(chunk)
            outs.append(out)
            flags.append(flag)
    assert np.array_equal(np.concatenate(outs), ref) and np.array_equal(np.concatenate(flags), ref_flags)
