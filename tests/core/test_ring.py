import threading
import time

import numpy as np
import pytest

from core.ring import OverwrittenError, RingBuffer


def test_write_read_wraps_and_keeps_absolute_indices():
    ring = RingBuffer(10)
    ring.write(np.arange(7))
    ring.write(np.arange(7, 15))
    assert (ring.total, ring.oldest) == (15, 5)
    np.testing.assert_array_equal(ring.read(5, 15), np.arange(5, 15))
    np.testing.assert_array_equal(ring.read(8, 12), np.arange(8, 12))
    assert ring.read(15, 15).size == 0


def test_flags_travel_with_samples():
    ring = RingBuffer(8)
    ring.write(np.arange(6), flags=np.array([0, 1, 0, 2, 0, 0]))
    ring.write(np.arange(6, 10))
    values, flags = ring.read_with_flags(3, 10)
    np.testing.assert_array_equal(values, np.arange(3, 10))
    np.testing.assert_array_equal(flags, [2, 0, 0, 0, 0, 0, 0])


def test_overwritten_read_raises_and_counts_an_overrun():
    ring = RingBuffer(100)
    for i in range(0, 250, 50):
        ring.write(np.arange(i, i + 50))
    assert ring.overruns == 0
    with pytest.raises(OverwrittenError, match=r"samples from 100 were overwritten \(oldest held is 150"):
        ring.read(100, 200)
    assert ring.overruns == 1
    ring.write(np.arange(1000))  # larger than the ring: only the newest 100 are kept
    assert ring.overruns == 2 and ring.oldest == 1150
    np.testing.assert_array_equal(ring.read(1150, 1250), np.arange(900, 1000))


def test_bad_reads_and_arguments():
    ring = RingBuffer(16)
    ring.write(np.arange(4))
    with pytest.raises(ValueError, match="samples up to 5 requested but only 4 written"):
        ring.read(0, 5)
    with pytest.raises(ValueError, match=r"read range \[3, 2\) is invalid"):
        ring.read(3, 2)
    with pytest.raises(ValueError, match="capacity must be a strictly positive integer; -1 is invalid"):
        RingBuffer(-1)
    with pytest.raises(ValueError, match="flags must match samples: 2 flags for 3 samples"):
        ring.write(np.zeros(3), flags=np.zeros(2))


def test_latest():
    ring = RingBuffer(5)
    ring.write(np.arange(12))
    start, values = ring.latest(3)
    assert start == 9
    np.testing.assert_array_equal(values, [9, 10, 11])
    assert ring.latest(50)[0] == 7


def test_concurrent_writer_and_reader_see_a_perfect_counter():
    """A counter signal proves no sample is dropped, duplicated or reordered under concurrency."""
    ring = RingBuffer(1 << 16, dtype=np.int64)
    total = 500_000
    sizes = np.random.default_rng(0).integers(1, 700, size=total)  # random chunk sizes, more than enough
    seen, reads = [], [0]

    def writer():
        i = k = 0
        while i < total:
            n = int(min(sizes[k], total - i))
            ring.write(np.arange(i, i + n))
            i, k = i + n, k + 1
            time.sleep(0.0001)  # paced like an acquisition thread; the ring then holds ~40 ms of slack

    def reader():
        cursor = 0
        while cursor < total:
            stop = ring.total
            if stop > cursor:
                seen.append(ring.read(cursor, stop))
                reads[0] += 1
                cursor = stop
            else:
                time.sleep(0.0002)  # poll like the windowing/GUI readers do

    threads = [threading.Thread(target=writer), threading.Thread(target=reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert ring.total == total and ring.overruns == 0
    assert reads[0] > 100  # the reader really interleaved with the writer
    np.testing.assert_array_equal(np.concatenate(seen), np.arange(total))


def test_concurrent_slow_reader_gets_overruns_counted_never_wrong_data():
    ring = RingBuffer(1000, dtype=np.int64)
    total = 200_000
    failures, blocks = [0], []

    def writer():
        for i in range(0, total, 100):
            ring.write(np.arange(i, i + 100))
            if i % 5000 == 0:
                time.sleep(0.001)

    def reader():  # wants every sample but keeps napping, so the writer laps it
        cursor = 0
        while cursor < total:
            stop = min(ring.total, cursor + 500)
            if stop <= cursor:
                time.sleep(0.0005)
                continue
            try:
                blocks.append((cursor, ring.read(cursor, stop)))
                cursor = stop
            except OverwrittenError:
                failures[0] += 1
                cursor = ring.oldest + 100  # jump ahead like a windower would
            time.sleep(0.002)

    threads = [threading.Thread(target=writer), threading.Thread(target=reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert failures[0] > 0 and ring.overruns == failures[0]
    for start, block in blocks:  # whatever was read is exactly the counter at that index
        np.testing.assert_array_equal(block, np.arange(start, start + block.size))
