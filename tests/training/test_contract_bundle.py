"""A bundle whose contract differs from today's in every field the signal path reads (window 1024, monitor
hop 150, band 1-30 Hz of order 2, z-score floor 0.2 mV) runs in the GUI's session, headless, analyze and
evaluate, and each sees windows preprocessed by that contract (checked against an offline computation)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from core.preprocess import normalize_window, preprocess_record
from core.records import open_record
from core.windowing import offline_windows
from engines.contract import NORMALIZATION

DEMO = Path(__file__).parents[2] / "app" / "demo"
WINDOW, HOP, BAND, ORDER, FLOOR = 1024, 150, (1.0, 30.0), 2, 0.2


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    """The real scattering graph at W = 1024 and a small seeded encoder, with the other contract."""
    from engines.bundle import write_bundle
    from engines.scattering import ScatteringTransformer
    from tests.engines.small_models import SmallEncoder

    scattering = ScatteringTransformer(J=8, shape=WINDOW, Q=(8, 1))
    encoder = SmallEncoder()
    labels = np.array(list("NAO~") * 5)
    return write_bundle(
        tmp_path_factory.mktemp("contract") / "w1024", scattering, encoder,
        projection={"matrix": encoder.proj.numpy(), "offset": encoder.offset.numpy(), "method": "random"},
        reference_cloud={"points": np.random.default_rng(0).normal(size=(20, 2)), "labels": labels},
        metrics={"note": "untrained seeded encoder"}, config={"seed": 0}, data_hash="0" * 64,
        scattering_params={"fs": 300, "window": WINDOW, "J": 8, "Q": [8, 1], "T": None, "max_order": 2},
        hop=HOP,
        preprocessing={"fs": 300, "units": "mV", "bandpass_hz": list(BAND), "bandpass_order": ORDER,
                       "normalization": {"kind": NORMALIZATION, "std_floor_mv": FLOOR}, "dtype": "float32"})


@pytest.fixture(scope="module")
def model(bundle):
    from core.scheduler_model import load_model

    loaded = load_model(bundle, "onnxruntime")
    yield loaded
    loaded.close()


def offline(model, record, band=BAND, order=ORDER, floor=FLOOR) -> tuple[np.ndarray, np.ndarray]:
    """(window end indices, probs) of a whole record computed offline with the given contract."""
    y, flags = preprocess_record(record.signal, record.fs, 300.0, band, order)
    windows = offline_windows(y, flags, WINDOW, HOP, dtype=np.float64)
    ends = np.array([w.end for w in windows])
    return ends, model.infer(normalize_window(np.stack([w.samples for w in windows]), floor))[0]


def test_the_contract_reaches_every_part_of_the_signal_path(model):
    from core.scheduler import SchedulerConfig

    config = SchedulerConfig.for_model(model)
    assert (config.window, config.hop, config.band_hz, config.bandpass_order, config.std_floor_mv) == (
        WINDOW, HOP, BAND, ORDER, FLOOR)


def test_analyze_sees_the_contracts_windows(model):
    from core.analyze import analyze_record

    record = open_record(DEMO / "A00004")
    analysis = analyze_record(record, model)
    ends, probs = offline(model, record)
    np.testing.assert_array_equal(analysis.end_index, ends)
    assert np.all(np.diff(ends) == HOP)
    np.testing.assert_allclose(analysis.probs, probs, atol=1e-5)
    _, default = offline(model, record, (0.5, 40.0), 3, 0.01)
    assert np.abs(analysis.probs - default).max() > 1e-3  # the contract changes what the model sees


def test_headless_and_the_gui_session_run_it(model, bundle):
    from app.controller import MonitorSession
    from core.headless import run_headless
    from core.results import WindowResult

    report = run_headless(DEMO / "A00001", model, streams=2, speed=None, duration=3.0)
    assert report["windows"] > 0 and report["inference_faults"] == 0 and report["config"]["hop"] == HOP

    session = MonitorSession(bundle, "onnxruntime", speed=30.0, loop=False)
    try:
        session.add_record(DEMO / "A00013")
        results: list[WindowResult] = []
        deadline = time.monotonic() + 60
        while len(results) < 5 and time.monotonic() < deadline:
            results += [r for r in session.drain() if isinstance(r, WindowResult)]
            time.sleep(0.05)
    finally:
        session.close()
    assert len(results) >= 5
    ends, probs = offline(model, open_record(DEMO / "A00013"))
    for r in results:
        np.testing.assert_allclose(r.probs, probs[list(ends).index(r.end_index)], atol=1e-5)


def test_evaluate_scores_records_with_the_bundles_contract(bundle, model):
    from training.cli_evaluate import predict_folder
    from training.evaluate import aggregate_records

    records, probs, mean = predict_folder(DEMO, bundle)
    assert probs is mean  # no record head in this bundle: the windows' geometric mean decides
    assert [r.name for r in records] == ["A00001", "A00004", "A00013", "A00034"]
    for row, rec in zip(probs, records, strict=True):
        y, _ = preprocess_record(open_record(DEMO / rec.name).signal, 300.0, 300.0, BAND, ORDER)
        starts = list(range(0, len(y) - WINDOW + 1, WINDOW // 4))
        starts += [len(y) - WINDOW] if starts[-1] != len(y) - WINDOW else []
        p = model.infer(normalize_window(np.stack([y[s:s + WINDOW] for s in starts]), FLOOR))[0]
        np.testing.assert_allclose(row, aggregate_records(p, np.zeros(len(p), dtype=np.int64), 1)[0],
                                   atol=1e-5)
