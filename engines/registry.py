"""The explicit registry of inference backends and auto-selection among them.

Order of preference: TensorRT -> ONNX Runtime CUDA -> PyTorch CUDA -> ONNX Runtime CPU -> PyTorch CPU.
The Triton backend (a remote server) is registered too but only opened by name, with the server's URL.
Selection tries each in turn and records why every skipped one was skipped (not installed, no GPU, or it
failed to open), so the log and the GUI can say why the monitor runs on what it runs on.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any

from engines import backend_onnxruntime, backend_tensorrt, backend_torch, backend_triton
from engines.base import Engine, EngineUnavailable
from engines.bundle import Bundle

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Backend:
    """One registry entry: how to tell if it can run here and how to open the scattering+encoder pair."""

    name: str
    unavailable: Callable[[], str | None]
    open: Callable[..., Engine]  # open(bundle, **options) -> Engine for the "pair" graph


def _torch_pair(device: str) -> Callable[..., Engine]:
    return lambda bundle, **kw: backend_torch.TorchEngine(bundle, "pair", device, **kw)


BACKENDS: dict[str, Backend] = {b.name: b for b in (
    Backend("tensorrt", backend_tensorrt.unavailable_reason, backend_tensorrt.tensorrt_pipeline),
    Backend("onnxruntime-cuda", lambda: backend_onnxruntime.unavailable_reason("cuda"),
            lambda bundle, **kw: backend_onnxruntime.onnxruntime_pipeline(bundle, "cuda", **kw)),
    Backend("torch-cuda", lambda: backend_torch.unavailable_reason("cuda"), _torch_pair("cuda")),
    Backend("onnxruntime-cpu", lambda: backend_onnxruntime.unavailable_reason("cpu"),
            lambda bundle, **kw: backend_onnxruntime.onnxruntime_pipeline(bundle, "cpu", **kw)),
    Backend("torch-cpu", lambda: backend_torch.unavailable_reason("cpu"), _torch_pair("cpu")),
    # a remote server: chosen by name only (it needs url=...), never by auto-selection
    Backend("triton", backend_triton.unavailable_reason, backend_triton.TritonEngine),
)}
AUTO_ORDER = tuple(name for name in BACKENDS if name != "triton")


@dataclasses.dataclass
class Selection:
    """The engine chosen, its backend name, and why each backend before it was skipped."""

    engine: Engine
    backend: str
    skipped: dict[str, str]

    def summary(self) -> str:
        """One line for logs and the GUI status bar."""
        skipped = "; ".join(f"{k}: {v}" for k, v in self.skipped.items())
        line = f"inference on {self.backend} ({self.engine.device})"
        return line + (f" - skipped {skipped}" if skipped else "")


def availability() -> dict[str, str | None]:
    """Every local backend (AUTO_ORDER) -> None if it can run here, else the reason it cannot."""
    return {name: BACKENDS[name].unavailable() for name in AUTO_ORDER}


def open_engine(bundle: Bundle, backend: str, **options: Any) -> Engine:
    """Open the scattering+encoder pair on the named backend; EngineUnavailable says why it cannot."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; registered: {', '.join(BACKENDS)}")
    reason = BACKENDS[backend].unavailable()
    if reason:
        raise EngineUnavailable(f"{backend}: {reason}")
    return BACKENDS[backend].open(bundle, **options)


def select_engine(bundle: Bundle, order: tuple[str, ...] = AUTO_ORDER,
                  options: dict[str, dict[str, Any]] | None = None) -> Selection:
    """Open the first backend in ``order`` that works here; log and return why the others were skipped."""
    unknown = [name for name in order if name not in BACKENDS]
    if unknown:
        raise ValueError(f"unknown backend(s) {unknown}; registered: {', '.join(BACKENDS)}")
    skipped: dict[str, str] = {}
    for name in order:
        try:
            engine = open_engine(bundle, name, **(options or {}).get(name, {}))
        except EngineUnavailable as err:
            skipped[name] = str(err).removeprefix(f"{name}: ")
        except Exception as err:  # noqa: BLE001 - a backend that fails to open is skipped, with the reason
            skipped[name] = f"failed to open: {type(err).__name__}: {err}"
        else:
            selection = Selection(engine, name, skipped)
            for skipped_name, why in skipped.items():
                log.info("backend %s skipped: %s", skipped_name, why)
            log.info("%s", selection.summary())
            return selection
        log.debug("backend %s skipped: %s", name, skipped[name])
    reasons = "; ".join(f"{k}: {v}" for k, v in skipped.items())
    raise EngineUnavailable(f"no inference backend could run: {reasons}")
