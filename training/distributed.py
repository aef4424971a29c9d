"""Data-parallel training under `torchrun`: process group, each rank's share of a batch, collectives.

Launched by torchrun (RANK, WORLD_SIZE, LOCAL_RANK in the environment) `setup` joins the process group
(gloo on CPU, nccl on CUDA); without them nothing is initialised and every helper answers for one process,
so a plain `dacl-train run` takes exactly the code path it always did.

The loops keep the single-process batch: every rank draws the same global batch from the shared seeded
generator (the same draws rank 0 would broadcast, without the traffic) and computes only its own rows.
"""

from __future__ import annotations

import datetime
import logging
import os

import torch
import torch.distributed as dist
from torch import nn

log = logging.getLogger(__name__)

# rank 0 alone runs validation, the rhythm head and the export while the others wait at the closing
# barrier; the default 30-minute collective timeout is shorter than that on a full run
TIMEOUT = datetime.timedelta(hours=6)


def launched() -> bool:
    """True when torchrun (or any launcher setting its variables) started this process with world > 1."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def active() -> bool:
    """True inside an initialised process group of more than one rank."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if active() else 0


def size() -> int:
    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    return rank() == 0


def setup(device: str) -> None:
    """Join the process group torchrun describes (no-op for a single process).

    On CUDA each rank takes the GPU of its LOCAL_RANK, so "cuda" means that GPU for the whole run.
    """
    if not launched() or dist.is_initialized():
        return
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device.startswith("cuda"):
        torch.cuda.set_device(local_rank)
        backend = "nccl"
    else:
        backend = "gloo"
    dist.init_process_group(backend, timeout=TIMEOUT)
    if not is_main():  # one copy of the logs: the other ranks report errors only
        logging.getLogger().setLevel(logging.ERROR)
    log.info("process group: %s, %d ranks, %s", backend, size(), device)


def teardown(wait: bool = True) -> None:
    """Wait for every rank (unless failing), then leave the process group (no-op for a single process)."""
    if dist.is_available() and dist.is_initialized():
        if wait:
            dist.barrier()
        dist.destroy_process_group()


def barrier() -> None:
    if active():
        dist.barrier()


def local_threads(threads: int) -> int:
    """CPU threads of torch per rank: cfg.threads is the node's budget, shared by its ranks."""
    per_node = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    return max(1, threads // per_node)


def bounds(n: int, world: int | None = None, r: int | None = None) -> tuple[int, int]:
    """The contiguous [lo, hi) of n rows of rank r (default: this one) (sizes differ by one at most)."""
    world = size() if world is None else world
    r = rank() if r is None else r
    base, extra = divmod(n, world)
    lo = r * base + min(r, extra)
    return lo, lo + base + (1 if r < extra else 0)


def view_rows(batch: int, views: int) -> torch.Tensor:
    """Rows of this rank's windows in a view-major stack of `views` copies of a `batch`-window batch."""
    lo, hi = bounds(batch)
    return torch.cat([torch.arange(v * batch + lo, v * batch + hi) for v in range(views)])


def gather_views(local: torch.Tensor, batch: int, views: int) -> torch.Tensor:
    """Every rank's rows (views·batch_r, D) → the global view-major (views·batch, D), on every rank.

    The other ranks' rows arrive detached; this rank's rows are `local` itself, so a loss on the result
    backpropagates into this rank's encoder through its own rows only (SimCLR/SupCon-style gather). The
    loss is the same on every rank, so each rank's gradient is its rows' share of the global gradient.
    """
    world = size()
    sizes = [bounds(batch, world, r) for r in range(world)]
    most = max(hi - lo for lo, hi in sizes)
    mine = local.reshape(views, -1, local.shape[-1])
    padded = torch.zeros(views, most, local.shape[-1], dtype=local.dtype, device=local.device)
    padded[:, : mine.shape[1]] = mine.detach()
    got = [torch.empty_like(padded) for _ in range(world)]
    dist.all_gather(got, padded)  # all_gather needs equal shapes: the last ranks may hold one row less
    parts = [mine if r == rank() else got[r][:, : hi - lo] for r, (lo, hi) in enumerate(sizes)]
    return torch.cat(parts, dim=1).reshape(-1, local.shape[-1])


def all_sum(value: float, device: torch.device | str = "cpu") -> float:
    """Sum of a number over ranks (for loss bookkeeping)."""
    if not active():
        return value
    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return float(t.item())


def data_parallel(module: nn.Module) -> nn.Module:
    """The module wrapped in DistributedDataParallel (gradients averaged over ranks after backward)."""
    from torch.nn.parallel import DistributedDataParallel

    device = next(module.parameters()).device
    if device.type != "cuda":
        return DistributedDataParallel(module)
    return DistributedDataParallel(module, device_ids=[torch.cuda.current_device()])


class GlobalBatchDropout(nn.Module):
    """Dropout whose mask is drawn for the whole global batch and applied to this rank's rows.

    Every rank's global RNG is in the single-process state, so drawing the full (rows, features) mask as
    F.dropout would on one process, then keeping this rank's rows, gives each window the mask it gets in a
    single-process run (bitwise on CPU, where F.dropout is bernoulli_(1 - p) / (1 - p)).
    """

    def __init__(self, p: float, total_rows: int, rows: torch.Tensor) -> None:
        super().__init__()
        self.p, self.total_rows, self.rows = p, total_rows, rows

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        mask = torch.empty((self.total_rows, *x.shape[1:]), dtype=x.dtype, device=x.device)
        mask.bernoulli_(1 - self.p).div_(1 - self.p)
        return x * mask[self.rows.to(x.device)]
