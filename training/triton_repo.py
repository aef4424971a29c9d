"""A Triton Inference Server model repository from a bundle (`dacl-train export-triton`).

Layout (what a user mounts into the official server container at /models):

    REPO/<name>_scattering/config.pbtxt, 1/model.onnx       window (B, W) -> features (B, 2P, F)
    REPO/<name>_encoder/config.pbtxt, 1/model.onnx          features -> probs, embedding, trajectory
    REPO/<name>/config.pbtxt, 1/                            ensemble: window -> probs, embedding, trajectory
    REPO/<name>/contract.json                               the bundle's model contract and graph hashes

The graphs run on the `onnxruntime_onnx` platform. `backend="python"` instead writes each graph with a
small Python-backend model that runs the same ONNX file through ONNX Runtime inside the server: the
`tritonserver` of the nvidia-pytriton wheel (which the tests and benchmarks use on CPU) has only the
Python backend. Where TensorRT plans were built for the bundle (engines.plan_cache), `<name>_*_trt`
`tensorrt_plan` models and a `<name>_trt` ensemble are written beside them.

The ensemble's config carries the contract as the parameter `dacl_contract`, so a client can refuse a
server that serves another model (engines.backend_triton).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from pathlib import Path
from typing import Any

from engines.backend_triton import OUTPUTS, contract_record
from engines.bundle import Bundle, load_bundle
from engines.contract import ModelContract

log = logging.getLogger(__name__)

PYTHON_MODEL = Path(__file__).with_name("triton_python_model.py")
BACKENDS = ("onnxruntime", "python")


@dataclasses.dataclass(frozen=True)
class Batching:
    """Dynamic batching and instances for each graph model (Triton's own field names)."""

    max_batch_size: int = 64
    preferred_batch_size: tuple[int, ...] = (8, 16, 32, 64)
    max_queue_delay_microseconds: int = 2000
    instances: int = 1
    kind: str = "KIND_CPU"  # KIND_GPU on a GPU server

    def __post_init__(self) -> None:
        if self.max_batch_size < 1:
            raise ValueError(f"max_batch_size must be >= 1, got {self.max_batch_size}")
        if any(not 1 <= b <= self.max_batch_size for b in self.preferred_batch_size):
            raise ValueError(f"preferred batch sizes {list(self.preferred_batch_size)} must lie in "
                             f"1..max_batch_size ({self.max_batch_size})")
        if self.kind not in ("KIND_CPU", "KIND_GPU"):
            raise ValueError(f"instance kind must be KIND_CPU or KIND_GPU, got {self.kind!r}")


def _tensors(kind: str, spec: dict[str, list]) -> str:
    rows = [f'  {{ name: "{name}" data_type: TYPE_FP32 dims: [ {", ".join(str(d) for d in shape[1:])} ] }}'
            for name, shape in spec.items()]
    return f"{kind} [\n" + ",\n".join(rows) + "\n]\n"


def _graph_config(name: str, graph: dict[str, Any], platform: str, batching: Batching) -> str:
    head = (f'name: "{name}"\nbackend: "python"\n' if platform == "python"
            else f'name: "{name}"\nplatform: "{platform}"\n')
    preferred = ", ".join(str(b) for b in batching.preferred_batch_size)
    return (head + f"max_batch_size: {batching.max_batch_size}\n"
            + _tensors("input", graph["inputs"]) + _tensors("output", graph["outputs"])
            + f"dynamic_batching {{\n  preferred_batch_size: [ {preferred} ]\n"
            f"  max_queue_delay_microseconds: {batching.max_queue_delay_microseconds}\n}}\n"
            f"instance_group [ {{ count: {batching.instances} kind: {batching.kind} }} ]\n")


def _ensemble_config(name: str, parts: tuple[str, str], bundle: Bundle, batching: Batching,
                     record: dict[str, Any]) -> str:
    scattering, encoder = bundle.graphs["scattering"], bundle.graphs["encoder"]
    (window, _), = scattering["inputs"].items()
    (features, _), = encoder["inputs"].items()
    outputs = {k: v for k, v in encoder["outputs"].items() if k in OUTPUTS}
    maps = ", ".join(f'{{ key: "{k}" value: "{k}" }}' for k in outputs)
    contract = json.dumps(json.dumps(record, sort_keys=True))  # a quoted, escaped protobuf string
    return (f'name: "{name}"\nplatform: "ensemble"\nmax_batch_size: {batching.max_batch_size}\n'
            + _tensors("input", scattering["inputs"]) + _tensors("output", outputs)
            + "ensemble_scheduling {\n  step [\n"
            f'    {{ model_name: "{parts[0]}" model_version: -1\n'
            f'      input_map {{ key: "{window}" value: "{window}" }}\n'
            f'      output_map {{ key: "{features}" value: "{features}" }} }},\n'
            f'    {{ model_name: "{parts[1]}" model_version: -1\n'
            f'      input_map {{ key: "{features}" value: "{features}" }}\n'
            f"      output_map [ {maps} ] }}\n  ]\n}}\n"
            f'parameters {{ key: "dacl_contract" value: {{ string_value: {contract} }} }}\n')


def check_config(text: str, where: str) -> None:
    """Parse a config.pbtxt with Triton's own ModelConfig protobuf (tritonclient); raise naming the file."""
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2

    try:
        text_format.Parse(text, model_config_pb2.ModelConfig())
    except text_format.ParseError as err:
        raise ValueError(f"{where}: not a valid Triton model config: {err}") from err


def _write(path: Path, text: str) -> None:
    check_config(text, str(path))
    path.write_text(text)


def trt_plans(bundle: Bundle, precision: str = "fp16") -> dict[str, Path]:
    """The TensorRT plans built for this bundle (engines.plan_cache slots), by graph; {} where none."""
    from engines.plan_cache import PlanCache, default_cache_dir

    cache = PlanCache(default_cache_dir(bundle.path))
    plans = {g: cache.slot(g, precision)[0] for g in ("scattering", "encoder")}
    return plans if all(p.is_file() for p in plans.values()) else {}


def export_repository(bundle_path: str | Path, repo: str | Path, *, name: str = "dacl",
                      backend: str = "onnxruntime", batching: Batching = Batching(),
                      plans: dict[str, Path] | None = None, overwrite: bool = False) -> list[Path]:
    """Write the repository (see the module docstring); return the config files written.

    ``plans`` maps "scattering"/"encoder" to TensorRT plan files; None looks in the bundle's plan cache.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    bundle = load_bundle(bundle_path)
    ModelContract.from_manifest(bundle.manifest, f"bundle {bundle.path}")  # export only what can run
    repo = Path(repo)
    record = contract_record(bundle)
    names = [name, f"{name}_scattering", f"{name}_encoder"]
    plans = trt_plans(bundle) if plans is None else plans
    if plans:
        names += [f"{name}_trt", f"{name}_scattering_trt", f"{name}_encoder_trt"]
    taken = [n for n in names if (repo / n).exists()]
    if taken and not overwrite:
        raise FileExistsError(f"{repo}: model(s) {taken} exist already; pass overwrite=True (--overwrite)")
    written = []
    platform = "python" if backend == "python" else "onnxruntime_onnx"
    variants = [("", platform, None)] + ([("_trt", "tensorrt_plan", plans)] if plans else [])
    for suffix, kind, files in variants:
        parts = (f"{name}_scattering{suffix}", f"{name}_encoder{suffix}")
        for graph, part in zip(("scattering", "encoder"), parts, strict=True):
            directory = repo / part
            shutil.rmtree(directory, ignore_errors=True)
            (directory / "1").mkdir(parents=True)
            if files:
                shutil.copyfile(files[graph], directory / "1" / "model.plan")
            else:
                shutil.copyfile(bundle.onnx_path(graph), directory / "1" / "model.onnx")
            if kind == "python":
                shutil.copyfile(PYTHON_MODEL, directory / "1" / "model.py")
            _write(directory / "config.pbtxt", _graph_config(part, bundle.graphs[graph], kind, batching))
            written.append(directory / "config.pbtxt")
        ensemble = repo / f"{name}{suffix}"
        shutil.rmtree(ensemble, ignore_errors=True)
        (ensemble / "1").mkdir(parents=True)  # Triton wants a version folder even for an ensemble
        config = _ensemble_config(f"{name}{suffix}", parts, bundle, batching, record)
        _write(ensemble / "config.pbtxt", config)
        (ensemble / "contract.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
        written.append(ensemble / "config.pbtxt")
    log.info("wrote Triton repository %s (%s): %s", repo, backend, ", ".join(names))
    return written
