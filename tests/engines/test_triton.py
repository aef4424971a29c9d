"""The Triton repository export and the triton engine backend against a real local Triton server.

The server is the nvidia-pytriton wheel's tritonserver from `.triton-venv` (`make triton-env`, which
`make test` runs first), serving a repository exported from the shipped bundle on 127.0.0.1 only.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from engines.backend_onnxruntime import onnxruntime_pipeline
from engines.backend_triton import TritonEngine, TritonError, contract_record
from engines.base import EngineUnavailable
from engines.bundle import load_bundle
from engines.registry import open_engine

pytest.importorskip("tritonclient.grpc", reason="tritonclient is not installed (pip install -e '.[triton]')")

from google.protobuf import text_format  # noqa: E402 - after the importorskip
from tritonclient.grpc import model_config_pb2  # noqa: E402

from training.triton_repo import Batching, export_repository  # noqa: E402
from training.triton_server import LocalTritonServer, ServerUnavailable, free_port  # noqa: E402

SHIPPED = Path(__file__).parents[2] / "engines" / "default"
DEMO = Path(__file__).parents[2] / "app" / "demo"


def parse(path: Path) -> model_config_pb2.ModelConfig:
    return text_format.Parse(path.read_text(), model_config_pb2.ModelConfig())


def test_exported_configs_parse_with_tritons_protobuf_and_name_the_manifests_tensors(tmp_path):
    written = export_repository(SHIPPED, tmp_path / "repo", batching=Batching(max_batch_size=32,
                                preferred_batch_size=(4, 32), max_queue_delay_microseconds=500, instances=2))
    assert sorted(p.parent.name for p in written) == ["dacl", "dacl_encoder", "dacl_scattering"]
    manifest = load_bundle(SHIPPED).manifest
    for graph in ("scattering", "encoder"):
        config = parse(tmp_path / "repo" / f"dacl_{graph}" / "config.pbtxt")
        spec = manifest["graphs"][graph]
        assert config.platform == "onnxruntime_onnx" and config.max_batch_size == 32
        assert {t.name: list(t.dims) for t in config.input} == {k: v[1:] for k, v in spec["inputs"].items()}
        assert {t.name: list(t.dims) for t in config.output} == {k: v[1:] for k, v in spec["outputs"].items()}
        assert list(config.dynamic_batching.preferred_batch_size) == [4, 32]
        assert config.dynamic_batching.max_queue_delay_microseconds == 500
        assert config.instance_group[0].count == 2
        assert config.instance_group[0].kind == model_config_pb2.ModelInstanceGroup.KIND_CPU
        onnx = (tmp_path / "repo" / f"dacl_{graph}" / "1" / "model.onnx").read_bytes()
        assert onnx == load_bundle(SHIPPED).onnx_path(graph).read_bytes()
    ensemble = parse(tmp_path / "repo" / "dacl" / "config.pbtxt")
    assert ensemble.platform == "ensemble"
    assert [s.model_name for s in ensemble.ensemble_scheduling.step] == ["dacl_scattering", "dacl_encoder"]
    assert [t.name for t in ensemble.input] == ["window"] and list(ensemble.input[0].dims) == [2048]
    assert {t.name: list(t.dims) for t in ensemble.output} == {"probs": [4], "embedding": [64],
                                                                "trajectory": [2]}
    record = json.loads(ensemble.parameters["dacl_contract"].string_value)
    assert record == contract_record(load_bundle(SHIPPED))
    assert record["episodes"] == manifest["episodes"] and record["window"] == 2048
    assert json.loads((tmp_path / "repo" / "dacl" / "contract.json").read_text()) == record
    with pytest.raises(FileExistsError, match="exist already"):
        export_repository(SHIPPED, tmp_path / "repo")


def test_python_backend_variant_and_tensorrt_plan_entries(tmp_path):
    plans = {}
    for graph in ("scattering", "encoder"):  # plan files are copied, not read: any bytes show the layout
        plans[graph] = tmp_path / f"{graph}.trtplan"
        plans[graph].write_bytes(b"plan")
    export_repository(SHIPPED, tmp_path / "repo", backend="python", plans=plans)
    assert parse(tmp_path / "repo" / "dacl_encoder" / "config.pbtxt").backend == "python"
    assert (tmp_path / "repo" / "dacl_encoder" / "1" / "model.py").is_file()
    trt = parse(tmp_path / "repo" / "dacl_encoder_trt" / "config.pbtxt")
    assert trt.platform == "tensorrt_plan"
    assert (tmp_path / "repo" / "dacl_encoder_trt" / "1" / "model.plan").read_bytes() == b"plan"
    steps = parse(tmp_path / "repo" / "dacl_trt" / "config.pbtxt").ensemble_scheduling.step
    assert [s.model_name for s in steps] == ["dacl_scattering_trt", "dacl_encoder_trt"]
    with pytest.raises(ValueError, match="preferred batch sizes"):
        Batching(max_batch_size=8, preferred_batch_size=(16,))


@pytest.fixture(scope="module")
def server(tmp_path_factory, small_bundle):
    """One real server: the shipped bundle as "dacl", and another (small) bundle as "other"."""
    repo = tmp_path_factory.mktemp("triton") / "repo"
    export_repository(SHIPPED, repo, backend="python")
    export_repository(small_bundle, repo, name="other", backend="python")
    try:
        running = LocalTritonServer(repo).start()
    except ServerUnavailable as err:
        pytest.skip(f"the local Triton server cannot start here: {err}")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def windows(real_windows):
    return real_windows[:24]


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_served_results_equal_local_onnxruntime(server, windows, protocol):
    bundle = load_bundle(SHIPPED)
    url = server.grpc_url if protocol == "grpc" else server.http_url
    engine = open_engine(bundle, "triton", url=url)
    assert engine.protocol == protocol and engine.max_batch == 64
    got = engine.run(windows)
    want = onnxruntime_pipeline(bundle, "cpu").run(windows)
    for name in ("probs", "embedding", "trajectory"):
        np.testing.assert_allclose(got[name], want[name], atol=1e-5, rtol=0)
    assert engine.run(windows[:0])["probs"].shape == (0, 4)
    engine.close()


def test_the_server_batches_requests_that_arrive_together(server, windows):
    from tritonclient.grpc import InferenceServerClient

    engines = [TritonEngine(load_bundle(SHIPPED), server.grpc_url) for _ in range(8)]
    go = threading.Barrier(len(engines))

    def send(engine):
        go.wait()
        for i in range(6):
            engine.run(windows[i:i + 1])

    threads = [threading.Thread(target=send, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats = InferenceServerClient(server.grpc_url).get_inference_statistics("dacl_scattering")
    sizes = {b.batch_size: b.compute_infer.count for m in stats.model_stats for b in m.batch_stats}
    assert max(sizes) > 1, f"no batch larger than one window: {sizes}"


def test_errors_name_the_server_and_the_problem(server, small_bundle):
    bundle = load_bundle(SHIPPED)
    nobody = f"127.0.0.1:{free_port()}"
    with pytest.raises(EngineUnavailable, match=rf"triton server {nobody}: cannot connect"):
        TritonEngine(bundle, nobody)
    with pytest.raises(EngineUnavailable, match=r"model 'nope': the model is not ready.*served: .*dacl"):
        TritonEngine(bundle, server.grpc_url, model="nope")
    with pytest.raises(TritonError, match=r"model 'other' serves another model than bundle .*graphs\."
                                          r"encoder\.sha256: server '\w+' vs bundle '\w+'"):
        TritonEngine(bundle, server.grpc_url, model="other")
    assert TritonEngine(load_bundle(small_bundle), server.grpc_url, model="other").run(
        load_bundle(small_bundle).demo_windows())["probs"].shape == (8, 4)
    hurried = TritonEngine(bundle, server.grpc_url, timeout_s=1e-4)
    with pytest.raises(TritonError, match=rf"triton server {server.grpc_url} model 'dacl': .*[Dd]eadline"):
        hurried.run(np.zeros((64, 2048), np.float32))
    with pytest.raises(EngineUnavailable, match="needs the server's address"):
        open_engine(bundle, "triton")


def test_verify_engines_and_the_export_command(server, windows, tmp_path):
    from typer.testing import CliRunner

    from engines.tools import verify_engines
    from training.cli import app

    rows = {r.backend: r for r in verify_engines(SHIPPED, windows[:8], min_seconds=0.05,
                                                  triton={"url": server.grpc_url})}
    assert rows["triton"].status == "ok" and set(rows["triton"].max_deviation) == {"probs", "embedding",
                                                                                   "trajectory"}
    args = ["export-triton", "--model", str(SHIPPED), "--repo", str(tmp_path / "r"), "--max-batch", "16",
            "--preferred", "4,16", "--gpu"]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    assert parse(tmp_path / "r" / "dacl_encoder" / "config.pbtxt").instance_group[0].kind == \
        model_config_pb2.ModelInstanceGroup.KIND_GPU
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 1 and "exist already" in again.output


def _wait(condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout_s:g} s waiting for {what}"
        time.sleep(0.05)


def test_streams_fault_while_the_server_is_down_and_recover_when_it_is_back(server):
    """Last in the module: it stops and restarts the shared server (same ports)."""
    from core.scheduler import Scheduler, SchedulerConfig
    from core.scheduler_model import load_model
    from core.sources.replay import WfdbReplaySource

    model = load_model(SHIPPED, "triton", engine_options={"triton": {"url": server.grpc_url, "timeout_s": 3}})
    assert model.backend.startswith("triton")
    scheduler = Scheduler(model, SchedulerConfig.for_model(model))
    results, statuses = scheduler.result_queue(100_000), scheduler.status_queue(1000)
    seen: list = []
    for i in range(2):
        scheduler.add_stream(WfdbReplaySource(DEMO / "A00001", speed=20, loop=True), name=f"bed{i}")
    with scheduler:
        _wait(lambda: len(results) >= 6, 60, "results from the server")
        server.stop()
        _wait(lambda: seen.extend(statuses.get_all()) or any(s.state == "fault" for s in seen), 60,
              "a fault while the server is down")
        fault = next(s for s in seen if s.state == "fault")
        assert f"triton server {server.grpc_url} model 'dacl'" in fault.message
        assert scheduler.running  # the monitor goes on
        server.start()
        results.get_all()
        recovered = lambda: [s for s in seen if s.state == "running" and "recovered" in s.message]  # noqa: E731
        _wait(lambda: seen.extend(statuses.get_all()) or len(recovered()) >= 2, 60, "both streams recovered")
        _wait(lambda: len(results) >= 4, 30, "results again")
    assert {s.stream_id for s in recovered()} == {0, 1}
