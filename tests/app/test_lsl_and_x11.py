"""The LSL choice (in a private network namespace) and `dacl-monitor --screenshot` under a real X server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6 import QtGui

from app.demo import DEFAULT_RECORD
from app.main_window import DEFAULT_SIZE
from tests.app.conftest import REPO

NETNS = ["unshare", "-n", "sh", "-c"]


def _netns_available() -> str | None:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return "unshare or ip is not installed"
    probe = subprocess.run([*NETNS, "ip link set lo up && true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"cannot create a private network namespace: {probe.stderr.strip()}"
    return None


@pytest.mark.slow
def test_lsl_dialog_lists_the_stream_and_choosing_it_delivers_results(bundle, tmp_path):
    reason = _netns_available()
    if reason:
        pytest.skip(reason)
    helper = Path(__file__).with_name("lsl_choice_helper.py")
    cmd = (f"ip link set lo up && exec {sys.executable} {helper} {bundle} {tmp_path / 's.ini'} "
           f"{DEFAULT_RECORD}")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([*NETNS, cmd], capture_output=True, text=True, timeout=120, env=env, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "dacl-gui-test" in report["discovered"]
    assert any("dacl-gui-test" in line and "300 Hz" in line for line in report["listed"])
    assert report["stream_id"] is not None and report["error_before"] == ""
    assert "LSL dacl-gui-test" in report["source_field"]
    ends = np.array(report["end_indices"])
    assert len(ends) >= 4 and ends[0] == 2048 and np.all(np.diff(ends) == 300)
    assert report["waveform_samples"] > 0
    # choosing a stream that is gone faults that bed only; the window says which and why
    assert report["missing_stream_id"] is not None and report["beds"] == 2
    assert "dacl-no-such-stream" in report["error"] and "fault" in report["error"]
    assert "dacl-no-such-stream" in report["error_dialog"]


@pytest.mark.slow
def test_dacl_monitor_screenshot_under_xvfb_is_the_window_and_not_blank(bundle, tmp_path):
    if shutil.which("xvfb-run") is None:
        pytest.skip("xvfb-run is not installed (apt-get install xvfb xauth; `make test` does it as root)")
    png = tmp_path / "monitor.png"
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "DISPLAY")}
    env["QT_QPA_PLATFORM"] = "xcb"
    monitor = Path(sys.executable).parent / "dacl-monitor"
    cmd = ["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", str(monitor), "--model", str(bundle),
           "--settings", str(tmp_path / "s.ini"), "--screenshot", str(png), "--duration", "4"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr and "Error:" not in proc.stderr
    image = QtGui.QImage(str(png))
    assert (image.width(), image.height()) == DEFAULT_SIZE
    image = image.convertToFormat(QtGui.QImage.Format.Format_RGB32)
    pixels = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.width(), 4)[..., :3]
    assert len(np.unique(pixels.reshape(-1, 3)[::7], axis=0)) > 50, "the screenshot is (nearly) one colour"
    b, g, r = pixels[..., 0].astype(int), pixels[..., 1].astype(int), pixels[..., 2].astype(int)
    trace = (g > 200) & (r < 120) & (b < 160)  # the green ECG trace and heart rate
    assert trace.mean() > 0.002, f"no ECG trace visible ({trace.mean():.4%} green pixels)"
