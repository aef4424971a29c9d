"""Training windows from annotated Holter records (MIT-BIH): labels from the reference rhythm annotations.

A window is labelled by the rhythm that covers at least half of it: atrial fibrillation → A; sinus
rhythm ('(N') → N, ectopic beats included (PVCs, APCs, bigeminy and bundle-branch block within sinus
rhythm are what the monitor must NOT call AF); atrial flutter ('(AFL') and every other rhythm (pacing,
SVTA, ventricular or junctional rhythms, ...) → O, as CinC 2017 labels flutter "Other"; a window with no
rhythm covering half of it (a change of rhythm inside it) → O as well.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.ec57 import AF_AUX, Interval, overlap, rhythm_intervals
from core.records import Annotations

CLASSES = ("N", "A", "O", "~")  # training.dataset.CLASSES order


def rhythm_table(ann: Annotations, n_samples: int) -> dict[str, list[Interval]]:
    """[start, end) intervals of AF and of sinus rhythm, from '+' rhythm annotations."""
    return {"A": rhythm_intervals(ann.sample, ann.symbol, ann.aux_note, n_samples, (AF_AUX,)),
            "N": rhythm_intervals(ann.sample, ann.symbol, ann.aux_note, n_samples, ("(N",))}


def window_labels(ann: Annotations, n_samples: int, fs: float, ends: np.ndarray, window: int,
                  model_fs: float) -> np.ndarray:
    """Class index per window ending at model-rate sample `ends` (window of `window` model-rate samples)."""
    table = rhythm_table(ann, n_samples)
    scale = fs / model_fs
    stop = np.rint(np.asarray(ends) * scale).astype(np.int64)
    start = stop - round(window * scale)
    labels = np.full(len(stop), CLASSES.index("O"), dtype=np.int64)
    for code in ("N", "A"):
        frac = np.array([overlap([(int(a), int(b))], table[code]) / (b - a) for a, b in zip(start, stop,
                                                                                          strict=True)])
        labels[frac >= 0.5] = CLASSES.index(code)
    return labels


def list_annotated(folder: Path) -> list[Path]:
    """Records of a folder (RECORDS, else *.hea) that have reference 'atr' annotations."""
    from core.records import list_records

    return [p for p in list_records(folder) if p.with_suffix(".atr").is_file()]
