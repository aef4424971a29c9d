"""Beats from annotations and header alone: the LTAFDB excerpt's beats, and clear errors naming the file."""

import shutil

import numpy as np
import pytest

from core.beats import BeatFileError, read_beats
from tests.core.test_scheduler_support import DATA, need_data

EXCERPT = DATA / "wfdb-samples" / "ltafdb74_s114999"


def test_reads_the_excerpts_beats_without_its_signal(tmp_path):
    need_data(EXCERPT)
    for ext in ("hea", "qrs", "atr"):  # no .dat beside them: the signal is never needed
        shutil.copy(EXCERPT.with_name(f"{EXCERPT.name}.{ext}"), tmp_path)
    b = read_beats(tmp_path / EXCERPT.name, "qrs")
    assert b.fs == 128 and b.n_samples == 38400
    assert 300 < b.samples.size < 600  # 5 minutes of beats
    assert np.all(np.diff(b.samples) > 0)
    ref = read_beats(tmp_path / EXCERPT.name, "atr")
    assert abs(ref.samples.size - b.samples.size) < 20


def test_a_header_without_a_sampling_rate_is_refused_by_name(tmp_path):
    need_data(EXCERPT)
    shutil.copy(EXCERPT.with_name(f"{EXCERPT.name}.qrs"), tmp_path / "r.qrs")
    (tmp_path / "r.hea").write_text("r 2\nr.dat 16 200 16 0 0 0 0 ECG\nr.dat 16 200 16 0 0 0 0 ECG\n")
    with pytest.raises(BeatFileError, match=r"r\.hea.*no sampling rate"):
        read_beats(tmp_path / "r", "qrs")


def test_a_malformed_beat_file_is_refused_by_name(tmp_path):
    need_data(EXCERPT)
    shutil.copy(EXCERPT.with_name(EXCERPT.name + ".hea"), tmp_path / f"{EXCERPT.name}.hea")
    (tmp_path / f"{EXCERPT.name}.qrs").write_bytes(b"\x01\x02garbage" * 3)
    with pytest.raises(BeatFileError, match=rf"{EXCERPT.name}\.qrs"):
        read_beats(tmp_path / EXCERPT.name, "qrs")
    with pytest.raises(BeatFileError, match=r"\.xyz: beat annotation file not found"):
        read_beats(tmp_path / EXCERPT.name, "xyz")
