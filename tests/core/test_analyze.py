"""Whole-record analysis: every window, equal to live and offline, annotations at the record's samples."""

import dataclasses
import time

import numpy as np
import pytest

from core.analysis_files import write_outputs
from core.analyze import analysis_config, analyze_record, expected_windows
from core.events import EventLog
from core.preprocess import normalize_window, preprocess_record
from core.records import open_record
from core.rhythm import offline_rhythm
from core.scheduler import InferenceModel, Scheduler, SchedulerConfig
from core.scheduler_model import load_model
from core.sources import WfdbReplaySource
from core.windowing import offline_windows
from tests.core.test_scheduler_support import CINC, DATA, MITBIH_100, bundle_path, need_data


@pytest.fixture(scope="module")
def model(pytestconfig):
    m = load_model(bundle_path(pytestconfig.cache.mkdir("dacl-scheduler-bundle")), "onnxruntime")
    yield m
    m.close()


@pytest.fixture(scope="module")
def record_100_first_minute():
    need_data(MITBIH_100)
    record = open_record(MITBIH_100)
    return dataclasses.replace(record, signal=record.signal[: 60 * 360])


def test_analysis_equals_the_live_path_and_offline(model, record_100_first_minute):
    record = record_100_first_minute
    analysis = analyze_record(record, model)
    assert len(analysis) == analysis.expected_windows == 54 and analysis.dropped == 0

    # the live path: a replay paced by the clock at x30 through a dropping scheduler
    config = SchedulerConfig(fs=model.fs, window=model.window, hop=model.hop)
    live = Scheduler(model, config, strict=True)
    results = live.result_queue(maxsize=10_000)
    sid = live.add_stream(WfdbReplaySource(record, speed=30.0, loop=False))
    with live:
        deadline = time.monotonic() + 30
        while not (live.stream(sid).state == "ended" and live.idle()) and time.monotonic() < deadline:
            time.sleep(0.05)
    got = sorted(results.get_all(), key=lambda r: r.end_index)
    assert live.stats().dropped == 0
    assert [r.end_index for r in got] == list(analysis.end_index)
    np.testing.assert_allclose(np.array([r.probs for r in got]), analysis.probs, atol=1e-5)

    # offline: the whole record preprocessed and windowed at once, one batch through the model
    y, flags = preprocess_record(record.signal, record.fs, model.fs)
    windows = offline_windows(y, flags, model.window, model.hop, dtype=np.float64)
    assert [w.end for w in windows] == list(analysis.end_index)
    raw = np.stack([w.samples for w in windows]).astype(np.float64)
    probs, emb, _ = model.infer(normalize_window(raw))
    np.testing.assert_allclose(probs, analysis.probs, atol=1e-5)

    if model.rhythm is not None:  # the RR features: the training code's offline tracker = analyze = live
        offline = offline_rhythm(raw, np.array([w.end for w in windows]), model.fs)
        np.testing.assert_allclose(analysis.rhythm, offline, atol=1e-5)
        np.testing.assert_allclose(np.array([r.rhythm for r in got]), offline, atol=1e-5)
        np.testing.assert_allclose(analysis.rhythm_probs, model.fuse(emb, offline), atol=1e-5)
        np.testing.assert_allclose(np.array([r.rhythm_probs for r in got]), analysis.rhythm_probs, atol=1e-5)


@pytest.mark.parametrize("n, fs, expected", [(650_000, 360.0, 1799), (9000, 300.0, 24), (2047, 300.0, 0),
                                             (2048, 300.0, 1)])
def test_expected_windows_counts_what_the_stream_cuts(n, fs, expected):
    assert expected_windows(n, fs, 300.0, 2048, 300) == expected


def test_annotations_are_at_the_record_sample_numbers(model, tmp_path):
    wfdb = pytest.importorskip("wfdb")
    path = DATA / "mitdb" / "201"
    need_data(path)
    record = open_record(path)
    analysis = analyze_record(record, model, events=EventLog())
    assert len(analysis) == analysis.expected_windows == 1799 and analysis.dropped == 0
    files = write_outputs(analysis, tmp_path, "dacl")
    ann = wfdb.rdann(str(tmp_path / "201"), "dacl")
    assert ann.fs == 360
    episodes = analysis.episodes()
    assert episodes, "record 201 holds 10 min of AF; the shipped model finds some of it"
    onsets = [s for s, a in zip(ann.sample, ann.aux_note, strict=True) if a == "(AFIB"]
    notes = list(zip(ann.sample, ann.aux_note, strict=True))
    assert notes[0][1] in ("(N", "(AFIB")  # the rhythm from the first analysed sample on
    offsets = [s for s, a in notes[1:] if a == "(N"] if notes[0][1] == "(N" else \
        [s for s, a in notes if a == "(N"]
    assert onsets == [e.onset_sample for e in episodes]
    assert offsets == [e.offset_sample for e in episodes if e.offset_sample < record.n_samples]
    # each onset is the centre of the first window of its confirming run, at 360 Hz: 1.2 x the 300 Hz index
    starts = [e for e in analysis.events if e.kind == "start"]
    assert onsets == [round((e.sample - 1024) * 1.2) for e in starts]
    rows = files["windows"].read_text().splitlines()
    assert len(rows) == 1 + 1799 and rows[1].split(",")[0] == str(round(2048 * 1.2))


