"""Review mode on a real `dacl-monitor analyze` folder of MIT-BIH 201 (30 min, three AF stretches): the
overview is the CSV, the episode list the summary, N/P jump between onsets and the ECG shown is the
record's own samples there, the reference is EC57's AF reference of the .atr, bad folders are messages."""

from __future__ import annotations

import csv
import json
import shutil
import time

import numpy as np
import pytest
import wfdb
from PySide6 import QtCore

from app import analysis_folder
from app.analysis_folder import load_record
from app.cli import main as cli_main
from app.review import SPANS_S, ReviewWindow
from app.review_cli import main as review_main
from core import ec57
from tests.app.conftest import DATA, need

LEAD = "MLII"


@pytest.fixture(scope="session")
def analysis(tmp_path_factory, bundle):
    """`dacl-monitor analyze` run once on MIT-BIH 201 (absolute path, so the summary finds it)."""
    record = need(DATA / "mitdb" / "201").resolve()
    out = tmp_path_factory.mktemp("analysis") / "201"
    code = cli_main(["analyze", str(record), "--out", str(out), "--model", str(bundle), "--no-report"])
    assert code == 0
    return out, record


def read_csv(path):
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    return {k: [r[k] for r in rows] for k in rows[0]}


@pytest.fixture
def review(qtbot, analysis):
    folder, _ = analysis
    window = ReviewWindow(folder)
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitActive(window):  # shortcuts reach an active window only
        window.activateWindow()
    return window


def test_overview_curves_are_the_csv_columns(review, analysis):
    folder, _ = analysis
    table = read_csv(folder / "201_windows.csv")
    summary = json.loads((folder / "201_summary.json").read_text())
    x, y = review.overview.prob_curve.getOriginalDataset()
    np.testing.assert_allclose(y, np.array(table["alarm_p_A"], float))  # the alarm's input
    np.testing.assert_allclose(x, np.array(table["end_s"], float) - summary["window_s"] / 2, atol=1e-9)
    _, hr = review.overview.hr_curve.getOriginalDataset()
    np.testing.assert_allclose(hr, np.array(table["heart_rate_bpm"], float))
    assert review.error_text == ""


def test_episode_list_and_bands_are_the_summarys_episodes(review, analysis):
    folder, _ = analysis
    episodes = json.loads((folder / "201_summary.json").read_text())["af_episodes"]
    assert len(episodes) >= 2  # 201 has AF at its start, middle and end
    rows = review.episode_rows(0)
    assert [t for _, t in rows] == pytest.approx([e["onset_s"] for e in episodes])
    assert all(text.startswith("AF ") for text, _ in rows)
    opts = review.overview.model_bands.opts
    np.testing.assert_allclose(opts["x0"], [e["onset_s"] for e in episodes])
    np.testing.assert_allclose(opts["width"], [e["duration_s"] for e in episodes])


def test_reference_episodes_are_ec57_af_reference_of_the_atr(review, analysis):
    _, record = analysis
    ann = wfdb.rdann(str(record), "atr")
    n = wfdb.rdheader(str(record)).sig_len
    expected = ec57.af_reference(ann.sample, ann.symbol, ann.aux_note, n)
    assert len(expected) == 3
    assert [t for _, t in review.episode_rows(1)] == pytest.approx([a / 360.0 for a, _ in expected])
    assert [(round(s.start_s * 360), round(s.end_s * 360)) for s in review.record.reference] == expected
    af_strip = review.overview.reference_bands[1].opts  # the strip's AF pieces (AF class colour)
    np.testing.assert_allclose(np.c_[af_strip["x0"], af_strip["x0"] + af_strip["width"]] * 360, expected)


def assert_ecg_is_the_record_at(review, record, t):
    ecg = review.ecg
    assert len(ecg.samples) - round(review.span_s * 360) in (0, 1)  # the span, rounded out to samples
    start = ecg.start_sample
    assert start / 360 <= t <= (start + len(ecg.samples)) / 360
    header = wfdb.rdheader(str(record))
    lead = header.sig_name.index(LEAD)
    truth = wfdb.rdrecord(str(record), sampfrom=start, sampto=start + len(ecg.samples), channels=[lead])
    np.testing.assert_array_equal(ecg.samples, truth.p_signal[:, 0])


