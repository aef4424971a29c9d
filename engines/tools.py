"""Engine maintenance behind `dacl-train build-engines` and `dacl-train verify-engines`.

Plain functions (the training CLI wires them into typer): ``build_engines`` builds or refreshes the
TensorRT plans beside a bundle; ``verify_engines`` runs every backend that works here on the same real
windows and reports each one's largest deviation from the PyTorch FP32 reference and its throughput. The
windows come from the caller (`dacl-train verify-engines` makes them with training.reference_windows,
which reads records with core): engines imports nothing of core.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from engines import backend_tensorrt, registry
from engines.backend_torch import TorchEngine
from engines.base import Engine, EngineUnavailable
from engines.bundle import Bundle, load_bundle

log = logging.getLogger(__name__)

COMPARED = ("probs", "embedding", "trajectory", "scattering")  # columns Δprobs Δemb Δtraj Δscat
# agreement: max |Δ| <= TOLERANCE x max(1, max |reference|) for each COMPARED output. Scale-relative because
# the trajectory is a projection with large coefficients (a trained LDA: x24), which scales float32 noise too.
TOLERANCE = {"fp32": 1e-4, "fp16": 5e-2}


def _bundle(bundle: Bundle | str | Path) -> Bundle:
    return bundle if isinstance(bundle, Bundle) else load_bundle(bundle)


def build_engines(bundle: Bundle | str | Path, precision: str = "fp16", max_batch: int = 512,
                  opt_batch: int = 64, cache_dir: Path | None = None) -> list[dict[str, Any]]:
    """Build (or confirm cached) TensorRT plans for both graphs with profile (1, opt, max_batch).

    Returns one dict per graph: graph, precision, profile, status ("cached" or "built: <why>"), plan path.
    Raises EngineUnavailable with the reason when TensorRT cannot run on this machine.
    """
    bundle = _bundle(bundle)
    if precision not in ("fp16", "fp32"):
        raise ValueError(f"precision must be 'fp16' or 'fp32', got {precision!r}")
    if max_batch < 1:
        raise ValueError(f"max_batch must be >= 1, got {max_batch}")
    reason = backend_tensorrt.unavailable_reason(precision)
    if reason:
        raise EngineUnavailable(f"cannot build TensorRT plans: {reason}")
    profile = (1, max(1, min(opt_batch, max_batch)), max_batch)
    rows = []
    for graph in ("scattering", "encoder"):
        engine = backend_tensorrt.TensorRTEngine(bundle, graph, precision, profile, cache_dir)
        rows.append({"graph": graph, "precision": precision, "profile": list(profile),
                     "status": engine.plan_status, "plan": str(engine.cache.slot(graph, precision)[0])})
        log.info("%s plan: %s", graph, engine.plan_status)
        engine.close()
    return rows


@dataclasses.dataclass
class VerifyRow:
    """One backend's verification result; ``status`` is "ok", "DEVIATES" or "skipped: <why>"."""

    backend: str
    device: str = ""
    precision: str = ""
    status: str = ""
    max_deviation: dict[str, float] = dataclasses.field(default_factory=dict)
    windows_per_s: float | None = None


def throughput(engine: Engine, windows: np.ndarray, min_seconds: float = 0.5) -> float:
    """Windows per second running ``windows`` as one batch repeatedly for at least ``min_seconds``."""
    engine.run(windows)  # warm-up (CUDA graph capture, lazy init)
    runs, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < min_seconds or runs < 2:
        engine.run(windows)
        runs += 1
    return runs * len(windows) / elapsed


def verify_engines(bundle: Bundle | str | Path, windows: np.ndarray, precision: str = "fp16",
                   console: Any | None = None, min_seconds: float = 0.5,
                   triton: dict[str, Any] | None = None, source: str = "given") -> list[VerifyRow]:
    """Run every registered backend on the same real windows; print and return deviations and speed.

    Reference: the bundle's torch.export programs on CPU in FP32. ``windows``: normalised (n, W) float32
    windows (training.reference_windows.load_windows makes them from real records, else the bundle's demo
    windows); ``source`` says where they came from in the table's title. A backend
    that cannot run here gets a "skipped: <why>" row. ``console`` is a rich Console (default: stdout);
    ``min_seconds`` is the timing per backend. ``triton`` (url=..., model=..., protocol=...) adds a
    row for a Triton server, which returns only the encoder's outputs (no Δscat).
    """
    bundle = _bundle(bundle)
    reference = TorchEngine(bundle, "pair", "cpu").run(windows)
    rows: list[VerifyRow] = []
    options_of = {"tensorrt": {"precision": precision}, "triton": triton or {}}
    for name in registry.AUTO_ORDER + (("triton",) if triton else ()):
        options = options_of.get(name, {})
        try:
            engine = registry.open_engine(bundle, name, **options)
            got = engine.run(windows)
        except EngineUnavailable as err:
            rows.append(VerifyRow(name, status=f"skipped: {str(err).removeprefix(name + ': ')}"))
            continue
        except Exception as err:  # noqa: BLE001 - report a broken backend, verify the rest
            rows.append(VerifyRow(name, status=f"FAILED: {type(err).__name__}: {err}"))
            continue
        deviation = {k: float(np.max(np.abs(got[k] - reference[k]))) for k in COMPARED if k in got}
        tol = TOLERANCE.get(engine.precision, TOLERANCE["fp32"])
        ok = all(v <= tol * max(1.0, float(np.max(np.abs(reference[k])))) for k, v in deviation.items())
        rows.append(VerifyRow(name, engine.device, engine.precision, "ok" if ok else "DEVIATES", deviation,
                              throughput(engine, windows, min_seconds)))
        engine.close()
    _print_table(rows, bundle, f"{len(windows)} windows from {source}", console)
    return rows


def _print_table(rows: list[VerifyRow], bundle: Bundle, source: str, console: Any | None) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"verify-engines: {bundle.path.name} ({source})", box=box.SIMPLE_HEAD,
                  caption="Δ = largest |difference| from the PyTorch CPU FP32 reference; ok: Δ <= "
                          f"{TOLERANCE['fp32']:g} (fp32) or {TOLERANCE['fp16']:g} (fp16) x max(1, |ref|)",
                  padding=(0, 1), pad_edge=False, collapse_padding=True)
    for col in ("backend", "device", "Δprobs", "Δemb", "Δtraj", "Δscat", "win/s", "status"):
        table.add_column(col, no_wrap=True, justify="right" if col[0] == "Δ" or col == "win/s" else "left")
    notes = []
    for r in rows:
        devs = [f"{r.max_deviation[k]:.0e}" if k in r.max_deviation else "-" for k in COMPARED]
        speed = f"{r.windows_per_s:,.0f}" if r.windows_per_s else "-"
        status = r.status.split(":")[0]
        if status != r.status:
            notes.append(f"{r.backend}: {r.status}")
        style = "green" if r.status == "ok" else ("dim" if status == "skipped" else "red")
        device = f"{r.device} {r.precision}".strip()
        table.add_row(r.backend, device, *devs, speed, status, style=style)
    console = console or Console()
    console.print(table)
    for note in notes:
        console.print(f"  {note}", soft_wrap=True, markup=False)
