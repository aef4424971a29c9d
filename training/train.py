"""The DACL training loop, top to bottom: features → VAE → diffusion views → SupCon encoder → head.

`fit` trains on the windows of a set of training records (and calibrates on validation windows); the
result is a DaclModel, the one nn.Module export.py writes into the bundle, so what is measured here is
what ships.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import numpy as np
import torch

from training import dataset, diffusion, distributed, features, head, projection
from training.config import TrainConfig
from training.encoder import UNetEncoder
from training.export import DaclModel
from training.supcon import supcon_loss
from training.vae import FeatureVAE, train_vae

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # (stage, done, total)


def _noop(stage: str, done: int, total: int) -> None:
    pass


def seed_everything(seed: int) -> torch.Generator:
    """Seed torch's global RNG (initialisation, dropout) and return a generator for sampling."""
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def make_views(cfg: TrainConfig):
    """The view generator the config asks for (diffusion for DACL, Gaussian or none for the ablations)."""
    if cfg.views == "diffusion":
        return diffusion.DiffusionViews(cfg.schedule, cfg.diffusion_steps, cfg.t_min, cfg.t_max)
    if cfg.views == "gaussian":
        return diffusion.GaussianViews(cfg.gaussian_sigma)
    if cfg.views == "none":
        return diffusion.GaussianViews(0.0)
    raise ValueError(f"config views={cfg.views!r}: expected 'diffusion', 'gaussian' or 'none'")


def train_encoder(
    enc: UNetEncoder,
    z0: torch.Tensor,
    y: torch.Tensor,
    cfg: TrainConfig,
    gen: torch.Generator,
    progress: Progress,
) -> list[float]:
    """SupCon training of the encoder on views of z0 (N, Z, L); returns the mean loss per epoch."""
    views = make_views(cfg)
    device = z0.device
    counts = torch.bincount(y.cpu(), minlength=len(dataset.CLASSES)).double()
    sample_w = (
        (1.0 / counts.clamp(min=1))[y.cpu()]
        if cfg.balanced_sampling
        else torch.ones(len(y), dtype=torch.float64)
    )
    steps_per_epoch = max(1, len(z0) // cfg.batch)
    total_steps = steps_per_epoch * cfg.enc_epochs
    opt = torch.optim.AdamW(enc.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total_steps) / total_steps))
    )
    history = []
    enc.train()
    batch = min(cfg.batch, len(z0))
    shard = _EncoderShard(enc, batch, cfg.n_views) if distributed.size() > 1 else None
    for epoch in range(cfg.enc_epochs):
        total = 0.0
        for _ in range(steps_per_epoch):
            idx = torch.multinomial(sample_w, batch, replacement=False, generator=gen)
            zb, yb = z0[idx.to(device)].cpu(), y[idx.to(device)]
            zv, t = views.sample(zb, cfg.n_views, gen)
            if shard is None:
                emb = enc(zv.to(device), t.to(device))
                loss = supcon_loss(emb, yb.repeat(cfg.n_views), cfg.temperature)
                scaled = loss
            else:
                loss = shard.loss(zv, t, yb.repeat(cfg.n_views), cfg.temperature)
                scaled = loss * distributed.size()  # DDP averages: undo it, the loss is global already
            opt.zero_grad()
            scaled.backward()
            opt.step()
            sched.step()
            total += loss.item()
        history.append(total / steps_per_epoch)
        progress("encoder", epoch + 1, cfg.enc_epochs)
    if shard is not None:
        shard.close()
    enc.eval()
    return history


