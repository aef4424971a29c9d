import numpy as np
import pytest
import wfdb

from core.records import (
    DataFileError,
    EmptyRecordError,
    HeaderError,
    LeadError,
    MissingHeaderError,
    RecordError,
    SamplingRateError,
    UnsupportedFormatError,
    choose_lead,
    open_record,
)

# name, rate, samples, chosen lead, number of leads
SAMPLES = [
    ("100", 360.0, 650000, "MLII", 2),
    ("a103l", 250.0, 82500, "II", 3),
    ("s0010_re", 1000.0, 38400, "ii", 15),
    ("test01_00s", 500.0, 4000, "ECG 1", 4),
]


@pytest.mark.parametrize(("name", "fs", "n", "lead", "n_leads"), SAMPLES)
def test_reads_every_sample_record(data_dir, name, fs, n, lead, n_leads):
    rec = open_record(data_dir / "wfdb-samples" / name)
    assert (rec.name, rec.fs, rec.n_samples, rec.lead, len(rec.lead_names)) == (name, fs, n, lead, n_leads)
    assert rec.duration_s == pytest.approx(n / fs)
    assert rec.signal.dtype == np.float64
    assert np.isfinite(rec.signal).all()
    # an ECG in mV: QRS complexes make the range a fraction of a mV to a few mV
    assert 0.3 < np.ptp(rec.signal) < 20


def test_physical_values_match_wfdb(data_dir):
    rec = open_record(data_dir / "wfdb-samples" / "100")
    ref = wfdb.rdrecord(str(data_dir / "wfdb-samples" / "100"), channels=[0], sampto=1000)
    np.testing.assert_array_equal(rec.signal[:1000], ref.p_signal[:, 0])
    # header: gain 200 adu/mV, baseline 1024, first stored value 995 -> (995 - 1024) / 200 mV
    assert rec.signal[0] == pytest.approx((995 - 1024) / 200)


def test_annotations_of_mitbih_100(data_dir):
    rec = open_record(data_dir / "wfdb-samples" / "100")
    ann = rec.annotations
    assert ann is not None and ann.extension == "atr"
    assert ann.sample[:5].tolist() == [18, 77, 370, 662, 946]
    assert ann.symbol[:2] == ("+", "N")
    assert ann.symbol.count("N") == 2239 and ann.symbol.count("A") == 33  # MIT-BIH's published counts
    assert open_record(data_dir / "wfdb-samples" / "a103l").annotations is None


def test_cinc_record_and_header_suffix(data_dir):
    rec = open_record(str(data_dir / "cinc2017" / "A00001.hea"))
    assert (rec.name, rec.fs, rec.n_samples, rec.lead) == ("A00001", 300.0, 9000, "ECG")
    assert rec.signal[0] == pytest.approx(-0.127)


def test_lead_override_by_name_and_index(data_dir):
    path = data_dir / "wfdb-samples" / "s0010_re"
    assert open_record(path, lead="V1").lead == "v1"
    assert open_record(path, lead=5).lead == "avf"
    assert open_record(path, lead=-4).lead == "v6"  # .xyz leads are absent here; only the one read matters


def test_choose_lead_preferences():
    assert choose_lead(["V5", "MLII"], None) == 1
    assert choose_lead(["ABP", "ii", "ECG"], None) == 1
    assert choose_lead(["PLETH", "ECG lead I"], None) == 1
    assert choose_lead(["V1", "V2"], None) == 0


def _write(tmp_path, name="rec", fs=300, units="mV", n=3000, sig_name="II"):
    sig = np.sin(np.arange(n) / fs * 2 * np.pi)[:, None]
    wfdb.wrsamp(
        name, fs=fs, units=[units], sig_name=[sig_name], p_signal=sig, fmt=["16"], write_dir=str(tmp_path)
    )
    return tmp_path / name


def test_microvolts_are_converted(tmp_path):
    sig = np.round(1000 * np.sin(np.arange(600) / 300 * 2 * np.pi))[:, None]
    wfdb.wrsamp("uv", fs=300, units=["uV"], sig_name=["ECG"], p_signal=sig, fmt=["16"], adc_gain=[1.0],
                baseline=[0], write_dir=str(tmp_path))
    rec = open_record(tmp_path / "uv")
    np.testing.assert_allclose(rec.signal, sig[:, 0] / 1000)


def test_missing_header(tmp_path):
    with pytest.raises(MissingHeaderError, match=r"nothere\.hea not found"):
        open_record(tmp_path / "nothere")


