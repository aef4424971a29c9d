"""The rhythm head and episode settings in the bundle's manifest: read, checked, refused when wrong."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from core.events import EpisodeSettings
from core.scheduler_model import load_model
from engines.bundle import BundleError, load_bundle

DEFAULT = Path(__file__).resolve().parents[2] / "engines" / "default"


@pytest.fixture
def bundle_copy(tmp_path):
    manifest = json.loads((DEFAULT / "manifest.json").read_text())
    if "rhythm" not in manifest:
        pytest.skip("the shipped bundle has no rhythm head")
    out = tmp_path / "b"
    shutil.copytree(DEFAULT, out, ignore=shutil.ignore_patterns("plans"))
    return out


def edit(bundle: Path, change) -> None:
    manifest = json.loads((bundle / "manifest.json").read_text())
    change(manifest)
    (bundle / "manifest.json").write_text(json.dumps(manifest))


def test_episode_settings_and_rhythm_head_are_read_from_the_manifest(bundle_copy):
    edit(bundle_copy, lambda m: m["episodes"].update(on=0.77, off=0.33, k_on=7, k_off=9, smooth=4))
    model = load_model(bundle_copy, "onnxruntime", warm_up=False)
    assert model.episodes == EpisodeSettings("A", 0.77, 0.33, 7, 9, 4)
    assert model.rhythm is not None and model.rhythm_context == {"context_s": 60.0, "guard_s": 0.5}
    emb = np.zeros((3, model.rhythm.dim), np.float32)
    out = model.fuse(emb, np.zeros((3, model.rhythm.n_features), np.float32))
    assert out.shape == (3, 4) and np.allclose(out.sum(1), 1.0, atol=1e-5)


def test_a_bundle_without_the_new_fields_loads_with_the_old_behaviour(bundle_copy):
    def strip(m):
        del m["rhythm"], m["episodes"]
        m["files"].pop("rhythm.onnx")

    edit(bundle_copy, strip)
    model = load_model(bundle_copy, "onnxruntime", warm_up=False)
    assert model.rhythm is None and model.rhythm_context is None
    assert model.episodes == EpisodeSettings()  # the detector's long-standing defaults


@pytest.mark.parametrize("change, field", [
    (lambda m: m["rhythm"]["inputs"]["rhythm"].__setitem__(1, 5), "rhythm.inputs"),
    (lambda m: m["rhythm"].pop("context_s"), "rhythm.context_s"),
    (lambda m: m["episodes"].update(on=0.2, off=0.5), "episodes.on"),
    (lambda m: m["episodes"].update(k_on=0), "episodes.k_on"),
    (lambda m: m["episodes"].update(window_s=3), "episodes has unknown field"),
])
def test_a_manifest_that_contradicts_itself_is_refused_naming_the_field(bundle_copy, change, field):
    edit(bundle_copy, change)
    with pytest.raises(BundleError, match=field.replace(".", r"\.")):
        load_bundle(bundle_copy)


def test_rhythm_features_the_code_does_not_compute_are_refused(bundle_copy):
    edit(bundle_copy, lambda m: m["rhythm"]["features"].__setitem__(0, "pnn50"))
    with pytest.raises(ValueError, match="rhythm.features"):
        load_model(bundle_copy, "onnxruntime", warm_up=False)


def test_a_rhythm_graph_that_differs_from_the_manifest_is_refused(bundle_copy):
    shutil.copy(bundle_copy / "encoder.onnx", bundle_copy / "rhythm.onnx")
    with pytest.raises(BundleError, match="rhythm.onnx"):
        load_bundle(bundle_copy)
