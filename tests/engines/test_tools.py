import io
import shutil

import numpy as np
import pytest
from rich.console import Console

from engines import tools
from engines.base import EngineUnavailable
from engines.bundle import load_bundle
from tests.engines.conftest import CINC
from training.reference_windows import load_windows


def test_verify_engines_compares_every_backend_to_the_torch_reference(small_bundle):
    out = io.StringIO()
    windows, source = load_windows(load_bundle(small_bundle), count=16)  # what `verify-engines` does
    rows = tools.verify_engines(small_bundle, windows, console=Console(file=out, width=250),
                                min_seconds=0.05, source=source)
    by_name = {r.backend: r for r in rows}
    assert list(by_name) == ["tensorrt", "onnxruntime-cuda", "torch-cuda", "onnxruntime-cpu", "torch-cpu"]
    ort = by_name["onnxruntime-cpu"]
    assert ort.status == "ok" and ort.device == "cpu" and ort.precision == "fp32"
    assert max(ort.max_deviation.values()) <= 1e-5 and ort.windows_per_s > 0
    assert by_name["torch-cpu"].max_deviation["probs"] == 0.0  # the reference itself
    text = out.getvalue()
    assert "16 windows from cinc2017 records" in text and "PyTorch CPU FP32 reference" in text
    for row in rows:
        assert row.status == "ok" or row.status.startswith("skipped: "), row
        if row.status.startswith("skipped"):
            assert row.backend in text and "skipped" in text


def test_verify_engines_falls_back_to_the_bundles_demo_windows(small_bundle, tmp_path, real_windows):
    windows, source = load_windows(load_bundle(small_bundle), count=12, data_dir=tmp_path)
    assert source == "bundle demo windows" and windows.shape == (12, 2048)
    np.testing.assert_array_equal(windows[8:], real_windows[:4])  # the 8 demo windows, repeated


def test_reference_windows_are_normalised_real_ecg(small_bundle):
    windows, source = load_windows(load_bundle(small_bundle), count=10, data_dir=CINC)
    assert source == "cinc2017 records" and windows.shape == (10, 2048) and windows.dtype == np.float32
    np.testing.assert_allclose(windows.mean(axis=1), 0, atol=1e-5)
    np.testing.assert_allclose(windows.std(axis=1), 1, atol=1e-4)
    assert np.abs(windows[0] - windows[1]).max() > 0.1


def test_no_windows_anywhere_is_a_clear_error(small_bundle, tmp_path):
    bare = shutil.copytree(small_bundle, tmp_path / "bare")
    bundle = load_bundle(bare)
    bundle.manifest.pop("demo_windows")
    with pytest.raises(FileNotFoundError, match="holds no WFDB records .* the bundle .* has no demo_windows"):
        load_windows(bundle, 4, data_dir=tmp_path / "nowhere")


def test_build_engines_says_why_it_cannot_build(small_bundle):
    with pytest.raises(ValueError, match="precision must be 'fp16' or 'fp32', got 'int8'"):
        tools.build_engines(small_bundle, precision="int8")
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        with pytest.raises(EngineUnavailable, match="cannot build TensorRT plans: tensorrt is not"):
            tools.build_engines(small_bundle, precision="fp32", max_batch=64)
