"""kymatio's 1-D scattering transform as an exportable graph of real matrix products.

``ScatteringGraph`` computes exactly ``kymatio.torch.Scattering1D(J, shape, Q, T, max_order)`` (array output,
path order and scale included) from kymatio's own filter bank, but only with operators every backend runs
well (MatMul, Mul/Add, Sqrt, Gather, Concat, Reshape, Transpose): no FFT/DFT op, no complex tensors.
Float32 parity with kymatio in float64: ~2e-7 (random) to ~1.2e-6 (ECG) relative L2 per window.

Design, and why (numbers: default J=8, W=2048, Q=(8, 1); details in the issue 3 report):
- Time-major layout (length, signals, batch): every product is one plain or batched matmul with the
  batch folded into its wide dimension; no transposes between stages. The first layout (batch first,
  separate twiddle pass, concatenations) spent 64% of CPU time in elementwise ops; this one ~30%, and
  ONNX Runtime went from 113 to 362 windows/s (batch 64, one thread).
- Every phi averaging (orders 0, 1, 2) with kymatio's Fourier subsampling and unpadding is linear in its
  input, so it is one (F, L) matmul; order 0 also folds the reflect padding in.
- DFTs are four-step (L = A·R) products with the twiddle folded into per-row block matrices, complex
  values as stacked real/imag halves. The padded window's spectrum is computed only at needed bins.
- Each wavelet's band is gathered (Gather + Mul; periodisation = sum of aliased bins) and shifted to
  start at frequency 0, which only multiplies the result by a unit phase ramp that the modulus removes.
  A band-limited inverse of length L then costs 4·L·(band/A + A) products per filter instead of 4·L·band
  for a dense one (19.6M → 0.3M for the widest first-order wavelet). A is chosen per bank by that cost.
- Filters with one output length share a bank (one gather, two matmuls); a bank is split into wide and
  narrow filters only when that saves >20% (each bank adds operators and, in ONNX, constants: for the
  default a 10% saving was not worth +1.5 MB); order-2 paths from every first-order bank with the same
  L2 are inverted together: 8 + 6 banks, ~42M multiply-adds per window in all.
- |z| = sqrt(re² + im²) in exported graphs (ONNX has no hypot), torch.hypot in eager PyTorch (2.4x
  faster, same value); no epsilon: the graph is for inference only.
- Filter bins below 1e-12 of the peak are dropped: 1e-6 would save only 6% and the error is float32
  rounding either way.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from engines.fourier import SUPPORT_THRESHOLD, BandModulus, Locator, RealDFT, lowpass_matrix, split_bank
from engines.st import ScatteringTransformerStage

log = logging.getLogger(__name__)

DEFAULT_FS = 300
CPU_CHUNK = 64  # windows per piece for eager CPU calls: intermediates stay in cache


def import_kymatio():
    """Import kymatio (the filter-bank source and reference), also where SciPy >= 1.17 lacks sph_harm.

    kymatio 0.3.0's package import loads its 3-D filter bank, which imports scipy.special.sph_harm
    (removed in SciPy 1.17, e.g. on the GPU machine). The 1-D transform never calls it, so where it is
    missing the old name is given to SciPy's replacement, sph_harm_y, before importing kymatio.
    """
    import importlib

    import scipy.special

    if not hasattr(scipy.special, "sph_harm") and hasattr(scipy.special, "sph_harm_y"):
        def sph_harm(m, n, theta, phi):  # old argument order: order, degree, azimuth, polar
            return scipy.special.sph_harm_y(n, m, phi, theta)

        scipy.special.sph_harm = sph_harm
        log.info("scipy.special.sph_harm missing: aliased to sph_harm_y so kymatio 0.3.0 imports")
    kymatio = importlib.import_module("kymatio")
    importlib.import_module("kymatio.scattering1d.frontend.base_frontend")
    importlib.import_module("kymatio.torch")
    return kymatio


def _support(h: np.ndarray) -> np.ndarray:
    mag = np.abs(h)
    return np.nonzero(mag > SUPPORT_THRESHOLD * mag.max())[0]


def _check_params(J: int, shape: int, Q: Sequence[int], T: int | None, max_order: int) -> tuple[int, int]:
    if isinstance(J, bool) or not isinstance(J, int) or J < 1:
        raise ValueError(f"J must be a positive integer, got {J!r}")
    if isinstance(shape, bool) or not isinstance(shape, int) or shape < 2:
        raise ValueError(f"shape (window length) must be an integer >= 2, got {shape!r}")
    if len(Q) != 2 or any(isinstance(q, bool) or not isinstance(q, int) or q < 1 for q in Q):
        raise ValueError(f"Q must be two integers >= 1 (Q1, Q2), got {Q!r}")
    if T is not None and (isinstance(T, bool) or not isinstance(T, int) or T < 1 or T > shape):
        raise ValueError(f"T must be None or an integer in [1, shape={shape}], got {T!r}")
    if max_order not in (1, 2):
        raise ValueError(f"max_order must be 1 or 2, got {max_order!r}")
    return int(Q[0]), int(Q[1])


class ScatteringGraph(nn.Module):
    """Window (B, W) float32 → kymatio Scattering1D output (B, P, F), path order S0, S1(n1), S2(n1, n2)."""

    def __init__(
        self, J: int, shape: int, Q: Sequence[int] = (8, 1), T: int | None = None, max_order: int = 2
    ) -> None:
        super().__init__()
        q1, q2 = _check_params(J, shape, tuple(Q), T, max_order)
        frontend = import_kymatio().scattering1d.frontend.base_frontend
        base = frontend.ScatteringBase1D(J, shape, (q1, q2), T, max_order)
        base.build()
        base.create_filters()
        self.J, self.shape, self.Q, self.T, self.max_order = J, shape, (q1, q2), T, max_order
        n_pad, log2_t = base._N_padded, base.log2_T
        start, end = base.ind_start, base.ind_end
        phi = base.phi_f["levels"]
        psi1 = [(p["levels"][0], p["j"]) for p in base.psi1_f]
        psi2 = [(p["levels"], p["j"]) for p in base.psi2_f]
        self.frames = end[log2_t] - start[log2_t]
        self.n_padded = n_pad

        # reflect padding as a gather, exactly torch.nn.functional.pad(mode="reflect")
        pos = np.arange(n_pad) - base.pad_left
        pos = np.abs(pos)
        pos = np.where(pos > shape - 1, 2 * (shape - 1) - pos, pos)
        self.register_buffer("pad_index", torch.from_numpy(pos.astype(np.int64)), persistent=False)

        # order 0: phi averaging of the padded window, padding folded in → one (W, F) matrix
        avg0 = lowpass_matrix(phi[0], 2**log2_t, start[log2_t], end[log2_t])  # (N, F)
        order0 = np.zeros((shape, self.frames))
        np.add.at(order0, pos, avg0)
        self.register_buffer("order0", torch.from_numpy(order0.T.astype(np.float32)), persistent=False)

        # order 1: spectrum of the padded window at the wavelets' bins, then BandModulus banks per length
        all_bins = np.unique(np.concatenate([_support(h) for h, _ in psi1]))
        self.spectrum = RealDFT(n_pad, all_bins)
        groups1: dict[int, list[int]] = defaultdict(list)
        for n1, (_, j1) in enumerate(psi1):
            groups1[min(j1, log2_t)].append(n1)
        k1_of = {n1: k1 for k1, members in groups1.items() for n1 in members}
        banks1: list[list[int]] = []  # first-order filters of each bank, one output length per bank
        for k1 in sorted(groups1):
            members = groups1[k1]
            parts = split_bank([_support(psi1[n1][0]) for n1 in members], n_pad >> k1)
            banks1 += [[members[i] for i in part] for part in parts]
        self.order1 = nn.ModuleList()
        for i, members in enumerate(banks1):
            k1 = k1_of[members[0]]
            bank = [(psi1[n1][0], self.spectrum.locate, 1.0 / n_pad) for n1 in members]
            self.order1.append(BandModulus(n_pad >> k1, bank))
            self._average(f"order1_avg{i}", phi[k1], *_average_args(log2_t, k1, start, end))

        # order 2: spectra of |U1| per bank (only n1 that have children), pairs banked by length L2
        pairs = [(n1, n2) for n1, (_, j1) in enumerate(psi1) for n2, (_, j2) in enumerate(psi2) if j2 > j1]
        if max_order < 2:
            pairs = []
        self.order2_spectra = nn.ModuleList()
        self.order2_parents: list[list[int]] = []  # per first-order bank: positions of the parents in it
        locate_of: dict[int, tuple[RealDFT, Locator]] = {}
        shared: dict[tuple, RealDFT] = {}
        offset = 0
        for members in banks1:
            k1 = k1_of[members[0]]
            parents = [i for i, n1 in enumerate(members) if any(p[0] == n1 for p in pairs)]
            self.order2_parents.append(parents)
            if not parents:
                self.order2_spectra.append(nn.Identity())
                continue
            children = {n2 for n1, n2 in pairs if n1 in [members[i] for i in parents]}
            bins = np.unique(np.concatenate([_support(psi2[n2][0][k1]) for n2 in children]))
            key = (k1, tuple(bins))
            if key not in shared:  # banks of one length usually need the same bins: share the matrices
                shared[key] = RealDFT(n_pad >> k1, bins)
            dft = shared[key]
            self.order2_spectra.append(dft)
            for rank, i in enumerate(parents):
                locate_of[members[i]] = (dft, _offset_locator(dft, len(parents), rank, offset))
            offset += len(parents) * dft.rows
        groups2: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for n1, n2 in pairs:
            k1 = k1_of[n1]
            k2 = max(min(psi2[n2][1], log2_t) - k1, 0)
            groups2[k1 + k2].append((n1, n2))
        self.order2 = nn.ModuleList()
        order2_paths: list[tuple[int, int]] = []
        for k12 in sorted(groups2):
            group = groups2[k12]
            parts = split_bank([_support(psi2[n2][0][k1_of[n1]]) for n1, n2 in group], n_pad >> k12)
            for part in parts:
                bank = []
                for n1, n2 in (group[i] for i in part):
                    dft, locate = locate_of[n1]
                    bank.append((psi2[n2][0][k1_of[n1]], locate, 1.0 / dft.length))
                averaging = _average_args(log2_t, k12, start, end)
                self._average(f"order2_avg{len(self.order2)}", phi[k12], *averaging)
                self.order2.append(BandModulus(n_pad >> k12, bank))
                order2_paths += [group[i] for i in part]
        order1_paths = [n1 for members in banks1 for n1 in members]

        # permutation from computation order to kymatio's path order
        computed = [("0",)] + [("1", n1) for n1 in order1_paths] + [("2", *p) for p in order2_paths]
        wanted = [("0",)] + [("1", n1) for n1 in range(len(psi1))] + [("2", *p) for p in pairs]
        where = {key: i for i, key in enumerate(computed)}
        self.register_buffer(
            "path_order", torch.tensor([where[k] for k in wanted], dtype=torch.int64), persistent=False
        )
        self.paths = len(wanted)

    def _average(self, name: str, phi_f: np.ndarray, step: int, first: int, stop: int) -> None:
        """Register kymatio's phi averaging + subsampling + unpadding as an (F, L) matrix buffer."""
        matrix = np.ascontiguousarray(lowpass_matrix(phi_f, step, first, stop).T, np.float32)
        self.register_buffer(name, torch.from_numpy(matrix), persistent=False)

    def forward(self, window: torch.Tensor) -> torch.Tensor:
        if _eager() and (window.dim() != 2 or window.shape[-1] != self.shape):
            raise ValueError(f"window must have shape (B, {self.shape}), got {tuple(window.shape)}")
        if _eager() and window.dtype != self.order0.dtype:
            raise ValueError(f"window must be {self.order0.dtype} like the graph's constants, got "
                             f"{window.dtype}; convert it (e.g. window.float()) first")
        if _eager() and window.device.type == "cpu" and window.shape[0] > CPU_CHUNK:
            # large CPU batches run in cache-sized chunks (batch 512 in one piece is ~2x slower)
            return torch.cat([self(chunk) for chunk in window.split(CPU_CHUNK)])
        # time-major from here on: (length, signals, batch), so every product is one plain/batched matmul
        padded = torch.index_select(window, 1, self.pad_index).t()  # (N, B)
        outputs = [torch.matmul(self.order0, window.t()).unsqueeze(1)]  # (F, 1, B)
        spectrum = self.spectrum(padded).reshape(self.spectrum.rows, -1)  # (S, B)
        sources = []
        for i, bank in enumerate(self.order1):
            u1 = bank(spectrum)  # (L1, n, B)
            outputs.append(torch.matmul(getattr(self, f"order1_avg{i}"), u1.reshape(bank.length, -1))
                           .reshape(self.frames, bank.n, -1))
            parents = self.order2_parents[i]
            if parents:
                if len(parents) < bank.n:
                    u1 = u1[:, parents[0] : parents[-1] + 1] if _contiguous(parents) else u1[:, parents]
                dft = self.order2_spectra[i]
                sources.append(dft(u1.reshape(bank.length, -1)).reshape(dft.rows * len(parents), -1))
        if self.order2:
            source = torch.cat(sources, dim=0) if len(sources) > 1 else sources[0]
            for i, bank in enumerate(self.order2):
                u2 = bank(source).reshape(bank.length, -1)
                s2 = torch.matmul(getattr(self, f"order2_avg{i}"), u2)
                outputs.append(s2.reshape(self.frames, bank.n, -1))
        out = torch.index_select(torch.cat(outputs, dim=1), 1, self.path_order)  # (F, P, B)
        return out.permute(2, 1, 0)


