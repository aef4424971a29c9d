"""Bedside fixes: the trajectory legend never covers the plot; the AF alarm is acknowledged or silenced
for a chosen time, shows until when, alarms again afterwards, and every acknowledgement is logged."""

from __future__ import annotations

import logging
import time

import numpy as np
from PySide6 import QtCore

from core.records import open_record
from core.results import WindowResult
from core.sources import WfdbReplaySource
from tests.app.conftest import DATA, deliver, need, start

SID = 99


def window_rect(widget, window) -> QtCore.QRect:
    return QtCore.QRect(widget.mapTo(window, QtCore.QPoint(0, 0)), widget.size())


def test_the_trajectory_legend_sits_outside_the_plot(qtbot, bundle, settings_path):
    window = start(qtbot, bundle, settings_path, "--speed", "10")
    qtbot.waitUntil(lambda: window.trajectory.count >= 1, timeout=15000)
    plot = window.trajectory.getPlotItem()
    assert plot.legend is None  # nothing drawn over the data
    legend = window.trajectory_legend
    assert [lb.text() for lb in legend.labels] == ["● Normal", "● AF", "● Other", "● Noisy"]
    assert all(lb.isVisible() for lb in legend.labels)
    plot_rect = window_rect(window.trajectory, window)
    for label in legend.labels:
        assert not window_rect(label, window).intersects(plot_rect)
    # the current point is inside the visible view box
    x, y = window.trajectory.current.getData()
    (x0, x1), (y0, y1) = plot.viewRange()
    assert x0 <= x[0] <= x1 and y0 <= y[0] <= y1


class FakeClock:
    """Monotonic and wall time the test moves by hand."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.wall0 = time.mktime((2026, 12, 2, 7, 30, 0, 0, 0, -1)) - self.t

    def monotonic(self) -> float:
        return self.t

    def wall(self) -> float:
        return self.wall0 + self.t


def feed(window, start_k: int, probs_af: list[float]) -> int:
    for k, p in enumerate(probs_af, start=start_k):
        deliver(window, WindowResult(SID, 2048 + 300 * k, 0.0, 0.01, np.array([1 - p, p, 0.0, 0.0]),
                                      np.zeros(16), np.zeros(2), 80.0))
    return start_k + len(probs_af)


def test_alarm_is_silenced_for_the_chosen_time_alarms_again_and_is_logged(qtbot, bundle, settings_path,
                                                                             caplog):
    path = need(DATA / "mitdb" / "201")
    window = start(qtbot, bundle, settings_path, "--speed", "10")
    window.set_paused(True)
    window.add_stream(SID, "bed 99 · 201 · MLII")
    window.session.sources[SID] = WfdbReplaySource(open_record(path))  # what the bed replays (not started)
    window.select_bed(SID)
    with qtbot.waitActive(window):  # shortcuts reach an active window only
        window.activateWindow()
    clock = FakeClock()
    banner = window.alarm
    banner.clock, banner.wall = clock.monotonic, clock.wall
    s = window.session.model.episodes
    on, off = [0.97] * (s.k_on + s.smooth - 1), [0.02] * (s.k_off + s.smooth - 1)

    k = feed(window, 0, [0.1] + on)
    assert banner.state == "alarm" and banner.isVisible() and "AF ALARM" in banner.text()

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="app.main_window"):
        qtbot.mouseClick(banner.silence_buttons[300], QtCore.Qt.MouseButton.LeftButton)
    assert banner.state == "silenced" and banner.isVisible()
    assert banner.text().startswith("AF alarms silenced until 07:35:00")
    [entry] = [r for r in caplog.records if "AF alarm silenced" in r.getMessage()]
    text = entry.getMessage()
    assert "bed 'bed 99 · 201 · MLII'" in text and "record 201" in text and "duration 300 s" in text
    assert "2026-12-02 07:30:00" in text and "until 07:35:00" in text
    t_signal = (2048 + 300 * (k - 1)) / window.session.fs
    assert f"signal t = {t_signal:.0f} s" in text
    assert "AF alarm silenced for 5 min" in window.event_list.item(0).text()

    # the episode ends and a new one starts during the silence: no red banner, the silence stays shown
    k = feed(window, k, off)
    assert banner.state == "silenced" and not banner.active
    k = feed(window, k, on)
    assert banner.state == "silenced" and banner.active
    assert banner.text() == "AF alarms silenced until 07:35:00  ·  AF: bed 99 · 201 · MLII"
    clock.t += 299.0
    banner.check_silence()
    assert banner.state == "silenced"
    clock.t += 1.0  # five minutes of wall time are up and the episode still runs: it alarms again
    banner.check_silence()
    assert banner.state == "alarm" and banner.isVisible() and "AF ALARM" in banner.text()

    # the shortcut A acknowledges: hidden until the next episode, and logged
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="app.main_window"):
        qtbot.keyClick(window, QtCore.Qt.Key.Key_A)
    assert banner.state == "acknowledged" and not banner.isVisible()
    assert any("AF alarm acknowledged" in r.getMessage() and "duration 0 s" in r.getMessage()
               for r in caplog.records)
    k = feed(window, k, off)
    assert banner.state == "off"
    k = feed(window, k, on)
    assert banner.state == "alarm" and banner.isVisible()

    # M silences for 1 min from the keyboard; a new episode after it ends alarms as usual
    qtbot.keyClick(window, QtCore.Qt.Key.Key_M)
    assert banner.state == "silenced" and banner.silenced_until == clock.t + 60
    qtbot.keyClick(window, QtCore.Qt.Key.Key_A)  # seen: the running episode will not alarm again
    k = feed(window, k, off)
    clock.t += 60.0
    banner.check_silence()
    assert banner.state == "off" and not banner.isVisible()
    feed(window, k, on)
    assert banner.state == "alarm" and banner.isVisible()


def test_a_silence_is_cleared_when_the_streams_are_replaced(qtbot, bundle, settings_path):
    path = need(DATA / "mitdb" / "201")
    window = start(qtbot, bundle, settings_path, "--speed", "10")
    window.alarm.silence(900)
    assert window.alarm.state == "silenced"
    assert window.open_record(str(path)) is not None
    assert window.alarm.state == "off" and not window.alarm.isVisible()
