import numpy as np
import pytest

from training import dataset


def write(tmp_path, text, name="REFERENCE-v3.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_read_labels_parses_rows_and_skips_blank_lines(tmp_path):
    p = write(tmp_path, "A00001,N\nA00002,A\n\nA00003,O\nA00004,~\n")
    recs = dataset.read_labels(p)
    assert [(r.name, r.label) for r in recs] == [("A00001", 0), ("A00002", 1), ("A00003", 2), ("A00004", 3)]


def test_malformed_row_names_file_line_and_value(tmp_path):
    p = write(tmp_path, "A00001,N\nA00002,A,extra\n")
    with pytest.raises(
        dataset.LabelFileError, match=r"REFERENCE-v3.csv, line 2: expected 2 fields .*A00002,A,extra"
    ):
        dataset.read_labels(p)


def test_row_without_label_is_malformed(tmp_path):
    p = write(tmp_path, "A00001\n")
    with pytest.raises(dataset.LabelFileError, match=r"line 1: expected 2 fields 'record,label', got 1"):
        dataset.read_labels(p)


def test_unknown_label_is_named_with_the_choices(tmp_path):
    p = write(tmp_path, "A00001,N\nA00002,X\n")
    with pytest.raises(
        dataset.LabelFileError,
        match=r"line 2: unknown label 'X' for record 'A00002'; expected one of N, A, O, ~",
    ):
        dataset.read_labels(p)


def test_duplicate_and_empty_names_are_errors(tmp_path):
    with pytest.raises(dataset.LabelFileError, match=r"line 2: record 'A00001' is listed twice"):
        dataset.read_labels(write(tmp_path, "A00001,N\nA00001,A\n"))
    with pytest.raises(dataset.LabelFileError, match=r"line 1: empty record name"):
        dataset.read_labels(write(tmp_path, ",N\n"))
    with pytest.raises(dataset.LabelFileError, match=r"no `record,label` rows"):
        dataset.read_labels(write(tmp_path, "\n"))


def test_label_file_lookup_prefers_v3_then_reference_then_headers(tmp_path):
    (tmp_path / "B1.hea").write_text("B1 1 300 3000\n")
    assert dataset.list_records(tmp_path) == [dataset.LabelledRecord("B1", -1)]
    write(tmp_path, "B1,O\n", "REFERENCE.csv")
    assert dataset.list_records(tmp_path)[0].label == 2
    write(tmp_path, "B1,A\n")
    assert dataset.list_records(tmp_path)[0].label == 1
    with pytest.raises(FileNotFoundError, match="does not exist"):
        dataset.list_records(tmp_path / "missing")


def test_real_label_file_counts(cinc_dir):
    labels = np.array([r.label for r in dataset.list_records(cinc_dir)])
    assert np.bincount(labels).tolist() == [4061, 606, 1932, 223]  # ../shared/data/README.md


def test_stratified_split_is_reproducible_and_keeps_proportions():
    labels = np.repeat([0, 1, 2, 3], [400, 60, 200, 40])
    tr, va = dataset.stratified_split(labels, 0.25, seed=3)
    tr2, va2 = dataset.stratified_split(labels, 0.25, seed=3)
    assert np.array_equal(va, va2) and not set(tr) & set(va) and len(tr) + len(va) == 700
    assert np.bincount(labels[va]).tolist() == [100, 15, 50, 10]


def test_window_starts_cover_the_record():
    assert dataset.window_starts(9000, 2048, 0).tolist() == [0, 2048, 4096, 6144]
    assert dataset.window_starts(9000, 2048, 0, cover_end=True).tolist() == [0, 2048, 4096, 6144, 6952]
    assert dataset.window_starts(9000, 2048, 5000).tolist() == [5000]
    assert dataset.window_starts(1000, 2048).tolist() == [0]


def test_eval_windows_step_a_quarter_window_and_end_flush():
    x = np.random.default_rng(0).standard_normal(3000).astype(np.float32)
    w = dataset.eval_windows(x)
    assert dataset.EVAL_HOP == 512 and w.shape == (3, 2048)  # starts 0, 512 and 952 = 3000 - 2048
    for row, start in zip(w, (0, 512, 952), strict=True):
        np.testing.assert_allclose(row, dataset.normalize_window(x[start : start + 2048]), atol=1e-6)


def test_short_record_is_tiled_and_windows_are_zscored():
    x = np.sin(np.arange(1500) / 10.0).astype(np.float32)
    w = dataset.cut_windows(x, np.array([0]))
    assert w.shape == (1, 2048)
    np.testing.assert_allclose(w[0, 1500:], dataset.normalize_window(np.tile(x, 2)[:2048])[1500:], atol=1e-6)
    assert abs(w.mean()) < 1e-5 and abs(w.std() - 1) < 1e-4


def test_class_weights_are_inverse_frequency():
    w = dataset.class_weights(np.repeat([0, 1, 2, 3], [60, 20, 10, 10]))
    assert w[1] / w[0] == pytest.approx(3.0) and w.mean() == pytest.approx(1.0)
    half = dataset.class_weights(np.repeat([0, 1, 2, 3], [60, 20, 10, 10]), power=0.5)
    assert half[1] / half[0] == pytest.approx(3.0**0.5) and half[3] / half[0] == pytest.approx(6.0**0.5)
    assert half.mean() == pytest.approx(1.0)
    np.testing.assert_allclose(dataset.class_weights(np.array([0, 0, 1, 2]), power=0.0), np.ones(4))


def test_load_record_is_model_rate_millivolts(cinc_dir):
    x = dataset.load_record(cinc_dir, "A00001")
    assert x.shape == (9000,) and x.dtype == np.float32
    assert 0.2 < np.percentile(np.abs(x), 99.9) < 5  # mV-scale QRS after the 0.5-40 Hz band-pass


def test_training_reads_the_samples_the_monitor_reads(cinc_dir, tmp_path):
    """read_lead (training's fast reader) = core.records.open_record, in mV, NaNs kept for core's hold."""
    import wfdb

    from core.records import open_record
    from training.dataset import read_lead

    for name in ("A00001", "A00004"):
        x, fs = read_lead(cinc_dir, name)
        rec = open_record(cinc_dir / name)
        assert fs == rec.fs == 300.0
        np.testing.assert_array_equal(x, rec.signal)
    # a record in µV with a missing sample: scaled to mV, the gap left to core.preprocess
    sig = np.array([[100.0], [np.nan], [-250.0]] * 200)
    wfdb.wrsamp("uv", fs=300, units=["uV"], sig_name=["ECG"], p_signal=sig, fmt=["16"], adc_gain=[1.0],
                baseline=[0], write_dir=str(tmp_path))
    x, _ = read_lead(tmp_path, "uv")
    rec = open_record(tmp_path / "uv")
    np.testing.assert_allclose(x[:3], [0.1, np.nan, -0.25])
    np.testing.assert_array_equal(np.isnan(x), np.isnan(rec.signal))
    np.testing.assert_allclose(x[~np.isnan(x)], rec.signal[~np.isnan(rec.signal)])
