"""`dacl-train` sub-commands that work on a bundle's engines.

`build-engines` (TensorRT plans), `verify-engines` (every backend against the PyTorch reference on real
windows, made by training.reference_windows) and `export-triton` (a Triton model repository).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from training.cli_console import console


def build_engines_cmd(
    model: Annotated[Path, typer.Option(help="bundle folder")] = Path("engines/default"),
    precision: Annotated[str, typer.Option(help="fp16 or fp32")] = "fp16",
    max_batch: Annotated[int, typer.Option(help="largest batch of the TensorRT profile")] = 512,
) -> None:
    """Build (or confirm cached) TensorRT plans for the bundle (engines.tools.build_engines)."""
    from engines.base import EngineUnavailable
    from engines.tools import build_engines

    try:
        rows = build_engines(model, precision=precision, max_batch=max_batch)
    except (EngineUnavailable, ValueError) as err:  # a bad bundle/option (ValueError) or no TensorRT
        console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(1) from None
    for row in rows:
        console.print(row)


def verify_engines_cmd(
    model: Annotated[Path, typer.Option(help="bundle folder")] = Path("engines/default"),
    precision: Annotated[str, typer.Option(help="TensorRT precision to verify")] = "fp16",
    triton_url: Annotated[str | None, typer.Option(help="also verify a Triton server (HOST:PORT)")] = None,
    triton_model: Annotated[str, typer.Option(help="model name on the Triton server")] = "dacl",
) -> None:
    """Run every backend on the same windows and compare with the PyTorch reference (engines.tools)."""
    from engines.bundle import load_bundle
    from engines.bundle_spec import BundleError
    from engines.tools import verify_engines
    from training.reference_windows import load_windows

    triton = {"url": triton_url, "model": triton_model} if triton_url else None
    try:
        bundle = load_bundle(model)
        windows, source = load_windows(bundle)  # CinC 2017 records beside the repository, else the demo's
        verify_engines(bundle, windows, precision=precision, console=console, triton=triton, source=source)
    except BundleError as err:
        console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(1) from None


def export_triton_cmd(
    model: Annotated[Path, typer.Option(help="bundle folder")] = Path("engines/default"),
    repo: Annotated[Path, typer.Option(help="Triton model repository to write (created if missing)")] = Path(
        "triton-models"),
    name: Annotated[str, typer.Option(help="ensemble name; graphs NAME_scattering, NAME_encoder")] = "dacl",
    backend: Annotated[str, typer.Option(help="onnxruntime (Triton's ORT backend) or python (ORT inside "
                                              "the Python backend)")] = "onnxruntime",
    max_batch: Annotated[int, typer.Option(help="max_batch_size of every model")] = 64,
    preferred: Annotated[str, typer.Option(help="preferred batch sizes, comma-separated")] = "8,16,32,64",
    queue_delay_us: Annotated[int, typer.Option(help="dynamic batching's max queue delay (µs)")] = 2000,
    instances: Annotated[int, typer.Option(help="instances of each graph")] = 1,
    gpu: Annotated[bool, typer.Option(help="instances on the GPU (KIND_GPU) instead of the CPU")] = False,
    overwrite: Annotated[bool, typer.Option(help="replace models of the same names in REPO")] = False,
) -> None:
    """Write a Triton Inference Server model repository from a bundle (docs/triton.md)."""
    from engines.bundle_spec import BundleError
    from training.triton_repo import Batching, export_repository

    try:
        batching = Batching(max_batch, tuple(int(v) for v in preferred.split(",") if v.strip()),
                            queue_delay_us, instances, "KIND_GPU" if gpu else "KIND_CPU")
        written = export_repository(model, repo, name=name, backend=backend, batching=batching,
                                    overwrite=overwrite)
    except (BundleError, ValueError, FileExistsError, FileNotFoundError) as err:
        console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(1) from None
    for path in written:
        console.print(f"wrote {path}")
    console.print(f"serve it with: tritonserver --model-repository={repo.resolve()}")
