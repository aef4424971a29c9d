"""The `dacl-train run` pipeline as functions: data → cached windows → split → fit → validation metrics.

`--data` may be a WFDB folder with a label CSV, or a pack made by `dacl-train pack` (for hosts without
wfdb); `features_cache` may name a saved WindowSet (.npz) or a folder of quantised GPU features.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from training import dataset, distributed, evaluate, features, noise, train
from training.config import TrainConfig
from training.export import DaclModel

log = logging.getLogger(__name__)


@dataclass
class Data:
    """The windows a run trains on and where they came from."""

    windows: features.WindowSet
    data_hash: str
    source: str  # "wfdb", "pack" or "features-cache"
    loader: Callable[[str], np.ndarray] | None = None  # record name → preprocessed signal, when available
    noisy: features.WindowSet | None = None  # one noisy copy per record (cfg.noise_copies), same order


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
        loader = (lambda name: dataset.load_record(data, name)) if data.is_dir() else None
        noisy = None
        if cfg.noise_copies and data.is_dir():
            raw = lambda name: dataset.read_lead(data, name)  # noqa: E731
            noisy = noisy_copies(data, [records[i] for i in keep], cfg, raw, digest, progress, device)
        elif cfg.noise_copies:
            log.warning(
                "noise_copies: a features cache without its WFDB folder (--data) has no raw leads to "
                "add noise to; training without noisy copies"
            )
        ws = ws.subset(keep) if len(keep) < len(ws.labels) else ws
        return Data(ws, digest, "features-cache", loader, noisy)
    if data.is_file():
        from training.pack import PackedRecords

        packed = PackedRecords(data)
        records, loader, digest, source = packed.records, packed.load, packed.data_hash, "pack"
        raw = packed.signal
    else:
        records = dataset.list_records(data)
        if any(r.label < 0 for r in records):
            raise ValueError(f"{data}: training needs a label CSV ({' or '.join(dataset.LABEL_FILES)})")
        loader, digest, source = (lambda name: dataset.load_record(data, name)), None, "wfdb"
        raw = lambda name: dataset.read_lead(data, name)  # noqa: E731
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
    noisy = noisy_copies(data, records, cfg, raw, digest, progress, device) if cfg.noise_copies else None
    return Data(ws, digest, source, loader, noisy)


def load_data_ranked(
    data: Path, cfg: TrainConfig, features_cache: Path | None = None, progress=None, device: str = "cpu"
) -> Data:
    """load_data; under torchrun in turns, so that only one process computes each features cache.

    Rank 0 first (it computes and caches the features), then each other node's first rank (a cache hit on
    a shared cache, its own computation otherwise), then the rest (cache hits). Processes computing one
    cache file at the same time would race on its temporary file.
    """
    if not distributed.active():
        return load_data(data, cfg, features_cache, progress, device)
    turn = 0 if distributed.rank() == 0 else 1 if int(os.environ.get("LOCAL_RANK", "0")) == 0 else 2
    d = None
    for phase in range(3):
        if phase == turn:
            d = load_data(data, cfg, features_cache, progress, device)
        distributed.barrier()
    return d


def noise_plan(n: int, cfg: TrainConfig) -> tuple[list[str], np.ndarray]:
    """Noise kind and SNR (dB) of each record's noisy copy, drawn from the seed."""
    rng = np.random.default_rng([cfg.seed, 7])
    kinds = [noise.KINDS[k] for k in rng.integers(0, len(noise.KINDS), n)]
    return kinds, rng.uniform(cfg.noise_snr_db[0], cfg.noise_snr_db[1], n)


def noisy_copies(
    data: Path,
    records: list[dataset.LabelledRecord],
    cfg: TrainConfig,
    raw: Callable[[str], tuple[np.ndarray, float]],
    digest: str,
    progress=None,
    device: str = "cpu",
) -> features.WindowSet:
    """Windows (at cfg.noise_hop) of one noisy copy of every record, in record order, cached like the clean.

    Noise goes onto the raw lead before preprocessing, as in benchmarks/noise_robustness.py; a copy below
    cfg.noise_tilde_below_db is labelled noisy (~), the others keep their record's label.
    """
    kinds, snrs = noise_plan(len(records), cfg)
    tilde = dataset.CLASSES.index("~")
    plan = {r.name: (i, kinds[i], float(snrs[i])) for i, r in enumerate(records)}
    copies = [
        dataset.LabelledRecord(r.name, tilde if snrs[i] < cfg.noise_tilde_below_db else r.label)
        for i, r in enumerate(records)
    ]

    def load(name: str) -> np.ndarray:
        i, kind, snr = plan[name]
        x, fs = raw(name)
        return dataset.preprocess_signal(
            noise.add_noise(x, fs, kind, snr, np.random.default_rng([cfg.seed, i])), fs
        )

    tag = [cfg.seed, list(cfg.noise_snr_db), cfg.noise_tilde_below_db, noise.KINDS]
    ws, _ = features.load_or_compute(
        data,
        copies,
        params_of(cfg),
        cfg.noise_hop,
        cfg.crop_seed + 1,
        progress=progress,
        loader=load,
        digest=f"{digest}:noisy{tag}",
        device=device,
    )
    return ws