def test_n_and_p_jump_between_episode_onsets_and_show_the_ecg_there(qtbot, review, analysis):
    _, record = analysis
    onsets = [e.start_s for e in review.record.episodes]
    assert review.cursor == 0.0
    if onsets[0] > 0:  # the first jump; with an episode from the record's start the cursor is on it
        qtbot.keyClick(review, QtCore.Qt.Key.Key_N)
    assert review.cursor == pytest.approx(onsets[0])
    assert_ecg_is_the_record_at(review, record, onsets[0])
    qtbot.keyClick(review, QtCore.Qt.Key.Key_N)
    assert review.cursor == pytest.approx(onsets[1])
    assert review.overview.cursor == pytest.approx(onsets[1])
    assert_ecg_is_the_record_at(review, record, onsets[1])
    # the window at the cursor: the CSV row whose centre is nearest, its probabilities and trajectory point
    w = review.record.windows
    i = int(np.argmin(np.abs(review.record.centre_s - onsets[1])))
    assert review.window_index == i
    np.testing.assert_allclose(review.bars.probs, w.probs[i])
    np.testing.assert_allclose(review.trajectory.current.getData()[0], [w.trajectory[i, 0]])
    qtbot.keyClick(review, QtCore.Qt.Key.Key_P)
    assert review.cursor == pytest.approx(onsets[0])
    qtbot.keyClick(review, QtCore.Qt.Key.Key_P)  # none earlier: stays, says so
    assert review.cursor == pytest.approx(onsets[0])
    assert "no earlier" in review.statusBar().currentMessage()
    qtbot.keyClick(review, QtCore.Qt.Key.Key_N, QtCore.Qt.KeyboardModifier.ShiftModifier)
    later_ref = [s.start_s for s in review.record.reference if s.start_s > onsets[0]]
    assert review.cursor == pytest.approx(later_ref[0])


def test_zoom_keys_and_wheel_change_the_ecg_span(qtbot, review, analysis):
    _, record = analysis
    review.set_cursor(600.0)
    assert review.span_s == 10.0 and len(review.ecg.samples) == 3600
    qtbot.keyClick(review, QtCore.Qt.Key.Key_Plus)
    assert review.span_s == 5.0 and len(review.ecg.samples) == 1800
    qtbot.keyClick(review, QtCore.Qt.Key.Key_Minus)
    qtbot.keyClick(review, QtCore.Qt.Key.Key_Minus)
    assert review.span_s == 20.0
    assert_ecg_is_the_record_at(review, record, 600.0)
    review.ecg.zoom.emit(-1)  # what a wheel step down on the ECG emits
    assert review.span_s == 30.0
    for _ in range(20):
        review.zoom(-1)
    assert review.span_s == SPANS_S[-1]  # bounded: never more than two minutes read at once


def test_clicking_an_event_moves_the_cursor_there(review):
    top = review.tree.topLevelItem(2)
    texts = [top.child(i).text(0) for i in range(top.childCount())]
    k = texts.index("reference: nodal rhythm")
    item = top.child(k)
    review.tree.itemClicked.emit(item, 0)
    assert review.cursor == pytest.approx(item.data(0, QtCore.Qt.ItemDataRole.UserRole))
    assert review.ecg.start_sample / 360 <= review.cursor


def test_only_the_shown_slice_is_read(monkeypatch, review):
    reads = []
    real = analysis_folder.read_segment

    def counting(path, start, stop, lead=None):
        reads.append(stop - start)
        return real(path, start, stop, lead)

    monkeypatch.setattr(analysis_folder, "read_segment", counting)
    for t in (0.0, 900.0, 1805.0):
        review.set_cursor(t)
    review.zoom(-10)
    assert reads and max(reads) <= SPANS_S[-1] * 360 + 1


def test_folder_without_analysis_is_a_clear_error(qtbot, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("nothing here\n")
    window = ReviewWindow(empty)
    qtbot.addWidget(window)
    assert window.record is None
    assert "no analysis in" in window.error_text and "dacl-monitor analyze" in window.error_text
    window.step_episode(1)  # nothing to browse: no crash
    window.zoom(1)
    assert review_main(["review", str(tmp_path / "missing"), "--duration", "0.2"]) == 1
    assert "is not a folder" in capsys.readouterr().err


def test_bad_files_are_messages(qtbot, tmp_path, analysis):
    folder, _ = analysis
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "201_summary.json").write_text("{not json")
    (bad / "201_windows.csv").write_text("a,b\n1,2\n")
    window = ReviewWindow(bad)
    qtbot.addWidget(window)
    assert window.record is None and "is not a summary" in window.error_text
    shutil.copy(folder / "201_summary.json", bad / "201_summary.json")
    assert not window.open_folder(bad)
    assert "lacks the columns" in window.error_text


