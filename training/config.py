"""The training configuration: one dataclass, every default explained, loadable from a JSON file."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path


@dataclass
class TrainConfig:
    """Everything a `dacl-train run` depends on besides the data (recorded in the bundle manifest)."""

    seed: int = 0  # seeds the split, crops, initialisation, sampling and noise: same seed, same model on CPU
    val_fraction: float = 0.15  # stratified validation split used for calibration and the reported metrics
    max_records: int = 0  # >0: use a stratified subset of this many records (the --quick config)
    # scattering (shared contract; changing them needs evidence and a matching scattering graph)
    # J=5: frames of 2**5 = 32 samples (0.107 s), F = 64, so beat timing (RR irregularity) reaches the
    # encoder. One stratified validation split: J=8 (T=256, F=8) AF AUROC 0.910 on training-layout
    # windows; scored on eval windows (hop 512), J=8 with T=32 AF 0.980, macro 0.876, F1 0.752 and J=5
    # AF 0.977, macro 0.898, F1 0.773, with 84 instead of 234 paths (a smaller, faster graph).
    J: int = 5
    Q: tuple[int, int] = (8, 1)  # wavelets per octave, orders 1 and 2
    T: int | None = None  # None → 2**J (kymatio's default)
    # training windows at 3/4 overlap: four times the distinct crops of hop 2048 for the same optimiser steps
    # (epochs cut to match). 5-fold CV against hop 1024 with 6 epochs: AF AUROC 0.975 vs 0.972, macro
    # AUROC 0.923 vs 0.907, challenge F1 0.756 vs 0.739 (macro and F1 up on every fold). Hop 1024 had beaten
    # hop 2048 the same way; the encoder overfits (training records' AF AUROC 0.998), so crops help
    hop: int = 512
    crop_seed: int = 0  # random window phase in [0, hop) per record, a fixed crop per cache
    # VAE on normalised ST features
    vae_latent: int = 32  # latent channels Z (latent is Z × F frames)
    vae_hidden: int = 128  # hidden channels of the VAE's convolutions
    vae_epochs: int = 3  # passes over the training windows (hop 512: ~1,000 steps of 256)
    vae_beta: float = 1e-3  # KL weight: small, so z0 keeps the class information of the features
    vae_lr: float = 2e-3  # AdamW learning rate
    # diffusion views
    views: str = "diffusion"  # "diffusion" (DACL), "gaussian" (ablation) or "none" (clean z0 twice)
    schedule: str = "linear"  # DDPM beta schedule: "linear" or "cosine"
    diffusion_steps: int = 1000  # T of the schedule
    t_min: int = 1  # smallest step drawn for a view
    t_max: int = 100  # largest step drawn: early steps (mild noise) worked best in the paper's later version
    n_views: int = 2  # views per window and batch (each a different random t)
    gaussian_sigma: float = 0.3  # σ of the Gaussian-noise ablation's views
    # noise augmentation: one noisy copy of each training record (white, baseline wander or electrode-motion
    # noise of benchmarks/noise_robustness.py added to the raw lead before preprocessing), windows at
    # noise_hop, never in calibration or validation. Copies below noise_tilde_below_db are labelled noisy (~).
    # Without it the model called white noise at 5 dB "AF" (hop 1024) or "Other" (hop 512) on nearly every
    # record; with it, 400 validation records under white noise at 5 dB: AF AUROC 0.896 (was 0.608), F1
    # 0.610 (0.168). Clean CV folds 0-1: AF +0.004 / +0.001, macro +0.006 / -0.002, F1 +0.001 / -0.002
    noise_copies: bool = True
    noise_hop: int = 2048  # a quarter of the clean windows at hop 512
    noise_snr_db: tuple[float, float] = (-6.0, 20.0)  # SNR drawn uniformly per copy
    noise_tilde_below_db: float = -3.0
    # encoder + SupCon
    enc_width: int = 32  # U-Net channels at L (doubled at L/2, L/4); 64 was 10x slower per step on CPU
    embed_dim: int = 64  # embedding size D
    enc_epochs: int = 3  # passes over the training windows (hop 512: ~1,000 SupCon steps)
    batch: int = 256  # windows per SupCon batch (× n_views views)
    lr: float = 2e-3  # AdamW learning rate (cosine-decayed)
    # AdamW weight decay of the encoder; 0.05 (was 1e-4) against overfitting. Paired on CV folds 0-1
    # against 1e-4: challenge F1 +0.011 / +0.005, macro AUROC +0.006 / -0.004, AF AUROC +0.001 / +0.002
    weight_decay: float = 0.05
    temperature: float = 0.1  # SupCon temperature τ
    balanced_sampling: bool = True  # draw SupCon batches class-balanced (AF and noise are rare)
    # head
    head_hidden: int = 64  # 0: linear head; >0: one hidden layer of this width
    head_steps: int = 1500  # AdamW steps of the head on frozen embeddings (class-weighted CE)
    head_lr: float = 3e-3  # its learning rate
    # CE class weights = (inverse class frequency) ** this. Full inverse-frequency weights (1.0) cost
    # macro AUROC: heads refitted on the same frozen embeddings of CV folds 0-1 gave macro AUROC
    # 0.903 / 0.901 / 0.897 / 0.887 and challenge F1 0.728 / 0.734 / 0.738 / 0.730 for 0 / 0.25 / 0.5 / 1
    head_weight_power: float = 0.25
    # rhythm head (training/rhythm_stage.py): RR context + annotated Holter records, after the encoder
    rhythm: bool = True  # train it when a Holter folder is available (--holter, default ../mitdb)
    holter_records: int = 0  # >0: only the first records of the Holter folder (quick config, tests)
    holter_minutes: float = 0.0  # >0: only the first minutes of each Holter record
    # projection
    cloud_per_class: int = 150  # reference-cloud points per class in the manifest
    device: str = "cpu"  # "cpu" or "cuda"
    threads: int = 2  # torch CPU threads (the machine is shared)
    extra: dict = field(default_factory=dict)  # free-form notes carried into the manifest

    @classmethod
    def quick(cls) -> TrainConfig:
        """A small configuration for tests: 160 records, short schedules (< 60 s on 2 cores)."""
        return cls(
            max_records=160,
            hop=1024,  # half the windows of the full run's hop: keeps the quick run short
            vae_epochs=4,
            enc_epochs=4,
            head_steps=300,
            batch=128,
            enc_width=32,
            embed_dim=32,
            vae_hidden=64,
            cloud_per_class=30,
            holter_records=2,
            holter_minutes=7.0,
        )

    @classmethod
    def from_file(cls, path: Path, base: TrainConfig | None = None) -> TrainConfig:
        """Override `base` (default: the defaults) with the keys of a JSON file; unknown keys are an error."""
        data = json.loads(Path(path).read_text())
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"config file {path}: unknown keys {unknown}; known keys are {sorted(names)}")
        cfg = asdict(base or cls())
        cfg.update(data)
        cfg["Q"] = tuple(cfg["Q"])
        cfg["noise_snr_db"] = tuple(cfg["noise_snr_db"])
        return cls(**cfg)

    def to_dict(self) -> dict:
        """JSON-ready form, for the manifest."""
        d = asdict(self)
        d["Q"] = list(self.Q)
        d["noise_snr_db"] = list(self.noise_snr_db)
        return d
