"""LSL and PhysioNet paths, run in a private network namespace (loopback only) so nothing leaves the host."""

import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HELPER = Path(__file__).with_name("lsl_roundtrip_helper.py")


def _namespace_reason() -> str | None:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return "unshare or ip (util-linux/iproute2) is not installed"
    probe = subprocess.run(["unshare", "-n", "sh", "-c", "ip link set lo up"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"cannot make a private network namespace here: {probe.stderr.strip() or probe.returncode}"
    return None


def _in_namespace(code_args: list[str], timeout: float) -> subprocess.CompletedProcess:
    reason = _namespace_reason()
    if reason:
        pytest.skip(reason)
    inner = "exec " + shlex.join([sys.executable, *code_args])
    return subprocess.run(["unshare", "-n", "sh", "-c", f"ip link set lo up && {inner}"],
                          capture_output=True, text=True, timeout=timeout, cwd=Path(__file__).parents[2])


@pytest.mark.slow
def test_dacl_stream_to_lsl_inlet_every_sample_in_order_then_stall_and_reconnect(data_dir):
    pytest.importorskip("pylsl")
    record = str((data_dir / "cinc2017" / "A00001").resolve())
    proc = _in_namespace([str(HELPER), record, "dacl-roundtrip"], timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["fs"] == 300.0
    assert result["n"] == 3000 and result["equal"], result  # every sample of 10 s, in order, unchanged
    assert result["first_rc"] == 0 and "sent 3000 samples" in result["first_stderr"]
    assert result["stalled"], "the inlet did not report the stopped sender"
    assert result["reconnects"] >= 1 and result["after_reconnect"] >= 900
    assert result["states"][:3] == ["running", "stalled", "running"]


def test_physionet_record_without_internet_is_a_clear_error():
    code = ("from core.records import open_record, RemoteError\n"
            "try:\n    open_record('physionet:mitdb/100')\n"
            "except RemoteError as exc:\n    print(exc)\n")
    proc = _in_namespace(["-c", code], timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "record physionet:mitdb/100: cannot fetch the header from PhysioNet" in proc.stdout
    assert "check the internet connection" in proc.stdout