def test_record_not_found_shows_the_overview_and_says_why(qtbot, tmp_path, analysis):
    folder, record = analysis
    moved = tmp_path / "moved"
    moved.mkdir()
    for name in ("201_windows.csv", "analysis.json"):
        shutil.copy(folder / name, moved / name)
    summary = json.loads((folder / "201_summary.json").read_text())
    summary["path"] = "../somewhere/else/201"  # relative to where analyze ran, as analyze stores it
    (moved / "201_summary.json").write_text(json.dumps(summary))
    window = ReviewWindow(moved)
    qtbot.addWidget(window)
    assert window.record is not None and "not found" in window.error_text
    assert len(window.overview.prob_curve.getOriginalDataset()[1]) == summary["windows"]
    assert "not found" in window.ecg.message.toPlainText() and len(window.ecg.samples) == 0
    window.step_episode(1)
    later = [e["onset_s"] for e in summary["af_episodes"] if e["onset_s"] > 0]  # the cursor starts at 0
    assert window.cursor == pytest.approx(later[0])
    found = ReviewWindow(moved, records_dir=record.parent)  # --records: where the records are now
    qtbot.addWidget(found)
    assert found.error_text == "" and len(found.ecg.samples) == 3600


def test_a_24_hour_analysis_opens_from_its_table(qtbot, tmp_path, analysis):
    """86 400 windows (24 h at one per second): the overview is the CSV, drawn downsampled."""
    folder, _ = analysis
    big = tmp_path / "big"
    big.mkdir()
    summary = json.loads((folder / "201_summary.json").read_text())
    n = 86_400
    summary.update(samples=n * 360, duration_s=float(n), windows=n, path="nowhere/201",
                   af_episodes=[{"onset_s": 3600.0, "offset_s": 7200.0, "duration_s": 3600.0}])
    (big / "201_summary.json").write_text(json.dumps(summary))
    end = np.arange(n) + summary["window_s"]
    p_af = (np.sin(end / 900) + 1) / 2
    with (big / "201_windows.csv").open("w") as f:
        f.write("end_sample,end_s,p_N,p_A,p_O,p_~,heart_rate_bpm,trajectory_x,trajectory_y,flags\n")
        for e, p in zip(end, p_af, strict=True):
            f.write(f"{round(e * 360)},{e:.4f},{1 - p:.6f},{p:.6f},0,0,70.0,0.1,0.2,\n")
    t0 = time.perf_counter()
    window = ReviewWindow(big)
    qtbot.addWidget(window)
    window.resize(1400, 900)
    window.show()
    qtbot.waitExposed(window)
    opened = time.perf_counter() - t0
    assert opened < 20, opened
    _, y = window.overview.prob_curve.getOriginalDataset()
    np.testing.assert_allclose(y, np.round(p_af, 6))
    shown = window.overview.prob_curve.getData()[0]
    assert len(shown) < n / 10  # peak-downsampled to the plot's width, not 86 400 points drawn
    window.step_episode(1)
    assert window.cursor == 3600.0


def test_monitor_opens_review_from_file_menu_and_rejects_empty_folders(qtbot, bundle, settings_path,
                                                                        analysis, tmp_path):
    from app.cli import _check, build_parser, launch

    args = build_parser().parse_args(["--model", str(bundle), "--settings", settings_path])
    _check(args)
    _, monitor = launch(args)
    qtbot.addWidget(monitor)
    assert monitor.review_action.text() == "Open analysis folder…"
    assert monitor.open_review(tmp_path) is None
    assert "no analysis in" in monitor.error_text
    review = monitor.open_review(analysis[0])
    qtbot.addWidget(review)
    assert review.record is not None and review.record.name == "201"
    assert review in monitor.review_windows


def test_review_command_line_screenshot(tmp_path, analysis, capsys):
    folder, _ = analysis
    png = tmp_path / "review.png"
    assert cli_main(["--review", str(folder), "--episode", "2", "--screenshot", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert review_main(["review", str(folder), "--episode", "9", "--duration", "0.3"]) == 0  # said, not fatal


def test_load_record_without_qt_finds_the_beats(analysis):
    folder, record = analysis
    rec = load_record(folder, "201")
    ann = wfdb.rdann(str(record), "atr", sampfrom=3600, sampto=7200)
    at, codes = rec.beats(3600, 7200)
    beats = [(int(s), c) for s, c in zip(ann.sample, ann.symbol, strict=True) if c not in "+~|\"x"]
    assert list(zip(at.tolist(), codes, strict=True)) == beats