def _eager() -> bool:
    """True outside tracing/export, where Python-side input checks are allowed."""
    return not (torch.jit.is_tracing() or torch.compiler.is_compiling())


def _average_args(log2_t: int, k: int, start: dict, end: dict) -> tuple[int, int, int]:
    """Subsampling step and kept frames [first, stop) of phi averaging of a signal already subsampled 2**k."""
    kk = max(log2_t - k, 0)
    return 2**kk, start[k + kk], end[k + kk]


def _contiguous(items: list[int]) -> bool:
    return items == list(range(items[0], items[0] + len(items)))


def _offset_locator(dft: RealDFT, count: int, rank: int, offset: int):
    """Locator for signal ``rank`` of ``count`` transformed together, stored from row ``offset`` on."""

    def locate(bins: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        re, im, sign = dft.locate(bins)
        return re * count + rank + offset, im * count + rank + offset, sign

    return locate


class ScatteringTransformer(nn.Module):
    """Window (B, W) → (scattering (B, P, F), features (B, 2P, F)): the graph shipped as scattering.onnx."""

    def __init__(
        self,
        J: int,
        shape: int,
        Q: Sequence[int] = (8, 1),
        T: int | None = None,
        max_order: int = 2,
        fs: int = DEFAULT_FS,
    ) -> None:
        super().__init__()
        self.scattering = ScatteringGraph(J, shape, Q, T, max_order)
        self.paths, self.frames = self.scattering.paths, self.scattering.frames
        self.stage = ScatteringTransformerStage(self.paths, self.frames)
        self.params = {
            "fs": fs,
            "window": shape,
            "J": J,
            "Q": [int(Q[0]), int(Q[1])],
            "T": T,
            "max_order": max_order,
        }

    def forward(self, window: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s = self.scattering(window)
        return s, self.stage(s)


def transform_windows(
    module: ScatteringTransformer,
    windows: np.ndarray,
    batch: int = 256,
    threads: int | None = 1,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Scattering (N, P, F) and features (N, 2P, F) of many windows (N, W) on CPU, as float32 arrays.

    Runs in batches under ``threads`` torch threads (restored afterwards; None leaves them as they are).
    One thread is the fast choice on a busy shared machine: on the 2-core dev box under load, 2 threads
    ran at ~60 windows/s and 1 thread at ~590 (OpenMP workers wait on descheduled siblings).
    """
    windows = np.asarray(windows)
    width = module.params["window"]
    if windows.ndim != 2 or windows.shape[1] != width:
        raise ValueError(f"windows must have shape (N, {width}), got {windows.shape}")
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    scattering = np.empty((len(windows), module.paths, module.frames), np.float32)
    features = np.empty((len(windows), 2 * module.paths, module.frames), np.float32)
    starts = range(0, len(windows), batch)
    if progress:
        from tqdm import tqdm

        starts = tqdm(starts, desc="scattering", unit="batch")
    try:
        with torch.inference_mode():
            for i in starts:
                chunk = torch.from_numpy(np.ascontiguousarray(windows[i : i + batch], np.float32))
                s, f = module(chunk)
                scattering[i : i + batch], features[i : i + batch] = s.numpy(), f.numpy()
    finally:
        torch.set_num_threads(previous)
    return scattering, features


__all__ = [
    "ScatteringGraph",
    "ScatteringTransformer",
    "import_kymatio",
    "transform_windows",
]
