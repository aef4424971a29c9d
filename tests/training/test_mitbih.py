"""Holter window labels from reference rhythm annotations, on a hand-made record and on MIT-BIH 201."""

from pathlib import Path

import numpy as np
import pytest

from core.records import Annotations
from training.mitbih import CLASSES, window_labels

MITDB = Path(__file__).parents[2] / ".." / "shared" / "data" / "mitdb"


def test_labels_follow_the_rhythm_covering_half_the_window():
    fs = 360.0  # rhythm changes at 0 s (N), 60 s (AFIB), 120 s (AFL), 180 s (N) of a 240 s record
    ann = Annotations("atr", np.array([0, 100, 21600, 30000, 43200, 64800]), ("+", "N", "+", "V", "+", "+"),
                      ("(N", "", "(AFIB", "", "(AFL", "(N"))
    window = 2048  # 6.83 s at 300 Hz
    ends_s = np.array([30.0, 63.0, 64.0, 90.0, 123.0, 125.0, 150.0, 200.0])
    labels = window_labels(ann, 240 * 360, fs, np.rint(ends_s * 300).astype(int), window, 300.0)
    # a window ending 3 s into AF holds 3.8 s of sinus rhythm: still N; 4 s in: AF; flutter is Other
    assert [CLASSES[i] for i in labels] == ["N", "N", "A", "A", "A", "O", "O", "N"]


def test_mitbih_201_has_af_sinus_and_other_windows():
    if not (MITDB / "201.atr").exists():
        pytest.skip(f"MIT-BIH records not found at {MITDB}")
    from core.records import open_record

    rec = open_record(MITDB / "201")
    ends = np.arange(2048, int(rec.n_samples / 1.2), 300)
    labels = window_labels(rec.annotations, rec.n_samples, rec.fs, ends, 2048, 300.0)
    counts = np.bincount(labels, minlength=4)
    assert counts[CLASSES.index("A")] / len(labels) == pytest.approx(606 / 1805, abs=0.03)  # 10:06 of AF
    assert counts[CLASSES.index("N")] > 600 and counts[CLASSES.index("~")] == 0
