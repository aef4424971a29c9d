"""The bundle's optional rhythm head: embedding + RR features of the last minute → class probabilities.

A few thousand multiply-adds per window, so every backend runs it in ONNX Runtime on the CPU, after its
own scattering and encoder engines (a GPU round trip would cost more than the arithmetic).
"""

from __future__ import annotations

import numpy as np

from engines.base import EngineError
from engines.bundle import Bundle


class RhythmHeadEngine:
    """rhythm.onnx in an ONNX Runtime CPU session: (embedding (B, D), rhythm (B, R)) → rhythm_probs (B, 4)."""

    def __init__(self, bundle: Bundle, threads: int = 1) -> None:
        import onnxruntime as ort

        if bundle.rhythm is None:
            raise ValueError(f"bundle {bundle.path} has no rhythm head (manifest field 'rhythm')")
        self.spec = bundle.rhythm
        self.dim = int(self.spec["inputs"]["embedding"][1])
        self.n_features = int(self.spec["inputs"]["rhythm"][1])
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(bundle.path / self.spec["onnx"]), options,
                                            providers=["CPUExecutionProvider"])

    def run(self, embedding: np.ndarray, rhythm: np.ndarray) -> np.ndarray:
        """rhythm_probs (B, 4) for float32 embeddings (B, D) and rhythm features (B, R)."""
        embedding = np.ascontiguousarray(embedding, dtype=np.float32)
        rhythm = np.ascontiguousarray(rhythm, dtype=np.float32)
        if embedding.ndim != 2 or embedding.shape[1] != self.dim or rhythm.shape != (len(embedding),
                                                                                      self.n_features):
            raise EngineError(f"rhythm head inputs must be embedding (B, {self.dim}) and rhythm (B, "
                              f"{self.n_features}); got {embedding.shape} and {rhythm.shape}")
        if len(embedding) == 0:
            return np.empty((0, 4), np.float32)
        return self.session.run(["rhythm_probs"], {"embedding": embedding, "rhythm": rhythm})[0]
