"""EC57 episode scoring against hand-made reference and detection intervals with known answers."""

import pytest

from core import ec57
from tests.core.test_scheduler_support import DATA


def test_overlap_rules_learning_period_and_durations():
    # fs = 1 Hz so samples are seconds; the first 300 s are the learning period.
    reference = [(400, 500), (1000, 1100), (2000, 2100)]
    detected = [(100, 200),  # wholly inside the learning period: not counted
                (450, 1050),  # overlaps two reference episodes: both detected, one true detection
                (3000, 3100)]  # overlaps nothing: a false detection
    s = ec57.score_record("r", reference, detected, n_samples=3600, fs=1.0)
    assert (s.ref_episodes, s.ref_detected, s.det_episodes, s.det_true) == (3, 2, 2, 1)
    assert (s.ref_s, s.det_s, s.both_s) == (300.0, 700.0, 100.0)
    m = s.measures()
    assert m["episode_se"] == pytest.approx(2 / 3)
    assert m["episode_ppv"] == pytest.approx(1 / 2)
    assert m["episode_se_30s"] == pytest.approx(2 / 3)
    assert m["duration_se"] == pytest.approx(1 / 3)
    assert m["duration_ppv"] == pytest.approx(1 / 7)


def test_episodes_are_clipped_at_the_learning_period_and_short_ones_leave_the_30s_measure():
    reference = [(250, 320), (600, 610)]  # 20 s after clipping; a 10 s episode
    detected = [(280, 305)]  # 5 s after clipping, overlapping the first
    s = ec57.score_record("r", reference, detected, n_samples=1000, fs=1.0)
    assert (s.ref_episodes, s.ref_detected, s.ref_long_episodes) == (2, 1, 0)
    assert (s.ref_s, s.det_s, s.both_s) == (30.0, 5.0, 5.0)
    assert s.measures()["episode_se_30s"] is None


def test_gross_adds_counts_and_false_alarms_per_hour_use_only_records_without_af():
    fs = 2.0
    with_af = ec57.score_record("af", [(2 * 400, 2 * 700)], [(2 * 500, 2 * 800)], 2 * 1000, fs)
    no_af = ec57.score_record("sinus", [], [(2 * 1000, 2 * 1010), (2 * 2000, 2 * 2030)], 2 * 3900, fs)
    g = ec57.gross([with_af, no_af])
    assert g["false_alarms"] == 2 and g["records_without_af"] == 1
    assert g["false_alarms_per_hour"] == pytest.approx(2.0)  # 3,900 s - 300 s learning = 1 h
    assert g["episode_se"] == 1.0 and g["episode_ppv"] == pytest.approx(1 / 3)
    assert g["duration_se"] == pytest.approx(200 / 300)
    assert g["duration_ppv"] == pytest.approx(200 / (300 + 10 + 30))


def test_nothing_to_divide_by_gives_none():
    s = ec57.score_record("quiet", [], [], 10_000, 1.0)
    assert all(v is None for v in s.measures().values())
    assert ec57.gross([s])["false_alarms_per_hour"] == 0.0


def test_rhythm_intervals_and_flutter_counting():
    samples = [0, 50, 100, 150, 200, 300, 400]
    symbols = ["+", "N", "+", "V", "+", "+", "+"]
    aux = ["(N", "", "(AFIB", "", "(AFL", "(N", "(AFIB\x00"]
    assert ec57.af_reference(samples, symbols, aux, 500) == [(100, 200), (400, 500)]
    assert ec57.af_reference(samples, symbols, aux, 500, flutter_as_af=True) == [(100, 300), (400, 500)]


def test_reference_af_of_mitbih_201_from_its_annotations():
    wfdb = pytest.importorskip("wfdb")
    path = DATA / "mitdb" / "201"
    if not path.with_suffix(".atr").exists():
        pytest.skip(f"shared data not found at {path}")
    ann = wfdb.rdann(str(path), "atr")
    intervals = ec57.af_reference(ann.sample, ann.symbol, ann.aux_note, 650_000)
    starts = [s for s, sym, a in zip(ann.sample, ann.symbol, ann.aux_note, strict=True)
              if sym == "+" and a.startswith("(AFIB")]
    assert [a for a, _ in intervals] == starts  # every AF run starts where the cardiologists marked it
    assert all(b > a for a, b in intervals)
    # the MIT-BIH directory lists 10:06 of atrial fibrillation for record 201
    assert sum(b - a for a, b in intervals) / 360 == pytest.approx(10 * 60 + 6, abs=1)