def test_a_failing_engine_is_an_analysis_error_not_a_hang(model):
    need_data(CINC)
    from core.analyze import AnalysisError

    class Broken(InferenceModel):
        fs, window, hop, backend = model.fs, model.window, model.hop, "broken"

        def infer(self, windows):
            raise RuntimeError("engine file built for another GPU")

    with pytest.raises(AnalysisError, match="another GPU"):
        analyze_record(open_record(CINC / "A00001"), Broken(), config=analysis_config(model))


def test_block_backpressure_delivers_every_window_where_drop_policy_drops(model, record_100_first_minute):
    class Slow(InferenceModel):  # a real model behind a slow engine: 20 ms per call, batches of at most 2
        fs, window, hop, backend = model.fs, model.window, model.hop, "slow"

        def infer(self, windows):
            time.sleep(0.02)
            return model.infer(windows)

    counts = {}
    for policy in ("block", "drop"):
        config = dataclasses.replace(analysis_config(model, max_batch=2), backpressure=policy,
                                     pending_per_stream=2)
        scheduler = Scheduler(Slow(), config, strict=True)
        results = scheduler.result_queue(maxsize=10_000)
        sid = scheduler.add_stream(WfdbReplaySource(record_100_first_minute, speed=None))
        with scheduler:
            while not (scheduler.stream(sid).state == "ended" and scheduler.idle()):
                time.sleep(0.01)
        counts[policy] = (len(results), scheduler.stats().dropped)
    assert counts["block"] == (54, 0)
    assert counts["drop"][1] > 0 and sum(counts["drop"]) == 54


def test_a_lead_unlike_the_alarms_training_lead_is_named_in_the_summary_and_the_log(model, caplog,
                                                                                    record_100_first_minute):
    from core.analyze import lead_note

    assert [lead_note(x) for x in ("II", "MLII", "mlii", "ECG", "ECG1")] == [None] * 5
    assert "lead V1:" in lead_note("V1")
    assert analyze_record(record_100_first_minute, model).summary()["lead_note"] is None
    v5 = open_record(MITBIH_100, lead=1)  # record 100's second signal is V5
    v5 = dataclasses.replace(v5, signal=v5.signal[: 60 * 360])
    with caplog.at_level("WARNING", logger="core.analyze"):
        summary = analyze_record(v5, model).summary()
    assert summary["lead"] == "V5" and summary["lead_note"].startswith("lead V5: the AF alarms were fitted")
    assert any("record 100: lead V5" in r.getMessage() for r in caplog.records)


def test_beats_and_rr_model_output_equal_offline_and_live(model):
    """The beats analyze keeps = the offline detector's; each window's RR decision = the offline model's."""
    need_data(MITBIH_100)
    from core.record_beats import detector_beats
    from core.rr_features import rr_feature_matrix

    record = open_record(MITBIH_100)
    record = dataclasses.replace(record, signal=record.signal[: 150 * 360])  # 2.5 min: ~180 beats
    analysis = analyze_record(record, model, read_start=False)  # exactly what the live monitor decided
    np.testing.assert_array_equal(analysis.record_beats, detector_beats(record.signal, record.fs))
    if model.rr_rhythm is None:
        pytest.skip("the bundle has no RR rhythm model")
    beats = np.unique(analysis.beats)
    feats, centres = rr_feature_matrix(beats, model.fs)
    probs = model.rr_rhythm.probs(feats)
    newest = beats[64:]  # decision k is made when beat k + 64 arrives
    for i, end in enumerate(analysis.end_index):
        k = np.searchsorted(newest, end - 0.5 * model.fs, side="left") - 1  # beats before the guard
        if k < 0:
            assert np.isnan(analysis.rr_probs[i]).all()
        else:
            np.testing.assert_allclose(analysis.rr_probs[i], probs[k], atol=1e-6)
    assert np.isfinite(analysis.rr_probs[-1]).all() and analysis.rr_probs[-1][0] > 0.9  # record 100 is sinus
    if model.alarm is None:
        return
    # by default the windows before the first decision are read with it; the rest is as live
    read = analyze_record(record, model)
    first = int(np.argmax(np.isfinite(analysis.rr_probs).all(axis=1)))
    assert first > 0 and read.summary()["rr_first_decision_backfilled_s"] == first * model.hop / model.fs
    # two analyses: the engines' batches differ with timing, so their outputs agree to rounding only
    np.testing.assert_array_equal(read.rr_probs[:first], np.tile(read.rr_probs[first], (first, 1)))
    np.testing.assert_allclose(read.rr_probs[first:], analysis.rr_probs[first:], atol=1e-6)
    np.testing.assert_allclose(read.alarm_probs[first:], analysis.alarm_probs[first:], atol=1e-5)


