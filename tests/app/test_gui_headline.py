"""The bedside headline is the alarm model's rhythm; one window's class stays in its own panel; a bed
marked paced by the user says so (pytest-qt, offscreen)."""

from __future__ import annotations

import numpy as np

from core.results import WindowResult
from tests.app.conftest import deliver, start


def test_the_headline_follows_the_alarm_model_and_the_bars_show_the_window(qtbot, bundle, settings_path):
    window = start(qtbot, bundle, settings_path, "--speed", "10")
    window.set_paused(True)
    sid = window.selected
    window_probs = np.array([0.30, 0.05, 0.18, 0.47], np.float32)  # this window alone: "Noisy 47 %"
    alarm = np.array([0.70, 0.02, 0.08, 0.20], np.float32)  # the alarm model: sinus
    deliver(window, WindowResult(sid, 10**7, 0.0, 0.01, window_probs, np.zeros(16), np.zeros(2), 64.0,
                                 rr_probs=np.array([0.95, 0.02, 0.03]), alarm_probs=alarm))
    assert window.vitals.rhythm_label.text() == "Sinus rhythm"
    assert "RR model (last 64 beats) + this window: p(AF) 2 %" in window.vitals.detail_label.text()
    np.testing.assert_allclose(window.bars.probs, window_probs)
    assert "Sinus" in window.grid.panels[sid].class_label.text


def test_a_bed_marked_paced_shows_paced_from_its_next_window(qtbot, bundle, settings_path):
    window = start(qtbot, bundle, settings_path, "--speed", "10")
    sid = window.selected
    qtbot.waitUntil(lambda: len(window.beds[sid].results) > 0, timeout=20000)
    window.paced_action.trigger()  # Alarms ▸ Bed is paced (P)
    assert window.session.is_paced(sid)
    assert "bed marked paced" in window.event_list.item(0).text()

    def paced_shown() -> bool:
        window.on_frame()
        return bool(window.beds[sid].results) and window.beds[sid].results[-1].paced
    qtbot.waitUntil(paced_shown, timeout=20000)
    assert window.vitals.rhythm_label.text().startswith("Paced")
    window.paced_action.trigger()
    assert not window.session.is_paced(sid)
