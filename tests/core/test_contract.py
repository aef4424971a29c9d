"""The bundle's manifest is the model contract: the signal path runs with its numbers or refuses it."""

import dataclasses
import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from core.analyze import analyze_record
from core.events import EpisodeSettings
from core.preprocess import BAND_HZ, BANDPASS_ORDER, STD_FLOOR_MV, normalize_window, preprocess_record
from core.records import open_record
from core.rhythm import RHYTHM_FEATURES
from core.scheduler import SchedulerConfig
from core.scheduler_model import load_model
from core.windowing import offline_windows
from engines.contract import ContractError, ModelContract, preprocessing_block
from tests.core.test_scheduler_support import MITBIH_100, need_data

DEFAULT = Path(__file__).resolve().parents[2] / "engines" / "default"


def shipped() -> dict:
    return json.loads((DEFAULT / "manifest.json").read_text())


def test_the_shipped_bundle_states_its_whole_contract():
    m = shipped()
    c = ModelContract.from_manifest(m)
    assert (c.fs, c.window, c.hop) == (300.0, 2048, 300)
    assert (c.band_hz, c.bandpass_order, c.std_floor_mv) == ((0.5, 40.0), 3, 0.01)
    assert c.classes == ("N", "A", "O", "~") and c.class_names == ("Normal", "AF", "Other", "Noisy")
    assert c.inputs == ("window", "rhythm") and c.rhythm.features == RHYTHM_FEATURES
    assert (c.rhythm.context_s, c.rhythm.guard_s) == (60.0, 0.5)
    assert c.episodes == EpisodeSettings.from_manifest(m["episodes"])
    # what training writes (bundles before the order field: the same block without it) is what core computes
    m["preprocessing"].setdefault("bandpass_order", BANDPASS_ORDER)
    assert m["preprocessing"] == preprocessing_block(300)


def test_an_old_bundle_without_the_filter_order_loads_with_it_and_says_so(caplog):
    m = shipped()
    m["preprocessing"].pop("bandpass_order", None)
    with caplog.at_level(logging.WARNING, logger="engines.contract"):
        c = ModelContract.from_manifest(m, "bundle old")
    assert c.bandpass_order == BANDPASS_ORDER
    assert "bundle old has no 'preprocessing.bandpass_order'" in caplog.text
    del m["rhythm"], m["episodes"]
    c = ModelContract.from_manifest(m)
    assert c.inputs == ("window",) and c.episodes == EpisodeSettings()


@pytest.mark.parametrize("change, field", [
    (lambda m: m["preprocessing"]["normalization"].update(kind="minmax"), "preprocessing.normalization.kind"),
    (lambda m: m["preprocessing"].update(units="uV"), "preprocessing.units"),
    (lambda m: m["preprocessing"].update(bandpass_order=0), "preprocessing.bandpass_order"),
    (lambda m: m["classes"].reverse(), "classes"),
    (lambda m: m["rhythm"].pop("guard_s"), "rhythm.guard_s"),
    (lambda m: m["episodes"].update(k_on=0), "episodes"),
])
def test_a_contract_this_code_cannot_run_is_refused_naming_the_field(change, field):
    m = shipped()
    change(m)
    with pytest.raises(ContractError, match=rf"bundle x: field '{field}'"):
        ModelContract.from_manifest(m, "bundle x")


def test_the_scheduler_runs_a_bundle_with_its_own_band_order_and_floor(tmp_path):
    """Analysis of a bundle trained (say) with a 1-25 Hz 2nd-order band and a 0.2 mV floor equals the
    offline path with those numbers, and not the defaults'."""
    need_data(MITBIH_100)
    bundle = tmp_path / "b"
    shutil.copytree(DEFAULT, bundle, ignore=shutil.ignore_patterns("plans"))
    m = json.loads((bundle / "manifest.json").read_text())
    m["preprocessing"].update(bandpass_hz=[1.0, 25.0], bandpass_order=2)
    m["preprocessing"]["normalization"]["std_floor_mv"] = 0.2
    (bundle / "manifest.json").write_text(json.dumps(m))
    model = load_model(bundle, "onnxruntime", warm_up=False)
    config = SchedulerConfig.for_model(model)
    assert (config.band_hz, config.bandpass_order, config.std_floor_mv) == ((1.0, 25.0), 2, 0.2)

    record = open_record(MITBIH_100)
    record = dataclasses.replace(record, signal=record.signal[: 30 * 360])
    analysis = analyze_record(record, model)

    def offline(band, order, floor):
        y, flags = preprocess_record(record.signal, record.fs, model.fs, band, order)
        ws = offline_windows(y, flags, model.window, model.hop, dtype=np.float64)
        assert [w.end for w in ws] == list(analysis.end_index)
        return model.infer(normalize_window(np.stack([w.samples for w in ws]), floor))[0]

    np.testing.assert_allclose(analysis.probs, offline((1.0, 25.0), 2, 0.2), atol=1e-5)
    assert np.abs(analysis.probs - offline(BAND_HZ, BANDPASS_ORDER, STD_FLOOR_MV)).max() > 1e-3
    model.close()


def test_a_manifest_whose_window_contradicts_its_graphs_is_refused_naming_the_field(tmp_path):
    """Changing the window everywhere in the manifest still leaves scattering.onnx at 2048 samples."""
    from engines.bundle import load_bundle
    from engines.bundle_spec import BundleError

    bundle = tmp_path / "b"
    shutil.copytree(DEFAULT, bundle, ignore=shutil.ignore_patterns("plans"))
    m = json.loads((bundle / "manifest.json").read_text())
    m["window"] = m["scattering"]["window"] = 1024
    m["graphs"]["scattering"]["inputs"]["window"] = ["batch", 1024]
    m.pop("demo_windows")
    m["files"].pop("demo_windows.npy")
    (bundle / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(BundleError, match=r"scattering\.onnx input 'window' has shape \['batch', 2048\], "
                                          r"manifest says \['batch', 1024\]"):
        load_bundle(bundle)
