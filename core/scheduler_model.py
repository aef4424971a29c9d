"""The scheduler's view of a model bundle: an engines Pipeline (scattering → encoder) as an InferenceModel.

`load_model(bundle, engine)` loads and validates the bundle, builds the scattering and encoder engines
of the named backend from the engines registry ("auto" picks the best available one), and warms them up
so the first real window does not pay for session start-up.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from core.inference_model import InferenceModel

log = logging.getLogger(__name__)


class PipelineModel(InferenceModel):
    """Normalised windows (B, W) float32 through an engines Pipeline: a bundle as the scheduler runs it."""

    def __init__(self, pipeline, bundle) -> None:  # engines.base.Pipeline, engines.bundle.Bundle
        from engines.contract import ModelContract

        self.pipeline = pipeline
        self.bundle = bundle
        self.contract = ModelContract.from_manifest(bundle.manifest, f"bundle {bundle.path}")
        self.fs = self.contract.fs
        self.window = self.contract.window
        self.hop = self.contract.hop
        info = pipeline.info()
        self.backend = f"{info['name']} ({info['device']}, {info['precision']})"
        self.device = str(info["device"])  # where the scheduler also runs the heart-rate detector
        self.parallel_callers = pipeline.parallel_callers  # batches it runs well at once (engines.base)
        self.selection = ""  # why this backend: filled by load_model from the registry's selection
        self.episodes = self.contract.episodes
        self.rhythm = None  # engines.rhythm_head.RhythmHeadEngine when the bundle has a rhythm head
        self.rhythm_context: dict | None = None  # {"context_s", "guard_s"} of its RR features
        if (spec := self.contract.rhythm) is not None:
            from core.rhythm import RHYTHM_FEATURES
            from engines.rhythm_head import RhythmHeadEngine

            if list(spec.features) != list(RHYTHM_FEATURES):
                raise ValueError(f"bundle {bundle.path}: manifest rhythm.features {list(spec.features)} "
                                 f"differ from what this code computes ({list(RHYTHM_FEATURES)}); "
                                 "retrain the bundle or use the code it was trained with")
            self.rhythm = RhythmHeadEngine(bundle)
            self.rhythm_context = {"context_s": spec.context_s, "guard_s": spec.guard_s}
        self.rr_rhythm = None
        if bundle.rr_model is not None:
            from core.beat_analysis import RrRhythm

            self.rr_rhythm = RrRhythm(bundle)
        self.alarm = None
        if bundle.alarm is not None:
            from core.alarm import AlarmFusion

            self.alarm = AlarmFusion(bundle.alarm, f"bundle {bundle.path}: manifest alarm")
        self.record_head = None
        if bundle.record_head is not None:
            from core.record_head import RecordClassifier

            self.record_head = RecordClassifier(bundle)

    def infer(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return probs (B, 4), embedding (B, D), trajectory (B, 2)."""
        out = self.pipeline.run(windows)
        return out["probs"], out["embedding"], out["trajectory"]

    def fuse(self, embedding: np.ndarray, rhythm: np.ndarray) -> np.ndarray:
        """Rhythm-context probabilities (B, 4) from embeddings and RR features (needs a rhythm head)."""
        if self.rhythm is None:
            raise RuntimeError(f"bundle {self.bundle.path} has no rhythm head")
        return self.rhythm.run(embedding, rhythm)

    def warm_up(self, batch_sizes: tuple[int, ...] = (1, 8)) -> None:
        """Run a few batches of noise so sessions, kernels and allocators are ready before real data."""
        rng = np.random.default_rng(0)
        for n in batch_sizes:
            self.infer(rng.standard_normal((n, self.window)).astype(np.float32))

    def close(self) -> None:
        """Release the engines' resources."""
        self.pipeline.close()


#: Short engine names the command line accepts, each the registry backends it tries in order.
ENGINE_FAMILIES = {
    "auto": None,  # the registry's own order: TensorRT -> ORT CUDA -> PyTorch CUDA -> ORT CPU -> PyTorch CPU
    "onnxruntime": ("onnxruntime-cuda", "onnxruntime-cpu"),
    "torch": ("torch-cuda", "torch-cpu"),
    "pytorch": ("torch-cuda", "torch-cpu"),
    "tensorrt": ("tensorrt",),
}


def engine_order(engine: str) -> tuple[str, ...]:
    """Registry backends to try for an engine name: a family ("onnxruntime"), "auto", or one backend."""
    from engines.registry import AUTO_ORDER, BACKENDS

    if engine in ENGINE_FAMILIES:
        return ENGINE_FAMILIES[engine] or AUTO_ORDER
    if engine in BACKENDS:
        return (engine,)
    raise ValueError(f"unknown engine {engine!r}; use one of {', '.join([*ENGINE_FAMILIES, *BACKENDS])}")


def load_model(bundle_path: str | Path, engine: str = "auto", warm_up: bool = True,
               engine_options: dict[str, dict] | None = None, batch_per_core: bool = True) -> PipelineModel:
    """Load a bundle and open its pipeline on the named engine (see engine_order); warm it up.

    ``engine_options`` maps backend names to their options, e.g. {"triton": {"url": "host:8001"}}.
    ``batch_per_core``: ONNX Runtime on the CPU runs single-threaded sessions and the scheduler one
    batch per core at once (``parallel_callers``): 1,000 against 600-900 windows/s for one two-thread
    batch at a time on 2 cores (benchmarks/inference_workers.py). False: one batch on every core, for
    callers that run one big batch at a time themselves.
    """
    from engines.bundle import load_bundle
    from engines.registry import select_engine

    bundle = load_bundle(bundle_path)
    engine_options = dict(engine_options or {})
    if batch_per_core:
        engine_options["onnxruntime-cpu"] = {"threads": 1, **engine_options.get("onnxruntime-cpu", {})}
    selection = select_engine(bundle, engine_order(engine), engine_options)
    model = PipelineModel(selection.engine, bundle)
    model.selection = selection.summary()
    if warm_up:
        model.warm_up()
    log.info("model %s: %s", bundle_path, model.selection)
    return model
