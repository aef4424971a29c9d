"""The one Engine interface every backend implements, and the Pipeline that chains scattering -> encoder.

An Engine runs one bundle graph ("scattering", "encoder", or "pair" = both fused) on numpy batches of any
size: batches above ``max_batch`` are split, and each chunk is padded up to the next of ``buckets`` when
the backend runs fixed shapes faster (CUDA graphs). A subclass sets name/device/precision/max_batch/
buckets and implements ``_run`` for one chunk whose batch size is a bucket (or any size <= max_batch when
there are no buckets).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from engines.bundle import Bundle

log = logging.getLogger(__name__)

GRAPH_NAMES = ("scattering", "encoder", "pair")


class EngineError(ValueError):
    """A batch does not fit the engine's input (shape, dtype, values)."""


class EngineUnavailable(RuntimeError):
    """A backend cannot run on this machine (missing library, no GPU, ...); the message says why."""


class GraphSpec:
    """Input name/shape and output names/shapes of one graph, from the manifest (batch axis dropped)."""

    def __init__(self, bundle: Bundle, graph: str) -> None:
        if graph not in GRAPH_NAMES:
            raise ValueError(f"graph must be one of {GRAPH_NAMES}, got {graph!r}")
        first = "scattering" if graph in ("scattering", "pair") else "encoder"
        spec = bundle.graphs[first]
        self.name = graph
        self.input_name, shape = next(iter(spec["inputs"].items()))
        self.input_shape: tuple[int, ...] = tuple(shape[1:])
        parts = ("scattering", "encoder") if graph == "pair" else (graph,)
        self.outputs: dict[str, tuple[int, ...]] = {
            k: tuple(v[1:]) for p in parts for k, v in bundle.graphs[p]["outputs"].items()}


class Engine(ABC):
    """Runs one graph of a bundle on batches of any size; see the module docstring for the contract."""

    name: str = "engine"
    device: str = "cpu"
    precision: str = "fp32"
    max_batch: int = 512
    buckets: tuple[int, ...] = ()  # padded batch sizes; empty = run the exact size
    parallel_callers: int = 1  # batches worth running at once from separate threads (run() is thread-safe)

    def __init__(self, bundle: Bundle, graph: str) -> None:
        self.bundle = bundle
        self.spec = GraphSpec(bundle, graph)

    @abstractmethod
    def _run(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """Run one chunk (C-contiguous float32, batch <= max_batch); return every output by name."""

    def check(self, batch: Any) -> np.ndarray:
        """Return ``batch`` as a C-contiguous float32 array or raise EngineError saying what is wrong."""
        want = self.spec.input_shape
        what = f"{self.name} {self.spec.name} input {self.spec.input_name!r}"
        if not isinstance(batch, np.ndarray):
            raise EngineError(f"{what} must be a numpy array, got {type(batch).__name__}")
        if batch.dtype != np.float32:
            raise EngineError(f"{what} must be float32, got {batch.dtype}; convert with .astype(np.float32)")
        if batch.ndim != len(want) + 1 or tuple(batch.shape[1:]) != want:
            hint = " (one window? use batch[None])" if tuple(batch.shape) == want else ""
            raise EngineError(f"{what} must have shape (B, {', '.join(map(str, want))}), "
                              f"got {tuple(batch.shape)}{hint}")
        if not np.isfinite(batch).all():
            raise EngineError(f"{what} contains NaN or infinite values; normalise the windows first")
        return np.ascontiguousarray(batch)

    def bucket_for(self, n: int) -> int:
        """Smallest bucket >= n (n itself when there are no buckets)."""
        return next((b for b in self.buckets if b >= n), n)

    def run(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """Run the graph on (B, *input_shape) float32 for any B >= 0; return outputs (B, ...) by name."""
        batch = self.check(batch)
        n = len(batch)
        if n == 0:
            return {k: np.empty((0, *s), np.float32) for k, s in self.spec.outputs.items()}
        parts: list[dict[str, np.ndarray]] = []
        for start in range(0, n, self.max_batch):
            chunk = batch[start:start + self.max_batch]
            real = len(chunk)
            size = self.bucket_for(real)
            if size > real:
                pad = np.zeros((size - real, *chunk.shape[1:]), np.float32)
                chunk = np.concatenate([chunk, pad])
            out = self._run(chunk)
            parts.append({k: v[:real] for k, v in out.items()})
        if len(parts) == 1:
            return parts[0]
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    def info(self) -> dict[str, Any]:
        """What runs where, for logs and the GUI status line."""
        return {"name": self.name, "device": self.device, "precision": self.precision,
                "graph": self.spec.name, "max_batch": self.max_batch, "buckets": list(self.buckets),
                "bundle": str(self.bundle.path)}

    def close(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing to release
        """Release device resources (default: nothing to release)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name}, {self.device}, {self.precision}, graph={self.spec.name})"


class Pipeline(Engine):
    """Scattering engine then encoder engine: raw normalised windows (B, W) -> every output by name."""

    max_batch = 1 << 30  # the two stages split and pad on their own

    def __init__(self, scattering: Engine, encoder: Engine) -> None:
        if scattering.spec.name != "scattering" or encoder.spec.name != "encoder":
            raise ValueError(f"Pipeline needs a scattering and an encoder engine, got {scattering!r}, "
                             f"{encoder!r}")
        super().__init__(scattering.bundle, "pair")
        self.scattering, self.encoder = scattering, encoder
        self.parallel_callers = min(scattering.parallel_callers, encoder.parallel_callers)
        self.name, self.device, self.precision = scattering.name, scattering.device, scattering.precision

    def _run(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        first = self.scattering.run(batch)
        return {**first, **self.encoder.run(first["features"])}

    def info(self) -> dict[str, Any]:
        """The pair's info plus each stage's."""
        return {**super().info(), "stages": [self.scattering.info(), self.encoder.info()]}

    def close(self) -> None:
        """Close both stages."""
        self.scattering.close()
        self.encoder.close()
