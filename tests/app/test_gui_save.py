"""File ▸ Save: the selected bed's events (CSV), its AF episodes as WFDB rhythm annotations at the record's
own sample numbers (where `analyze` puts them), and a PNG of the view; bad folders are reported."""

from __future__ import annotations

import csv
import math
import time
from pathlib import Path

import numpy as np
import pytest
import wfdb
from PySide6 import QtCore, QtGui

from core.analysis_files import write_outputs
from core.analyze import RecordAnalysis
from core.events import EpisodeSettings, EventLog
from core.records import open_record
from core.results import WindowResult
from core.sources import WfdbReplaySource
from tests.app.conftest import DATA, deliver, need, start

SID = 99
SETTINGS = EpisodeSettings(on=0.8, off=0.5, k_on=3, k_off=3, smooth=1)
# windows end at 2048 + 300 k; AF from the third window for ten windows
P_AF = [0.1, 0.1] + [0.97] * 10 + [0.02] * 5


@pytest.fixture
def bed_201(qtbot, bundle, settings_path, tmp_path):
    """A window whose selected bed replays MIT-BIH 201 (paused) and has seen the P_AF windows."""
    record = open_record(need(DATA / "mitdb" / "201"))
    window = start(qtbot, bundle, settings_path, "--speed", "10")
    window.set_paused(True)
    window.add_stream(SID, "bed 99 · 201 · MLII")
    window.session.sources[SID] = WfdbReplaySource(record)  # what the bed replays (not started)
    window.session.monitoring.events = EventLog(settings=SETTINGS)
    window.select_bed(SID)
    window.settings.save_dir = str(tmp_path / "saved")
    results = [WindowResult(SID, 2048 + 300 * k, 0.0, 0.01, np.array([1 - p, p, 0.0, 0.0]), np.zeros(16),
                            np.zeros(2), 80.0) for k, p in enumerate(P_AF)]
    for r in results:
        deliver(window, r)
    return window, record, results


def test_events_csv_reads_back_with_the_bed_events(bed_201):
    window, _, _ = bed_201
    path = window.save_events()
    assert path is not None and path.name.startswith("201_") and path.name.endswith("_events.csv")
    assert time.strftime("%Y-%m-%dT") in path.name
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["stream_id"], r["kind"], r["rhythm"], r["sample"], r["detected_sample"]) for r in rows] == [
        ("99", "start", "A", "2648", "3248"),  # first AF window ends at 2048 + 2·300, confirmed 2 later
        ("99", "end", "A", "5648", "6248")]  # first window below `off`: 2048 + 12·300
    assert [float(r["probability"]) for r in rows] == [0.97, 0.02]
    assert "saved 2 events" in window.status.currentMessage()


def test_annotations_read_back_at_the_record_sample_numbers_where_analyze_puts_them(bed_201, tmp_path):
    window, record, results = bed_201
    path = window.save_annotations()
    assert path is not None and path.suffix == ".dacl" and path.stem.startswith("201_")
    ann = wfdb.rdann(str(path.with_suffix("")), "dacl")
    # the centre of each deciding window (end - 2048/2) at 360/300 of the model rate, rounded
    assert ann.sample.tolist() == [1229, 1949, 5549]  # (2048-1024)·1.2, (2648-1024)·1.2, (5648-1024)·1.2
    assert ann.symbol == ["+", "+", "+"] and ann.aux_note == ["(N", "(AFIB", "(N"] and ann.fs == 360

    # the same windows through `dacl-monitor analyze`'s writer give the same annotations
    n = len(results)
    analysis = RecordAnalysis(
        record=record, model_fs=300.0, window=2048, hop=300,
        end_index=np.array([r.end_index for r in results]), probs=np.array([r.probs for r in results]),
        heart_rate=np.full(n, 80.0), trajectory=np.zeros((n, 2)), flags=[frozenset()] * n,
        rhythm_probs=None, rhythm=None, events=window.session.events.stream_events(SID),
        episode_settings=SETTINGS, expected_windows=n, dropped=0, wall_s=1.0, backend="test")
    written = write_outputs(analysis, tmp_path / "analyze")["annotations"]
    ref = wfdb.rdann(str(written.with_suffix("")), "dacl")
    assert ann.sample.tolist() == ref.sample.tolist() and ann.aux_note == ref.aux_note


def test_view_png_is_the_window_and_shortcuts_save(qtbot, bed_201):
    window, _, _ = bed_201
    path = window.save_view()
    image = QtGui.QImage(str(path))
    assert path.name.endswith("_view.png") and (image.width(), image.height()) == (window.width(),
                                                                                    window.height())
    with qtbot.waitActive(window):  # shortcuts reach an active window only
        window.activateWindow()
    folder = window.settings.save_dir
    for key, mods, suffix in ((QtCore.Qt.Key.Key_E, "Ctrl", "_events.csv"),
                              (QtCore.Qt.Key.Key_A, "Ctrl+Shift", ".dacl"),
                              (QtCore.Qt.Key.Key_S, "Ctrl+Shift", "_view.png")):
        for old in list(Path(folder).glob(f"*{suffix}")):
            old.unlink()
        modifiers = QtCore.Qt.KeyboardModifier.ControlModifier
        if "Shift" in mods:
            modifiers |= QtCore.Qt.KeyboardModifier.ShiftModifier
        qtbot.keyClick(window, key, modifiers)
        assert len(list(Path(folder).glob(f"201_*{suffix}"))) == 1, suffix


def test_an_unwritable_folder_is_reported_in_the_status_line(qtbot, bed_201, tmp_path):
    window, _, _ = bed_201
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    window.settings.save_dir = str(blocker / "sub")
    assert window.save_events() is None
    assert "Events not saved" in window.error_text and "cannot create the save folder" in window.error_text
    assert window.save_annotations() is None and "Annotations not saved" in window.error_text
    assert window.save_view() is None and "Picture not saved" in window.error_text
    frames = window.frames
    qtbot.waitUntil(lambda: window.frames > frames + 5, timeout=5000)  # still running


def test_a_looping_replay_saves_the_first_pass_only(bed_201):
    window, record, results = bed_201
    wrap = math.ceil(record.n_samples * 300 / 360) + 2048  # a window whose centre lies in pass 2
    for k, p in enumerate([0.97] * 3 + [0.02] * 3):
        deliver(window, WindowResult(SID, wrap + 300 * k, 0.0, 0.01, np.array([1 - p, p, 0.0, 0.0]),
                                      np.zeros(16), np.zeros(2), 80.0))
    assert len(window.session.events.stream_events(SID)) == 4
    path = window.save_annotations()
    ann = wfdb.rdann(str(path.with_suffix("")), "dacl")
    assert ann.sample.tolist() == [1229, 1949, 5549]
    assert "2 events after the record's first pass left out" in window.status.currentMessage()
