"""`InferenceModel`: what the scheduler runs, as its config and its batch runner see a model.

core.scheduler_model.PipelineModel is one for a bundle; tests subclass it with doubles. It sits apart
from the batch runner (core.inference) so that core.scheduler_config can read a model's contract
without importing the runner that imports the config.
"""

from __future__ import annotations

import numpy as np

from engines.contract import EpisodeSettings, ModelContract


class InferenceModel:
    """What the worker runs on a batch: normalised windows (B, W) float32 → probs, embedding, trajectory.

    The defaults describe a model without a bundle (a test double): no contract (SchedulerConfig's
    defaults apply), no rhythm head, the monitor's default episode settings, on the CPU.
    """

    backend: str = "model"  # e.g. "onnxruntime CPU fp32", shown by the GUI and written by the reports
    device: str = "cpu"  # where the scheduler also runs the heart-rate detector ("cuda..." or "cpu")
    parallel_callers: int = 1  # batches the engine runs well at once (the scheduler's inference threads)
    contract: ModelContract | None = None  # the bundle's signal path (engines.contract)
    rhythm_context: dict | None = None  # {"context_s", "guard_s"} of the rhythm head's RR features
    episodes: EpisodeSettings | None = None  # the episode detector's settings (None: core.events' defaults)
    rr_rhythm = None  # core.beat_analysis.RrRhythm: the bundle's RR rhythm model over the stream's beats
    alarm = None  # core.alarm.AlarmFusion: the AF alarm's model over the window and the RR model's output
    record_head = None  # core.record_head.RecordClassifier: a short recording's class as a whole

    def infer(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return probs (B, 4), embedding (B, D), trajectory (B, 2) for a batch of normalised windows."""
        raise NotImplementedError

    def fuse(self, embedding: np.ndarray, rhythm: np.ndarray) -> np.ndarray:
        """Rhythm-context probabilities (B, 4) from embeddings and RR features (models with a rhythm head)."""
        raise RuntimeError(f"{type(self).__name__} has no rhythm head")