def training_sets(
    d: Data, cfg: TrainConfig, record_idx: np.ndarray | None = None
) -> tuple[features.WindowSet, features.WindowSet]:
    """(fit, calibration) windows of some records (default all), split as train.split_windows does.

    The fit set gets the noisy copies of its records when there are any; calibration stays clean.
    """
    sub = d.windows if record_idx is None else d.windows.subset(record_idx)
    fit_idx, cal_idx = dataset.stratified_split(sub.labels, cfg.val_fraction, cfg.seed)
    fit, cal = sub.subset(fit_idx), sub.subset(cal_idx)
    if d.noisy is not None:
        fit = fit.extended(d.noisy.subset(fit_idx if record_idx is None else np.asarray(record_idx)[fit_idx]))
    return fit, cal


def record_probs(
    model: DaclModel,
    params: features.ScatteringParams,
    loader: Callable[[str], np.ndarray],
    names: list[str],
    device: str = "cpu",
    windows_out: list[np.ndarray] | None = None,
) -> np.ndarray:
    """(R, C) record probabilities as `dacl-train evaluate` forms them, with the training modules.

    Windows from dataset.eval_windows of each raw record, aggregated by their geometric mean; scattering
    and model run on `device` (the model is returned to the CPU afterwards).
    """
    scat = features.make_scattering(params).eval().to(device)
    model.to(device)

    def run_windows(windows: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            probs, _, _ = model(features.st_features(scat(torch.from_numpy(windows).to(device))))
            return probs.cpu().numpy()

    try:
        return evaluate.score_records(run_windows, loader, names, params.window, windows_out=windows_out)
    finally:
        model.cpu()


def validation_metrics(
    model: DaclModel,
    val: features.WindowSet,
    params: features.ScatteringParams,
    loader: Callable[[str], np.ndarray] | None,
    device: str = "cpu",
    windows_out: list[np.ndarray] | None = None,
) -> dict:
    """Record-level metrics on validation records, in `evaluate`'s window layout.

    Without raw records (a features cache alone) they fall back to the cached training-layout windows,
    which score lower. `windows_out` collects each record's window probabilities (needs the records).
    """
    if loader is not None:
        probs = record_probs(model, params, loader, val.names, device, windows_out)
        layout = f"eval_windows (hop {dataset.EVAL_HOP}, covering the end)"
    else:
        out = train.predict_windows(model, val.scattering)
        probs = evaluate.aggregate_records(out["probs"], val.record, len(val.names))
        layout = "cached training windows (hop-grid from a random phase)"
    return {**evaluate.metrics(val.labels, probs), "window_layout": layout}


def run(data: Data, cfg: TrainConfig, progress=train._noop) -> tuple[DaclModel, dict, dict]:
    """Split, fit and validate: (model, history, validation metrics)."""
    tr, va = training_sets(data, cfg)
    log.info(
        "training on %d windows of %d records, validating on %d records",
        len(tr.record),
        len(tr.names),
        len(va.names),
    )
    model, hist = train.fit(tr, va, cfg, progress)
    if not distributed.is_main():  # under torchrun rank 0 alone validates and writes the bundle
        return model, hist, {}
    return model, hist, validation_metrics(model, va, params_of(cfg), data.loader, cfg.device)


def cross_validate(data: Data, cfg: TrainConfig, folds: int, progress=train._noop,
                   windows_path: Path | None = None) -> dict:
    """Stratified K-fold over records: per-fold metrics on held-out records and their mean ± std.

    Each fold fits on the other folds, with `run`'s own calibration split inside them. With
    `windows_path`, every fold's window probabilities of its held-out and its calibration records (in
    `evaluate`'s layout) are saved there (npz): the out-of-fold inputs the record head is cross-validated on.
    """
    if windows_path is not None and data.loader is None:
        raise ValueError("saving window probabilities needs the raw records (a WFDB folder or a pack)")
    per_fold, saved = [], {}
    for k, (tr_idx, te_idx) in enumerate(dataset.stratified_folds(data.windows.labels, folds, cfg.seed)):
        log.info("fold %d/%d: %d training records, %d held out", k + 1, folds, len(tr_idx), len(te_idx))
        fit_set, cal_set = training_sets(data, cfg, tr_idx)
        model, _ = train.fit(fit_set, cal_set, cfg, progress)
        test = data.windows.subset(te_idx)
        wins: dict[str, list[np.ndarray]] = {"test": [], "cal": []}
        per_fold.append(validation_metrics(model, test, params_of(cfg), data.loader, cfg.device,
                                           wins["test"] if windows_path is not None else None))
        if windows_path is not None:
            record_probs(model, params_of(cfg), data.loader, cal_set.names, cfg.device, wins["cal"])
            for part, subset in (("test", test), ("cal", cal_set)):
                saved[f"fold{k}_{part}_names"] = np.array(subset.names)
                saved[f"fold{k}_{part}_counts"] = np.array([len(w) for w in wins[part]])
                saved[f"fold{k}_{part}_windows"] = np.concatenate(wins[part])
            np.savez_compressed(windows_path, folds=folds, **saved)
        progress("folds", k + 1, folds)
    return {"folds": per_fold, "summary": evaluate.mean_metrics(per_fold)}
