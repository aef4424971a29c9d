"""Distributed training: `torchrun --nproc_per_node 2 -m training.cli run` (gloo, loopback) vs one process.

Both runs use the same global batch, the same random draws (sampling, diffusion noise, VAE noise, dropout
masks) and the same initial weights, so they differ only by floating-point summation order (the ranks'
gradients are summed by the all-reduce, convolutions see smaller batches, thread counts differ), which
the optimiser's steps amplify. Measured here with the test's batch of 127: per-epoch losses 1.4e-7
relative apart, probabilities 7.7e-5 and embeddings 4.2e-5 absolute (batch 128, bundle against bundle:
8e-9, 3e-6, 6e-6).
Drawing dropout masks per rank instead (statistically the same training, other draws) gives 4.5e-4,
0.032 and 0.080: the tolerances below sit between the two.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from training import distributed, pipeline
from training.config import TrainConfig

REPO = Path(__file__).parents[2]
LOSS_RTOL = 1e-5  # per-epoch mean losses (VAE and SupCon) of the manifest
OUTPUT_ATOL = 1e-3  # probabilities and embeddings of the bundle's demo windows (ONNX vs torch)
# the quick config without the Holter rhythm head (a stage after the encoder, on rank 0 alone), and an odd
# global batch so that the ranks' shares differ (64 and 63 windows): the uneven case of the gather
OVERRIDES = {"rhythm": False, "batch": 127}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_bounds_split_every_row_once():
    for n in (1, 5, 127, 128):
        for world in (1, 2, 3, 8):
            parts = [distributed.bounds(n, world, r) for r in range(world)]
            assert parts[0][0] == 0 and parts[-1][1] == n
            assert all(a[1] == b[0] for a, b in zip(parts, parts[1:], strict=False))
            assert max(hi - lo for lo, hi in parts) - min(hi - lo for lo, hi in parts) <= 1


def test_global_batch_dropout_gives_each_row_its_single_process_mask():
    """The premise of the bitwise-equal dropout: rows of a global-shape mask equal F.dropout's rows."""
    x = torch.randn(2 * 127, 192)
    torch.manual_seed(3)
    whole = torch.nn.functional.dropout(x, 0.1, training=True)
    rows = torch.cat([torch.arange(64, 127), torch.arange(127 + 64, 254)])  # rank 1's rows of 2 views
    torch.manual_seed(3)
    part = distributed.GlobalBatchDropout(0.1, len(x), rows).train()(x[rows])
    assert torch.equal(part, whole[rows])


@pytest.mark.slow
def test_two_process_run_matches_one_process(cinc_dir, tmp_path, monkeypatch):
    from engines.backend_onnxruntime import onnxruntime_pipeline
    from engines.bundle import load_bundle

    config = tmp_path / "config.json"
    config.write_text(json.dumps(OVERRIDES))
    monkeypatch.setenv("DACL_CACHE", str(tmp_path / "cache"))

    # one process: what `dacl-train run --quick --config` does before writing the bundle (features cached)
    cfg = TrainConfig.from_file(config, TrainConfig.quick())
    model, hist, _ = pipeline.run(pipeline.load_data(cinc_dir, cfg), cfg)

    # two processes: torchrun on loopback, reading the features cache the first run wrote
    env = dict(os.environ, MASTER_ADDR="127.0.0.1")
    if Path("/sys/class/net/lo").exists():
        env.setdefault("GLOO_SOCKET_IFNAME", "lo")  # gloo would otherwise pick the host's network interface
    out = tmp_path / "bundle"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
           "--master_addr", "127.0.0.1", "--master_port", str(free_port()),
           "-m", "training.cli", "run", "--data", str(cinc_dir), "--out", str(out), "--quick",
           "--config", str(config)]
    res = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    log = res.stdout + res.stderr
    assert res.returncode == 0, log[-4000:]
    assert log.count("bundle written to") == 1  # rank 0 alone writes and reports

    bundle = load_bundle(out)
    trained = bundle.manifest["training"]
    np.testing.assert_allclose(trained["vae_loss"], hist["vae_loss"], rtol=LOSS_RTOL)
    np.testing.assert_allclose(trained["supcon_loss"], hist["supcon_loss"], rtol=LOSS_RTOL)
    assert bundle.manifest["config"]["batch"] == 127

    got = onnxruntime_pipeline(bundle, "cpu").run(bundle.demo_windows())
    with torch.no_grad():
        probs, emb, _ = model(torch.from_numpy(got["features"]))
    np.testing.assert_allclose(got["probs"], probs.numpy(), atol=OUTPUT_ATOL)
    np.testing.assert_allclose(got["embedding"], emb.numpy(), atol=OUTPUT_ATOL)
