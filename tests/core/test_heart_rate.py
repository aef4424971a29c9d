"""Heart rate per window against MIT-BIH 100's reference beat annotations, and on synthetic beats."""

from pathlib import Path

import numpy as np
import pytest
from scipy import signal

from core.heart_rate import EDGE_S, HeartRateEstimator

DATA = Path(__file__).parents[2] / ".." / "shared" / "data"
MITBIH_100 = DATA / "wfdb-samples" / "100"
FS, W, H = 300, 2048, 300
BEAT_SYMBOLS = set("NLRBAaJSVrFejnE/fQ?")


def pulse_train(rate_bpm: float, seconds: float = W / FS) -> np.ndarray:
    """Narrow Gaussian 'QRS' pulses at a known rate, with a slow baseline and a little noise."""
    t = np.arange(round(seconds * FS)) / FS
    beats = np.arange(0.3, seconds, 60.0 / rate_bpm)
    x = sum(np.exp(-0.5 * ((t - b) / 0.012) ** 2) for b in beats)
    rng = np.random.default_rng(0)
    return x + 0.2 * np.sin(2 * np.pi * 0.3 * t) + 0.01 * rng.standard_normal(t.size)


@pytest.mark.parametrize("rate", [40.0, 72.0, 150.0, 200.0])
def test_known_rate_of_synthetic_pulses(rate):
    assert HeartRateEstimator(FS).rate(pulse_train(rate)) == pytest.approx(rate, abs=1.0)


def test_flat_line_has_no_rate():
    assert np.isnan(HeartRateEstimator(FS).rate(np.zeros(W)))


def test_too_low_rate_is_refused():
    with pytest.raises(ValueError, match="fs must exceed 40 Hz.*20 is invalid"):
        HeartRateEstimator(20)


def test_mitbih_100_within_2_bpm_of_reference_beats():
    if not MITBIH_100.with_suffix(".hea").exists():
        pytest.skip(f"MIT-BIH record 100 not found at {MITBIH_100}")
    import wfdb

    rec = wfdb.rdrecord(str(MITBIH_100))
    ann = wfdb.rdann(str(MITBIH_100), "atr")
    x = signal.resample_poly(rec.p_signal[:, 0], FS, int(rec.fs))  # MLII, 360 -> 300 Hz
    beats = np.array([s for s, sym in zip(ann.sample, ann.symbol, strict=True) if sym in BEAT_SYMBOLS])
    beats = beats * FS / rec.fs
    starts = np.arange(0, x.size - W, H)
    windows = np.stack([x[s : s + W] for s in starts])
    rates = HeartRateEstimator(FS).rates(windows)
    edge = EDGE_S * FS  # the estimator's definition: beats not cut off by the window's edges
    reference = np.array(
        [60.0 * FS / np.median(np.diff(beats[(beats >= s + edge) & (beats < s + W - edge)])) for s in starts]
    )
    assert starts.size > 1700  # the whole 30 min record, one window per second
    assert np.max(np.abs(rates - reference)) <= 2.0


def test_torch_path_used_on_cuda_finds_the_same_peaks_as_numpy():
    if not MITBIH_100.with_suffix(".hea").exists():
        pytest.skip(f"MIT-BIH record 100 not found at {MITBIH_100}")
    import wfdb

    x = signal.resample_poly(wfdb.rdrecord(str(MITBIH_100), sampto=360 * 300).p_signal[:, 0], FS, 360)
    windows = np.stack([x[s : s + W] for s in range(0, x.size - W, 7 * H)])
    est = HeartRateEstimator(FS)  # on the CPU; the torch path is what a CUDA estimator runs
    np.testing.assert_array_equal(est.peak_mask_torch(windows).numpy(), est.peak_mask(windows))
    assert est.peak_mask(windows).sum() > 5 * len(windows)


@pytest.mark.gpu
def test_cuda_estimator_matches_the_cpu_one():
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA device: torch.cuda.is_available() is False")
    windows = np.stack([pulse_train(r) for r in (45.0, 70.0, 120.0, 180.0)])
    cuda, cpu = HeartRateEstimator(FS, "cuda"), HeartRateEstimator(FS)
    np.testing.assert_allclose(cuda.rates(windows), cpu.rates(windows))
