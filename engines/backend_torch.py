"""PyTorch backend: runs the bundle's torch.export programs (.pt2) on CPU or CUDA, no training code needed.

On CUDA each fixed batch bucket is captured once as a CUDA graph and replayed, with pinned host staging
buffers, so a batch-1 window costs a few kernel-free copies plus one graph launch. An engine is used by
one thread at a time (the scheduler's inference worker).
"""

from __future__ import annotations

import logging
import warnings

import numpy as np

from engines.base import Engine, EngineUnavailable
from engines.bundle import Bundle

log = logging.getLogger(__name__)

CUDA_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


def unavailable_reason(device: str) -> str | None:
    """Why the PyTorch backend cannot run on ``device`` here, or None when it can."""
    try:
        import torch
    except ImportError as err:
        return f"torch is not installed ({err})"
    if device.startswith("cuda") and not torch.cuda.is_available():
        return f"torch {torch.__version__} sees no CUDA device"
    return None


def load_program(path, device: str):
    """Load a torch.export program and return it as a callable module on ``device``."""
    import torch

    with warnings.catch_warnings():  # older torch warns that the archive's buffers are read-only
        warnings.simplefilter("ignore", UserWarning)
        program = torch.export.load(str(path))
    if device != "cpu":
        try:
            from torch.export.passes import move_to_device_pass
        except ImportError:  # torch < 2.7: move the unlifted module instead
            return program.module().to(device)
        program = move_to_device_pass(program, device)
    return program.module()


class TorchEngine(Engine):
    """A bundle graph ("scattering", "encoder" or the fused "pair") from its .pt2 program(s)."""

    def __init__(self, bundle: Bundle, graph: str = "pair", device: str = "cpu",
                 cuda_graphs: bool | None = None, buckets: tuple[int, ...] = CUDA_BUCKETS,
                 max_batch: int | None = None) -> None:
        reason = unavailable_reason(device)
        if reason:
            raise EngineUnavailable(reason)
        import torch

        super().__init__(bundle, graph)
        self.torch = torch
        self.device = device
        self.use_graphs = device.startswith("cuda") if cuda_graphs is None else cuda_graphs
        if self.use_graphs and not device.startswith("cuda"):
            raise ValueError(f"CUDA graphs need a CUDA device, not {device!r}")
        self.name = "torch-cuda-graphs" if self.use_graphs else f"torch-{device.split(':')[0]}"
        if device.startswith("cuda"):
            # fp32 means fp32: cuDNN convolutions default to TF32 on Ampere+, which moved embeddings by
            # ~1e-3 on an H100 (process-wide switch, set by whoever opens a CUDA engine)
            torch.backends.cudnn.allow_tf32 = False
            torch.backends.cuda.matmul.allow_tf32 = False
        parts = ("scattering", "encoder") if graph == "pair" else (graph,)
        self.modules = [load_program(bundle.program_path(p), device) for p in parts]
        self.output_names = list(self.spec.outputs)
        if self.use_graphs:
            self.buckets = tuple(sorted(buckets))
            self.max_batch = self.buckets[-1]
        else:  # CPU: cache-sized chunks are faster (see backend_onnxruntime.DEFAULT_MAX_BATCH)
            self.max_batch = max_batch or (512 if device.startswith("cuda") else 64)
        self._graphs: dict[int, tuple] = {}
        self._pool = None

    def _forward(self, x):
        outs = tuple(self.modules[0](x))
        if len(self.modules) == 2:  # the pair: scattering's `features` output feeds the encoder
            outs = outs + tuple(self.modules[1](outs[1]))
        return outs

    def _capture(self, size: int) -> tuple:
        """Capture the forward pass for batch ``size`` as a CUDA graph with static and pinned buffers."""
        torch = self.torch
        static_in = torch.zeros((size, *self.spec.input_shape), device=self.device)
        side = torch.cuda.Stream(self.device)
        side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.inference_mode(), torch.cuda.stream(side):
            for _ in range(3):  # warm-up allocations and lazy kernels before capture
                self._forward(static_in)
        torch.cuda.current_stream(self.device).wait_stream(side)
        if self._pool is None:
            self._pool = torch.cuda.graph_pool_handle()
        graph = torch.cuda.CUDAGraph()
        # thread_local: other threads (heart-rate detection, the GUI) may use CUDA while this captures
        capture = torch.cuda.graph(graph, pool=self._pool, capture_error_mode="thread_local")
        with torch.inference_mode(), capture:
            static_out = self._forward(static_in)
        host_in = torch.empty(static_in.shape, pin_memory=True)
        host_out = [torch.empty(o.shape, pin_memory=True) for o in static_out]
        log.info("%s: captured CUDA graph for batch %d", self.name, size)
        return graph, static_in, static_out, host_in, host_out

    def _run(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        torch = self.torch
        x = torch.from_numpy(batch)
        if not self.use_graphs:
            with torch.inference_mode():
                outs = self._forward(x.to(self.device))
            return {k: o.cpu().numpy() for k, o in zip(self.output_names, outs, strict=True)}
        if len(batch) not in self._graphs:
            self._graphs[len(batch)] = self._capture(len(batch))
        graph, static_in, static_out, host_in, host_out = self._graphs[len(batch)]
        host_in.copy_(x)
        static_in.copy_(host_in, non_blocking=True)
        graph.replay()
        for h, o in zip(host_out, static_out, strict=True):
            h.copy_(o, non_blocking=True)
        torch.cuda.current_stream(self.device).synchronize()
        return {k: h.numpy().copy() for k, h in zip(self.output_names, host_out, strict=True)}

    def info(self) -> dict:
        """Engine info plus torch version, GPU name and captured buckets."""
        torch = self.torch
        gpu = torch.cuda.get_device_name(self.device) if self.device.startswith("cuda") else None
        return {**super().info(), "torch": torch.__version__, "gpu": gpu, "cuda_graphs": self.use_graphs,
                "captured": sorted(self._graphs)}

    def close(self) -> None:
        """Drop captured graphs and their buffers."""
        self._graphs.clear()
