"""The `dacl-train run` pipeline as functions: data → cached windows → split → fit → validation metrics.

`--data` may be a WFDB folder with a label CSV, or a pack made by `dacl-train pack` (for hosts without
wfdb); `features_cache` may name a saved WindowSet (.npz) or a folder of quantised GPU features.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training import dataset, evaluate, features, train
from training.config import TrainConfig
from training.export import DaclModel

log = logging.getLogger(__name__)


@dataclass
class Data:
    """The windows a run trains on and where they came from."""

    windows: features.WindowSet
    data_hash: str
    source: str  # "wfdb", "pack" or "features-cache"


def params_of(cfg: TrainConfig) -> features.ScatteringParams:
    """Scattering parameters of a config."""
    return features.ScatteringParams(J=cfg.J, Q=tuple(cfg.Q), T=cfg.T)


def quick_subset(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Sorted indices of a stratified subset of n records (all when n <= 0 or n >= len)."""
    if n <= 0 or n >= len(labels):
        return np.arange(len(labels))
    from sklearn.model_selection import train_test_split

    idx, _ = train_test_split(np.arange(len(labels)), train_size=n, stratify=labels, random_state=seed)
    return np.sort(idx)


def load_data(
    data: Path, cfg: TrainConfig, features_cache: Path | None = None, progress=None, device: str = "cpu"
) -> Data:
    """Windows for a run, from a features cache, a pack or a WFDB folder (computed and cached on a miss)."""
    data = Path(data)
    if features_cache is not None:
        fc = Path(features_cache)
        ws = features.load_quantized(fc) if fc.is_dir() else features.load_windows(fc)
        digest = f"features-cache:{fc.name}"
        if data.is_dir():  # name the data the cache was made from, after checking it lists the same records
            records = dataset.list_records(data)
            if [r.name for r in records] != ws.names or [r.label for r in records] != list(ws.labels):
                raise ValueError(f"features cache {fc} does not hold the records and labels of {data}")
            digest = dataset.data_hash(data, records)
        keep = quick_subset(ws.labels, cfg.max_records, cfg.seed)
        return Data(ws.subset(keep) if len(keep) < len(ws.labels) else ws, digest, "features-cache")
    if data.is_file():
        from training.pack import PackedRecords

        packed = PackedRecords(data)
        records, loader, digest, source = packed.records, packed.load, packed.data_hash, "pack"
    else:
        records = dataset.list_records(data)
        if any(r.label < 0 for r in records):
            raise ValueError(f"{data}: training needs a label CSV ({' or '.join(dataset.LABEL_FILES)})")
        loader, digest, source = None, None, "wfdb"
    keep = quick_subset(np.array([r.label for r in records]), cfg.max_records, cfg.seed)
    records = [records[i] for i in keep]
    if digest is not None and len(keep) != len(packed.records):
        digest = f"{digest}:subset{len(keep)}:{cfg.seed}"
    ws, digest = features.load_or_compute(
        data,
        records,
        params_of(cfg),
        cfg.hop,
        cfg.crop_seed,
        progress=progress,
        loader=loader,
        digest=digest,
        device=device,
    )
    return Data(ws, digest, source)


def validation_metrics(model: DaclModel, val: features.WindowSet) -> dict:
    """Record-level metrics of the model on validation windows (geometric-mean aggregation)."""
    out = train.predict_windows(model, val.scattering)
    probs = evaluate.aggregate_records(out["probs"], val.record, len(val.names))
    return evaluate.metrics(val.labels, probs)


def run(data: Data, cfg: TrainConfig, progress=train._noop) -> tuple[DaclModel, dict, dict]:
    """Split, fit and validate: (model, history, validation metrics)."""
    tr, va = train.split_windows(data.windows, cfg)
    log.info(
        "training on %d windows of %d records, validating on %d records",
        len(tr.record),
        len(tr.names),
        len(va.names),
    )
    model, hist = train.fit(tr, va, cfg, progress)
    return model, hist, validation_metrics(model, va)
