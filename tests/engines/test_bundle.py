import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from engines.bundle import BundleError, load_bundle, write_bundle
from engines.export import onnx_io


@pytest.fixture()
def bundle_copy(small_bundle, tmp_path) -> Path:
    return Path(shutil.copytree(small_bundle, tmp_path / "copy"))


def edit_manifest(path: Path, edit) -> None:
    manifest = json.loads((path / "manifest.json").read_text())
    edit(manifest)
    (path / "manifest.json").write_text(json.dumps(manifest))


def test_written_bundle_loads_with_its_contract(small_bundle, real_windows):
    bundle = load_bundle(small_bundle)
    assert (bundle.fs, bundle.window, bundle.hop) == (300, 2048, 300)
    assert bundle.class_codes == ["N", "A", "O", "~"]
    assert bundle.class_names == ["Normal", "AF", "Other", "Noisy"]
    assert bundle.scattering == {"fs": 300, "window": 2048, "J": 8, "Q": [8, 1], "T": None, "max_order": 2}
    assert bundle.preprocessing["normalization"] == {"kind": "zscore_per_window", "std_floor_mv": 0.01}
    assert bundle.preprocessing["bandpass_hz"] == [0.5, 40.0]
    assert bundle.feature_shape == (468, 8) and bundle.embedding_dim == 16
    assert bundle.projection_matrix.shape == (16, 2)
    np.testing.assert_array_equal(bundle.demo_windows(), real_windows[:8])
    cloud = bundle.reference_cloud()
    assert cloud["points"].shape == (20, 2) and list(cloud["labels"][:4]) == ["N", "A", "O", "~"]
    names = set(bundle.manifest["files"])
    assert {"scattering.onnx", "encoder.onnx", "scattering.pt2", "encoder.pt2"} <= names
    assert {"reference_cloud.npz", "demo_windows.npy"} <= names
    assert bundle.manifest["export"]["max_ort_deviation"] < 1e-3  # features; see test_backends


def test_onnx_graphs_have_contract_names_and_dynamic_batch(small_bundle):
    inputs, outputs = onnx_io(small_bundle / "scattering.onnx")
    assert list(inputs) == ["window"] and inputs["window"][1:] == [2048]
    assert list(outputs) == ["scattering", "features"]
    assert outputs["features"][1:] == [468, 8] and isinstance(outputs["features"][0], str)
    inputs, outputs = onnx_io(small_bundle / "encoder.onnx")
    assert list(inputs) == ["features"] and list(outputs) == ["probs", "embedding", "trajectory"]
    assert outputs["probs"][1:] == [4] and outputs["trajectory"][1:] == [2]


def test_trajectory_is_the_recorded_projection_of_the_embedding(small_bundle, real_windows):
    bundle = load_bundle(small_bundle)
    scattering = torch.export.load(str(bundle.program_path("scattering"))).module()
    encoder = torch.export.load(str(bundle.program_path("encoder"))).module()
    with torch.no_grad():
        probs, emb, traj = encoder(scattering(torch.from_numpy(real_windows[:5]))[1])
    np.testing.assert_allclose(probs.sum(1).numpy(), 1.0, atol=1e-6)
    expected = emb.numpy() @ bundle.projection_matrix + bundle.projection_offset
    np.testing.assert_allclose(traj.numpy(), expected, atol=1e-5)


def test_tampered_file_is_refused_by_name(bundle_copy):
    data = bytearray((bundle_copy / "encoder.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (bundle_copy / "encoder.onnx").write_bytes(bytes(data))
    with pytest.raises(BundleError, match=r"encoder\.onnx: SHA-256 mismatch"):
        load_bundle(bundle_copy)
    load_bundle(bundle_copy, check_hashes=False)  # the check, not the file format, refused it


def test_missing_file_is_refused_by_name(bundle_copy):
    (bundle_copy / "scattering.pt2").unlink()
    with pytest.raises(BundleError, match=r"scattering\.pt2: listed in manifest\.json but missing"):
        load_bundle(bundle_copy)


@pytest.mark.parametrize("field", ["data_hash", "projection", "hop", "files", "format_version"])
def test_missing_top_level_field_is_named(bundle_copy, field):
    edit_manifest(bundle_copy, lambda m: m.pop(field))
    with pytest.raises(BundleError, match=f"missing required field '{field}'"):
        load_bundle(bundle_copy)


def test_missing_nested_field_is_named(bundle_copy):
    edit_manifest(bundle_copy, lambda m: m["preprocessing"]["normalization"].pop("std_floor_mv"))
    with pytest.raises(BundleError, match="field 'preprocessing.normalization.std_floor_mv'"):
        load_bundle(bundle_copy)


def test_missing_scattering_parameter_is_named(bundle_copy):
    edit_manifest(bundle_copy, lambda m: m["scattering"].pop("J"))
    with pytest.raises(BundleError, match="missing required field 'scattering.J'"):
        load_bundle(bundle_copy)


@pytest.mark.parametrize(("edit", "message"), [
    (lambda m: m.update(format_version=2), "format_version 2 is not supported"),
    (lambda m: m["preprocessing"].update(fs=250), "preprocessing.fs=250 disagrees with .* fs=300"),
    (lambda m: m["preprocessing"].update(bandpass_hz=[40, 0.5]), r"bandpass_hz=\[40, 0.5\] is not a band"),
    (lambda m: m["preprocessing"]["normalization"].update(std_floor_mv=0), "std_floor_mv=0 must be > 0"),
    (lambda m: m.update(hop=5000), "hop=5000: need integers with 0 < hop <= window"),
    (lambda m: m["classes"].reverse(), "differ from the contract"),
    (lambda m: m["graphs"]["encoder"]["outputs"].pop("trajectory"), "graphs.encoder.outputs is"),
    (lambda m: m["graphs"]["encoder"]["inputs"].update(features=["batch", 400, 8]), "does not match"),
    (lambda m: m["projection"].update(offset=[0.0]), r"expected \[16, 2\] and 2"),
    (lambda m: m["graphs"]["scattering"]["outputs"].update(scattering=["batch", 234, 9]),
     r"scattering\.onnx output 'scattering' has shape \['batch', 234, 8\]"),
])
def test_inconsistent_manifest_is_refused(bundle_copy, edit, message):
    edit_manifest(bundle_copy, edit)
    with pytest.raises(BundleError, match=message):
        load_bundle(bundle_copy)


def test_not_a_bundle(tmp_path):
    with pytest.raises(BundleError, match="no manifest.json - not a model bundle"):
        load_bundle(tmp_path)


def test_encoder_with_wrong_outputs_is_refused_at_write(tmp_path):
    from tests.engines.small_models import ConvScattering

    class TwoOutputs(torch.nn.Module):
        def forward(self, features):
            return features.mean(2)[:, :4], features.mean(2)

    with pytest.raises(ValueError, match="returned 2 tensors; the bundle expects 3: probs, embedding"):
        write_bundle(tmp_path, ConvScattering(), TwoOutputs(), projection={}, reference_cloud={}, metrics={},
                     config={}, data_hash="x",
                     scattering_params={"fs": 300, "window": 2048, "J": 8, "Q": [8, 1], "T": None,
                                        "max_order": 2})
    assert not (tmp_path / "manifest.json").exists()