class _EncoderShard:
    """One rank's part of a SupCon step: its windows' views through the DDP encoder, the loss on all.

    SupCon compares every embedding of the batch with every other, so the loss of a rank's rows alone is a
    different (smaller-batch) loss; the embeddings are gathered and every rank evaluates the global loss,
    with gradients through its own rows (distributed.gather_views). Dropout masks are drawn for the global
    batch so each window gets the mask it would get in one process.
    """

    def __init__(self, enc: UNetEncoder, batch: int, views: int) -> None:
        if batch < distributed.size():
            raise ValueError(f"a SupCon batch of {batch} windows cannot be split over {distributed.size()} "
                             "ranks")
        self.enc, self.batch, self.views = enc, batch, views
        self.rows = distributed.view_rows(batch, views)
        self.dropout = enc.drop
        enc.drop = distributed.GlobalBatchDropout(self.dropout.p, views * batch, self.rows)
        self.ddp = distributed.data_parallel(enc)

    def loss(self, zv: torch.Tensor, t: torch.Tensor, labels: torch.Tensor, temp: float) -> torch.Tensor:
        """The global batch's SupCon loss; zv, t: views of the global batch (every rank draws them)."""
        device = next(self.enc.parameters()).device
        local = self.ddp(zv[self.rows].to(device), t[self.rows].to(device))
        return supcon_loss(distributed.gather_views(local, self.batch, self.views), labels, temp)

    def close(self) -> None:
        """Hand back the plain encoder: its own dropout again, no DDP hooks (it is exported as is)."""
        self.enc.drop = self.dropout
        del self.ddp


def train_vae_sharded(
    vae: FeatureVAE, x: torch.Tensor, epochs: int, batch: int, lr: float, beta: float, gen: torch.Generator,
    progress=None,
) -> list[float]:
    """vae.train_vae with each batch split over the ranks (same batches, noise and optimiser as one process).

    A rank's loss is the mean over its rows; weighting it by rows·ranks/batch makes DDP's average of the
    ranks' gradients the gradient of the whole batch's mean, also for an uneven last batch.
    """
    model = distributed.data_parallel(_VaeObjective(vae))
    opt = torch.optim.AdamW(vae.parameters(), lr=lr, weight_decay=1e-4)  # as vae.train_vae
    world = distributed.size()
    history = []
    vae.train()
    for epoch in range(epochs):
        perm = torch.randperm(len(x), generator=gen)
        total = 0.0
        for i in range(0, len(x), batch):
            rows = perm[i : i + batch]
            # the reparameterisation noise of the whole batch, from the global RNG as vae.loss draws it
            noise = torch.randn((len(rows), vae.latent_channels, x.shape[2]), dtype=x.dtype, device=x.device)
            lo, hi = distributed.bounds(len(rows))
            weight = (hi - lo) * world / len(rows)
            if hi == lo:  # fewer rows than ranks: a zero-weight row keeps this rank in DDP's all-reduce
                lo, hi, weight = 0, 1, 0.0
            loss = model(x[rows[lo:hi]], noise[lo:hi], beta)
            opt.zero_grad()
            (loss * weight).backward()
            opt.step()
            total += loss.item() * (hi - lo) * (weight > 0)
        history.append(distributed.all_sum(total, x.device) / len(x))
        if progress is not None:
            progress(epoch + 1, epochs)
    vae.eval()
    return history


class _VaeObjective(torch.nn.Module):
    """The VAE's loss as a forward pass, which DDP needs to hook its gradient reduction."""

    def __init__(self, vae: FeatureVAE) -> None:
        super().__init__()
        self.vae = vae

    def forward(self, x: torch.Tensor, noise: torch.Tensor, beta: float) -> torch.Tensor:
        return self.vae.loss(x, beta, noise)[0]


@torch.no_grad()
def _batched(fn, x: torch.Tensor, batch: int = 2048) -> torch.Tensor:
    return torch.cat([fn(x[i : i + batch]) for i in range(0, len(x), batch)])


