import time

import numpy as np
import pytest

from core.records import open_record
from core.sources import SourceError, WfdbReplaySource


@pytest.fixture(scope="module")
def record(data_dir):
    return open_record(data_dir / "cinc2017" / "A00001")


def _replay_seconds(source, work=None):
    states = []
    source.on_state = lambda state, msg: states.append(state)
    source.connect()
    start = time.monotonic()
    chunks = []
    while (chunk := source.read()) is not None:
        chunks.append(chunk)
        if work is not None:
            work(len(chunks))
    elapsed = time.monotonic() - start
    source.close()
    assert states == ["running", "ended", "closed"]
    return elapsed, np.concatenate(chunks)


@pytest.mark.slow
def test_ten_seconds_at_real_time_take_ten_seconds(record):
    elapsed, samples = _replay_seconds(WfdbReplaySource(record, speed=1.0, limit_s=10.0))
    assert elapsed == pytest.approx(10.0, rel=0.02)
    np.testing.assert_array_equal(samples, record.signal[:3000])


def test_ten_seconds_at_x10_take_one_second_despite_a_slow_consumer(record):
    # the consumer stalls 25 ms every 7th chunk (chunks are due every 10 ms): drift correction catches up
    def slow_consumer(k):
        if k % 7 == 0:
            time.sleep(0.025)

    elapsed, samples = _replay_seconds(WfdbReplaySource(record, speed=10.0, limit_s=10.0), slow_consumer)
    assert elapsed == pytest.approx(1.0, rel=0.05)
    np.testing.assert_array_equal(samples, record.signal[:3000])


def test_as_fast_as_possible_delivers_every_sample_in_chunks(record):
    source = WfdbReplaySource(record, speed=None, chunk=128)
    elapsed, samples = _replay_seconds(source)
    assert elapsed < 1.0
    np.testing.assert_array_equal(samples, record.signal)
    assert source.samples_read == 9000


def test_loop_starts_over_seamlessly(record):
    source = WfdbReplaySource(record, speed=None, chunk=1000, loop=True)
    source.connect()
    got = np.concatenate([source.read() for _ in range(20)])  # 20000 samples: the record 2.2 times
    np.testing.assert_array_equal(got, np.tile(record.signal, 3)[:20000])
    assert source.state == "running"


def test_timeout_returns_an_empty_chunk_before_the_due_time(record):
    source = WfdbReplaySource(record, speed=1.0, chunk=300)  # one chunk per second
    source.connect()
    t = time.monotonic()
    assert source.read(timeout=0.05).size == 0
    assert time.monotonic() - t < 0.5


def test_a_poll_with_zero_timeout_never_sleeps(record, monkeypatch):
    """The acquisition thread polls hundreds of sources with timeout 0: a sleep(0) per source hands the GIL
    away each time and waits to get it back (it dominated the acquisition thread's profile at 300 streams)."""
    sleeps: list[float] = []
    monkeypatch.setattr(time, "sleep", sleeps.append)
    src = WfdbReplaySource(record, speed=1.0)
    src.connect()
    assert src.read(0).size == 0 and src.read(0).size == 0
    assert sleeps == []
    src.read(0.001)
    assert sleeps == [0.001]


def test_path_and_lead_are_opened_for_the_caller(data_dir):
    source = WfdbReplaySource(data_dir / "wfdb-samples" / "a103l", lead="V", speed=None)
    assert (source.fs, source.record.lead, source.chunk) == (250.0, "V", 25)


def test_bad_arguments_and_misuse(record):
    with pytest.raises(ValueError, match="speed must be a positive factor .* -2 is invalid"):
        WfdbReplaySource(record, speed=-2)
    with pytest.raises(ValueError, match="chunk must be a strictly positive number of samples; 0 is invalid"):
        WfdbReplaySource(record, chunk=0)
    with pytest.raises(SourceError, match="is idle; call connect"):
        WfdbReplaySource(record).read()


class _BrokenSource(WfdbReplaySource):
    def _read(self, timeout):
        raise OSError("device unplugged")


def test_a_failing_source_reports_fault_and_raises(record):
    states = []
    source = _BrokenSource(record, on_state=lambda state, msg: states.append((state, msg)))
    source.connect()
    with pytest.raises(OSError, match="device unplugged"):
        source.read()
    assert source.state == "fault" and states[-1] == ("fault", "OSError: device unplugged")


def test_a_looped_replay_ends_after_total_s_of_signal(record):
    n = record.n_samples
    source = WfdbReplaySource(record, speed=None, loop=True, chunk=1000, total_s=2.5 * n / record.fs)
    _, out = _replay_seconds(source)
    assert out.size == round(2.5 * n)
    np.testing.assert_array_equal(out[n : 2 * n], record.signal)
    np.testing.assert_array_equal(out[2 * n :], record.signal[: n // 2])
    with pytest.raises(ValueError, match="total_s"):
        WfdbReplaySource(record, loop=True, total_s=0)


def test_stream_states_are_defined_once_and_unknown_ones_refused(record):
    from core.results import STREAM_STATES
    from core.sources.base import STATES

    assert STATES == ("idle", *STREAM_STATES, "closed")
    source = WfdbReplaySource(record)
    with pytest.raises(ValueError, match="unknown state 'stalling'"):
        source._set_state("stalling", "typo")
    assert source.state == "idle"


def test_next_due_says_when_the_next_chunk_is_out_so_a_poller_can_skip_until_then(record):
    """The acquisition thread skips a replay until its next chunk is due instead of reading nothing."""
    source = WfdbReplaySource(record, speed=1.0, chunk=300)  # one chunk a second
    assert source.next_due() is None  # not connected: unknown
    source.connect()
    due = source.next_due()
    assert due == pytest.approx(source.t0 + 1.0)
    assert time.monotonic() < due and source.read(0).size == 0
    time.sleep(max(0.0, due - time.monotonic()) + 0.01)
    assert source.read(0).size == 300 and source.next_due() == pytest.approx(source.t0 + 2.0)
    fake = WfdbReplaySource(record, speed=1.0, clock=lambda: 0.0)  # another clock than time.monotonic
    fake.connect()
    assert fake.next_due() is None
