"""The bundle's record head: a whole recording's features (B, F) → its class probabilities (B, 4).

Gradient-boosted trees and a logistic fusion (training/record_head.py) over the record's beat sequence,
median beat and DACL window summary (core.record_features); every backend runs it in ONNX Runtime on the
CPU, once per recording. The manifest's "record_head" block names its file, its input features
(core/record_head.py refuses a bundle asking for others), its classes and its cross-validated figures.
`write_record_head` adds or replaces it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from engines.bundle_spec import (
    CLASSES,
    RECORD_ONNX,
    BundleError,
    check_record_block,
)
from engines.small_graph import CpuGraph, add_block

EXPORT_TOLERANCE = 1e-5
NAMES = ("record_features", "record_probs")  # the graph's input and output


class RecordHeadEngine:
    """record_head.onnx in an ONNX Runtime CPU session: record_features (B, F) → record_probs (B, 4)."""

    def __init__(self, bundle_path: str | Path, block: Mapping[str, Any], threads: int = 1) -> None:
        check_record_block(block)
        self.n_features = len(block["features"])
        self.graph = CpuGraph(Path(bundle_path) / block["onnx"], NAMES, self.n_features, len(CLASSES),
                              "record head", threads)

    def run(self, features: np.ndarray) -> np.ndarray:
        """record_probs (B, 4) of float32 features (B, F)."""
        return self.graph.run(features)


def write_record_head(bundle_dir: str | Path, model: Any, spec: Mapping[str, Any], example: np.ndarray,
                      reference: np.ndarray) -> dict[str, Any]:
    """Write the ONNX `model` as record_head.onnx into a bundle and name it in its manifest (hashes renewed).

    spec: the block's descriptive fields ("features", "cv", "training"); example: real features (N, F) and
    reference: the training code's probabilities for them, which ONNX Runtime must match within 1e-5.
    """
    root = Path(bundle_dir)
    (root / RECORD_ONNX).write_bytes(model.SerializeToString())
    x = np.ascontiguousarray(example, dtype=np.float32)
    graph = CpuGraph(root / RECORD_ONNX, NAMES, x.shape[1], len(CLASSES), "record head")
    dev = float(np.abs(graph.run(x) - reference).max())
    if dev > EXPORT_TOLERANCE:
        raise BundleError(f"exported record head deviates from the training code by {dev:.3g} "
                          f"(> {EXPORT_TOLERANCE})")
    block = {**dict(spec), "onnx": RECORD_ONNX, "classes": [c for c, _ in CLASSES],
             "inputs": {"record_features": ["batch", int(x.shape[1])]},
             "outputs": {"record_probs": ["batch", len(CLASSES)]}, "max_ort_deviation": dev}
    return add_block(root, "record_head", RECORD_ONNX, block, check_record_block)
