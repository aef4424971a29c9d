import shutil

import pytest

from engines import registry
from engines.base import EngineUnavailable
from engines.bundle import load_bundle


def test_registry_order_is_the_documented_preference():
    assert registry.AUTO_ORDER == (
        "tensorrt", "onnxruntime-cuda", "torch-cuda", "onnxruntime-cpu", "torch-cpu")


def test_auto_selection_takes_the_first_available_and_explains_the_rest(small_bundle, caplog):
    caplog.set_level("INFO", logger="engines.registry")
    available = registry.availability()
    assert available["onnxruntime-cpu"] is None and available["torch-cpu"] is None
    selection = registry.select_engine(load_bundle(small_bundle))
    first = next(name for name in registry.AUTO_ORDER if available[name] is None)
    assert selection.backend == first
    assert list(selection.skipped) == list(registry.AUTO_ORDER[:registry.AUTO_ORDER.index(first)])
    for name, why in selection.skipped.items():
        assert why and f"backend {name} skipped: {why}" in caplog.text
    assert f"inference on {first}" in selection.summary()
    assert selection.engine.run(load_bundle(small_bundle).demo_windows())["probs"].shape == (8, 4)


def test_reasons_on_a_machine_without_gpu():
    available = registry.availability()
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        assert available["tensorrt"].startswith("tensorrt is not importable")
    import torch

    if not torch.cuda.is_available():
        assert available["torch-cuda"] == f"torch {torch.__version__} sees no CUDA device"
    import onnxruntime

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        reason = available["onnxruntime-cuda"]
        assert "has no CUDAExecutionProvider (install onnxruntime-gpu for CUDA)" in reason


def test_a_backend_that_fails_to_open_is_skipped_with_the_reason(small_bundle, tmp_path):
    broken = shutil.copytree(small_bundle, tmp_path / "b")
    (broken / "scattering.pt2").write_bytes(b"not a program")
    bundle = load_bundle(broken, check_hashes=False)
    selection = registry.select_engine(bundle, order=("torch-cpu", "onnxruntime-cpu"))
    assert selection.backend == "onnxruntime-cpu"
    assert selection.skipped["torch-cpu"].startswith("failed to open: ")
    with pytest.raises(EngineUnavailable, match="no inference backend could run: torch-cpu: failed to open"):
        registry.select_engine(bundle, order=("torch-cpu",))


def test_unknown_backend_is_refused(small_bundle):
    with pytest.raises(ValueError, match=r"unknown backend\(s\) \['tpu'\]; registered: tensorrt, "):
        registry.select_engine(load_bundle(small_bundle), order=("tpu",))
    with pytest.raises(ValueError, match="unknown backend 'tpu'"):
        registry.open_engine(load_bundle(small_bundle), "tpu")
