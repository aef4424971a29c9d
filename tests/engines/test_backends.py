import numpy as np
import pytest

from engines.backend_onnxruntime import OnnxRuntimeEngine, onnxruntime_pipeline
from engines.backend_torch import TorchEngine
from engines.base import EngineError, Pipeline
from engines.bundle import load_bundle


@pytest.fixture(scope="module")
def bundle(small_bundle):
    return load_bundle(small_bundle)


@pytest.fixture(scope="module")
def ort_pair(bundle):
    return onnxruntime_pipeline(bundle, threads=1)


@pytest.fixture(scope="module")
def torch_pair(bundle):
    return TorchEngine(bundle, "pair", "cpu")


def test_onnxruntime_and_torch_agree_on_real_windows(ort_pair, torch_pair, real_windows):
    got, ref = ort_pair.run(real_windows), torch_pair.run(real_windows)
    assert list(got) == ["scattering", "features", "probs", "embedding", "trajectory"]
    assert list(ref) == list(got)
    for name in got:
        assert got[name].shape == ref[name].shape and got[name].dtype == np.float32
        # features = log(|S| + 1e-3) + attention: the log multiplies the runtimes' ~1e-7 float32
        # differences in near-zero coefficients by up to 1/1e-3, so features get 1e-3; the model's
        # outputs (and the scattering coefficients) are held to 1e-5
        tol = 1e-3 if name == "features" else 1e-5
        np.testing.assert_allclose(got[name], ref[name], rtol=0, atol=tol, err_msg=name)
    np.testing.assert_allclose(got["probs"].sum(axis=1), 1.0, atol=1e-5)
    assert np.ptp(got["probs"], axis=0).max() > 1e-4  # different real windows give different outputs


@pytest.fixture(scope="module")
def stage_engines(bundle):
    return {"onnxruntime": OnnxRuntimeEngine(bundle, "scattering", threads=1),
            "torch": TorchEngine(bundle, "scattering"), "torch-encoder": TorchEngine(bundle, "encoder")}


def test_stage_engines_compose_to_the_pair(stage_engines, torch_pair, real_windows):
    pipeline = Pipeline(stage_engines["torch"], stage_engines["torch-encoder"])
    a, b = pipeline.run(real_windows[:6]), torch_pair.run(real_windows[:6])
    for name in b:
        np.testing.assert_array_equal(a[name], b[name])
    assert [s["graph"] for s in pipeline.info()["stages"]] == ["scattering", "encoder"]


@pytest.mark.parametrize("backend", ["onnxruntime", "torch"])
def test_splitting_and_bucket_padding_match_one_batch(stage_engines, real_windows, backend, monkeypatch):
    engine = stage_engines[backend]
    whole = engine.run(real_windows[:13])
    calls = []
    inner = engine._run
    monkeypatch.setattr(engine, "_run", lambda x: calls.append(len(x)) or inner(x))
    for max_batch, buckets in ((4, ()), (8, (2, 8))):  # 13 -> 4+4+4+1; 13 -> 8 + 5, the 5 padded to 8
        monkeypatch.setattr(engine, "max_batch", max_batch)
        monkeypatch.setattr(engine, "buckets", buckets)
        out = engine.run(real_windows[:13])
        for name in whole:
            assert out[name].shape == whole[name].shape
            # other batch sizes pick other float32 kernels; the log in features amplifies that (see above)
            tol = 2e-4 if name == "features" else 1e-5
            np.testing.assert_allclose(out[name], whole[name], rtol=0, atol=tol, err_msg=name)
    assert calls == [4, 4, 4, 1, 8, 8]
    assert engine.bucket_for(1) == 2 and engine.bucket_for(3) == 8


def test_single_window_matches_its_row_in_a_batch(ort_pair, real_windows):
    batch = ort_pair.run(real_windows[:5])
    one = ort_pair.run(real_windows[3:4])
    np.testing.assert_allclose(one["embedding"][0], batch["embedding"][3], atol=1e-6)


def test_empty_batch_gives_empty_outputs(torch_pair):
    out = torch_pair.run(np.empty((0, 2048), np.float32))
    assert out["probs"].shape == (0, 4) and out["features"].shape == (0, 468, 8)


@pytest.mark.parametrize(("batch", "message"), [
    (np.zeros((2, 2048)), r"must be float32, got float64; convert with \.astype\(np\.float32\)"),
    (np.zeros((3, 1000), np.float32), r"must have shape \(B, 2048\), got \(3, 1000\)"),
    (np.zeros(2048, np.float32),
     r"must have shape \(B, 2048\), got \(2048,\) \(one window\? use batch\[None\]\)"),
    (np.zeros((1, 1, 2048), np.float32), r"must have shape \(B, 2048\), got \(1, 1, 2048\)"),
    (np.full((2, 2048), np.nan, np.float32), "contains NaN or infinite values"),
    ([[0.0] * 2048], "must be a numpy array, got list"),
])
def test_bad_input_is_refused_with_a_clear_error(ort_pair, torch_pair, batch, message):
    for engine in (ort_pair, torch_pair):
        with pytest.raises(EngineError, match=f"input 'window' {message}"):
            engine.run(batch)


def test_encoder_checks_feature_shape(bundle):
    with pytest.raises(EngineError, match=r"encoder input 'features' must have shape \(B, 468, 8\)"):
        OnnxRuntimeEngine(bundle, "encoder", threads=1).run(np.zeros((2, 468, 9), np.float32))


def test_info_names_backend_device_and_precision(ort_pair, torch_pair):
    assert ort_pair.info()["name"] == "onnxruntime-cpu" and ort_pair.info()["device"] == "cpu"
    assert ort_pair.info()["stages"][0]["providers"] == ["CPUExecutionProvider"]
    info = torch_pair.info()
    assert (info["name"], info["device"], info["precision"]) == ("torch-cpu", "cpu", "fp32")
    assert info["graph"] == "pair"
    assert info["cuda_graphs"] is False


def test_cuda_graphs_need_cuda(bundle):
    with pytest.raises(ValueError, match="CUDA graphs need a CUDA device, not 'cpu'"):
        TorchEngine(bundle, "pair", "cpu", cuda_graphs=True)
