"""Analyze record… from the GUI: the real analysis in a QThread with a progress bar, the result opened in
review mode; Cancel writes nothing; an unreadable record is a message."""

from __future__ import annotations

import json

import pytest
from PySide6 import QtWidgets

from app.review import ReviewWindow
from tests.app.conftest import CINC, DATA, need


@pytest.fixture
def review(qtbot, bundle):
    window = ReviewWindow(model_path=bundle)
    qtbot.addWidget(window)
    window.show()
    return window


def test_analyze_record_shows_progress_then_reviews_the_result(qtbot, review, tmp_path):
    record = need(CINC / "A00001")  # 30 s at 300 Hz
    out = tmp_path / "A00001"
    seen = []
    task = review.analyze_record(record, out)
    task.progress.connect(lambda done, expected: seen.append((done, expected)))
    qtbot.waitUntil(lambda: task.isFinished() and review.record is not None, timeout=120_000)
    summary = json.loads((out / "A00001_summary.json").read_text())
    assert review.record.name == "A00001" and review.folder == out
    assert seen and seen[-1] == (summary["windows"], summary["expected_windows"])
    assert task.dialog.maximum() == summary["expected_windows"] and task.dialog.value() == summary["windows"]
    qtbot.waitUntil(lambda: not task.dialog.isVisible(), timeout=5000)  # hidden by a queued signal
    assert (out / "A00001_report.png").is_file() and (out / "analysis.json").is_file()
    assert review.error_text == ""


def test_cancel_stops_the_analysis_and_writes_nothing(qtbot, review, tmp_path):
    record = need(DATA / "mitdb" / "201")  # 30 min: several progress reports before its end
    out = tmp_path / "201"
    task = review.analyze_record(record, out)
    cancel = task.dialog.findChild(QtWidgets.QPushButton)
    assert cancel.text() == "Cancel"
    task.progress.connect(lambda done, expected: done > 0 and cancel.click())
    qtbot.waitUntil(task.isFinished, timeout=120_000)
    qtbot.waitUntil(lambda: "cancelled" in review.error_text, timeout=5000)
    assert not (out / "201_summary.json").exists() and review.record is None


def test_an_unreadable_record_is_a_message(qtbot, review, tmp_path):
    bad = tmp_path / "BROKEN.hea"
    bad.write_text("this is not a WFDB header\n")
    task = review.analyze_record(bad, tmp_path / "out")
    qtbot.waitUntil(task.isFinished, timeout=120_000)
    qtbot.waitUntil(lambda: "cannot analyse" in review.error_text, timeout=5000)
    assert "header" in review.error_text and review.record is None


def test_monitor_analyze_record_opens_review_of_the_result(qtbot, bundle, settings_path, tmp_path):
    from app.cli import _check, build_parser, launch

    args = build_parser().parse_args(["--model", str(bundle), "--settings", settings_path])
    _check(args)
    _, monitor = launch(args)
    qtbot.addWidget(monitor)
    assert monitor.analyze_action in monitor.menuBar().actions()[0].menu().actions()
    task = monitor.analyze_record(need(CINC / "A00004"), tmp_path / "A00004")
    assert monitor.analyze_record(CINC / "A00001") is None  # one at a time
    assert "already running" in monitor.error_text
    qtbot.waitUntil(lambda: task.isFinished() and bool(monitor.review_windows), timeout=120_000)
    review = monitor.review_windows[-1]
    qtbot.addWidget(review)
    assert review.record.name == "A00004" and review.folder == tmp_path / "A00004"
    assert len(monitor.beds) == 1  # the bedside kept running
