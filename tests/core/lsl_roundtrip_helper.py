"""Run inside a private network namespace: dacl-stream → LslInletSource, then a stall and a reconnect.

Prints one JSON line with what the inlet saw; tests/core/test_lsl_roundtrip.py checks it. Not a test
module itself (its name does not start with test_), because it must run in the namespace.
"""

import json
import subprocess
import sys
import time

import numpy as np

from core.records import open_record
from core.sources import LslInletSource


def publish(record: str, name: str, seconds: float) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "core.stream_cli", record, "--name", name, "--speed", "10", "--chunk", "37",
           "--seconds", str(seconds), "--wait", "20", "--linger", "1"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def drain(source: LslInletSource, n: int, limit_s: float) -> np.ndarray:
    got, count, end = [], 0, time.monotonic() + limit_s
    while count < n and time.monotonic() < end:
        chunk = source.read(timeout=0.2)
        got.append(chunk)
        count += chunk.size
    return np.concatenate(got)


def main() -> None:
    record, name = sys.argv[1], sys.argv[2]
    expected = open_record(record).signal[:3000].astype(np.float32)  # 10 s at 300 Hz
    result: dict = {}
    first = publish(record, name, 10.0)
    states: list[str] = []
    source = LslInletSource(name=name, resolve_timeout=20, stall_timeout=1.0,
                            on_state=lambda state, msg: states.append(state))
    source.connect()
    result["fs"] = source.fs
    got = drain(source, expected.size, 30)
    result["n"] = int(got.size)
    result["equal"] = bool(got.size == expected.size and np.array_equal(got.astype(np.float32), expected))
    result["first_stderr"] = first.communicate(timeout=30)[1][-2000:]
    result["first_rc"] = first.returncode
    # the sender is gone: the inlet must report a stall, then reconnect when a sender comes back
    end = time.monotonic() + 15
    while source.state != "stalled" and time.monotonic() < end:
        source.read(timeout=0.2)
    result["stalled"] = source.state == "stalled"
    second = publish(record, name, 3.0)
    again = drain(source, 900, 30)
    result["after_reconnect"] = int(again.size)
    result["reconnects"] = source.reconnects
    result["states"] = states
    second.communicate(timeout=30)
    source.close()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
