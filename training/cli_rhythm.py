"""`dacl-train rr`: the RR rhythm model (training/rr_stage.py) trained on beats and written into a bundle.

dacl-train rr --bundle engines/default --ltafdb ../shared/data/ltafdb --mitdb ../shared/data/mitdb
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from training.cli_console import console
from training.features import cache_dir

DEFAULT_CACHE = cache_dir() / "rr"  # beside the CinC windows: $DACL_CACHE moves both


def add_rr_model(bundle: Path, ltafdb: Path, mitdb: Path | None, cache: Path | None, folds: int,
                 seed: int, nstdb: Path | None = None) -> dict:
    """Train the RR model into `bundle` with a progress line per stage; return its manifest block."""
    from training.rr_model import TrainConfig
    from training.rr_stage import train_rr_stage

    t0 = time.time()
    with console.status("RR rhythm model: features and cross-validation") as status:
        def say(message: str) -> None:
            status.update(f"RR rhythm model: {message}")
            console.log(message)

        block = train_rr_stage(bundle, ltafdb, mitdb, cache, folds=folds, seed=seed,
                               cfg=TrainConfig(seed=seed), progress=say, nstdb=nstdb,
                               alarm_windows=None if cache is None else cache / f"alarm_windows_seed{seed}")
    nested = block["episodes"]["cv"]["nested"].get("ltafdb/qrs", {})
    console.print(f"RR model written to {bundle} in {time.time() - t0:.0f} s; nested CV on LTAFDB .qrs: "
                  f"duration Se {nested.get('duration_se', float('nan')):.3f}, +P "
                  f"{nested.get('duration_ppv', float('nan')):.3f}, specificity "
                  f"{nested.get('specificity', float('nan')):.3f}")
    alarm = json.loads((bundle / "manifest.json").read_text()).get("alarm")
    if alarm is not None:
        for part in ("clean", "noisy"):
            g = alarm["cv"]["fused"].get(f"nested_{part}", {})
            console.print(f"AF alarm (RR model fused with the DACL window), nested CV on MIT-BIH, {part}: "
                          f"duration Se {g.get('duration_se') or float('nan'):.3f}, +P "
                          f"{g.get('duration_ppv') or float('nan'):.3f}, false alarms/h "
                          f"{g.get('false_alarms_per_hour') or float('nan'):.2f}")
    return block


def rr_cmd(
    bundle: Annotated[Path, typer.Option(help="bundle folder to add the RR model to")] = Path(
        "engines/default"),
    ltafdb: Annotated[Path, typer.Option(help="LTAFDB beat annotations")] = Path("../shared/data/ltafdb"),
    mitdb: Annotated[Path | None, typer.Option(help="MIT-BIH records with .atr (none: LTAFDB only)")] = Path(
        "../shared/data/mitdb"),
    nstdb: Annotated[Path | None, typer.Option(help="NSTDB noise records for the alarm's noisy copies "
                                               "(default: nstdb beside --mitdb)")] = None,
    cache: Annotated[Path, typer.Option(help="feature cache folder")] = DEFAULT_CACHE,
    folds: Annotated[int, typer.Option(help="leave-records-out folds")] = 5,
    seed: Annotated[int, typer.Option(help="seed of the folds and the training")] = 0,
) -> None:
    """Train the RR rhythm model on LTAFDB + MIT-BIH beats and write it into BUNDLE (rr_rhythm.onnx)."""
    from engines.bundle_spec import BundleError

    for name, folder in (("--ltafdb", ltafdb), ("--mitdb", mitdb)):
        if folder is not None and not (folder / "RECORDS").is_file():
            raise typer.BadParameter(f"{folder} has no RECORDS file", param_hint=name)
    try:
        if nstdb is None and mitdb is not None and (mitdb.parent / "nstdb").is_dir():
            nstdb = mitdb.parent / "nstdb"
        add_rr_model(bundle, ltafdb, mitdb, cache, folds, seed, nstdb)
    except (BundleError, ValueError, FileNotFoundError) as err:
        console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(1) from None
