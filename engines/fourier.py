"""Real-valued building blocks for DFTs as small matrix products (no complex tensors, no FFT operator).

Every DFT here is a four-step (Cooley–Tukey) factorisation of length L = A·R: a matrix product over the
A axis, then one over the R axis with the twiddle factors folded into its per-row (batched) blocks.
Complex values travel as real tensors with the real and imaginary halves stacked along the axis the next
product contracts, so each complex product is a single real matmul with 2×2 block matrices. Constants
are built once in float64 with NumPy and stored as float32 buffers; graphs export to ONNX as MatMul,
Mul, Add, Gather, Reshape and Sqrt, which TensorRT 10 parses.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

#: Fourier bins where a filter is below this fraction of its peak are dropped. The Morlet tails fall
#: like Gaussians, so this keeps the dropped energy far below the 1e-5 parity budget.
SUPPORT_THRESHOLD = 1e-12

Locator = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]


def _check_length(length: int) -> None:
    if length < 1 or length & (length - 1):
        raise ValueError(f"DFT length must be a power of two, got {length}")


def _splits(length: int) -> list[int]:
    """Candidate A of a four-step split L = A·R: every power of two from 1 to L."""
    _check_length(length)
    return [2**i for i in range(length.bit_length())]


def _buffer(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


def _right_complex(m: np.ndarray) -> np.ndarray:
    """Block matrix R so that [yr | yi] @ R = [Re(y@m) | Im(y@m)] for complex row vectors y."""
    return np.block([[m.real, m.imag], [-m.imag, m.real]])


def _left_complex(m: np.ndarray) -> np.ndarray:
    """Block matrix L so that L @ [yr ; yi] = [Re(m@y) ; Im(m@y)] for complex column vectors y."""
    return np.block([[m.real, -m.imag], [m.imag, m.real]])


class RealDFT(nn.Module):
    """DFT of real signals at a chosen set of bins, time-major: input (L, M) → output (A, 2·nq, M).

    Bin k = q·A + a sits at row a, column j (Re) or nq + j (Im) where q = cols[j]; only the columns
    holding a needed bin (or its mirror L - k, since the input is real) are computed. M is any trailing
    size (signals × batch). ``locate`` maps bins to rows of the flattened output (A·2nq, M).
    """

    def __init__(self, length: int, bins: Sequence[int] | np.ndarray) -> None:
        super().__init__()
        self.length = length
        bins = np.asarray(bins) % length
        half = np.unique(np.minimum(bins, (-bins) % length))
        # cost per signal: step 1 = 2·L·A, step 3 = 4·L·(columns holding a needed bin)
        self.a = min(_splits(length), key=lambda a: 2 * a + 4 * len(np.unique(half // a)))
        self.r = length // self.a
        a_idx, r_idx = np.arange(self.a), np.arange(self.r)
        self.cols = np.unique(half // self.a)
        self.nq = len(self.cols)
        self._col_of = {int(q): j for j, q in enumerate(self.cols)}
        step1 = np.exp(-2j * np.pi * np.outer(a_idx, a_idx) / self.a)  # (a, c)
        w1 = np.stack([step1.real, step1.imag], axis=1).reshape(2 * self.a, self.a)  # rows (a, re/im)
        self.register_buffer("w1", _buffer(w1), persistent=False)
        # step 3 with the twiddle folded in: one (2nq, 2R) complex block per row a
        m = np.exp(-2j * np.pi * (a_idx[:, None, None] * r_idx[None, :, None] / length
                                   + r_idx[None, :, None] * self.cols[None, None, :] / self.r))  # (a, d, q)
        e = np.block([[m.real.transpose(0, 2, 1), -m.imag.transpose(0, 2, 1)],
                      [m.imag.transpose(0, 2, 1), m.real.transpose(0, 2, 1)]])  # (a, 2nq, 2R)
        self.register_buffer("w3", _buffer(e), persistent=False)

    @property
    def rows(self) -> int:
        """Rows of the flattened output per signal."""
        return self.a * 2 * self.nq

    def locate(self, bins: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Rows of Re and Im of X[bins] in the flattened output, and the sign to apply to Im (conjugates)."""
        bins = np.asarray(bins) % self.length
        mirror = bins > self.length // 2
        k = np.where(mirror, (-bins) % self.length, bins)
        col = np.array([self._col_of[int(q)] for q in (k // self.a)], dtype=np.int64)
        re = (k % self.a) * 2 * self.nq + col
        return re, re + self.nq, np.where(mirror, -1.0, 1.0)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        z = torch.matmul(self.w1, u.reshape(self.a, -1))  # (2A, R·M), rows (a, re/im)
        return torch.matmul(self.w3, z.reshape(self.a, 2 * self.r, -1))  # (A, 2nq, M)


class BandModulus(nn.Module):
    """|IDFT_L(periodise(h_n · X))| for many band-limited real Fourier filters h_n at one output length L.

    Each filter's source spectrum is gathered from the rows of a time-major real tensor (Re/Im rows and
    conjugation signs given by a locator), weighted by h_n·scale_n and laid out as (A, nq) after shifting
    its band to start at column 0 (a frequency shift only multiplies the output by a unit phase ramp,
    which the modulus removes). Periodisation (kymatio's Fourier subsampling) is folded into the gather:
    bins that alias onto the same output bin are summed. A band-limited four-step inverse DFT (twiddle
    folded into the first product) follows. Input (S, B), output (L, n_filters, B) in time order.
    """

    def __init__(self, length: int, filters: Sequence[tuple[np.ndarray, Locator, float]]) -> None:
        super().__init__()
        self.length = length
        self.n = len(filters)
        supports = []
        for h, _, _ in filters:
            mag = np.abs(h)
            supports.append(np.nonzero(mag > SUPPORT_THRESHOLD * mag.max())[0])
        # cost per filter and output sample: 4·nq (band → Bn products) + 4·A (A-point DFT); pick the cheapest
        self.a = min(_splits(length), key=lambda a: _band_width(supports, length, a) + a)
        self.bn = length // self.a
        self.nq = _band_width(supports, length, self.a)
        placed: list[dict[tuple[int, int], list[int]]] = []
        for s in supports:
            m = s % length
            q = (m // self.a) % self.bn
            qs = (q - _band_start(np.unique(q), self.bn)) % self.bn
            cells: dict[tuple[int, int], list[int]] = {}
            for b, a_, q_ in zip(s, m % self.a, qs, strict=True):
                cells.setdefault((int(a_), int(q_)), []).append(int(b))
            placed.append(cells)
        self.depth = max(len(v) for cells in placed for v in cells.values())
        idx = np.zeros((self.depth, self.a, 2, self.nq, self.n), dtype=np.int64)
        wt = np.zeros((self.depth, self.a, 2, self.nq, self.n), dtype=np.float64)
        for f, ((h, locate, scale), cells) in enumerate(zip(filters, placed, strict=True)):
            for layer in range(self.depth):
                sel = [k for k in cells if len(cells[k]) > layer]
                if not sel:
                    continue
                bins = np.array([cells[k][layer] for k in sel])
                re, im, sign = locate(bins)
                a_, q_ = np.array([k[0] for k in sel]), np.array([k[1] for k in sel])
                idx[layer, a_, 0, q_, f] = re
                idx[layer, a_, 1, q_, f] = im
                wt[layer, a_, 0, q_, f] = h[bins].real * scale
                wt[layer, a_, 1, q_, f] = h[bins].real * scale * sign
        self.register_buffer("idx", torch.from_numpy(idx.reshape(self.depth, -1)), persistent=False)
        self.register_buffer(
            "wt", _buffer(wt.reshape(self.depth, self.a, 2 * self.nq, self.n, 1)), persistent=False
        )
        q_idx, d_idx, a_idx = np.arange(self.nq), np.arange(self.bn), np.arange(self.a)
        # first product with the twiddle folded in: one (2Bn, 2nq) complex block per row a
        m = np.exp(2j * np.pi * (q_idx[None, :, None] * d_idx[None, None, :] / self.bn
                                 + a_idx[:, None, None] * d_idx[None, None, :] / length))  # (a, q', d)
        mt_r, mt_i = m.real.transpose(0, 2, 1), m.imag.transpose(0, 2, 1)  # (a, d, q')
        self.register_buffer("g1", _buffer(np.block([[mt_r, -mt_i], [mt_i, mt_r]])), persistent=False)
        h = np.exp(2j * np.pi * np.outer(a_idx, a_idx) / self.a)  # (c, a)
        g3 = np.stack([np.block([[h.real], [h.imag]]), np.block([[-h.imag], [h.real]])], axis=2)
        self.register_buffer("g3", _buffer(g3.reshape(2 * self.a, 2 * self.a)), persistent=False)

    def forward(self, source: torch.Tensor) -> torch.Tensor:
        y = torch.index_select(source, 0, self.idx[0]).reshape(self.a, 2 * self.nq, self.n, -1) * self.wt[0]
        for layer in range(1, self.depth):
            part = torch.index_select(source, 0, self.idx[layer]).reshape(self.a, 2 * self.nq, self.n, -1)
            y = y + part * self.wt[layer]
        z = torch.matmul(self.g1, y.reshape(self.a, 2 * self.nq, -1))  # (A, 2Bn, n·B)
        u = torch.matmul(self.g3, z.reshape(2 * self.a, -1))  # (2A, Bn·n·B): [re ; im], t = c·Bn + d
        u = u.reshape(2, self.a, -1)
        if torch.jit.is_tracing() or torch.compiler.is_compiling():
            sq = u * u  # exporters: ONNX has no hypot; sqrt(re² + im²) is the same value
            modulus = torch.sqrt(sq[0] + sq[1])
        else:
            modulus = torch.hypot(u[0], u[1])  # one fused pass in eager PyTorch (2.4x faster than the above)
        return modulus.reshape(self.length, self.n, -1)


def split_bank(supports: Sequence[np.ndarray], length: int, min_gain: float = 0.2) -> list[list[int]]:
    """Split filters of one output length into one or two banks (index lists), by band width.

    One bank pads every filter to the widest band; two banks (wide, narrow) cut the products when widths
    differ a lot. Two are used only when that saves more than ``min_gain`` of the work, since each bank
    adds a few operators (launches on a GPU).
    """
    candidates = _splits(length)
    widths = np.array([[_band_width([s], length, a) for a in candidates] for s in supports])  # (n, nA)
    a_arr = np.array(candidates)

    def cost(members: Sequence[int]) -> float:
        return len(members) * float(np.min(widths[list(members)].max(axis=0) + a_arr))

    order = sorted(range(len(supports)), key=lambda i: -len(supports[i]))
    single = cost(order)
    if len(order) < 2:
        return [order]
    cut = min(range(1, len(order)), key=lambda k: cost(order[:k]) + cost(order[k:]))
    if cost(order[:cut]) + cost(order[cut:]) < single * (1 - min_gain):
        return [sorted(order[:cut]), sorted(order[cut:])]
    return [sorted(order)]


def _band_width(supports: Sequence[np.ndarray], length: int, a: int) -> int:
    """Columns q' needed when each support is laid out as (A, L/A) and its band shifted to column 0."""
    period = length // a
    width = 1
    for s in supports:
        occupied = np.unique(((s % length) // a) % period)
        start = _band_start(occupied, period)
        width = max(width, int(((occupied - start) % period).max()) + 1)
    return width


def _band_start(occupied: np.ndarray, period: int) -> int:
    """Start of the shortest cyclic interval of [0, period) that covers the occupied columns."""
    if len(occupied) == period:
        return 0
    gaps = np.diff(np.concatenate([occupied, [occupied[0] + period]]))
    return int(occupied[(int(np.argmax(gaps)) + 1) % len(occupied)])


def lowpass_matrix(phi_f: np.ndarray, step: int, start: int, stop: int) -> np.ndarray:
    """Matrix (L, F) of kymatio's averaging: Re(ifft(fft(u)·phi)) every ``step``-th sample, [start, stop)."""
    length = len(phi_f)
    h = np.fft.ifft(phi_f).real
    t = np.arange(length)[:, None]
    centres = (np.arange(start, stop) * step)[None, :]
    return h[(centres - t) % length]
