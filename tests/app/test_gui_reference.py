"""Reference annotations live: the rhythm strip under the class history is the record's rhythm intervals
(wfdb.rdann), beat labels sit at their annotated samples on the trace, and the running AF agreement is
the EC57 scorer's figure for the same span. MIT-BIH 201 (360 Hz, starts in AF) is replayed at 300 Hz."""

from __future__ import annotations

import numpy as np
import pytest
import wfdb
from PySide6 import QtCore

from core import ec57
from core.events import EpisodeSettings, EventLog
from core.records import open_record
from core.reference import ReferenceTrack, rhythm_segments
from core.results import WindowResult
from core.sources import WfdbReplaySource
from tests.app.conftest import CINC, DATA, deliver, need, start

SID = 99
FS, REC_FS = 300.0, 360.0
SETTINGS = EpisodeSettings(on=0.8, off=0.5, k_on=3, k_off=3, smooth=1)


def rdann_rhythms(path) -> list[tuple[int, int, str]]:
    """Rhythm pieces straight from wfdb.rdann: each '+' note runs to the next one (or the record's end)."""
    ann = wfdb.rdann(str(path), "atr")
    n = wfdb.rdheader(str(path)).sig_len
    changes = [(int(s), a.rstrip("\x00"))
               for s, sym, a in zip(ann.sample, ann.symbol, ann.aux_note, strict=True) if sym == "+"]
    pieces = []
    for i, (s, rhythm) in enumerate(changes):
        end = changes[i + 1][0] if i + 1 < len(changes) else n
        if pieces and pieces[-1][2] == rhythm and pieces[-1][1] == s:
            pieces[-1] = (pieces[-1][0], end, rhythm)
        else:
            pieces.append((s, end, rhythm))
    return pieces


def test_rhythm_segments_are_the_records_rhythm_intervals():
    path = need(DATA / "mitdb" / "201")
    record = open_record(path)
    expected = rdann_rhythms(path)
    assert expected[:3] == [(60, 136226, "(AFIB"), (136226, 138552, "(NOD"), (138552, 171815, "(N")]
    assert rhythm_segments(record.annotations, record.n_samples) == expected
    track = ReferenceTrack(record, FS)
    # a stretch across the AF -> nodal -> sinus changes, in stream indices (300 Hz)
    lo, hi = 370 * 300, 390 * 300
    x0, x1, cls = track.strip(lo, hi)
    np.testing.assert_allclose(x0, [lo, 136226 / 1.2, 138552 / 1.2])
    np.testing.assert_allclose(x1, [136226 / 1.2, 138552 / 1.2, hi])
    assert cls.tolist() == [1, 2, 0]  # AF, other (nodal), sinus
    # a looping replay continues in the record's second pass: (AFIB from sample 60 again
    wrap = record.n_samples / 1.2
    x0, x1, cls = track.strip(int(wrap) - 300, int(wrap) + 600)
    assert cls.tolist() == [0, 1] and x0[1] == pytest.approx(wrap + 60 / 1.2, abs=1)


@pytest.fixture
def bed_201(qtbot, bundle, settings_path):
    """A window whose selected bed replays 201 (not started: the test feeds its windows)."""
    record = open_record(need(DATA / "mitdb" / "201"))
    window = start(qtbot, bundle, settings_path, "--speed", "10")
    window.set_paused(True)
    window.session.sources[SID] = WfdbReplaySource(record)
    window.add_stream(SID, "bed 99 · 201 · MLII")
    window.session.monitoring.events = EventLog(settings=SETTINGS)
    window.select_bed(SID)
    return window, record


def feed(window, ends, p_af):
    for end, p in zip(ends, p_af, strict=True):
        deliver(window, WindowResult(SID, int(end), 0.0, 0.01, np.array([1 - p, p, 0.0, 0.0]), np.zeros(16),
                                      np.zeros(2), 80.0))


def test_the_strip_under_the_history_shows_the_rhythm_of_the_last_60_s(bed_201):
    window, _ = bed_201
    assert window.beds[SID].reference is not None
    end = 390 * 300  # the newest window ends 390 s into the record
    feed(window, [end - 600, end - 300, end], [0.9, 0.9, 0.9])
    x0, x1, cls = window.history.reference_segments
    # seconds before the newest window's end, from rdann's samples: AF until 378.4 s, nodal, sinus
    np.testing.assert_allclose(x0, [-60.0, 136226 / 360 - 390, 138552 / 360 - 390])
    np.testing.assert_allclose(x1, [136226 / 360 - 390, 138552 / 360 - 390, 0.0])
    assert cls.tolist() == [1, 2, 0]
    assert window.reference_line.isVisible() and "AF vs reference" in window.reference_line.text()


def test_the_running_agreement_is_the_ec57_score_of_the_span(bed_201):
    window, record = bed_201
    ends = np.arange(330 * 300, 400 * 300 + 1, 300)  # windows from 330 s to 400 s
    p_af = np.where(ends < 380 * 300, 0.97, 0.02)  # the model calls AF until 380 s (the reference: 378.4 s)
    feed(window, ends, p_af)
    lag = 1024
    first = round((ends[0] - lag) * 1.2)  # centre of the first window, record samples
    last = round((ends[-1] - lag) * 1.2)
    off = round((ends[p_af < 0.5][0] - lag) * 1.2)  # the first window below `off` ends the episode
    ann = wfdb.rdann(str(DATA / "mitdb" / "201"), "atr")
    reference = ec57.af_reference(ann.sample, ann.symbol, ann.aux_note, record.n_samples)
    score = ec57.score_record("201", reference, [(first, off)], last, REC_FS, learning_s=first / REC_FS)
    m = score.measures()
    both = (min(off, 136226) - first) / REC_FS  # by hand: AF from the span's start in both
    assert score.both_s == pytest.approx(both)
    assert m["duration_se"] == pytest.approx(both / ((136226 - first) / REC_FS))
    assert m["duration_ppv"] == pytest.approx(both / ((off - first) / REC_FS))

    agreement = window.beds[SID].reference.agreement(window.session.events.stream_events(SID),
                                                     int(ends[0]), int(ends[-1]), lag)
    assert agreement.score == score
    assert agreement.disagree_s == pytest.approx(abs(off - 136226) / REC_FS)
    text = window.reference_line.agreement
    assert f"duration Se {100 * m['duration_se']:.0f} %" in text
    assert f"+P {100 * m['duration_ppv']:.0f} %" in text
    assert f"disagree {abs(off - 136226) / REC_FS:.0f} s" in text
    assert f"({(last - first) / REC_FS / 60:.1f} min)" in text


