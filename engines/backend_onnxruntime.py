"""ONNX Runtime backend: the CPU provider everywhere, the CUDA provider where onnxruntime-gpu is installed."""

from __future__ import annotations

import logging
import os

import numpy as np

from engines.base import Engine, EngineUnavailable, Pipeline
from engines.bundle import Bundle

log = logging.getLogger(__name__)

PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}
# Largest chunk per session call. On CPU, chunks of 32-64 windows stay in cache: measured on the 2-core
# dev machine, 512 windows ran at ~520 windows/s as 64-window chunks against ~300 as one call.
DEFAULT_MAX_BATCH = {"cpu": 64, "cuda": 512}
MAX_PARALLEL_CALLERS = 8  # beyond this many concurrent batches the Python around them is the limit


def unavailable_reason(device: str) -> str | None:
    """Why ONNX Runtime cannot run on ``device`` here, or None when it can."""
    try:
        import onnxruntime as ort
    except ImportError as err:
        return f"onnxruntime is not installed ({err})"
    if PROVIDERS[device] not in ort.get_available_providers():
        return (f"onnxruntime {ort.__version__} has no {PROVIDERS[device]} (install onnxruntime-gpu for CUDA)"
                if device == "cuda" else f"onnxruntime {ort.__version__} lacks the CPU provider")
    return None


class OnnxRuntimeEngine(Engine):
    """One bundle graph ("scattering" or "encoder") in an onnxruntime.InferenceSession."""

    def __init__(self, bundle: Bundle, graph: str, device: str = "cpu", threads: int | None = None,
                 max_batch: int | None = None, spinning: bool = False) -> None:
        if graph not in ("scattering", "encoder"):
            raise ValueError(f"OnnxRuntimeEngine runs 'scattering' or 'encoder', not {graph!r}; "
                             "use onnxruntime_pipeline for the pair")
        reason = unavailable_reason(device)
        if reason:
            raise EngineUnavailable(reason)
        import onnxruntime as ort

        super().__init__(bundle, graph)
        self.name, self.device = f"onnxruntime-{device}", device
        self.max_batch = max_batch or DEFAULT_MAX_BATCH[device]
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # errors only; ORT warns about unused initialisers otherwise
        if threads is None:
            threads = min(os.cpu_count() or 1, 8)
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # idle worker threads sleep instead of spinning: the monitor shares its cores with acquisition and
        # the GUI, and spinning pools lose badly when the cores are busy elsewhere
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
        providers = [PROVIDERS[device]] + (["CPUExecutionProvider"] if device == "cuda" else [])
        self.session = ort.InferenceSession(str(bundle.onnx_path(graph)), options, providers=providers)
        if PROVIDERS[device] not in self.session.get_providers():
            raise EngineUnavailable(f"onnxruntime could not start {PROVIDERS[device]} "
                                    f"(session providers: {self.session.get_providers()})")
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.threads = threads
        # run() is thread-safe and a single-threaded CPU session runs on its caller's thread, so one batch
        # per core at once beats one batch on every core (small matmuls scale poorly across threads)
        if device == "cpu":
            self.parallel_callers = max(1, min(os.cpu_count() or 1, MAX_PARALLEL_CALLERS) // threads)

    def _run(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        outputs = self.session.run(self.output_names, {self.spec.input_name: batch})
        return dict(zip(self.output_names, outputs, strict=True))

    def info(self) -> dict:
        """Engine info plus the session's providers and thread count."""
        return {**super().info(), "providers": self.session.get_providers(), "threads": self.threads,
                "parallel_callers": self.parallel_callers}


def onnxruntime_pipeline(bundle: Bundle, device: str = "cpu", threads: int | None = None,
                         max_batch: int | None = None) -> Pipeline:
    """Scattering then encoder, each in its own ONNX Runtime session on ``device``."""
    return Pipeline(OnnxRuntimeEngine(bundle, "scattering", device, threads, max_batch),
                    OnnxRuntimeEngine(bundle, "encoder", device, threads, max_batch))
