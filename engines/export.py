"""Export PyTorch modules to the bundle's two graph formats: ONNX files and torch.export programs.

Both formats carry one dynamic batch axis so every backend can run any batch size. The ONNX graph feeds
ONNX Runtime and TensorRT; the ``.pt2`` program lets the PyTorch backend run without the training code.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

log = logging.getLogger(__name__)

ONNX_OPSET = 18  # parsed by TensorRT 10.x and every onnxruntime >= 1.16
MAX_EXPORT_BATCH = 1 << 16  # upper bound of the symbolic batch dimension


def _as_tuple(out: torch.Tensor | Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
    return (out,) if isinstance(out, torch.Tensor) else tuple(out)


def export_graph(
    module: nn.Module,
    example: torch.Tensor,
    onnx_path: Path,
    program_path: Path,
    input_name: str,
    output_names: Sequence[str],
    runtime_asserts: bool = False,
) -> dict[str, tuple[int, ...]]:
    """Write ``module`` as ONNX and as a torch.export program, both with a dynamic batch axis.

    Returns the output shapes on ``example`` (batch axis included) keyed by output name, after
    checking that the module returns exactly ``len(output_names)`` tensors. ``runtime_asserts`` keeps
    shape guards as asserts in the program instead of proving them at export: the fallback taken when
    this torch cannot prove them (below), exposed so that path is tested where it is not needed.
    """
    module = module.eval().to("cpu", torch.float32)
    example = example.to("cpu", torch.float32).contiguous()
    if example.shape[0] < 2:
        raise ValueError(f"export example needs a batch of at least 2 (got {tuple(example.shape)}), "
                         "or torch.export specialises the batch axis to 1")
    with torch.no_grad():
        outputs = _as_tuple(module(example))
    if len(outputs) != len(output_names):
        raise ValueError(f"{type(module).__name__} returned {len(outputs)} tensors; the bundle expects "
                         f"{len(output_names)}: {', '.join(output_names)} (in that order)")
    shapes = {name: tuple(o.shape) for name, o in zip(output_names, outputs, strict=True)}

    batch = torch.export.Dim("batch", min=1, max=MAX_EXPORT_BATCH)
    dynamic = {_forward_arg(module): {0: batch}}
    with warnings.catch_warnings():
        # torch's exporter internals emit deprecation chatter; tests turn warnings into errors
        for category in (FutureWarning, DeprecationWarning, UserWarning):
            warnings.simplefilter("ignore", category)
        if not runtime_asserts:
            try:
                program = torch.export.export(module, (example,), dynamic_shapes=dynamic)
            except torch._dynamo.exc.UserError as err:
                # torch 2.11 (the GPU host's) cannot prove stride guards such as min(b, 66·b) == b of the
                # scattering graph's reshapes, which hold for every batch b >= 1; 2.13 proves them
                log.warning("%s: torch %s could not prove the batch-axis shape guards (%s); exporting "
                            "them as runtime asserts", type(module).__name__, torch.__version__,
                            str(err).splitlines()[0])
                runtime_asserts = True
        if runtime_asserts:
            program = torch.export.export(module, (example,), dynamic_shapes=dynamic,
                                          prefer_deferred_runtime_asserts_over_guards=True)
        torch.export.save(program, str(program_path))
        # the fallback hands ONNX the program it already has: a fresh capture would hit the same guards
        torch.onnx.export(
            program if runtime_asserts else module, (example,), str(onnx_path), input_names=[input_name],
            output_names=list(output_names), dynamic_shapes=None if runtime_asserts else dynamic, dynamo=True,
            external_data=False, opset_version=ONNX_OPSET, optimize=True, verbose=False,
        )
    log.info("exported %s -> %s, %s", type(module).__name__, onnx_path.name, program_path.name)
    return shapes


def export_onnx_multi(module: nn.Module, examples: dict[str, torch.Tensor], onnx_path: Path,
                      output_names: Sequence[str]) -> dict[str, tuple[int, ...]]:
    """Write a module of several tensor inputs (named as `examples`, all batch-first) as ONNX only.

    For the small rhythm head, which every backend runs in ONNX Runtime on the CPU; returns the output
    shapes on the examples.
    """
    module = module.eval().to("cpu", torch.float32)
    args = tuple(t.to("cpu", torch.float32).contiguous() for t in examples.values())
    with torch.no_grad():
        outputs = _as_tuple(module(*args))
    if len(outputs) != len(output_names):
        raise ValueError(f"{type(module).__name__} returned {len(outputs)} tensors, "
                         f"expected {len(output_names)}")
    batch = torch.export.Dim("batch", min=1, max=MAX_EXPORT_BATCH)
    import inspect

    params = [p.name for p in inspect.signature(module.forward).parameters.values()][: len(args)]
    with warnings.catch_warnings():
        for category in (FutureWarning, DeprecationWarning, UserWarning):
            warnings.simplefilter("ignore", category)
        torch.onnx.export(module, args, str(onnx_path), input_names=list(examples),
                          output_names=list(output_names), dynamic_shapes={p: {0: batch} for p in params},
                          dynamo=True, external_data=False, opset_version=ONNX_OPSET, optimize=True,
                          verbose=False)
    return {name: tuple(o.shape) for name, o in zip(output_names, outputs, strict=True)}


def _forward_arg(module: nn.Module) -> str:
    """Name of the single tensor argument of ``module.forward`` (torch.export keys dynamic shapes by it)."""
    import inspect

    params = [p for p in inspect.signature(module.forward).parameters.values()
              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if not params:
        raise ValueError(f"{type(module).__name__}.forward takes no positional tensor argument")
    return params[0].name


def onnx_io(onnx_path: Path) -> tuple[dict[str, list], dict[str, list]]:
    """Input and output names with shapes (``"batch"`` for symbolic dims) read from an ONNX file."""
    import onnx

    model = onnx.load(str(onnx_path), load_external_data=False)

    def dims(value) -> list:
        return [d.dim_param if d.dim_param else d.dim_value for d in value.type.tensor_type.shape.dim]

    initializers = {i.name for i in model.graph.initializer}
    inputs = {v.name: dims(v) for v in model.graph.input if v.name not in initializers}
    outputs = {v.name: dims(v) for v in model.graph.output}
    return inputs, outputs


def max_ort_deviation(onnx_path: Path, module: nn.Module, example: np.ndarray | dict[str, np.ndarray],
                      input_name: str | None = None) -> float:
    """Largest |ONNX Runtime − PyTorch| over all outputs on ``example``: an export sanity check.

    ``example`` is one array (fed as ``input_name``) or a dict of named inputs in forward's order.
    """
    import onnxruntime as ort

    feeds = example if isinstance(example, dict) else {input_name: example}
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = session.run(None, feeds)
    with torch.no_grad():
        ref = _as_tuple(module(*(torch.from_numpy(v) for v in feeds.values())))
    return max(float(np.max(np.abs(g - r.numpy()))) for g, r in zip(got, ref, strict=True))
