"""The monitor window on real records: default start, replay into the curves at the hop rate, pause,
bad input shown in the window, multi-bed grid, screenshot mode."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtCore, QtGui, QtWidgets

from app.cli import main
from app.demo import DEFAULT_RECORD
from app.main_window import DEFAULT_SIZE
from core.preprocess import preprocess_record
from core.records import open_record
from tests.app.conftest import SAMPLES, deliver, need, start


def test_window_opens_on_the_default_record_and_model(qtbot, bundle, settings_path):
    window = start(qtbot, bundle, settings_path)
    assert len(window.beds) == 1
    bed = next(iter(window.beds.values()))
    assert DEFAULT_RECORD.name in bed.title
    assert window.pages.currentWidget() is window.detail
    assert window.status.field("rate") == "300 Hz"
    assert DEFAULT_RECORD.name in window.status.field("source")
    assert "cpu" in window.status.field("backend").lower()
    assert sum(len(c.data) for c in window.trajectory.clouds) > 0  # the bundle's reference cloud
    qtbot.waitUntil(lambda: window.waveform.samples_shown > 150, timeout=5000)


def test_replay_fills_the_curves_and_delivers_results_at_the_hop_rate(qtbot, bundle, settings_path):
    path = need(SAMPLES / "100")  # MIT-BIH 100: 360 Hz, resampled to the model's 300 Hz
    window = start(qtbot, bundle, settings_path, str(path), "--speed", "5")
    sid = next(iter(window.beds))
    qtbot.waitUntil(lambda: len(window.beds[sid].results) >= 12, timeout=20000)
    results = list(window.beds[sid].results)
    ends = np.array([r.end_index for r in results])
    # one result per hop of 300 samples from the first full window on; a window the scheduler had to drop
    # under load (oldest first, counted) is the only allowed gap
    missing = (ends[-1] - ends[0]) // 300 + 1 - len(ends)
    assert ends[0] >= 2048 and np.all(ends % 300 == 2048 % 300), ends
    assert missing == 0 or missing <= window.session.stats()["dropped"], (ends, window.session.stats())
    # windows complete at the hop rate of the replayed signal: ×5 and a 1 s hop make 5 per second
    rate = (ends[-1] - ends[0]) / 300 / (results[-1].arrival_time - results[0].arrival_time)
    assert 3.5 < rate < 6.5, f"×5 replay with a 1 s hop should give ~5 windows/s, got {rate:.1f}"
    assert all(r.done_time >= r.arrival_time for r in results)
    assert window.bars.probs.sum() == pytest.approx(1.0, abs=1e-4)
    assert window.history.count == len(results) and window.trajectory.count == min(len(results), 40)

    window.set_paused(True)
    qtbot.wait(700)  # the last chunk lands and the paced sweep draws up to it
    _, end = window.session.snapshot(sid, 1)
    qtbot.wait(100)
    rec = open_record(path)
    offline, _ = preprocess_record(rec.signal, rec.fs)
    index, values = window.waveform.displayed()
    assert len(index) >= 0.9 * window.waveform.capacity  # a full sweep drawn, less the eraser gap
    assert index.max() == end - 1 and index.min() >= end - window.waveform.capacity
    np.testing.assert_allclose(values, offline[index], atol=1e-6)  # streaming display == offline


def test_space_pauses_and_resumes_and_keys_set_speed_and_grid(qtbot, bundle, settings_path):
    window = start(qtbot, bundle, settings_path, "--speed", "10")
    window.activateWindow()
    qtbot.waitUntil(lambda: window.results_seen >= 2, timeout=15000)
    sid = window.selected
    qtbot.keyClick(window, QtCore.Qt.Key.Key_Space)
    assert window.session.paused and window.play_action.text() == "Play"
    # windows cut before the pause may still be in inference: let them land
    qtbot.waitUntil(lambda: window.session.scheduler.pending() == 0, timeout=10000)
    qtbot.wait(400)
    seen, (_, end) = window.results_seen, window.session.snapshot(sid, 1)
    qtbot.wait(1500)  # 15 hops at ×10 if it were running
    assert window.results_seen == seen
    assert window.session.snapshot(sid, 1)[1] == end
    qtbot.keyClick(window, QtCore.Qt.Key.Key_Space)
    assert not window.session.paused
    qtbot.waitUntil(lambda: window.results_seen > seen, timeout=5000)

    qtbot.keyClick(window, QtCore.Qt.Key.Key_5)
    assert window.session.speed == 5.0 and window.speed_actions[5.0].isChecked()
    grid = window.waveform.grid_visible
    qtbot.keyClick(window, QtCore.Qt.Key.Key_G)
    assert window.waveform.grid_visible is (not grid)
    qtbot.keyClick(window, QtCore.Qt.Key.Key_S)  # scrolling mode: the newest sample at the right edge
    assert window.waveform.trace.sweep is False
    qtbot.waitUntil(lambda: len(window.waveform.displayed()[0]) > 300, timeout=5000)
    index, _ = window.waveform.displayed()
    assert np.all(np.diff(index) == 1)  # one contiguous stretch, oldest to newest


def test_invalid_record_shows_an_error_and_the_monitor_keeps_running(qtbot, bundle, settings_path, tmp_path):
    window = start(qtbot, bundle, settings_path, "--speed", "10")
    qtbot.waitUntil(lambda: window.results_seen >= 1, timeout=15000)
    broken = tmp_path / "broken.hea"
    broken.write_text("this is not a WFDB header\n")
    assert window.open_record(str(tmp_path / "broken")) is None
    assert "broken" in window.error_text
    assert window._error_dialog is not None and window._error_dialog.isVisible()
    assert not window._error_dialog.isModal()
    assert window.open_record(str(tmp_path / "missing_record")) is None
    assert "missing_record" in window.error_text
    # the bed that was running still runs: frames are drawn and results arrive
    seen, frames = window.results_seen, window.frames
    qtbot.waitUntil(lambda: window.results_seen > seen + 2 and window.frames > frames + 10, timeout=10000)
    assert len(window.beds) == 1


def test_several_streams_show_a_grid_and_a_click_opens_a_bed(qtbot, bundle, settings_path):
    window = start(qtbot, bundle, settings_path, "--streams", "3", "--speed", "10")
    assert window.pages.currentWidget() is window.grid and len(window.grid.panels) == 3
    qtbot.waitUntil(lambda: all(len(b.results) >= 1 for b in window.beds.values()), timeout=20000)
    assert all(cell.class_label.text != "—" for cell in window.grid.panels.values())
    assert all(cell.trace.samples_shown > 0 for cell in window.grid.panels.values())
    sid = list(window.grid.panels)[1]
    click_at = window.grid.cell_center(sid)
    qtbot.mouseClick(window.grid.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=click_at)
    assert window.selected == sid and window.pages.currentWidget() is window.detail
    assert window.beds[sid].title.upper() in window.waveform_panel.title_label.text()


def test_screenshot_mode_writes_the_window_png_and_exits_0(qtbot, bundle, settings_path, tmp_path):
    png = tmp_path / "shot.png"
    code = main(["--model", str(bundle), "--settings", settings_path, "--screenshot", str(png),
                 "--duration", "2"])
    assert code == 0
    image = QtGui.QImage(str(png))
    assert (image.width(), image.height()) == DEFAULT_SIZE
    assert QtWidgets.QApplication.instance() is not None


def test_open_dialog_lists_the_leads_and_the_chosen_lead_is_replayed(qtbot, bundle, settings_path):
    from app.dialogs import OpenRecordDialog
    from app.settings import MonitorSettings

    path = need(SAMPLES / "100")
    window = start(qtbot, bundle, settings_path, "--speed", "10")
    dialog = OpenRecordDialog(window, start=str(path) + ".hea")
    qtbot.addWidget(dialog)
    leads = [dialog.lead_box.itemText(i) for i in range(1, dialog.lead_box.count())]
    assert leads == ["MLII", "V5"]
    dialog.lead_box.setCurrentIndex(2)
    dialog.accept()
    assert (dialog.record_path, dialog.lead) == (str(path) + ".hea", "V5")
    sid = window.open_record(dialog.record_path, dialog.lead)
    assert sid is not None and list(window.beds) == [sid] and window.beds[sid].title.endswith("V5")
    assert MonitorSettings(settings_path).last_record == str(path) + ".hea"
    assert MonitorSettings(settings_path).last_lead == "V5"


def test_an_af_episode_raises_the_alarm_banner_and_logs_events(qtbot, bundle, settings_path):
    from core.results import WindowResult

    window = start(qtbot, bundle, settings_path, "--speed", "10")
    window.set_paused(True)
    window.add_stream(99, "bed 99 · test")
    window.select_bed(99)

    def result(k: int, p_af: float) -> WindowResult:
        probs = np.array([1 - p_af, p_af, 0.0, 0.0])
        return WindowResult(99, 2048 + 300 * k, 0.0, 0.01, probs, np.zeros(16), np.zeros(2), 72.0)

    from core.events import EpisodeDetector

    s = window.session.model.episodes  # the bundle's episode settings (manifest "episodes")
    # the window that confirms the episode, by the core detector with the same settings (its smoothing
    # lets the run start before the smoothing span is all AF): the banner must rise exactly there
    af = [0.1, 0.2] + [0.97] * (s.k_on + s.smooth - 1)
    detector = EpisodeDetector(settings=s)
    confirm = next(k for k, p in enumerate(af) if detector.update(99, result(k, p).probs, 2048 + 300 * k))
    assert confirm >= s.k_on + 1
    for k, p in enumerate(af[: confirm + 1]):
        assert not window.alarm.isVisible()
        deliver(window, result(k, p))
    assert window.alarm.isVisible() and "AF ALARM" in window.alarm.text() and "bed 99" in window.alarm.text()
    assert window.vitals.rhythm_label.text().startswith("Atrial fibrillation")
    assert window.vitals.hr_label.text() == "72"
    assert "Atrial fibrillation started" in window.event_list.item(0).text()
    for k, p in enumerate([0.02] * (s.k_off + s.smooth - 1), start=len(af)):  # ended by k_off below `off`
        deliver(window, result(k, p))
    assert not window.alarm.isVisible()
    assert "Atrial fibrillation ended" in window.event_list.item(0).text()
