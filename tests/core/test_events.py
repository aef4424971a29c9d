"""Episode detection with hysteresis on hand-made probability sequences; CSV and WFDB annotation output."""

import csv

import numpy as np
import pytest

from core.events import EpisodeDetector, EventLog
from core.results import WindowResult

H = 300


def probs_with_a(p_a: float) -> np.ndarray:
    rest = (1.0 - p_a) / 3
    return np.array([rest, p_a, rest, rest], dtype=np.float32)


def feed(detector_or_log, p_a_sequence, stream_id=0):
    events = []
    for i, p in enumerate(p_a_sequence):
        end = 2048 + i * H
        if isinstance(detector_or_log, EpisodeDetector):
            e = detector_or_log.update(stream_id, probs_with_a(p), end)
        else:
            result = WindowResult(stream_id, end, 0.0, 0.0, probs_with_a(p), np.zeros(8), np.zeros(2), 70.0)
            e = detector_or_log(result)
        if e is not None:
            events.append(e)
    return events


def test_start_needs_k_consecutive_windows_above_on():
    seq = [0.1, 0.7, 0.7, 0.1, 0.7, 0.7, 0.7, 0.9]
    events = feed(EpisodeDetector(on=0.6, off=0.4, k_on=3, k_off=3), seq)
    assert [(e.kind, e.sample, e.detected_sample) for e in events] == [("start", 2048 + 4 * H, 2048 + 6 * H)]


def test_hysteresis_between_thresholds_keeps_the_episode():
    # in an episode, values between off (0.4) and on (0.6) neither end it nor count towards ending it
    seq = [0.9, 0.9, 0.5, 0.3, 0.5, 0.3, 0.3, 0.5, 0.2, 0.2, 0.2, 0.9]
    events = feed(EpisodeDetector(on=0.6, off=0.4, k_on=2, k_off=3), seq)
    assert [(e.kind, e.sample) for e in events] == [("start", 2048), ("end", 2048 + 8 * H)]
    assert events[1].detected_sample == 2048 + 10 * H


def test_chattering_around_one_threshold_gives_no_event():
    seq = [0.61, 0.59] * 10
    assert feed(EpisodeDetector(on=0.6, off=0.4, k_on=2, k_off=2), seq) == []


def test_two_episodes_and_k_one():
    seq = [0.0, 0.8, 0.1, 0.1, 0.8, 0.0]
    events = feed(EpisodeDetector(on=0.6, off=0.4, k_on=1, k_off=1), seq)
    assert [e.kind for e in events] == ["start", "end", "start", "end"]
    assert [e.sample for e in events] == [2048 + H, 2048 + 2 * H, 2048 + 4 * H, 2048 + 5 * H]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"rhythm": "X"}, "rhythm must be one of .* 'X' is invalid"),
        ({"on": 0.3, "off": 0.5}, "0 <= off <= on <= 1; off=0.5, on=0.3 is invalid"),
        ({"k_on": 0}, "k_on and k_off must be at least 1; k_on=0"),
    ],
)
def test_bad_settings_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        EpisodeDetector(**kwargs)


def test_event_log_keeps_streams_apart_and_writes_csv(tmp_path):
    log = EventLog(k_on=2, k_off=2)
    feed(log, [0.9, 0.9, 0.9, 0.1, 0.1], stream_id=1)
    feed(log, [0.1, 0.1, 0.9], stream_id=2)
    feed(log, [0.9, 0.9], stream_id=3)
    assert [(e.stream_id, e.kind) for e in log.events] == [(1, "start"), (1, "end"), (3, "start")]
    with log.to_csv(tmp_path / "events.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [(r["stream_id"], r["kind"], r["rhythm"], r["sample"]) for r in rows] == [
        ("1", "start", "A", "2048"), ("1", "end", "A", str(2048 + 3 * H)), ("3", "start", "A", "2048")
    ]


def test_wrann_file_is_read_back_by_rdann(tmp_path):
    import wfdb

    log = EventLog(k_on=2, k_off=2)
    feed(log, [0.1, 0.9, 0.9, 0.9, 0.2, 0.2, 0.9, 0.9], stream_id=5)
    path = log.to_wrann("bed5", stream_id=5, fs=300, write_dir=tmp_path)
    assert path == tmp_path / "bed5.rhy"
    ann = wfdb.rdann(str(tmp_path / "bed5"), "rhy")
    assert ann.symbol == ["+"] * 4
    assert ann.aux_note == ["(N", "(AFIB", "(N", "(AFIB"]
    assert list(ann.sample) == [2048, 2048 + H, 2048 + 4 * H, 2048 + 6 * H]
    assert ann.fs == 300


def test_wrann_without_results_is_refused(tmp_path):
    with pytest.raises(ValueError, match="stream 9 has no results yet"):
        EventLog().to_wrann("bed9", stream_id=9, fs=300, write_dir=tmp_path)


def test_an_episode_from_the_first_window_on_is_written_without_a_baseline_before_it(tmp_path):
    """Two rhythm annotations at one sample say nothing the later does not: only '(AFIB' is written."""
    import wfdb

    log = EventLog(k_on=2, k_off=2)
    feed(log, [0.9, 0.9, 0.9, 0.2, 0.2], stream_id=1)
    log.to_wrann("bed1", stream_id=1, fs=300, write_dir=tmp_path)
    ann = wfdb.rdann(str(tmp_path / "bed1"), "rhy")
    assert ann.aux_note == ["(AFIB", "(N"]
    assert list(ann.sample) == [2048, 2048 + 3 * H]
