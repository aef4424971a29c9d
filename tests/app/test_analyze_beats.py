"""`dacl-monitor analyze --beats`: rhythm from beat annotations alone; the beats signal analysis writes."""

import json
import shutil

import numpy as np
import pytest

from app.cli import main as cli_main
from core.ec57 import af_reference, overlap
from core.rr_irregularity import BEAT_SYMBOLS
from tests.core.test_scheduler_support import DATA, DEFAULT_BUNDLE, MITBIH_100, need_data

EXCERPT = DATA / "wfdb-samples" / "ltafdb74_s114999"


@pytest.fixture
def beats_only(tmp_path):
    """The LTAFDB excerpt's header and beat files, without its signal."""
    need_data(EXCERPT)
    folder = tmp_path / "beats"
    folder.mkdir()
    for ext in ("hea", "qrs", "atr"):
        shutil.copy(EXCERPT.with_name(f"{EXCERPT.name}.{ext}"), folder)
    line = "NOFS.dat 16 200 16 0 0 0 0 ECG\n"
    (folder / "NOFS.hea").write_text("NOFS 2\n" + line + line)
    shutil.copy(EXCERPT.with_name(f"{EXCERPT.name}.qrs"), folder / "NOFS.qrs")
    return folder


def test_beats_only_analysis_of_the_ltafdb_excerpt(beats_only, tmp_path, capsys):
    wfdb = pytest.importorskip("wfdb")
    out = tmp_path / "out"
    code = cli_main(["analyze", str(beats_only), "--beats", "qrs", "--out", str(out), "--model",
                     str(DEFAULT_BUNDLE), "--json"])
    assert code == 0
    run = json.loads(capsys.readouterr().out)
    assert [s["record"] for s in run["records"]] == [EXCERPT.name]
    assert "no sampling rate" in run["skipped"][0]["error"] and "NOFS.hea" in run["skipped"][0]["error"]
    name = EXCERPT.name
    ann = wfdb.rdann(str(out / name), "dacl")
    assert ann.fs == 128 and set(ann.symbol) == {"+"} and "(AFIB" in ann.aux_note
    assert np.all((ann.sample >= 0) & (ann.sample <= 38400))
    # AF almost throughout (its sinus interludes last 3-4 s): the detected AF covers most of the reference
    ref_ann = wfdb.rdann(str(EXCERPT), "atr")
    ref = af_reference(ref_ann.sample, ref_ann.symbol, ref_ann.aux_note, 38400)
    s = run["records"][0]
    det = [(e["onset_sample"], e["offset_sample"]) for e in s["af_episodes"]]
    assert [a for a, n in zip(ann.sample, ann.aux_note, strict=True) if n == "(AFIB"] == [a for a, _ in det]
    assert overlap(ref, det) / 128 > 0.8 * s["analysed_s"]
    rows = (out / f"{name}_rhythm.csv").read_text().splitlines()
    assert rows[0] == "centre_sample,centre_s,p_sinus,p_AF,p_other,heart_rate_bpm"
    assert len(rows) == 1 + s["decisions"]
    assert (out / f"{name}_report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert 60 < s["heart_rate_bpm"]["mean"] < 140 and s["input"] == "beats (qrs)"


def test_signal_analysis_writes_its_beats_and_they_read_back_as_beats(tmp_path):
    wfdb = pytest.importorskip("wfdb")
    need_data(MITBIH_100)
    rec = tmp_path / "rec"
    rec.mkdir()
    head = wfdb.rdrecord(str(MITBIH_100), sampto=360 * 120)  # two minutes of record 100
    wfdb.wrsamp("r100", fs=360, units=head.units, sig_name=head.sig_name, p_signal=head.p_signal,
                fmt=["16", "16"], write_dir=str(rec))
    out = tmp_path / "out"
    assert cli_main(["analyze", str(rec / "r100"), "--out", str(out), "--model", str(DEFAULT_BUNDLE),
                     "--engine", "onnxruntime", "--no-report"]) == 0
    beats = wfdb.rdann(str(out / "r100"), "beats")
    assert beats.fs == 360 and set(beats.symbol) == {"N"}
    ref = wfdb.rdann(str(MITBIH_100), "atr", sampto=360 * 120)
    ref = np.array([s for s, y in zip(ref.sample, ref.symbol, strict=True)
                    if y in BEAT_SYMBOLS and 5 * 360 < s < 110 * 360])
    from wfdb.processing import compare_annotations

    c = compare_annotations(ref, beats.sample[(beats.sample > 5 * 360) & (beats.sample < 110 * 360)], 54)
    assert c.fn == 0 and c.fp == 0
    # and the beats a signal analysis wrote feed a beats-only analysis
    shutil.copy(rec / "r100.hea", out / "r100.hea")
    assert cli_main(["analyze", str(out / "r100"), "--beats", "beats", "--out", str(tmp_path / "o2"),
                     "--model", str(DEFAULT_BUNDLE), "--no-report"]) == 0
    summary = json.loads((tmp_path / "o2" / "r100_summary.json").read_text())
    assert summary["af_burden"] == 0.0 and abs(summary["heart_rate_bpm"]["mean"] - 75) < 10


def test_hours_without_usable_beats_are_reported_unreadable(tmp_path):
    """A 3-minute stretch where the detector kept one beat every 4 s is time the beats cannot read."""
    from dataclasses import replace

    from app.beat_report import write_beat_report
    from core.beat_analysis import RrRhythm, analyze_beats
    from core.beats import read_beats
    from engines.bundle import load_bundle

    need_data(EXCERPT)
    model = RrRhythm(load_bundle(DEFAULT_BUNDLE))
    clean = read_beats(EXCERPT, "qrs")
    assert analyze_beats(clean, model).summary()["unreadable_s"] == 0.0
    fs, a, b = clean.fs, 60 * clean.fs, 240 * clean.fs  # lose the beats of 1:00-4:00 but one each 4 s
    s = clean.samples
    kept = np.concatenate([s[s < a], np.arange(a, b, 4 * fs).astype(np.int64), s[s >= b]])
    lossy = replace(clean, samples=np.unique(kept), symbols=("N",) * np.unique(kept).size)
    analysis = analyze_beats(lossy, model)
    got = analysis.summary()["unreadable_s"]
    # every decision whose 64 intervals hold two or more 4 s gaps is skipped: the 3 minutes, plus up to
    # one window (64 intervals of about 0.9 s) on either side, less the stretch's first and last gap
    assert 170 < got < 180 + 2 * 64 * 0.9
    [(start, end)] = analysis.unreadable()  # one stretch, around the thinned minutes
    assert start < b and end > a and (end - start) / fs == got
    png = write_beat_report(analysis, tmp_path / "lossy.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
