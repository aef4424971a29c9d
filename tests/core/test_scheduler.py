"""The scheduler: streaming equals offline, no drops under moderate load, counted drops under overload,
errors surface as fault states (and re-raise in strict mode)."""

import time

import numpy as np
import pytest

from core.heart_rate import HeartRateEstimator
from core.preprocess import normalize_window, preprocess_record
from core.records import open_record
from core.scheduler import PendingWindow, Scheduler, SchedulerConfig
from core.scheduler_model import PipelineModel
from core.sources import WfdbReplaySource
from core.windowing import offline_windows
from tests.core.test_scheduler_support import CINC, MITBIH_100, bundle_path, need_data


@pytest.fixture(scope="module")
def model(pytestconfig):
    from engines.backend_onnxruntime import onnxruntime_pipeline
    from engines.bundle import load_bundle

    bundle = load_bundle(bundle_path(pytestconfig.cache.mkdir("dacl-scheduler-bundle")))
    return PipelineModel(onnxruntime_pipeline(bundle, threads=1), bundle)


def run_until(scheduler, done, timeout=30.0):
    """Run the scheduler until done() or timeout; stop it (re-raising in strict mode)."""
    scheduler.start()
    t0 = time.monotonic()
    try:
        while not done() and time.monotonic() - t0 < timeout:
            time.sleep(0.02)
    finally:
        scheduler.stop()


def drained(scheduler):
    return lambda: all(s.state == "ended" for s in scheduler.streams()) and scheduler.pending() == 0


@pytest.mark.parametrize(
    ("record", "seconds", "chunk"),
    [(CINC / "A00001", None, 37), (MITBIH_100, 40.0, 37), (MITBIH_100, 60.0, 30_000)],  # last: > ring
)
def test_streaming_equals_offline(model, record, seconds, chunk):
    need_data(record)
    rec = open_record(record)
    # batch 1 on both sides: ONNX Runtime's kernels differ with the batch size (the shipped model's
    # probabilities move by up to ~7e-5 between batch 1 and batch 24), which is not what is tested here
    config = SchedulerConfig(pending_per_stream=10_000, max_batch=1)
    scheduler = Scheduler(model, config, strict=True)
    results = scheduler.result_queue(maxsize=100_000)
    sid = scheduler.add_stream(WfdbReplaySource(rec, chunk=chunk, speed=None, limit_s=seconds))
    run_until(scheduler, drained(scheduler))
    got = results.get_all()

    signal = rec.signal if seconds is None else rec.signal[: round(seconds * rec.fs)]
    offline, flags = preprocess_record(signal, rec.fs)
    windows = offline_windows(offline, flags, dtype=np.float64)
    raw = np.stack([w.samples for w in windows])
    outputs = [model.infer(normalize_window(raw[i : i + 1])) for i in range(len(raw))]
    probs, embedding, trajectory = (np.concatenate(o) for o in zip(*outputs, strict=True))

    assert len(windows) >= 5
    assert [r.end_index for r in got] == [w.end for w in windows]
    assert all(r.stream_id == sid for r in got)
    np.testing.assert_allclose(np.stack([r.probs for r in got]), probs, atol=1e-5)
    np.testing.assert_allclose(np.stack([r.embedding for r in got]), embedding, atol=1e-4, rtol=1e-5)
    np.testing.assert_allclose(np.stack([r.trajectory for r in got]), trajectory, atol=1e-4, rtol=1e-5)
    np.testing.assert_allclose([r.heart_rate for r in got], HeartRateEstimator(300).rates(raw), atol=1e-9)
    # the ring the GUI draws holds the same model-rate signal, and the stream reports its source's rate
    info = scheduler.stream(sid)
    start, tail = info.ring.latest(3000)
    np.testing.assert_allclose(tail, offline[start : start + tail.size], atol=1e-9)
    assert info.fs == rec.fs and info.state == "ended" and info.dropped == 0


