"""Scattering Transformer features of every training window, computed once and cached on disk.

The cache stores the scattering coefficients (K, P, F) of the windows; the parameter-free ST stage
(engines/st.py) turns them into features (K, 2P, F) on the fly, which is cheap and keeps the cache small.
The cache key covers the scattering parameters, the preprocessing version, the window layout (hop, crop
seed), a hash of the data files, and the code and libraries that compute the windows (`code_digest`: the
modules' source, numpy/scipy/torch/kymatio/wfdb versions, the CPU's instruction set, the device), so a
change to any of them recomputes instead of reusing stale data.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import os
import platform
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engines.st import ScatteringTransformerStage
from training import dataset

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScatteringParams:
    """Scattering parameters of the model (defaults: the shipped model's; see TrainConfig for why)."""

    J: int = 5  # 2**5 = 32 samples = 0.107 s per frame: 64 frames, so beat timing reaches the encoder
    Q: tuple[int, int] = (8, 1)  # wavelets per octave at orders 1 and 2
    T: int | None = None  # averaging width; None means 2**J (kymatio's default)
    max_order: int = 2  # orders 0, 1 and 2
    window: int = dataset.WINDOW  # input length W

    def as_manifest(self) -> dict:
        """The manifest's `scattering` field."""
        return {
            "fs": dataset.MODEL_FS,
            "window": self.window,
            "J": self.J,
            "Q": list(self.Q),
            "T": self.T,
            "max_order": self.max_order,
        }


@dataclass
class WindowSet:
    """Cached scattering of a set of windows and where each window came from."""

    scattering: np.ndarray  # (K, P, F) float32
    record: np.ndarray  # (K,) index into `names` of each window's record
    names: list[str]  # record names
    labels: np.ndarray  # (R,) class index per record (-1 when unlabelled)

    @property
    def window_labels(self) -> np.ndarray:
        """(K,) class index of each window (its record's label)."""
        return self.labels[self.record]

    def subset(self, record_idx: np.ndarray) -> WindowSet:
        """The windows of the given records (record indices renumbered 0..len-1)."""
        record_idx = np.asarray(record_idx)
        remap = -np.ones(len(self.names), dtype=np.int64)
        remap[record_idx] = np.arange(len(record_idx))
        keep = remap[self.record] >= 0
        return WindowSet(
            self.scattering[keep],
            remap[self.record[keep]],
            [self.names[i] for i in record_idx],
            self.labels[record_idx],
        )

    def extended(self, other: WindowSet) -> WindowSet:
        """A new set: these windows and records followed by `other`'s (its record indices shifted)."""
        return WindowSet(
            np.concatenate([self.scattering, other.scattering]),
            np.concatenate([self.record, other.record + len(self.names)]),
            self.names + other.names,
            np.concatenate([self.labels, other.labels]),
        )


def make_scattering(params: ScatteringParams) -> torch.nn.Module:
    """Window (B, W) → scattering (B, P, F): engines.scattering when available, else kymatio (reference)."""
    try:
        from engines.scattering import ScatteringTransformer

        st = ScatteringTransformer(params.J, params.window, params.Q, T=params.T, max_order=params.max_order)
        return _FirstOutput(st)
    except ImportError:
        from kymatio.torch import Scattering1D

        return Scattering1D(
            J=params.J, shape=params.window, Q=params.Q, T=params.T, max_order=params.max_order
        )


class _FirstOutput(torch.nn.Module):
    """Keep only the scattering output of engines.scattering.ScatteringTransformer."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, window: torch.Tensor) -> torch.Tensor:
        return self.inner(window)[0]


def st_features(scattering: np.ndarray | torch.Tensor, batch: int = 4096) -> torch.Tensor:
    """ST features (K, 2P, F) float32 of cached scattering (K, P, F), on the scattering's device."""
    s = torch.as_tensor(scattering, dtype=torch.float32)
    stage = ScatteringTransformerStage(s.shape[1], s.shape[2]).to(s.device)
    # filled in place: a cat of the chunks would hold the run's largest array twice at its peak
    out = torch.empty((len(s), 2 * s.shape[1], s.shape[2]), dtype=torch.float32, device=s.device)
    with torch.no_grad():
        for i in range(0, len(s), batch):
            out[i : i + batch] = stage(s[i : i + batch])
    return out


def cache_dir() -> Path:
    """Where feature caches live: $DACL_CACHE, else ~/.cache/dacl (never inside the repository)."""
    return Path(os.environ.get("DACL_CACHE", Path.home() / ".cache" / "dacl"))


def code_digest(*sources, libraries: tuple[str, ...] = ("numpy", "scipy", "torch")) -> str:
    """A digest of what computes a cached array besides its inputs.

    The source of modules or functions, the numeric libraries' versions and the CPU's instruction set (a
    float32 sum can round differently on another one).

    A change to any of them recomputes the cache instead of reusing arrays the code would no longer make.
    """
    from importlib import metadata

    h = hashlib.sha256()
    for m in sources:  # modules or functions
        h.update(inspect.getsource(m).encode())
    for lib in libraries:
        try:
            h.update(f"{lib}={metadata.version(lib)}".encode())
        except metadata.PackageNotFoundError:
            h.update(f"{lib}=absent".encode())
    h.update(f"{platform.machine()}|{torch.backends.cpu.get_cpu_capability()}".encode())
    return h.hexdigest()


def windows_code_digest(device: str = "cpu") -> str:
    """code_digest of everything that turns a record into cached scattering windows, on `device`."""
    from core import preprocess, windowing
    from engines import fourier, scattering

    return code_digest(preprocess, windowing, dataset, scattering, fourier, compute_windows, make_scattering,
                       record_offsets, libraries=("numpy", "scipy", "torch", "kymatio", "wfdb")) + \
        f"|{torch.device(device).type}"


def cache_key(params: ScatteringParams, hop: int, crop_seed: int, data_digest: str, code: str = "") -> str:
    """A short digest naming everything the cached windows depend on (`code`: windows_code_digest)."""
    blob = json.dumps(
        {
            "scattering": params.as_manifest(),
            "preprocess": dataset.PREPROCESS_VERSION,
            "hop": hop,
            "crop_seed": crop_seed,
            "layout": "hop-grid-from-random-phase",  # dataset.window_starts(cover_end=False)
            "data": data_digest,
            "code": code,
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def record_offsets(n_records: int, hop: int, seed: int) -> np.ndarray:
    """A random crop phase in [0, hop) per record, reproducible for a seed (seed < 0: all zero)."""
    if seed < 0:
        return np.zeros(n_records, dtype=np.int64)
    return np.random.default_rng(seed).integers(0, hop, size=n_records)


def compute_windows(
    data_dir: Path,
    records: list[dataset.LabelledRecord],
    params: ScatteringParams,
    hop: int,
    crop_seed: int,
    batch: int = 256,
    progress=None,
    loader=None,
    device: str = "cpu",
) -> WindowSet:
    """Scattering of every window of every record (windows at `hop` from a per-record random phase).

    loader(name) → preprocessed record; default reads the WFDB record from data_dir.
    """
    loader = loader or (lambda name: dataset.load_record(data_dir, name))
    scat = make_scattering(params).eval().to(device)
    offsets = record_offsets(len(records), hop, crop_seed)
    outs: list[np.ndarray] = []
    rec_idx: list[np.ndarray] = []
    pending: list[np.ndarray] = []

    def flush() -> None:
        if pending:
            with torch.no_grad():
                x = torch.from_numpy(np.concatenate(pending)).to(device)
                outs.append(scat(x).cpu().numpy().astype(np.float32))
            pending.clear()

    for i, r in enumerate(records):
        x = loader(r.name)
        starts = dataset.window_starts(len(x), hop, int(offsets[i]), params.window)
        pending.append(dataset.cut_windows(x, starts, params.window))
        rec_idx.append(np.full(len(starts), i, dtype=np.int64))
        if sum(len(p) for p in pending) >= batch:
            flush()
        if progress is not None:
            progress(i + 1, len(records))
    flush()
    return WindowSet(
        np.concatenate(outs),
        np.concatenate(rec_idx),
        [r.name for r in records],
        np.array([r.label for r in records], dtype=np.int64),
    )


def load_or_compute(
    data_dir: Path,
    records: list[dataset.LabelledRecord],
    params: ScatteringParams,
    hop: int,
    crop_seed: int,
    cache: Path | None = None,
    progress=None,
    loader=None,
    digest: str | None = None,
    device: str = "cpu",
) -> tuple[WindowSet, str]:
    """Cached windows for (data, params, hop, seed); computed on a miss; returns (set, data hash)."""
    digest = digest or dataset.data_hash(data_dir, records)
    key = cache_key(params, hop, crop_seed, digest, windows_code_digest(device))
    path = Path(cache or cache_dir()) / f"windows-{key}.npz"
    if path.is_file():
        log.info("feature cache hit: %s", path)
        return load_windows(path), digest
    log.info("feature cache miss: computing %d records into %s", len(records), path)
    ws = compute_windows(
        data_dir, records, params, hop, crop_seed, progress=progress, loader=loader, device=device
    )
    save_windows(path, ws)
    return ws, digest


def save_windows(path: Path, ws: WindowSet) -> None:
    """Write a WindowSet atomically (npz, uncompressed) so the GPU path can train from it alone."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, scattering=ws.scattering, record=ws.record, names=np.array(ws.names), labels=ws.labels)
    tmp.replace(path)


def load_windows(path: Path) -> WindowSet:
    """Read a WindowSet written by save_windows."""
    with np.load(path) as z:
        return WindowSet(z["scattering"], z["record"], [str(n) for n in z["names"]], z["labels"])


def load_quantized(folder: Path) -> WindowSet:
    """A WindowSet from 8-bit quantised log-scattering (q*.npy + meta.npz), as computed on a GPU machine.

    Each path's log(|S| + 1e-3) was quantised to 256 levels between its min and max over the data set
    (max error ≈ 0.013 in log units); S is rebuilt so the ST stage recovers the dequantised logs.
    """
    folder = Path(folder)
    with np.load(folder / "meta.npz") as m:
        lo, hi = m["lo"].astype(np.float32), m["hi"].astype(np.float32)
        record, names, labels = m["record"].astype(np.int64), [str(n) for n in m["names"]], m["labels"]
    parts = sorted(folder.glob("q*.npy"), key=lambda p: int(p.stem[1:]))
    q = np.concatenate([np.load(p) for p in parts])
    logs = lo[None, :, None] + q.astype(np.float32) / 255.0 * (hi - lo)[None, :, None]
    scattering = np.maximum(np.exp(logs) - 1e-3, 0.0).astype(np.float32)
    label_idx = np.array([dataset.CLASSES.index(str(c)) for c in labels], dtype=np.int64)
    return WindowSet(scattering, record, names, label_idx)
