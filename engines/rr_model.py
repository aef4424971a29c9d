"""The bundle's RR rhythm model: features of the recent RR intervals (B, F) → p(sinus, AF, other) (B, 3).

A small MLP (training/rr_model.py) that every backend runs in ONNX Runtime on the CPU: a few thousand
multiply-adds per beat, cheaper than any device round trip. The manifest's "rr_model" block names its file,
its input features (computed by core.rr_features, which refuses a bundle asking for others), its classes
and its beat-level episode settings ("episodes"). `write_rr_model` adds or replaces it in a bundle.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from engines.bundle_spec import (
    RR_CLASSES,
    RR_ONNX,
    BundleError,
    check_rr_block,
)
from engines.export import export_onnx_multi, max_ort_deviation
from engines.small_graph import CpuGraph, add_block

EXPORT_TOLERANCE = 1e-5


class RrModelEngine:
    """rr_rhythm.onnx in an ONNX Runtime CPU session: rr_features (B, F) → rr_probs (B, 3)."""

    def __init__(self, bundle_path: str | Path, block: Mapping[str, Any], threads: int = 1) -> None:
        check_rr_block(block)
        self.block = dict(block)
        self.n_features = len(block["features"])
        self.graph = CpuGraph(Path(bundle_path) / block["onnx"], ("rr_features", "rr_probs"), self.n_features,
                              len(RR_CLASSES), "rr model", threads)

    def run(self, features: np.ndarray) -> np.ndarray:
        """rr_probs (B, 3) of float32 features (B, F)."""
        return self.graph.run(features)


def write_rr_model(bundle_dir: str | Path, module: nn.Module, spec: Mapping[str, Any],
                   example: np.ndarray) -> dict[str, Any]:
    """Export `module` as rr_rhythm.onnx into a bundle and record it in its manifest (hashes renewed).

    spec: the block's descriptive fields ("features", "n_intervals", "episodes", notes); example: real
    features (N, F) for the export check, which must match PyTorch within 1e-5.
    """
    root = Path(bundle_dir)
    x = torch.from_numpy(np.ascontiguousarray(example, dtype=np.float32))
    module = module.eval()  # forward(rr_features) → probabilities (B, 3), as training/rr_model.RrRhythmNet
    export_onnx_multi(module, {"rr_features": x}, root / RR_ONNX, ("rr_probs",))
    dev = max_ort_deviation(root / RR_ONNX, module, {"rr_features": x.numpy()})
    if dev > EXPORT_TOLERANCE:
        raise BundleError(f"exported RR model deviates from PyTorch by {dev:.3g} (> {EXPORT_TOLERANCE})")
    block = {**dict(spec), "onnx": RR_ONNX, "classes": list(RR_CLASSES),
             "inputs": {"rr_features": ["batch", int(x.shape[1])]},
             "outputs": {"rr_probs": ["batch", len(RR_CLASSES)]}, "max_ort_deviation": dev}
    return add_block(root, "rr_model", RR_ONNX, block, check_rr_block)
