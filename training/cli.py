"""`dacl-train`: train and export a DACL bundle, evaluate it on a labelled folder, build/verify engines."""

from __future__ import annotations

import csv
import json
import logging
import time
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from training import dataset, distributed, evaluate
from training.config import TrainConfig

app = typer.Typer(add_completion=False, help="DACL training, evaluation and engine tools.")
console = Console()
log = logging.getLogger("dacl-train")


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description:<12}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
        disable=not distributed.is_main(),  # under torchrun rank 0 alone shows progress
    )


def _metrics_table(title: str, m: dict) -> Table:
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in ("n_records", "auroc_af", "auroc_macro", "f1_challenge", "accuracy"):
        if key in m:
            table.add_row(key, f"{m[key]:.4f}" if isinstance(m[key], float) else str(m[key]))
    for code, f1 in m.get("f1_per_class", {}).items():
        table.add_row(f"F1 {code}", f"{f1:.4f}")
    return table


@app.command()
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
    with _progress() as prog:
        task = prog.add_task("features", total=1)

        def feat_progress(done: int, total: int) -> None:
            prog.update(task, completed=done, total=total)

        d = pipeline.load_data_ranked(data, cfg, features_cache, feat_progress, device=device)
        prog.update(task, completed=1, total=1)
        t_feat = time.time() - t0
        tasks: dict[str, int] = {}

        def fit_progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = prog.add_task(stage, total=total)
            prog.update(tasks[stage], completed=done, total=total)

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
    console.print(_metrics_table(f"validation ({len(va_idx)} records)", val))
    console.print(
        f"bundle written to {out} in {time.time() - t0:.0f} s "
        f"(features {t_feat:.0f} s, training {t_train:.0f} s)"
    )


