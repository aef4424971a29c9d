"""`dacl-train evaluate`: a bundle's record classes on a labelled folder, its AF alarms on Holter records."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.table import Table

from training import dataset, evaluate
from training.cli_console import console, metrics_table, progress_bars


def predict_folder(data: Path, model: Path, backend: str = "onnxruntime", progress=None,
                   use_head: bool = True):
    """Run a bundle through the engine runtime on every record of DATA: (records, probs (R, 4), mean (R, 4)).

    Records are preprocessed, windowed and normalised by the bundle's own contract (engines.contract).
    probs are the record head's (core.record_head) when the bundle has one and use_head, else the
    windows' geometric mean; mean is always the geometric mean of the windows (the DACL score alone).
    """
    from core.record_features import record_features
    from engines.bundle import load_bundle

    bundle = load_bundle(model)
    head = None
    if use_head and bundle.record_head is not None:
        from core.record_head import RecordClassifier

        head = RecordClassifier(bundle)
    records = dataset.list_records(data)
    signals: list[np.ndarray] | None = [] if head is not None else None
    mean, windows = evaluate.bundle_scores(bundle, data, [r.name for r in records], progress, signals)
    if head is None:
        return records, mean, mean
    feats = np.stack([record_features(x, w) for x, w in zip(signals, windows, strict=True)])
    return records, head.engine.run(feats), mean


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
            with progress_bars() as prog:
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
    with progress_bars() as prog:
        task = prog.add_task("records", total=1)
        records, probs, mean = predict_folder(
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
        if probs is not mean:  # the record head decides; the windows' mean alone is the DACL ablation
            m["windows_mean"] = evaluate.metrics(labels, mean)
            console.print(metrics_table(f"{model} on {data}: DACL windows alone (geometric mean)",
                                        m["windows_mean"]))
        console.print(metrics_table(f"{model} on {data}" + (": record head" if probs is not mean else ""), m))
    else:
        m = {"n_records": len(records), "note": "no labels: predictions only"}
        console.print(f"{len(records)} records predicted (no label CSV, so no metrics)")
    return m
