import numpy as np
import onnxruntime as ort
import pytest
import torch

from engines.export import export_graph
from engines.scattering import ScatteringTransformer


@pytest.mark.parametrize("runtime_asserts", [False, True])
def test_scattering_export_keeps_a_dynamic_batch_on_both_paths(tmp_path, runtime_asserts):
    # runtime_asserts=True is the path taken where torch (2.11, seen on the GPU host) cannot prove the
    # graph's batch-axis guards; here it is forced, so both paths are checked on this torch
    module = ScatteringTransformer(5, 2048).eval()
    gen = torch.Generator().manual_seed(1)
    onnx_path, program_path = tmp_path / "s.onnx", tmp_path / "s.pt2"
    shapes = export_graph(module, torch.randn(3, 2048, generator=gen), onnx_path, program_path, "window",
                          ["scattering", "features"], runtime_asserts=runtime_asserts)
    assert shapes == {"scattering": (3, module.paths, module.frames),
                      "features": (3, 2 * module.paths, module.frames)}
    program = torch.export.load(str(program_path)).module()
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    for batch in (1, 5):  # neither is the example's batch of 3
        x = torch.randn(batch, 2048, generator=gen)
        with torch.no_grad():
            want = module(x)
            got_program = program(x)
        got_onnx = session.run(None, {"window": x.numpy()})
        for w, p, o in zip(want, got_program, got_onnx, strict=True):
            scale = float(w.abs().max())
            assert p.shape == w.shape and o.shape == tuple(w.shape)
            assert float((p - w).abs().max()) <= 1e-5 * scale
            assert np.abs(o - w.numpy()).max() <= 1e-5 * scale