def test_beat_labels_sit_at_their_annotated_samples_where_the_sweep_has_drawn(qtbot, bundle, settings_path):
    path = need(DATA / "mitdb" / "201")
    window = start(qtbot, bundle, settings_path, str(path), "--speed", "5")
    qtbot.waitUntil(lambda: window.waveform.samples_shown >= window.waveform.capacity
                    and len(window.beds[window.selected].results) >= 2, timeout=20000)
    window.set_paused(True)
    qtbot.wait(700)  # the last chunk lands and the sweep draws up to it
    ann = wfdb.rdann(str(path), "atr")
    beats = {int(round(s * FS / REC_FS)): sym for s, sym in zip(ann.sample, ann.symbol, strict=True)
             if sym in "NVAaFJj"}
    trace = window.waveform.trace
    labels = trace.beat_labels.shown()
    drawn, _ = window.waveform.displayed()
    assert len(labels) >= 8  # 10 s of 201 at ~90 bpm
    for index, x, code in labels:
        assert beats[index] == code  # an annotated beat, with its code
        assert x == pytest.approx((index % trace.capacity) / FS)  # at its sample's time on the sweep
        assert index in set(drawn.tolist())  # only where the trace is drawn
    inside = [i for i in beats if drawn.min() + 2 < i < drawn.max() - 2 and i in set(drawn.tolist())]
    assert sorted(i for i, _, _ in labels) == sorted(inside)

    with qtbot.waitActive(window):  # shortcuts reach an active window only
        window.activateWindow()
    qtbot.keyClick(window, QtCore.Qt.Key.Key_S)  # scrolling: the newest sample at x = 0
    assert not trace.sweep
    qtbot.waitUntil(lambda: len(trace.beat_labels.shown()) >= 8, timeout=5000)
    end = trace._end
    for index, x, code in trace.beat_labels.shown():
        assert beats[index] == code and x == pytest.approx((index - end) / FS)

    # the strip of the replay so far: 201 is in AF from its 60th sample
    x0, x1, cls = window.history.reference_segments
    assert set(cls.tolist()) == {1} and x1.max() == pytest.approx(0.0)


def test_a_record_without_annotations_says_so_and_shows_no_reference(qtbot, bundle, settings_path):
    path = need(CINC / "A00001")
    window = start(qtbot, bundle, settings_path, str(path), "--speed", "10")
    assert "no reference annotations" in window.status.currentMessage()
    bed = window.beds[window.selected]
    assert bed.reference is None
    qtbot.waitUntil(lambda: len(bed.results) >= 2, timeout=20000)
    assert len(window.history.reference_segments[0]) == 0 and not window.reference_line.isVisible()
    assert window.waveform.trace.beat_labels is None and window.error_text == ""


def test_the_open_dialog_offers_the_records_annotation_files_and_shows_the_chosen_one(
        qtbot, bundle, settings_path, tmp_path):
    from app.dialogs import OpenRecordDialog

    src = need(DATA / "mitdb" / "201")
    for ext in ("hea", "dat", "atr"):
        (tmp_path / f"201.{ext}").symlink_to((src.parent / f"201.{ext}").resolve())
    # a second reference beside it: sinus for the first 100 s, then AF (no beats)
    wfdb.wrann("201", "ref", np.array([0, 36000]), symbol=["+", "+"], aux_note=["(N", "(AFIB"], fs=360,
               write_dir=str(tmp_path))
    window = start(qtbot, bundle, settings_path, "--speed", "10")
    dialog = OpenRecordDialog(window, start=str(tmp_path / "201.hea"))
    qtbot.addWidget(dialog)
    assert [dialog.annotation_box.itemText(i) for i in range(dialog.annotation_box.count())] == [
        ".atr", ".ref", "none"]
    dialog.annotation_box.setCurrentIndex(1)
    dialog.accept()
    assert dialog.annotation == "ref"
    sid = window.open_record(dialog.record_path, dialog.lead, annotation=dialog.annotation)
    track = window.beds[sid].reference
    assert track.seg_rhythm == ("(N", "(AFIB") and track.seg_start.tolist() == [0, 36000]
    assert track.symbols == ()  # no beat labels in this file
    qtbot.waitUntil(lambda: len(window.history.reference_segments[0]) > 0, timeout=20000)
    x0, x1, cls = window.history.reference_segments
    assert cls.tolist() == [0] and x1[0] == pytest.approx(0.0)  # sinus in the first seconds, as in .ref


def test_a_lead_unlike_the_alarms_training_lead_is_named_in_the_status_line(qtbot, bundle, settings_path):
    path = need(DATA / "mitdb" / "100")
    window = start(qtbot, bundle, settings_path, str(path), "--lead", "1", "--speed", "10")  # V5
    assert window.status.currentMessage().startswith("100: lead V5: the AF alarms were fitted on lead II")
    assert window.beds[window.selected].reference is not None  # the note does not stop the reference