def test_no_drops_under_moderate_load(model):
    need_data(CINC)
    scheduler = Scheduler(model, SchedulerConfig())
    results = scheduler.result_queue(maxsize=100_000)
    names = ["A00001", "A00002", "A00003"]
    for i, name in enumerate(names * 2):  # 6 streams at x4: 24 windows/s of real ECG, staggered
        scheduler.add_stream(WfdbReplaySource(CINC / name, speed=4.0, limit_s=30), start_delay_s=0.04 * i)
    run_until(scheduler, drained(scheduler), timeout=25)
    got = results.get_all()
    stats = scheduler.stats()
    assert stats.dropped == 0 and stats.faults == 0
    per_stream = {s.stream_id: s.windows for s in scheduler.streams()}
    expected = {sid: (round(30 * 300) - 2048) // 300 + 1 for sid in per_stream}  # minus the filter's tail
    assert all(expected[sid] - 1 <= n <= expected[sid] for sid, n in per_stream.items()), per_stream
    assert len(got) == sum(per_stream.values())
    assert stats.latency_ms["p99"] < 1000


def test_overload_drops_oldest_and_acquisition_continues(model):
    need_data(MITBIH_100)
    rec = open_record(MITBIH_100)
    config = SchedulerConfig(pending_per_stream=2, max_batch=8)
    scheduler = Scheduler(model, config)
    statuses = scheduler.status_queue()
    results = scheduler.result_queue(maxsize=100_000)
    ids = [scheduler.add_stream(WfdbReplaySource(rec, speed=300.0, limit_s=120)) for _ in range(3)]
    run_until(scheduler, drained(scheduler), timeout=30)

    produced = (round(120 * 300) - 2048) // 300  # windows each stream's 120 s yields, give or take one
    got = results.get_all()
    for sid in ids:
        info = scheduler.stream(sid)
        assert info.state == "ended"
        assert info.ring.total >= 120 * 300 - 100  # every sample was acquired: acquisition never waited
        assert info.dropped > 0
        assert produced - 1 <= info.windows + info.dropped <= produced + 1
        ends = [r.end_index for r in got if r.stream_id == sid]
        assert len(ends) == info.windows
        # what was kept is in order, and the newest window is never the one dropped
        assert ends == sorted(ends) and ends[-1] == 2048 + 300 * (info.windows + info.dropped - 1)
    assert scheduler.stats().dropped == sum(scheduler.stream(s).dropped for s in ids)
    reported = [s for s in statuses.get_all() if s.dropped_windows > 0]
    assert reported and "dropping" in reported[0].message


def test_inference_error_faults_the_stream_and_strict_mode_reraises(model):
    need_data(CINC)
    from engines.base import EngineError

    bad = SchedulerConfig(window=1024)  # the model takes 2048-sample windows: the engine refuses these
    scheduler = Scheduler(model, bad)
    statuses = scheduler.status_queue()
    sid = scheduler.add_stream(WfdbReplaySource(CINC / "A00001", speed=None, limit_s=10))
    run_until(scheduler, lambda: scheduler.stream(sid).state == "fault", timeout=10)
    info = scheduler.stream(sid)
    assert info.state == "fault" and isinstance(info.error, EngineError)
    assert "inference error" in info.message and "2048" in info.message
    assert any(s.state == "fault" and s.stream_id == sid for s in statuses.get_all())

    strict = Scheduler(model, bad, strict=True)
    strict.add_stream(WfdbReplaySource(CINC / "A00001", speed=None, limit_s=10))
    with pytest.raises(EngineError, match="must have shape"):
        run_until(strict, lambda: not strict.running, timeout=10)


def test_a_repeated_inference_error_is_logged_once_with_its_traceback(model, caplog):
    """A stream keeps being read after an inference fault (a remote engine may come back); the same error
    on every later batch is one INFO line each, not another traceback."""
    need_data(CINC)
    caplog.set_level("INFO", logger="core.scheduler")
    scheduler = Scheduler(model, SchedulerConfig(window=1024))  # every batch fails: the model wants 2048
    scheduler.add_stream(WfdbReplaySource(CINC / "A00001", speed=20, loop=True))

    def errors():
        return [r for r in caplog.records if r.name == "core.scheduler" and "error" in r.getMessage()]

    run_until(scheduler, lambda: len(errors()) >= 3, timeout=20)
    records = errors()
    assert [r.levelname for r in records][:3] == ["ERROR", "INFO", "INFO"]
    assert records[0].exc_info is not None and all(r.exc_info is None for r in records[1:])
    assert all(r.levelname == "INFO" and "again" in r.getMessage() for r in records[1:])


def test_a_closed_source_faults_only_its_stream(model):
    need_data(CINC)
    scheduler = Scheduler(model, SchedulerConfig())
    broken = WfdbReplaySource(CINC / "A00002", speed=1.0)
    healthy = scheduler.add_stream(WfdbReplaySource(CINC / "A00001", speed=20.0, limit_s=12))
    bad = scheduler.add_stream(broken)
    scheduler.start()
    time.sleep(0.3)
    broken.close()  # e.g. closed by someone else while the scheduler still polls it
    t0 = time.monotonic()
    while scheduler.stream(healthy).state != "ended" and time.monotonic() - t0 < 10:
        time.sleep(0.05)
    scheduler.stop()
    assert scheduler.stream(bad).state == "fault"
    assert "closed" in scheduler.stream(bad).message
    assert scheduler.stream(healthy).state == "ended" and scheduler.stream(healthy).windows > 0


def test_a_source_that_cannot_connect_faults_only_its_stream(model):
    need_data(CINC)
    from core.records import EcgRecord

    empty = EcgRecord("empty", "-", 300.0, np.empty(0), "ECG", 0, ("ECG",))
    scheduler = Scheduler(model, SchedulerConfig())
    bad = scheduler.add_stream(WfdbReplaySource(empty))
    good = scheduler.add_stream(WfdbReplaySource(CINC / "A00001", speed=None, limit_s=10))
    run_until(scheduler, lambda: scheduler.stream(good).state == "ended")
    assert scheduler.stream(bad).state == "fault"
    assert "connect error" in scheduler.stream(bad).message and "no samples" in scheduler.stream(bad).message
    assert scheduler.stream(good).windows > 0


def test_subscriber_error_is_reraised_in_strict_mode(model):
    need_data(CINC)

    def broken_subscriber(result):
        raise RuntimeError(f"display failed on window {result.end_index}")

    scheduler = Scheduler(model, SchedulerConfig(), strict=True)
    scheduler.subscribe(broken_subscriber)
    scheduler.add_stream(WfdbReplaySource(CINC / "A00001", speed=None, limit_s=10))
    with pytest.raises(RuntimeError, match="display failed on window 2048"):
        run_until(scheduler, lambda: not scheduler.running, timeout=10)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"hop": 0}, "hop must be a positive integer; 0 is invalid"),
        ({"ring_seconds": 2.0}, "ring_seconds=2.0 holds fewer samples than one window"),
        ({"max_wait_ms": -1.0}, "max_wait_ms must be >= 0"),
        ({"workers": -1}, "workers must be 0"),
    ],
)
def test_bad_config_is_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SchedulerConfig(**kwargs)