def fit(
    train: features.WindowSet, val: features.WindowSet | None, cfg: TrainConfig, progress: Progress = _noop
) -> tuple[DaclModel, dict]:
    """Train every stage on `train`'s windows, calibrate on `val`'s (or train's if None); (model, history)."""
    torch.set_num_threads(distributed.local_threads(cfg.threads))
    gen = seed_everything(cfg.seed)
    device = torch.device(cfg.device)
    x = features.st_features(train.scattering)  # (K, 2P, F)
    y = torch.as_tensor(train.window_labels)
    mean = x.mean(dim=(0, 2))  # per feature channel
    std = x.std(dim=(0, 2)).clamp(min=1e-3)
    # in place: the features are the run's largest array (51k × 168 × 64 for the default run), and two
    # full-size temporaries here set the peak memory of the whole run
    xn = x.sub_(mean[None, :, None]).div_(std[None, :, None]).to(device)
    del x

    vae = FeatureVAE(xn.shape[1], cfg.vae_latent, cfg.vae_hidden).to(device)
    vae_hist = (train_vae if distributed.size() == 1 else train_vae_sharded)(
        vae, xn, cfg.vae_epochs, cfg.batch, cfg.vae_lr, cfg.vae_beta, gen, lambda d, n: progress("vae", d, n)
    )
    z0 = _batched(vae, xn)  # posterior means (K, Z, F)

    enc = UNetEncoder(cfg.vae_latent, cfg.enc_width, cfg.embed_dim).to(device)
    enc_hist = train_encoder(enc, z0, y.to(device), cfg, gen, progress)
    t0 = lambda z: enc(z, torch.zeros(len(z), dtype=torch.long, device=z.device))  # noqa: E731
    emb = _batched(t0, z0)

    clf = head.ClassifierHead(cfg.embed_dim, len(dataset.CLASSES), cfg.head_hidden).to(device)
    weights = torch.as_tensor(
        dataset.class_weights(train.window_labels, power=cfg.head_weight_power), device=device
    )
    with torch.enable_grad():
        head.train_head(clf, emb, y.to(device), weights, cfg.head_steps, cfg.head_lr, 1e-4, 512, gen)
    progress("head", 1, 1)

    model = DaclModel(
        mean.cpu(),
        std.cpu(),
        vae.cpu(),
        enc.cpu(),
        clf.cpu(),
        temperature=1.0,
        proj_mean=torch.zeros(cfg.embed_dim),
        proj_matrix=torch.zeros(cfg.embed_dim, 2),
    ).eval()
    calib = val if val is not None and len(val.record) else train
    with torch.no_grad():
        logits = model.logits(features.st_features(calib.scattering))
    model.temperature.fill_(head.fit_temperature(logits, torch.as_tensor(calib.window_labels)))

    emb_np = emb.cpu().numpy()
    pmean, pmat = projection.fit_lda_projection(emb_np, train.window_labels)
    model.proj_mean.copy_(torch.from_numpy(pmean))
    model.proj_matrix.copy_(torch.from_numpy(pmat))
    points = (emb_np - pmean) @ pmat
    cloud = projection.reference_cloud(
        points, train.window_labels, dataset.CLASSES, cfg.cloud_per_class, cfg.seed
    )
    progress("projection", 1, 1)
    return model, {
        "vae_loss": vae_hist,
        "supcon_loss": enc_hist,
        "temperature": float(model.temperature),
        "cloud": cloud,
    }


@torch.no_grad()
def predict_windows(model: DaclModel, scattering: np.ndarray, batch: int = 2048) -> dict[str, np.ndarray]:
    """Window outputs (probs, embedding, trajectory) of the model on cached scattering (K, P, F)."""
    outs = {"probs": [], "embedding": [], "trajectory": []}
    for i in range(0, len(scattering), batch):
        p, e, t = model(features.st_features(scattering[i : i + batch]))
        outs["probs"].append(p.numpy())
        outs["embedding"].append(e.numpy())
        outs["trajectory"].append(t.numpy())
    return {k: np.concatenate(v) for k, v in outs.items()}


def split_windows(ws: features.WindowSet, cfg: TrainConfig) -> tuple[features.WindowSet, features.WindowSet]:
    """Stratified record-level train/validation split of a WindowSet (no record straddles both)."""
    tr, va = dataset.stratified_split(ws.labels, cfg.val_fraction, cfg.seed)
    return ws.subset(tr), ws.subset(va)
