"""A bundle's small CPU graphs (the RR model, the record head), and adding one to a bundle's manifest.

Each runs in one ONNX Runtime CPU session, one float32 input (B, F) → one output (B, K): a few thousand
multiply-adds a row, cheaper than any device round trip, so every backend runs them here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from engines.base import EngineError
from engines.bundle_spec import file_sha256, validate_manifest


class CpuGraph:
    """graph (B, n_features) float32 → (B, n_outputs), refusing any other input shape by name."""

    def __init__(self, path: Path, names: tuple[str, str], n_features: int, n_outputs: int, what: str,
                 threads: int = 1) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.names, self.n_features, self.n_outputs, self.what = names, n_features, n_outputs, what

    def run(self, features: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(features, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise EngineError(f"{self.what} input must be (B, {self.n_features}); got {x.shape}")
        if len(x) == 0:
            return np.empty((0, self.n_outputs), np.float32)
        return self.session.run([self.names[1]], {self.names[0]: x})[0]


def add_block(bundle_dir: str | Path, key: str, file_name: str, block: dict[str, Any],
              check: Callable[[Mapping[str, Any]], None]) -> dict[str, Any]:
    """Check `block`, put it under manifest[key] with file_name's hash, validate the bundle, write it."""
    root = Path(bundle_dir)
    manifest_path = root / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    check(block)
    manifest[key] = block
    manifest["files"][file_name] = file_sha256(root / file_name)
    validate_manifest(manifest, root)
    manifest_path.write_text(json.dumps(manifest, indent=1) + "\n")
    return block
