import numpy as np
import pytest

from engines import backend_tensorrt
from engines.bundle import load_bundle


def test_unavailable_reason_names_the_missing_piece():
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        reason = backend_tensorrt.unavailable_reason()
        assert reason.startswith("tensorrt is not importable (") and "dacl-monitor[gpu]" in reason
    else:
        pytest.skip("tensorrt is importable here; the reason is checked where it is not")


@pytest.fixture(scope="module")
def trt_ready():
    pytest.importorskip("tensorrt", reason="tensorrt is not importable (its wheels come from NVIDIA's index)")
    reason = backend_tensorrt.unavailable_reason("fp32")
    if reason:
        pytest.skip(reason)


@pytest.mark.gpu
@pytest.mark.parametrize(("precision", "tol"), [("fp32", 1e-4), ("fp16", 5e-2)])
def test_tensorrt_matches_onnxruntime_and_caches_its_plan(trt_ready, small_bundle, real_windows, tmp_path,
                                                          precision, tol):
    from engines.backend_onnxruntime import onnxruntime_pipeline

    if backend_tensorrt.unavailable_reason(precision):
        pytest.skip(backend_tensorrt.unavailable_reason(precision))
    bundle = load_bundle(small_bundle)
    engine = backend_tensorrt.tensorrt_pipeline(bundle, precision, (1, 8, 16), cache_dir=tmp_path)
    assert engine.scattering.plan_status.startswith("built")
    got, ref = engine.run(real_windows), onnxruntime_pipeline(bundle, threads=1).run(real_windows)
    for name in ("probs", "embedding", "trajectory"):
        np.testing.assert_allclose(got[name], ref[name], atol=tol, err_msg=name)
    again = backend_tensorrt.tensorrt_pipeline(bundle, precision, (1, 8, 16), cache_dir=tmp_path)
    assert again.scattering.plan_status == "cached" and again.encoder.plan_status == "cached"
    engine.close()
    again.close()