def test_the_alarm_is_the_manifests_fusion_of_the_window_and_the_rr_model(model):
    """Every window's alarm probabilities = core.alarm on the analysis's own DACL and RR outputs."""
    need_data(MITBIH_100)
    if model.alarm is None:
        pytest.skip("the bundle has no alarm fusion (manifest 'alarm')")
    record = open_record(MITBIH_100)
    record = dataclasses.replace(record, signal=record.signal[: 120 * 360])
    analysis = analyze_record(record, model)
    expected = model.alarm.probs(analysis.probs, analysis.rr_probs)
    np.testing.assert_allclose(analysis.alarm_probs, expected, atol=1e-6)
    assert analysis.summary()["alarm_input"] == "alarm_probs"
    paced = analyze_record(record, model, paced=True)
    assert paced.summary()["paced"]["marked_by_user"] is True
    np.testing.assert_allclose(paced.alarm_probs,
                               model.alarm.probs(paced.probs, paced.rr_probs, np.ones(len(paced), bool)),
                               atol=1e-6)


@pytest.mark.parametrize("fs", [128, 250, 500])
def test_a_record_resampled_to_another_rate_gives_the_same_af_episodes(model, fs):
    """201's first 10 minutes (AF, sinus, AF, sinus) at another rate: the same episodes within 5 s."""
    from scipy.signal import resample_poly

    path = DATA / "mitdb" / "201"
    need_data(path)
    record = open_record(path)
    record = dataclasses.replace(record, signal=record.signal[: 600 * 360])
    native = [(e.onset_s, e.offset_s) for e in analyze_record(record, model).episodes("A")]
    other = dataclasses.replace(record, fs=float(fs), signal=resample_poly(record.signal, fs, 360))
    moved = [(e.onset_s, e.offset_s) for e in analyze_record(other, model).episodes("A")]
    assert native, "201 starts in AF: the native analysis must find it"
    assert len(moved) == len(native)
    np.testing.assert_allclose(moved, native, atol=5.0)


def test_short_recordings_are_classified_as_a_whole(model):
    """A 30 s AF demo record classified whole, equal to the head run on its own; none past SHORT_S."""
    from pathlib import Path

    from core.record_head import SHORT_S, classify_recording

    if model.record_head is None:
        pytest.skip("the bundle under test has no record head (engines/default has one)")
    record = open_record(Path(__file__).parents[2] / "app" / "demo" / "A00004")  # CinC: AF
    analysis = analyze_record(record, model)
    whole = analysis.summary()["record_class"]
    assert whole["class"] == "A" and sum(whole["probs"].values()) == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(analysis.record_class, classify_recording(record.signal, record.fs, model),
                               atol=1e-6)
    need_data(MITBIH_100)
    long = open_record(MITBIH_100)
    long = dataclasses.replace(long, signal=long.signal[: int((SHORT_S + 10) * long.fs)])
    assert analyze_record(long, model).summary()["record_class"] is None


def test_the_paced_record_107_raises_no_af_alarm_marked_paced_or_not(model):
    """MIT-BIH 107 (paced throughout, 30 min) through the live path: no AF episode; marked paced, says so."""
    from core.bedside import headline
    from core.results import WindowResult

    path = DATA / "mitdb" / "107"
    need_data(path)
    if model.alarm is None:
        pytest.skip("the bundle has no alarm fusion (manifest 'alarm')")
    record = open_record(path)
    for paced in (False, True):
        analysis = analyze_record(record, model, paced=paced)
        assert analysis.episodes("A") == [], f"107 called AF (paced mark {paced})"
        windows = expected_windows(record.n_samples, record.fs, model.fs, model.window, model.hop)
        assert len(analysis) == windows
    assert analysis.summary()["paced"]["marked_by_user"] is True
    f32 = np.float32
    last = WindowResult(0, int(analysis.end_index[-1]), 0.0, 0.0, analysis.probs[-1].astype(f32),
                        np.zeros(16), np.zeros(2), 70.0, alarm_probs=analysis.alarm_probs[-1].astype(f32),
                        rr_probs=analysis.rr_probs[-1], paced=True)
    assert headline(last, in_af=False).text == "Paced rhythm"