def test_full_queue_drops_the_oldest_windows_exactly(model):
    need_data(CINC)
    rec = open_record(CINC / "A00001")
    signal, _ = preprocess_record(rec.signal, rec.fs)
    scheduler = Scheduler(model, SchedulerConfig(pending_per_stream=3), strict=True)
    results = scheduler.result_queue()
    sid = scheduler.add_external_stream("bed", fs=300.0)
    ends = [2048 + 300 * k for k in range(5)]
    now = time.monotonic()
    # the worker is not running yet: five windows into a queue of three drop the two oldest
    scheduler.submit([PendingWindow(sid, e, signal[e - 2048 : e], now, frozenset()) for e in ends])
    assert scheduler.pending() == 3 and scheduler.stream(sid).dropped == 2
    run_until(scheduler, lambda: scheduler.pending() == 0 and len(results) == 3)
    assert [r.end_index for r in results.get_all()] == ends[2:]
    with pytest.raises(KeyError, match="not an external stream"):
        scheduler.submit([PendingWindow(sid + 1, 2048, signal[:2048], now, frozenset())])


def test_external_stream_windows_give_the_results_of_the_same_windows_acquired(model):
    """Windows cut by a producer and submitted give what the scheduler's own acquisition gives for them."""
    need_data(CINC)
    rec = open_record(CINC / "A00001")
    config = SchedulerConfig(pending_per_stream=10_000, max_batch=1)  # batch 1: see streaming_equals_offline
    acquired = Scheduler(model, config, strict=True)
    got = acquired.result_queue(maxsize=10_000)
    acquired.add_stream(WfdbReplaySource(rec, chunk=300, speed=None, limit_s=12))
    run_until(acquired, drained(acquired))
    expected = sorted(got.get_all(), key=lambda r: r.end_index)

    signal, _ = preprocess_record(rec.signal[: 12 * 300], rec.fs)
    external = Scheduler(model, config, strict=True)
    results = external.result_queue(maxsize=10_000)
    sid = external.add_external_stream("producer", fs=rec.fs)
    assert external.stream(sid).ring is None
    now = time.monotonic()
    external.submit([PendingWindow(sid, r.end_index, signal[r.end_index - 2048 : r.end_index], now, r.flags)
                     for r in expected])
    run_until(external, lambda: len(results) == len(expected))
    submitted = sorted(results.get_all(), key=lambda r: r.end_index)
    assert len(expected) >= 5 and [r.end_index for r in submitted] == [r.end_index for r in expected]
    for a, b in zip(submitted, expected, strict=True):
        np.testing.assert_array_equal(a.probs, b.probs)
        np.testing.assert_array_equal(a.embedding, b.embedding)
        assert a.heart_rate == b.heart_rate or (np.isnan(a.heart_rate) and np.isnan(b.heart_rate))


