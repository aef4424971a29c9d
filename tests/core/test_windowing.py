import numpy as np
import pytest

from core.preprocess import Preprocessor, preprocess_record
from core.records import open_record
from core.ring import RingBuffer
from core.windowing import Windower, offline_windows


def test_each_window_exactly_once_on_a_counter():
    ring = RingBuffer(4096, dtype=np.int64)
    win = Windower(ring, stream_id=7, window=2048, hop=300)
    got = []
    for i in range(0, 20_000, 123):
        ring.write(np.arange(i, min(i + 123, 20_000)))
        got.extend(win.poll())
    assert [w.start for w in got] == list(range(0, 20_000 - 2048 + 1, 300))
    for w in got:
        assert w.stream_id == 7 and w.end == w.start + 2048
        np.testing.assert_array_equal(w.samples, np.arange(w.start, w.start + 2048))
    assert win.poll() == [] and win.skipped == 0


def test_slow_reader_skips_overwritten_windows_and_counts_them():
    ring = RingBuffer(3000, dtype=np.int64)
    win = Windower(ring, window=2048, hop=300)
    for i in range(0, 10_000, 1000):  # the reader was away for 10000 samples
        ring.write(np.arange(i, i + 1000))
    got = win.poll()
    assert got[0].start == 7200  # first start on the hop grid that is still held (oldest = 7000)
    assert [w.start for w in got] == [7200, 7500, 7800]
    assert win.skipped == 24 and ring.overruns == 1
    np.testing.assert_array_equal(got[0].samples, np.arange(7200, 7200 + 2048))


def test_window_flags_name_what_is_inside():
    ring = RingBuffer(4096)
    win = Windower(ring, window=100, hop=50)
    flags = np.zeros(300, dtype=np.uint8)
    flags[120] = 1
    ring.write(np.zeros(300), flags)
    assert [sorted(w.flags) for w in win.poll()] == [[], ["nan_filled"], ["nan_filled"], [], []]


def test_streamed_windows_equal_offline_windows(data_dir):
    rec = open_record(data_dir / "wfdb-samples" / "100")
    signal = rec.signal[: 40 * 360]
    pre, ring = Preprocessor(rec.fs), RingBuffer(8192)
    win = Windower(ring, stream_id=3)
    got = []
    for i in range(0, signal.size, 97):
        ring.write(*pre.process(signal[i : i + 97]))
        got.extend(win.poll())
    ref = offline_windows(*preprocess_record(signal, rec.fs), stream_id=3)
    assert len(got) == len(ref) == (40 * 300 - 11 - 2048) // 300 + 1 == 34
    for a, b in zip(got, ref, strict=True):
        assert (a.stream_id, a.start, a.flags) == (b.stream_id, b.start, b.flags)
        assert a.samples.dtype == np.float32
        np.testing.assert_array_equal(a.samples, b.samples)


def test_windower_rejects_a_window_larger_than_the_ring():
    with pytest.raises(ValueError, match="window=2048 does not fit in a ring of capacity 1000"):
        Windower(RingBuffer(1000))
