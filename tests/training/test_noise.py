"""Noise generators and noise-augmented training sets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from training import dataset, features, noise, pipeline, train
from training.config import TrainConfig


@pytest.mark.parametrize("kind", noise.KINDS)
def test_added_noise_has_the_requested_snr(kind):
    rng = np.random.default_rng(0)
    sig = np.sin(np.linspace(0, 60 * np.pi, 9000)) * 1.5
    for snr in (20.0, 5.0, -3.0):
        added = noise.add_noise(sig, 300.0, kind, snr, np.random.default_rng(1)) - sig
        # the noise is scaled to unit variance first, so the ratio is exact
        assert 10 * np.log10(np.var(sig) / np.var(added)) == pytest.approx(snr, abs=1e-9)
    assert np.array_equal(noise.add_noise(sig, 300.0, None, 0.0, rng), sig)


def test_unknown_noise_kind_is_named():
    with pytest.raises(ValueError, match="unknown noise kind 'pink'"):
        noise.make_noise("pink", 100, 300.0, np.random.default_rng(0))


def test_noisy_copies_follow_the_plan_and_label_low_snr_copies_noisy(cinc_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("DACL_CACHE", str(tmp_path))
    records = dataset.list_records(cinc_dir)[:12]
    cfg = TrainConfig(noise_copies=True, noise_snr_db=(-10.0, 10.0), noise_tilde_below_db=0.0, seed=5)
    kinds, snrs = pipeline.noise_plan(len(records), cfg)
    assert pipeline.noise_plan(len(records), cfg)[1].tolist() == snrs.tolist()  # drawn from the seed
    assert set(kinds) <= set(noise.KINDS) and np.all((snrs >= -10) & (snrs < 10))
    raw = lambda name: dataset.read_lead(cinc_dir, name)  # noqa: E731
    ws = pipeline.noisy_copies(cinc_dir, records, cfg, raw, "test-digest")
    tilde = dataset.CLASSES.index("~")
    want = [tilde if s < 0.0 else r.label for r, s in zip(records, snrs, strict=True)]
    assert ws.labels.tolist() == want and ws.names == [r.name for r in records]
    # the first window of record 0 is the scattering of its noisy lead, not of the clean one
    x, fs = raw(records[0].name)
    noisy = dataset.preprocess_signal(
        noise.add_noise(x, fs, kinds[0], float(snrs[0]), np.random.default_rng([cfg.seed, 0])), fs
    )
    start = features.record_offsets(len(records), cfg.noise_hop, cfg.crop_seed + 1)[0]
    w = dataset.cut_windows(noisy, dataset.window_starts(len(noisy), cfg.noise_hop, int(start))[:1])
    scat = features.make_scattering(pipeline.params_of(cfg)).eval()
    import torch

    with torch.no_grad():
        np.testing.assert_allclose(
            ws.scattering[0], scat(torch.from_numpy(w))[0].numpy(), rtol=1e-5, atol=1e-6
        )


def test_training_sets_add_noisy_copies_of_fit_records_only(small_windows):
    n = len(small_windows.names)
    # a stand-in noisy set: the clean windows again, relabelled so they can be told apart
    noisy = features.WindowSet(
        small_windows.scattering, small_windows.record, small_windows.names, np.full(n, 3)
    )
    data = pipeline.Data(small_windows, "test", "wfdb", None, noisy)
    cfg = TrainConfig(val_fraction=0.25, seed=2)
    idx = np.arange(0, n, 2)  # half the records, as a CV fold would pass them
    fit, cal = pipeline.training_sets(data, cfg, idx)
    clean = pipeline.Data(small_windows, "test", "wfdb")
    fit0, cal0 = pipeline.training_sets(clean, cfg, idx)
    tr, va = train.split_windows(small_windows.subset(idx), cfg)  # without noise: the plain split
    assert (fit0.names, cal0.names) == (tr.names, va.names)
    assert cal.names == cal0.names and np.array_equal(cal.scattering, cal0.scattering)  # calibration clean
    assert fit.names == fit0.names + fit0.names  # each fit record once clean, once noisy
    k = len(fit0.record)
    assert np.array_equal(fit.scattering[:k], fit0.scattering) and np.array_equal(
        fit.scattering[k:], fit0.scattering
    )
    assert np.array_equal(fit.labels[: len(fit0.names)], fit0.labels) and np.all(
        fit.labels[len(fit0.names) :] == 3
    )
    assert np.array_equal(fit.record[k:], fit0.record + len(fit0.names))


NSTDB = Path(__file__).parents[2] / ".." / "shared" / "data" / "nstdb"


def test_recorded_noise_at_minus_6_db_matches_the_stress_tests_own_118e_6():
    from core.records import open_record

    if not (NSTDB / "118e_6.hea").exists() or not (NSTDB.parent / "mitdb" / "118.hea").exists():
        pytest.skip(f"MIT-BIH noise stress test records not found at {NSTDB}")
    recorded = noise.load_recorded_noise(NSTDB)
    assert set(recorded) == {"bw", "ma", "em"}
    em, fs = recorded["em"]
    assert fs == 360 and 12 * 60 < em.size / fs < 14 * 60  # 2-min bursts every other 2 min after 5 min
    clean = open_record(NSTDB.parent / "mitdb" / "118", 0).signal[360 * 300 : 360 * 420]
    stressed = open_record(NSTDB / "118e_6", 0).signal[360 * 300 : 360 * 420]
    for snr in (-6, 12):
        added = noise.add_recorded_noise(clean, 360.0, recorded["em"], snr, np.random.default_rng(0)) - clean
        expected_db = 10 * np.log10(np.var(stressed - clean)) - (snr + 6)  # NST labels: 10 dB per decade
        assert 10 * np.log10(np.var(added)) == pytest.approx(expected_db, abs=1.0)
    resampled = noise.add_recorded_noise(np.sin(np.arange(3000) / 30), 300.0, recorded["bw"], 0.0,
                                         np.random.default_rng(1))
    assert resampled.shape == (3000,) and np.isfinite(resampled).all()


def test_nst_bursts_put_noise_in_two_minute_bursts_after_a_clean_five_minutes():
    fs = 100.0
    on = noise.nst_bursts(int(fs * 60 * 15), fs)
    minutes = on.reshape(15, -1)
    assert [bool(m.all()) for m in minutes] == [False] * 5 + [True, True, False, False] * 2 + [True, True]
    assert all(m.all() or not m.any() for m in minutes)  # bursts start and end on minute bounds here
    sig = np.sin(2 * np.pi * 1.2 * np.arange(on.size) / fs) ** 21  # a peak every 0.83 s
    bw = (np.random.default_rng(0).standard_normal(50_000), fs)
    noisy = noise.add_nst_bursts(sig, fs, bw, 6.0, np.random.default_rng(1))
    np.testing.assert_array_equal(noisy[~on], sig[~on])
    assert np.abs(noisy[on] - sig[on]).mean() > 0.05