def test_several_workers_keep_each_streams_order_and_give_one_workers_results(model):
    """Batches run through the engines at once on several threads and finish out of order when they share
    no stream, but each stream's beats, RR model and alarm see its windows in order: every output equals
    a single worker's."""
    need_data(CINC)
    names = ["A00001", "A00002", "A00003", "A00004"]

    def run(workers):
        # small batches and no drops, so the workers interleave many batches of every stream
        config = SchedulerConfig(workers=workers, max_batch=3, max_wait_ms=0.0, backpressure="block",
                                 pending_per_stream=8)
        scheduler = Scheduler(model, config, strict=True)
        results = scheduler.result_queue(maxsize=100_000)
        for name in names:
            scheduler.add_stream(WfdbReplaySource(CINC / name, speed=None, limit_s=30))
        run_until(scheduler, lambda: drained(scheduler)() and scheduler.idle())
        by_stream = {}
        for r in results.get_all():
            by_stream.setdefault(r.stream_id, []).append(r)
        return scheduler.workers, by_stream

    n_one, one = run(1)
    n_three, three = run(3)
    assert (n_one, n_three) == (1, 3)
    assert sorted(one) == sorted(three) == [0, 1, 2, 3]
    for sid, expected in one.items():
        got = three[sid]
        ends = [r.end_index for r in got]
        assert ends == sorted(ends) == [r.end_index for r in expected] and len(ends) >= 8
        for a, b in zip(got, expected, strict=True):
            np.testing.assert_allclose(a.probs, b.probs, atol=1e-4)
            np.testing.assert_array_equal(a.beats, b.beats)
            if b.rr_probs is None:
                assert a.rr_probs is None
            else:
                np.testing.assert_allclose(a.rr_probs, b.rr_probs, atol=1e-6)
            for name in ("rhythm", "rhythm_probs", "alarm_probs"):
                if getattr(b, name) is None:
                    assert getattr(a, name) is None
                else:
                    np.testing.assert_allclose(getattr(a, name), getattr(b, name), atol=1e-4)


def test_a_replayed_windows_latency_runs_from_when_its_samples_came_out(model):
    """Arrival is the replay's release time of the chunk that completed the window, not the later poll."""
    need_data(CINC / "A00001")
    rec = open_record(CINC / "A00001")  # 300 Hz, the model rate: chunk k holds samples [300k, 300k + 300)
    scheduler = Scheduler(model, SchedulerConfig(poll_interval_ms=200.0), strict=True)  # polls 0.2 s apart
    results = scheduler.result_queue()
    source = WfdbReplaySource(rec, chunk=300, speed=10.0, limit_s=12)  # a chunk every 0.1 s
    scheduler.add_stream(source)
    run_until(scheduler, drained(scheduler))
    got = results.get_all()
    assert len(got) >= 3
    for r in got:
        released = source.t0 + np.ceil(r.end_index / 300) * 300 / (300 * 10.0)
        assert r.arrival_time == pytest.approx(released, abs=1e-9)
        assert r.latency_ms >= 0.0