def test_corrupt_header(tmp_path):
    (tmp_path / "bad.hea").write_text("this is not a header\n")
    with pytest.raises(HeaderError, match=r"record .*bad: cannot read header"):
        open_record(tmp_path / "bad")


def test_header_without_sample_count(tmp_path):
    (tmp_path / "bad.hea").write_text("bad 1 abc 100\nbad.dat 16 200 16 0 0 0 0 II\n")
    with pytest.raises(HeaderError, match="no valid sample count"):
        open_record(tmp_path / "bad")


def test_missing_data_file(tmp_path):
    path = _write(tmp_path)
    (tmp_path / "rec.dat").unlink()
    with pytest.raises(DataFileError, match=r"record .*rec: data file missing"):
        open_record(path)


def test_truncated_data_file(tmp_path):
    path = _write(tmp_path)
    data = (tmp_path / "rec.dat").read_bytes()
    (tmp_path / "rec.dat").write_bytes(data[:1001])
    with pytest.raises(DataFileError, match="corrupt or truncated"):
        open_record(path)


def test_corrupt_mat_file(data_dir, tmp_path):
    header = (data_dir / "cinc2017" / "A00001.hea").read_text().replace("A00001", "junk")
    (tmp_path / "junk.hea").write_text(header)
    (tmp_path / "junk.mat").write_bytes(b"garbage!" * 8)
    with pytest.raises(DataFileError, match=r"junk: data file is corrupt or truncated"):
        open_record(tmp_path / "junk")


def test_unsupported_format(tmp_path):
    path = _write(tmp_path)
    header = (tmp_path / "rec.hea").read_text().splitlines()
    fields = header[1].split(" ")
    fields[1] = "13"
    (tmp_path / "rec.hea").write_text("\n".join([header[0], " ".join(fields)]) + "\n")
    with pytest.raises(UnsupportedFormatError, match=r"storage format '13' is not supported"):
        open_record(path)


def test_empty_record(tmp_path):
    (tmp_path / "empty.hea").write_text("empty 1 300 0\nempty.dat 16 1000/mV 16 0 0 0 0 II\n")
    (tmp_path / "empty.dat").write_bytes(b"")
    with pytest.raises(EmptyRecordError, match="holds no samples"):
        open_record(tmp_path / "empty")


def test_sampling_rate_too_low(tmp_path):
    path = _write(tmp_path, fs=50, n=500)
    with pytest.raises(SamplingRateError, match=r"sampled at 50 Hz, below the 100 Hz the model needs"):
        open_record(path)


def test_unknown_lead(data_dir):
    with pytest.raises(LeadError, match=r"unknown lead 'V9' .* its leads are \['MLII', 'V5'\]"):
        open_record(data_dir / "wfdb-samples" / "100", lead="V9")
    with pytest.raises(LeadError, match="lead index 7 is out of range"):
        open_record(data_dir / "wfdb-samples" / "100", lead=7)


def test_non_voltage_lead(data_dir):
    with pytest.raises(LeadError, match=r"lead 'PLETH' .* is in 'NU', not a voltage"):
        open_record(data_dir / "wfdb-samples" / "a103l", lead="PLETH")


def test_errors_share_one_base(tmp_path):
    with pytest.raises(RecordError):
        open_record(tmp_path / "nothere")


def test_bad_physionet_path():
    with pytest.raises(RecordError, match="must look like 'physionet:<database>/<record>'"):
        open_record("physionet:mitdb")


def test_record_without_signals(tmp_path):
    (tmp_path / "annonly.hea").write_text("annonly 0 360 1000\n")
    with pytest.raises(EmptyRecordError, match="has no signals: its header lists no leads"):
        open_record(tmp_path / "annonly")


def test_missing_samples_in_the_file_become_nan_then_filled_and_flagged(tmp_path):
    from core.preprocess import flag_names, preprocess_record

    sig = np.sin(2 * np.pi * 1.2 * np.arange(3600) / 360)[:, None]
    sig[1000:1500] = np.nan  # wfdb stores these as the format's invalid-sample code
    wfdb.wrsamp("gap", fs=360, units=["mV"], sig_name=["MLII"], p_signal=sig, fmt=["16"],
                write_dir=str(tmp_path))
    rec = open_record(tmp_path / "gap")
    assert np.isnan(rec.signal[1000:1500]).all() and np.isfinite(rec.signal[:1000]).all()
    out, flags = preprocess_record(rec.signal, rec.fs)
    assert np.isfinite(out).all() and flag_names(flags) == {"nan_filled", "flat"}
