"""TensorRT backend: builds plans from the bundle's ONNX graphs, caches them, runs them with pycuda.

Written against the TensorRT 10.x Python API (trt.Builder + OnnxParser, one dynamic-batch optimisation
profile (1, opt, max), BuilderFlag.FP16, set_tensor_address + execute_async_v3). TensorRT 11 dropped
BuilderFlag.FP16 (networks are strongly typed, FP16 must be in the ONNX graph): there this backend builds
FP32 plans only and refuses fp16 with that reason. Never executed in this project's environment: TensorRT
and pycuda are not installable here (NVIDIA's package index is out of reach).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from engines.base import Engine, EngineUnavailable, Pipeline
from engines.bundle import Bundle
from engines.plan_cache import PlanCache, PlanKey, default_cache_dir

log = logging.getLogger(__name__)

WORKSPACE_BYTES = 1 << 30
DEFAULT_PROFILE = (1, 64, 512)


def unavailable_reason(precision: str = "fp16") -> str | None:
    """Why TensorRT cannot run here (import, pycuda, GPU, version), or None when it can."""
    try:
        import tensorrt as trt
    except ImportError as err:
        return (f"tensorrt is not importable ({err}); install it from NVIDIA's index: "
                "pip install 'dacl-monitor[gpu]'")
    try:
        import pycuda.driver as cuda
    except ImportError as err:
        return f"pycuda is not importable ({err}); pip install pycuda"
    try:
        cuda.init()
        if cuda.Device.count() == 0:
            return "pycuda sees no CUDA device"
    except cuda.Error as err:
        return f"CUDA driver is not usable ({err})"
    major = int(trt.__version__.split(".")[0])
    if major < 10:
        return f"TensorRT {trt.__version__} is too old: this backend uses the 10.x API"
    if precision == "fp16" and not hasattr(trt.BuilderFlag, "FP16"):
        return (f"TensorRT {trt.__version__} is strongly typed (no BuilderFlag.FP16): FP16 must be in the "
                "ONNX graph; use precision fp32")
    return None


def build_plan(onnx_path: Path, input_name: str, input_shape: tuple[int, ...], precision: str,
               profile: tuple[int, int, int]) -> bytes:
    """Parse ``onnx_path`` and build a serialised plan with one dynamic-batch profile."""
    import tensorrt as trt

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # explicit batch is the only mode in TensorRT >= 10
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise RuntimeError(f"TensorRT could not parse {onnx_path.name}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, WORKSPACE_BYTES)
    if precision == "fp16":
        config.set_flag(trt.BuilderFlag.FP16)
    opt = builder.create_optimization_profile()
    opt.set_shape(input_name, *[(b, *input_shape) for b in profile])
    config.add_optimization_profile(opt)
    log.info("building TensorRT %s plan for %s, profile %s", precision, onnx_path.name, profile)
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise RuntimeError(f"TensorRT failed to build a plan for {onnx_path.name} (see its log above)")
    return bytes(plan)


def device_identity(index: int = 0) -> tuple[str, str]:
    """(GPU name, compute capability "major.minor") of CUDA device ``index``, via pycuda."""
    import pycuda.driver as cuda

    cuda.init()
    dev = cuda.Device(index)
    major, minor = dev.compute_capability()
    return dev.name(), f"{major}.{minor}"


class TensorRTEngine(Engine):
    """One bundle graph as a TensorRT engine with pinned host buffers, device buffers and a stream."""

    def __init__(self, bundle: Bundle, graph: str, precision: str = "fp16",
                 profile: tuple[int, int, int] = DEFAULT_PROFILE, cache_dir: Path | None = None,
                 device_index: int = 0) -> None:
        reason = unavailable_reason(precision)
        if reason:
            raise EngineUnavailable(reason)
        if graph not in ("scattering", "encoder"):
            raise ValueError(f"TensorRTEngine runs 'scattering' or 'encoder', not {graph!r}")
        if precision not in ("fp16", "fp32") or not 1 <= profile[0] <= profile[1] <= profile[2]:
            raise ValueError(f"precision must be fp16|fp32 and profile min<=opt<=max, "
                             f"got {precision}, {profile}")
        import pycuda.driver as cuda
        import tensorrt as trt

        super().__init__(bundle, graph)
        self.cuda, self.trt = cuda, trt
        self.name, self.device, self.precision = "tensorrt", f"cuda:{device_index}", precision
        self.max_batch = profile[2]
        self.cuda_context = cuda.Device(device_index).retain_primary_context()  # shared with torch
        self.cuda_context.push()
        try:
            gpu, capability = device_identity(device_index)
            self.key = PlanKey(bundle.sha256(bundle.graphs[graph]["onnx"]), trt.__version__, gpu, capability,
                               precision, tuple(profile))
            self.cache = PlanCache(cache_dir or default_cache_dir(bundle.path))
            self.runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
            self.engine, self.plan_status = self.cache.load_or_build(
                graph, self.key,
                lambda: build_plan(bundle.onnx_path(graph), self.spec.input_name, self.spec.input_shape,
                                   precision, tuple(profile)),
                self._deserialize)
            self.context = self.engine.create_execution_context()
            self.stream = cuda.Stream()
            self._allocate()
        finally:
            self.cuda_context.pop()

    def _deserialize(self, plan: bytes):
        engine = self.runtime.deserialize_cuda_engine(plan)
        if engine is None:
            raise RuntimeError("deserialize_cuda_engine returned None")
        return engine

    def _allocate(self) -> None:
        """Pinned host and device buffers for every I/O tensor at the profile's max batch."""
        cuda, trt = self.cuda, self.trt
        self.host: dict[str, np.ndarray] = {}
        self.dev: dict = {}
        shapes = {self.spec.input_name: self.spec.input_shape, **self.spec.outputs}
        for i in range(self.engine.num_io_tensors):
            name = self.engine.get_tensor_name(i)
            dtype = trt.nptype(self.engine.get_tensor_dtype(name))
            self.host[name] = cuda.pagelocked_empty((self.max_batch, *shapes[name]), dtype)
            self.dev[name] = cuda.mem_alloc(self.host[name].nbytes)
            self.context.set_tensor_address(name, int(self.dev[name]))
        self.outputs = [n for n in self.host if n != self.spec.input_name]

    def _run(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        cuda, n, name = self.cuda, len(batch), self.spec.input_name
        self.cuda_context.push()
        try:
            self.host[name][:n] = batch
            cuda.memcpy_htod_async(self.dev[name], self.host[name][:n], self.stream)
            self.context.set_input_shape(name, (n, *self.spec.input_shape))
            if not self.context.execute_async_v3(self.stream.handle):
                raise RuntimeError(f"TensorRT execute_async_v3 failed for {self.spec.name}")
            for out in self.outputs:
                cuda.memcpy_dtoh_async(self.host[out][:n], self.dev[out], self.stream)
            self.stream.synchronize()
        finally:
            self.cuda_context.pop()
        return {out: self.host[out][:n].astype(np.float32, copy=True) for out in self.outputs}

    def info(self) -> dict:
        """Engine info plus the plan key and whether the plan came from the cache."""
        return {**super().info(), "plan": self.plan_status, "key": self.key.as_dict()}

    def close(self) -> None:
        """Free the execution context, engine and device buffers, then release the primary context."""
        if not self.dev:
            return
        self.cuda_context.push()
        try:
            del self.context, self.engine
            for buf in self.dev.values():
                buf.free()
            self.dev.clear()
        finally:
            self.cuda_context.pop()
            self.cuda_context.detach()


def tensorrt_pipeline(bundle: Bundle, precision: str = "fp16",
                      profile: tuple[int, int, int] = DEFAULT_PROFILE,
                      cache_dir: Path | None = None) -> Pipeline:
    """Scattering then encoder as two TensorRT engines (plans built or loaded from the cache)."""
    return Pipeline(TensorRTEngine(bundle, "scattering", precision, profile, cache_dir),
                    TensorRTEngine(bundle, "encoder", precision, profile, cache_dir))
