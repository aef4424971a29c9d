"""Ablations and noise robustness of DACL by stratified K-fold cross-validation on CinC 2017.

Rows: ST features + logistic regression; VAE latent + linear probe; SupCon with Gaussian-noise views;
SupCon with clean views (no augmentation); full DACL (diffusion views) at several t ranges. Every model
gives window probabilities that are aggregated per record (softmax of the mean window log-probability)
and scored on the held-out fold. Noise robustness: the held-out records get additive white noise,
baseline wander or electrode-motion-like bursts at SNR 20, 10, 5, 0 dB (relative to the record's own
power) before preprocessing; AUROCs are recomputed on the same models.

    python benchmarks/ablation.py --data ../shared/data/cinc2017 --json ablation.json \
        [--folds 5] [--device cuda]

--data may also be a pack from `dacl-train pack` (hosts without wfdb). Runs on CUDA when --device cuda.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import time
from pathlib import Path

if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)  # benchmarks/engines.py would shadow the engines package

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from training import dataset, evaluate, features, pipeline, train  # noqa: E402
from training.config import TrainConfig  # noqa: E402
from training.noise import add_noise  # noqa: E402
from training.vae import FeatureVAE, train_vae  # noqa: E402

log = logging.getLogger("ablation")
SNRS = (20, 10, 5, 0)
NOISES = ("white", "baseline_wander", "electrode_motion")


def noisy_windows(sig_mv: np.ndarray, fs: float, kind: str | None, snr_db: float, rng) -> np.ndarray:
    """Evaluation windows (hop W, covering the end) of a record, noise added before preprocessing."""
    y = dataset.preprocess_signal(add_noise(sig_mv, fs, kind, snr_db, rng), fs)
    return dataset.cut_windows(y, dataset.window_starts(len(y), dataset.WINDOW, 0, cover_end=True))


_LOADER = None  # set before forking the noise workers: name -> (lead in mV, fs)


def _noisy_record(job: tuple[str, str | None, float | None, int]) -> np.ndarray:
    name, kind, snr, seed = job
    return noisy_windows(*_LOADER(name), kind, snr, np.random.default_rng(seed))


def fit_probe(
    x: torch.Tensor, y: torch.Tensor, device: str, steps: int = 400, wd: float = 1e-3
) -> torch.nn.Linear:
    """Class-weighted multinomial logistic regression (a linear probe), full batch, AdamW."""
    torch.manual_seed(0)
    lin = torch.nn.Linear(x.shape[1], len(dataset.CLASSES)).to(device)
    w = torch.as_tensor(dataset.class_weights(y.numpy()), device=device)
    xd, yd = x.to(device), y.to(device)
    opt = torch.optim.AdamW(lin.parameters(), lr=1e-2, weight_decay=wd)
    for _ in range(steps):
        loss = F.cross_entropy(lin(xd), yd, weight=w)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return lin.cpu().eval()


class StProbe:
    """ST features (normalised, flattened) + logistic regression."""

    def __init__(self, tr: features.WindowSet, cfg: TrainConfig) -> None:
        x = features.st_features(tr.scattering)
        self.mean, self.std = x.mean((0, 2), keepdim=True), x.std((0, 2), keepdim=True).clamp(min=1e-3)
        self.lin = fit_probe(
            ((x - self.mean) / self.std).flatten(1), torch.as_tensor(tr.window_labels), cfg.device
        )

    @torch.no_grad()
    def probs(self, scattering: np.ndarray) -> np.ndarray:
        x = (features.st_features(scattering) - self.mean) / self.std
        return torch.softmax(self.lin(x.flatten(1)), 1).numpy()


class VaeProbe:
    """VAE posterior mean z0 (flattened) + logistic regression."""

    def __init__(self, tr: features.WindowSet, cfg: TrainConfig) -> None:
        torch.manual_seed(cfg.seed)
        gen = torch.Generator().manual_seed(cfg.seed)
        x = features.st_features(tr.scattering)
        self.mean, self.std = x.mean((0, 2), keepdim=True), x.std((0, 2), keepdim=True).clamp(min=1e-3)
        xn = ((x - self.mean) / self.std).to(cfg.device)
        self.vae = FeatureVAE(x.shape[1], cfg.vae_latent, cfg.vae_hidden).to(cfg.device)
        train_vae(self.vae, xn, cfg.vae_epochs, cfg.batch, cfg.vae_lr, cfg.vae_beta, gen)
        self.vae = self.vae.cpu().eval()
        with torch.no_grad():
            z = torch.cat([self.vae(xn[i : i + 4096].cpu()) for i in range(0, len(xn), 4096)])
        self.lin = fit_probe(z.flatten(1), torch.as_tensor(tr.window_labels), cfg.device)

    @torch.no_grad()
    def probs(self, scattering: np.ndarray) -> np.ndarray:
        x = (features.st_features(scattering) - self.mean) / self.std
        return torch.softmax(self.lin(self.vae(x).flatten(1)), 1).numpy()


class DaclVariant:
    """A full fit() with the given config (diffusion, Gaussian or clean views)."""

    def __init__(self, tr: features.WindowSet, cfg: TrainConfig) -> None:
        a, b = dataset.stratified_split(tr.labels, cfg.val_fraction, cfg.seed)
        self.model, _ = train.fit(tr.subset(a), tr.subset(b), cfg)

    def probs(self, scattering: np.ndarray) -> np.ndarray:
        return train.predict_windows(self.model, scattering)["probs"]


def variants(base: TrainConfig, t_maxes: list[int]) -> dict:
    """Name → (model class, config) of every row."""
    from dataclasses import replace

    rows = {
        "st_logreg": (StProbe, base),
        "vae_linear_probe": (VaeProbe, base),
        "supcon_gaussian_views": (DaclVariant, replace(base, views="gaussian")),
        "supcon_clean_views": (DaclVariant, replace(base, views="none")),
    }
    for t in t_maxes:
        rows[f"dacl_t1-{t}"] = (DaclVariant, replace(base, views="diffusion", t_max=t))
    return rows


def scatter_windows(windows: np.ndarray, scat, device: str) -> np.ndarray:
    """Scattering (K, P, F) of normalised windows on the device."""
    out = []
    with torch.no_grad():
        for i in range(0, len(windows), 1024):
            out.append(scat(torch.from_numpy(windows[i : i + 1024]).to(device)).cpu().numpy())
    return np.concatenate(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--json", type=Path, required=True)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--config", type=Path, default=None)
    ap.add_argument("--t-max", type=int, nargs="*", default=[20, 100, 500])
    ap.add_argument("--max-records", type=int, default=0, help="stratified subset (0: all)")
    ap.add_argument("--noise-folds", type=int, default=None, help="folds with the noise test (default: all)")
    ap.add_argument("--features-cache", type=Path, default=None)
    ap.add_argument("--workers", type=int, default=2, help="processes preparing the noisy windows")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    base = TrainConfig.from_file(args.config) if args.config else TrainConfig()
    base.device, base.max_records = args.device, args.max_records
    t_start = time.time()
    data = pipeline.load_data(args.data, base, args.features_cache, device=args.device)
    ws = data.windows
    loader = None
    if args.data.is_file():
        from training.pack import PackedRecords

        packed = PackedRecords(args.data)
        loader = packed.signal
    elif args.data.is_dir():
        import wfdb

        def loader(name: str) -> tuple[np.ndarray, float]:
            rec = wfdb.rdrecord(str(args.data / name), channels=[0])
            return np.nan_to_num(rec.p_signal[:, 0]), float(rec.fs)

    scat = features.make_scattering(pipeline.params_of(base)).eval().to(args.device)
    rows = variants(base, args.t_max)
    results: dict = {
        "machine": platform.node(),
        "device": args.device,
        "torch": torch.__version__,
        "folds": args.folds,
        "records": len(ws.names),
        "windows": len(ws.record),
        "gpu": torch.cuda.get_device_name() if args.device == "cuda" else None,
        "config": base.to_dict(),
        "cv": {k: [] for k in rows},
        "noise": {k: {} for k in rows},
    }
    noise_folds = args.folds if args.noise_folds is None else args.noise_folds
    for fold, (tr_idx, te_idx) in enumerate(dataset.stratified_folds(ws.labels, args.folds, base.seed)):
        tr, te = ws.subset(tr_idx), ws.subset(te_idx)
        noisy = {}
        if (
            loader is not None and fold < noise_folds
        ):  # evaluation windows of the held-out records, per condition
            global _LOADER
            _LOADER = loader
            import multiprocessing as mp

            with mp.get_context("fork").Pool(args.workers) as pool:
                for c, (kind, snr) in enumerate([(None, None)] + [(k, s) for k in NOISES for s in SNRS]):
                    jobs = [
                        (name, kind, snr, 1000003 * fold + 1009 * c + j) for j, name in enumerate(te.names)
                    ]
                    wins = pool.map(_noisy_record, jobs, chunksize=32)
                    rec = np.concatenate([np.full(len(w), j) for j, w in enumerate(wins)])
                    noisy[(kind, snr)] = (scatter_windows(np.concatenate(wins), scat, args.device), rec)
            log.info("fold %d: noisy evaluation windows ready", fold)
        for name, (cls, cfg) in rows.items():
            t0 = time.time()
            model = cls(tr, cfg)
            p = evaluate.aggregate_records(model.probs(te.scattering), te.record, len(te.names))
            m = evaluate.metrics(te.labels, p)
            m["fit_s"] = time.time() - t0
            results["cv"][name].append(m)
            for (kind, snr), (s, rec) in noisy.items():
                pn = evaluate.aggregate_records(model.probs(s), rec, len(te.names))
                mn = evaluate.metrics(te.labels, pn)
                key = "clean" if kind is None else f"{kind}@{snr}dB"
                results["noise"][name].setdefault(key, []).append(
                    {k: mn[k] for k in ("auroc_af", "auroc_macro", "f1_challenge")}
                )
            log.info(
                "fold %d %s: AF %.4f macro %.4f F1 %.4f (%.0f s)",
                fold,
                name,
                m["auroc_af"],
                m["auroc_macro"],
                m["f1_challenge"],
                m["fit_s"],
            )
            results["summary"] = {k: evaluate.mean_metrics(v) for k, v in results["cv"].items() if v}
            results["elapsed_s"] = time.time() - t_start
            args.json.write_text(json.dumps(results, indent=1))
    print(markdown(results))


def markdown(results: dict) -> str:
    """The README table: CV mean ± std per row, then mean AUROC (macro) under each noise condition."""
    lines = [
        f"Cross-validation: {results['folds']} stratified folds, {results['records']} records "
        f"({results['device']}{', ' + results['gpu'] if results.get('gpu') else ''}).",
        "",
        "| model | AF AUROC | macro AUROC | challenge F1 | accuracy |",
        "|---|---|---|---|---|",
    ]
    for name, s in results["summary"].items():
        lines.append(
            f"| {name} | {s['auroc_af']:.4f} ± {s['auroc_af_std']:.4f} | {s['auroc_macro']:.4f} ± "
            f"{s['auroc_macro_std']:.4f} | {s['f1_challenge']:.4f} ± {s['f1_challenge_std']:.4f} | "
            f"{s['accuracy']:.4f} |"
        )
    order = ["clean"] + [f"{k}@{s}dB" for k in NOISES for s in SNRS]
    present = {c for v in results["noise"].values() for c in v}
    conds = [c for c in order if c in present]
    if conds:
        lines += [
            "",
            "Macro AUROC under noise (added before preprocessing):",
            "",
            "| model | " + " | ".join(conds) + " |",
            "|---" * (len(conds) + 1) + "|",
        ]
        for name, v in results["noise"].items():
            cells = [f"{np.mean([x['auroc_macro'] for x in v[c]]):.4f}" if c in v else "" for c in conds]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
