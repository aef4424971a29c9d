"""One monitoring session for the GUI, headless and analyze: the episode detector sees every result on the
worker's side, a consumer's queues deliver statuses, then episode events, then results, and the writers
give one stream's events or all of them."""

import csv

import numpy as np

from core.events import EpisodeSettings, EventLog
from core.results import WindowResult
from core.scheduler import InferenceModel, SchedulerConfig
from core.session import MonitoringSession

SETTINGS = EpisodeSettings("A", 0.6, 0.4, 2, 2, 1)


class NoEngine(InferenceModel):
    """The session is fed by hand here: the model is never run."""

    backend = "none"
    episodes = SETTINGS


def result(stream_id: int, k: int, p_af: float) -> WindowResult:
    return WindowResult(stream_id, 2048 + 300 * k, 0.0, 0.01 + k, np.array([1 - p_af, p_af, 0.0, 0.0]),
                        np.zeros(16), np.zeros(2), 70.0)


P_AF = [0.1, 0.9, 0.9, 0.9, 0.1, 0.1, 0.1]


def test_episodes_are_those_of_an_event_log_fed_the_same_results_and_drain_puts_events_first():
    session = MonitoringSession(NoEngine(), SchedulerConfig(heart_rate=False), results=100, statuses=10)
    assert session.events.settings == SETTINGS  # the model's (bundle's) episode settings
    reference = EventLog(settings=SETTINGS)
    returned = []
    for k, p in enumerate(P_AF):
        for sid in (0, 1):
            returned.append(session.publish(result(sid, k, p)))
            reference(result(sid, k, p))
    assert [(e.stream_id, e.kind, e.sample) for e in session.events.events] == [
        (e.stream_id, e.kind, e.sample) for e in reference.events]
    assert [e for e in returned if e is not None] == session.events.events
    assert len(session.events.events) == 4 and len(session.latency.latencies_ms) == 2 * len(P_AF)
    items = session.drain()
    kinds = [type(i).__name__ for i in items]
    assert kinds == ["RhythmEvent"] * 4 + ["WindowResult"] * 2 * len(P_AF)
    assert session.drain() == []


def test_events_csv_of_one_stream_or_all(tmp_path):
    session = MonitoringSession(NoEngine(), SchedulerConfig(heart_rate=False))
    for k, p in enumerate(P_AF):
        for sid in (3, 4):
            session.publish(result(sid, k, p))
    with session.write_events(tmp_path / "all.csv").open(newline="") as f:
        assert sorted({r["stream_id"] for r in csv.DictReader(f)}) == ["3", "4"]
    with session.write_events(tmp_path / "one.csv", stream_id=4).open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["stream_id"], r["kind"]) for r in rows] == [("4", "start"), ("4", "end")]
