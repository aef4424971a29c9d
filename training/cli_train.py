"""`dacl-train` sub-commands that work on training data.

`run` (train a bundle), `cv` (cross-validate the configuration) and `pack` (a labelled WFDB folder as one
.npz for hosts without wfdb).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.table import Table

from training import dataset, distributed
from training.cli_console import console, metrics_table, progress_bars, stage_reporter
from training.config import TrainConfig

log = logging.getLogger("dacl-train")


def run(
    data: Annotated[
        Path, typer.Option(help="WFDB folder with REFERENCE-v3.csv/REFERENCE.csv, or a `pack` .npz")
    ],
    out: Annotated[Path, typer.Option(help="bundle folder to write")],
    config: Annotated[Path | None, typer.Option(help="JSON file overriding TrainConfig defaults")] = None,
    device: Annotated[str, typer.Option(help="cpu or cuda")] = "cpu",
    quick: Annotated[
        bool, typer.Option(help="small test configuration (160 records, short schedules)")
    ] = False,
    features_cache: Annotated[
        Path | None, typer.Option(help="train from a saved WindowSet .npz (or a quantised GPU folder)")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="override the config's seed")] = None,
    holter: Annotated[Path | None, typer.Option(
        help="annotated Holter records for the rhythm head (default: mitdb/ beside DATA, if there)")] = None,
    nstdb: Annotated[Path | None, typer.Option(
        help="MIT-BIH Noise Stress Test folder for the Holter noise copies (default: nstdb/ beside DATA)"),
    ] = None,
) -> None:
    """Train the whole pipeline on DATA and write a bundle to OUT.

    Under `torchrun --nproc_per_node N -m training.cli run ...` it trains data-parallel on N processes
    (docs/distributed-training.md); rank 0 writes the bundle.
    """
    distributed.setup(device)
    try:
        _run(data, out, config, device, quick, features_cache, seed, holter, nstdb)
    except BaseException:
        distributed.teardown(wait=False)  # torchrun stops the other ranks; a barrier would wait for them
        raise
    distributed.teardown()


def _run(data: Path, out: Path, config: Path | None, device: str, quick: bool, features_cache: Path | None,
         seed: int | None, holter: Path | None, nstdb: Path | None) -> None:
    from training import export, pipeline

    t0 = time.time()
    cfg = TrainConfig.quick() if quick else TrainConfig()
    if config is not None:
        cfg = TrainConfig.from_file(config, cfg)
    cfg.device = device
    if seed is not None:
        cfg.seed = seed
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise typer.BadParameter("--device cuda: torch sees no CUDA device here", param_hint="--device")
    with progress_bars() as prog:
        task = prog.add_task("features", total=1)

        def feat_progress(done: int, total: int) -> None:
            prog.update(task, completed=done, total=total)

        d = pipeline.load_data_ranked(data, cfg, features_cache, feat_progress, device=device)
        prog.update(task, completed=1, total=1)
        t_feat = time.time() - t0
        fit_progress = stage_reporter(prog)

        model, hist, val = pipeline.run(d, cfg, fit_progress)
        if not distributed.is_main():  # the others wait for rank 0's bundle at the closing barrier
            return
        t_train = time.time() - t0 - t_feat
        params = pipeline.params_of(cfg)
        # validation record names only: split_windows would copy every window's scattering again
        _, va_idx = dataset.stratified_split(d.windows.labels, cfg.val_fraction, cfg.seed)
        rhythm = _rhythm_stage(data, d, model, cfg, params, va_idx, holter, nstdb, fit_progress)
    t_rhythm = time.time() - t0 - t_feat - t_train
    demo = _demo_windows(data, [d.windows.names[i] for i in va_idx]) if Path(data).exists() else None
    export.write_model_bundle(
        out,
        model,
        params,
        hist["cloud"],
        val,
        cfg.to_dict(),
        d.data_hash,
        demo_windows=demo,
        rhythm=rhythm,
        extra={
            "training": {
                "records": len(d.windows.names),
                "windows": int(len(d.windows.record)),
                "source": d.source,
                "preprocess": dataset.PREPROCESS_VERSION,
                "aggregation": "record probs = softmax(mean over windows of log p); windows at hop "
                f"{dataset.EVAL_HOP} covering the record end (dataset.eval_windows)",
                "temperature": hist["temperature"],
                "supcon_loss": hist["supcon_loss"],
                "vae_loss": hist["vae_loss"],
                "seconds_features": round(t_feat, 1),
                "seconds_training": round(t_train, 1),
                "seconds_rhythm": round(t_rhythm, 1),
                "rhythm": rhythm[3] if rhythm else "no rhythm head (cfg.rhythm off or no Holter records)",
                "device": device,
            }
        },
    )
    console.print(metrics_table(f"validation ({len(va_idx)} records)", val))
    ltafdb = rhythm_stage_folder(data, "ltafdb")
    if ltafdb is not None and quick:
        console.print("--quick: no RR rhythm model (`dacl-train rr --bundle OUT` adds one)")
    elif ltafdb is not None:  # the RR rhythm model from LTAFDB (+ MIT-BIH) beats, into the same bundle
        from training.cli_rhythm import DEFAULT_CACHE, add_rr_model

        add_rr_model(out, ltafdb, holter or rhythm_stage_folder(data, "mitdb"), DEFAULT_CACHE, 5, cfg.seed,
                     nstdb or rhythm_stage_folder(data, "nstdb"))  # and the alarm's fusion on MIT-BIH
    if not quick and Path(data).is_dir():  # the record head on the bundle just written
        from training import record_stage

        with progress_bars() as prog:
            record_stage.train_record_stage(out, data, data_hash=d.data_hash, progress=stage_reporter(prog))
    console.print(
        f"bundle written to {out} in {time.time() - t0:.0f} s "
        f"(features {t_feat:.0f} s, training {t_train:.0f} s)"
    )


DEFAULT_BUNDLE = Path("engines/default")


def record(
    data: Annotated[Path, typer.Option(help="WFDB folder with REFERENCE-v3.csv/REFERENCE.csv")],
    model: Annotated[Path, typer.Option(help="bundle to add the record head to")] = DEFAULT_BUNDLE,
    cv_windows: Annotated[Path | None, typer.Option(
        help="`dacl-train cv --windows` output: cross-validate the head and its ablation on its folds",
    )] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="write the head's manifest block")] = None,
) -> None:
    """Fit the record head (whole-record class from beats, median beat and DACL windows) into a bundle."""
    from training import record_stage

    t0 = time.time()
    with progress_bars() as prog:
        report = stage_reporter(prog)
        try:
            block = record_stage.train_record_stage(model, data, cv_windows=cv_windows, progress=report)
        except (FileNotFoundError, ValueError) as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(1) from exc
    if block.get("cv"):
        table = Table(title="record head, cross-validated on the DACL CV folds (mean ± sd)")
        for col in ("inputs", "AF AUROC", "macro AUROC", "challenge F1"):
            table.add_column(col)
        for name, s in block["cv"].items():
            if not isinstance(s, dict):
                continue
            table.add_row(name, *(f"{s[k]:.4f} ± {s[k + '_std']:.4f}" for k in
                                  ("auroc_af", "auroc_macro", "f1_challenge")))
        console.print(table)
    console.print(f"record head written to {model} in {time.time() - t0:.0f} s")
    if json_out is not None:
        json_out.write_text(json.dumps(block, indent=1))


def rhythm_stage_folder(data: Path, name: str) -> Path | None:
    """`name`/ beside the training data folder, when it is there (rhythm_stage.default_folder)."""
    from training import rhythm_stage

    return rhythm_stage.default_folder(data, name) if Path(data).is_dir() else None


def cv(
    data: Annotated[
        Path, typer.Option(help="WFDB folder with REFERENCE-v3.csv/REFERENCE.csv, or a `pack` .npz")
    ],
    folds: Annotated[int, typer.Option(help="stratified folds over records")] = 5,
    config: Annotated[Path | None, typer.Option(help="JSON file overriding TrainConfig defaults")] = None,
    device: Annotated[str, typer.Option(help="cpu or cuda")] = "cpu",
    quick: Annotated[bool, typer.Option(help="small test configuration")] = False,
    json_out: Annotated[Path | None, typer.Option("--json", help="write per-fold metrics here")] = None,
    windows: Annotated[Path | None, typer.Option(
        help="save each fold's window probabilities of its held-out and calibration records (.npz)",
    )] = None,
) -> None:
    """Cross-validate the `run` configuration on DATA: the model-selection estimate, no bundle written."""
    from training import pipeline

    if folds < 2:
        raise typer.BadParameter(f"--folds {folds}: need at least 2", param_hint="--folds")
    t0 = time.time()
    cfg = TrainConfig.quick() if quick else TrainConfig()
    if config is not None:
        cfg = TrainConfig.from_file(config, cfg)
    cfg.device = device
    with progress_bars() as prog:
        report = stage_reporter(prog, {"features": prog.add_task("features", total=1)})

        d = pipeline.load_data(data, cfg, None, lambda n, t: report("features", n, t), device=device)
        result = pipeline.cross_validate(d, cfg, folds, report, windows)
    s = result["summary"]
    table = Table(title=f"{folds}-fold cross-validation ({len(d.windows.names)} records)")
    table.add_column("metric")
    table.add_column("mean ± std", justify="right")
    for key in ("auroc_af", "auroc_macro", "f1_challenge", "accuracy"):
        table.add_row(key, f"{s[key]:.4f} ± {s[key + '_std']:.4f}")
    console.print(table)
    console.print(f"cross-validation took {time.time() - t0:.0f} s")
    if json_out is not None:
        result.update(config=cfg.to_dict(), data_hash=d.data_hash, seconds=round(time.time() - t0, 1))
        json_out.write_text(json.dumps(result, indent=1))


def _rhythm_stage(data: Path, d, model, cfg: TrainConfig, params, va_idx, holter: Path | None,
                  nstdb: Path | None, progress) -> tuple | None:
    """The rhythm head on the validation records + Holter records, or None when it cannot be trained."""
    from training import rhythm_stage

    holter = holter or rhythm_stage_folder(data, "mitdb")
    if not cfg.rhythm or holter is None or d.loader is None:
        log.warning("no rhythm head: %s", "cfg.rhythm is off" if not cfg.rhythm else
                    "no Holter folder (--holter)" if holter is None else "no raw records to window")
        return None
    nstdb = nstdb or rhythm_stage.default_folder(data, "nstdb")
    cinc = [(d.windows.names[i], int(d.windows.labels[i]), d.loader(d.windows.names[i])) for i in va_idx]
    return rhythm_stage.train_rhythm_head(model, params, cinc, holter, nstdb, cfg.seed,
                                          cfg.noise_tilde_below_db, progress, cfg.holter_records,
                                          cfg.holter_minutes)


def _demo_windows(data: Path, val_names: list[str]) -> np.ndarray | None:
    """A few real normalised windows of validation records, shipped for engine verification."""
    try:
        if Path(data).is_file():
            from training.pack import PackedRecords

            load = PackedRecords(data).load
        else:

            def load(name: str) -> np.ndarray:
                return dataset.load_record(data, name)

        wins = [
            dataset.cut_windows(x, dataset.window_starts(len(x), dataset.WINDOW)[:1])
            for x in (load(n) for n in val_names[:8])
        ]
        return np.concatenate(wins)
    except (OSError, ValueError) as err:  # demo windows are a convenience; a bundle is valid without them
        log.warning("no demo windows: %s", err)
        return None


def pack(
    data: Annotated[Path, typer.Option(help="WFDB folder with a label CSV")],
    out: Annotated[Path, typer.Option(help="output .npz")],
) -> None:
    """Pack a labelled WFDB folder into one .npz so `run --data PACK` works without wfdb (GPU hosts)."""
    from training.pack import pack_folder

    with progress_bars() as prog:
        task = prog.add_task("records", total=1)
        pack_folder(data, out, lambda d, n: prog.update(task, completed=d, total=n))
    console.print(f"packed {data} into {out} ({out.stat().st_size / 1e6:.1f} MB)")
