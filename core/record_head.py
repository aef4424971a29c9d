"""A short recording's class (Normal / AF / Other / Noisy) from the bundle's record head, as in CinC 2017.

`RecordClassifier` binds a bundle's record_head.onnx (engines/record_head.py) to the feature code it was
trained with (core.record_features) and refuses a bundle asking for other features, naming it. `classify`
cuts the recording in `evaluate`'s layout (core.windowing.eval_windows), runs the windows through the
bundle's own engines, and hands the head the recording's beats, median beat and window summary. The head
was trained on 9–61 s recordings; `analyze` uses it for recordings up to SHORT_S.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from core.record_features import NAMES, record_features
from core.windowing import eval_windows

SHORT_S = 120.0  # analyze classifies recordings up to this long as a whole
CLASS_LABELS = {"N": "Normal", "A": "AF", "O": "Other rhythm", "~": "Noisy"}


def describe(record_class: dict | None) -> str:
    """'Other rhythm (71 %)' from an analysis summary's "record_class" ('' when there is none)."""
    if not record_class:
        return ""
    code = record_class["class"]
    return f"{CLASS_LABELS[code]} ({100 * record_class['probs'][code]:.0f} %)"


class RecordClassifier:
    """A bundle's record head: classify(preprocessed recording, window inference) → probabilities (4,)."""

    def __init__(self, bundle) -> None:
        from engines.contract import ModelContract
        from engines.record_head import RecordHeadEngine

        block = bundle.record_head
        if block is None:
            raise ValueError(f"bundle {bundle.path} has no record head (manifest field 'record_head'); "
                             "`dacl-train record --model BUNDLE` adds one")
        if list(block["features"]) != list(NAMES):
            raise ValueError(f"bundle {bundle.path}: record_head.features differ from what this code "
                             f"computes ({len(block['features'])} named, {len(NAMES)} computed); "
                             "retrain the head")
        contract = ModelContract.from_manifest(bundle.manifest, f"bundle {bundle.path}")
        self.window, self.std_floor_mv = contract.window, contract.std_floor_mv
        self.engine = RecordHeadEngine(bundle.path, block)

    def features(self, x: np.ndarray, infer: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """The head's input (len(NAMES),) of recording x (mV at the model rate); infer: windows → probs."""
        windows = eval_windows(np.asarray(x, np.float32), self.window, std_floor_mv=self.std_floor_mv)
        return record_features(x, infer(windows))

    def classify(self, x: np.ndarray, infer: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """Class probabilities (4,) of one whole recording, in the bundle's class order."""
        return self.engine.run(self.features(x, infer)[None, :])[0]


def classify_recording(signal_mv: np.ndarray, fs: float, model) -> np.ndarray:
    """The record head's class probabilities (4,) of one lead (mV at fs), by a loaded bundle's own engines.

    model: core.scheduler_model.PipelineModel with a record head; the lead is preprocessed by its contract.
    """
    from core.preprocess import preprocess_record

    c = model.contract
    x, _ = preprocess_record(np.asarray(signal_mv, np.float64), fs, c.fs, c.band_hz, c.bandpass_order)
    return model.record_head.classify(np.asarray(x, np.float32), lambda w: model.infer(w)[0])