@app.command()
def cv(
    data: Annotated[
        Path, typer.Option(help="WFDB folder with REFERENCE-v3.csv/REFERENCE.csv, or a `pack` .npz")
    ],
    folds: Annotated[int, typer.Option(help="stratified folds over records")] = 5,
    config: Annotated[Path | None, typer.Option(help="JSON file overriding TrainConfig defaults")] = None,
    device: Annotated[str, typer.Option(help="cpu or cuda")] = "cpu",
    quick: Annotated[bool, typer.Option(help="small test configuration")] = False,
    json_out: Annotated[Path | None, typer.Option("--json", help="write per-fold metrics here")] = None,
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
    with _progress() as prog:
        tasks: dict[str, int] = {"features": prog.add_task("features", total=1)}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = prog.add_task(stage, total=total)
            prog.update(tasks[stage], completed=done, total=total)

        d = pipeline.load_data(data, cfg, None, lambda n, t: report("features", n, t), device=device)
        result = pipeline.cross_validate(d, cfg, folds, report)
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

    holter = holter or (rhythm_stage.default_folder(data, "mitdb") if Path(data).is_dir() else None)
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


def predict_folder(data: Path, model: Path, backend: str = "onnxruntime", progress=None):
    """Run a bundle through the engine runtime on every record of DATA: (records, probs (R, 4)).

    Records are preprocessed, windowed and normalised by the bundle's own contract (engines.contract).
    """
    from engines.backend_onnxruntime import onnxruntime_pipeline
    from engines.bundle import load_bundle
    from engines.contract import ModelContract

    bundle = load_bundle(model)
    contract = ModelContract.from_manifest(bundle.manifest, f"bundle {bundle.path}")
    engine = onnxruntime_pipeline(bundle, "cpu")
    records = dataset.list_records(data)
    probs = evaluate.score_records(
        lambda w: engine.run(w)["probs"],
        lambda name: dataset.load_record(data, name, contract=contract),
        [r.name for r in records],
        contract.window,
        progress,
        contract.std_floor_mv,
    )
    engine.close()
    return records, probs


@app.command("evaluate")
def evaluate_cmd(
    data: Annotated[
        Path | None, typer.Option(help="WFDB folder (labels: REFERENCE-v3.csv or REFERENCE.csv, if any)")
    ] = None,
    model: Annotated[Path, typer.Option(help="bundle folder")] = Path("engines/default"),
    json_out: Annotated[Path | None, typer.Option("--json", help="write metrics here")] = None,
    predictions: Annotated[Path | None, typer.Option(help="write record,label,p_N,p_A,p_O,p_~ here")] = None,
    holter: Annotated[
        Path | None, typer.Option(help="folder of Holter records with .atr: EC57 AF scores of the alarms")
    ] = None,
) -> None:
    """Evaluate a bundle with the ONNX Runtime engines: record classes and AF alarms.

    --data: every record's class probabilities (windows at hop W/4) and, with labels, the CinC metrics;
    --holter: the monitor's AF alarms (rhythm head, episode settings) scored by EC57 rules.
    """
    if data is None and holter is None:
        raise typer.BadParameter("give --data (classified records), --holter (annotated Holter records) "
                                 "or both")
    m: dict = {}
    if data is not None:
        m = _evaluate_records(data, model, predictions)
    if holter is not None:
        try:
            with _progress() as prog:
                task = prog.add_task("Holter", total=1)
                h = evaluate.holter_scores(model, holter,
                                           progress=lambda d, n: prog.update(task, completed=d, total=n))
        except (FileNotFoundError, ValueError) as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(1) from exc
        console.print(_ec57_table(f"{model} AF alarms on {holter} (EC57, flutter not AF)", h["gross"]))
        m["holter"] = h
    if json_out is not None:
        json_out.write_text(json.dumps(m, indent=1))


def _ec57_table(title: str, g: dict) -> Table:
    table = Table(title=title)
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key in ("episode_se", "episode_se_30s", "episode_ppv", "duration_se", "duration_ppv",
                "false_alarms_per_hour", "records", "records_without_af"):
        v = g.get(key)
        table.add_row(key, "—" if v is None else f"{v:.4f}" if isinstance(v, float) else str(v))
    return table


def _evaluate_records(data: Path, model: Path, predictions: Path | None) -> dict:
    with _progress() as prog:
        task = prog.add_task("records", total=1)
        records, probs = predict_folder(
            data, model, progress=lambda d, n: prog.update(task, completed=d, total=n)
        )
    if predictions is not None:
        with predictions.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["record", "label", *[f"p_{c}" for c in dataset.CLASSES]])
            for r, p in zip(records, probs, strict=True):
                w.writerow(
                    [r.name, dataset.CLASSES[r.label] if r.label >= 0 else "", *[f"{v:.6f}" for v in p]]
                )
    labels = np.array([r.label for r in records])
    if (labels >= 0).all():
        m = evaluate.metrics(labels, probs)
        console.print(_metrics_table(f"{model} on {data}", m))
    else:
        m = {"n_records": len(records), "note": "no labels: predictions only"}
        console.print(f"{len(records)} records predicted (no label CSV, so no metrics)")
    return m


@app.command()
def pack(
    data: Annotated[Path, typer.Option(help="WFDB folder with a label CSV")],
    out: Annotated[Path, typer.Option(help="output .npz")],
) -> None:
    """Pack a labelled WFDB folder into one .npz so `run --data PACK` works without wfdb (GPU hosts)."""
    from training.pack import pack_folder

    with _progress() as prog:
        task = prog.add_task("records", total=1)
        pack_folder(data, out, lambda d, n: prog.update(task, completed=d, total=n))
    console.print(f"packed {data} into {out} ({out.stat().st_size / 1e6:.1f} MB)")


@app.command("build-engines")
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


@app.command("verify-engines")
def verify_engines_cmd(
    model: Annotated[Path, typer.Option(help="bundle folder")] = Path("engines/default"),
    precision: Annotated[str, typer.Option(help="TensorRT precision to verify")] = "fp16",
    triton_url: Annotated[str | None, typer.Option(help="also verify a Triton server (HOST:PORT)")] = None,
    triton_model: Annotated[str, typer.Option(help="model name on the Triton server")] = "dacl",
) -> None:
    """Run every backend on the same windows and compare with the PyTorch reference (engines.tools)."""
    from engines.bundle_spec import BundleError
    from engines.tools import verify_engines

    triton = {"url": triton_url, "model": triton_model} if triton_url else None
    try:
        verify_engines(model, precision=precision, console=console, triton=triton)
    except BundleError as err:
        console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(1) from None


@app.command("export-triton")
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


def main() -> None:
    """Console-script entry point."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app()


if __name__ == "__main__":
    main()
