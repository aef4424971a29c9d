"""Feature caches are keyed by everything that changes their arrays: code, libraries, data, seeds."""

from __future__ import annotations

import importlib
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from training import features, rr_data

LTAF = Path(__file__).parents[2] / ".." / "shared" / "data" / "wfdb-samples" / "ltafdb74_s114999"


def _module(folder: Path, body: str):
    (folder / "cache_key_probe.py").write_text(body)
    sys.path.insert(0, str(folder))
    try:
        sys.modules.pop("cache_key_probe", None)
        return importlib.import_module("cache_key_probe")
    finally:
        sys.path.remove(str(folder))


def test_the_code_digest_changes_with_the_source_and_the_libraries(tmp_path):
    a = features.code_digest(_module(tmp_path, "def f(x):\n    return x * 2\n"))
    again = features.code_digest(_module(tmp_path, "def f(x):\n    return x * 2\n"))
    edited = features.code_digest(_module(tmp_path, "def f(x):\n    return x * 3\n"))
    probe = sys.modules["cache_key_probe"]
    assert a == again and a != edited
    numpy_only = features.code_digest(probe, libraries=("numpy",))
    assert numpy_only != features.code_digest(probe, libraries=("scipy",))


def test_the_windows_key_covers_the_code_and_the_device():
    params = features.ScatteringParams()
    cpu = features.windows_code_digest("cpu")
    assert cpu == features.windows_code_digest("cpu")
    assert cpu != features.windows_code_digest("cuda")  # another device rounds differently
    assert features.cache_key(params, 300, 0, "d", cpu) != features.cache_key(params, 300, 0, "d", cpu + "x")
    assert features.cache_key(params, 300, 0, "d", cpu) != features.cache_key(params, 300, 1, "d", cpu)


def test_the_rr_key_follows_the_annotation_bytes_and_the_error_seed(tmp_path):
    if not LTAF.with_suffix(".hea").is_file():
        pytest.skip(f"LTAFDB excerpt not found at {LTAF.resolve()}")
    for suffix in (".hea", ".atr", ".qrs"):
        shutil.copy(LTAF.with_suffix(suffix), tmp_path / f"r{suffix}")
    rec = tmp_path / "r"
    qrs = rr_data._cache_key(rec, "qrs", None)
    assert qrs == rr_data._cache_key(rec, "qrs", None, seed=5)  # detector beats do not depend on a seed
    errors = rr_data._cache_key(rec, "atr+errors", rr_data.ErrorProfile())
    assert errors != rr_data._cache_key(rec, "atr+errors", rr_data.ErrorProfile(), seed=1)
    cached = rr_data.record_features(rec, "qrs", tmp_path / "cache")
    assert len(list((tmp_path / "cache").glob("r_qrs_*.npz"))) == 1
    # another reference rhythm (one annotation dropped) must not read the old labels back
    import wfdb

    ann = wfdb.rdann(str(rec), "atr")
    keep = np.arange(ann.sample.size) != np.flatnonzero([bool(a) for a in ann.aux_note])[1]
    wfdb.wrann("r", "atr", ann.sample[keep], np.array(ann.symbol)[keep],
               aux_note=list(np.array(ann.aux_note)[keep]), fs=ann.fs, write_dir=str(tmp_path))
    assert rr_data._cache_key(rec, "qrs", None) != qrs
    relabelled = rr_data.record_features(rec, "qrs", tmp_path / "cache")
    assert len(list((tmp_path / "cache").glob("r_qrs_*.npz"))) == 2
    assert np.array_equal(relabelled["features"], cached["features"])
    assert not np.array_equal(relabelled["labels"], cached["labels"])


def test_warming_the_rr_cache_in_processes_writes_what_a_serial_run_computes(tmp_path):
    if not LTAF.with_suffix(".hea").is_file():
        pytest.skip(f"LTAFDB excerpt not found at {LTAF.resolve()}")
    from training.rr_cv import EVAL_SOURCES, TRAIN_SOURCES, Corpus, warm_cache

    db = tmp_path / "ltafdb"
    db.mkdir()
    for name in ("a", "b"):
        for suffix in (".hea", ".atr", ".qrs"):
            shutil.copy(LTAF.with_suffix(suffix), db / f"{name}{suffix}")
    (db / "RECORDS").write_text("a\nb\n")
    corpus, profile, cache = Corpus.from_roots(db, None), rr_data.ErrorProfile(), tmp_path / "cache"
    sources = set(TRAIN_SOURCES["ltafdb"] + EVAL_SOURCES["ltafdb"])
    assert warm_cache(corpus, cache, profile, workers=2) == 2 * len(sources)
    assert warm_cache(corpus, cache, profile, workers=2) == 0  # nothing left to compute
    for name in ("a", "b"):
        for source in sources:
            with np.load(rr_data.cached_path(db / name, source, cache, profile)) as z:
                serial = rr_data.record_features(db / name, source, None, profile)
                assert set(z.files) == set(serial)
                for k in serial:
                    assert np.array_equal(z[k], serial[k]), (name, source, k)
    assert not list(cache.glob("*.tmp.npz"))


def test_record_beat_features_are_cached_once_and_read_back_equal(cinc_dir, tmp_path, monkeypatch):
    from training import dataset, record_stage

    monkeypatch.setenv("DACL_CACHE", str(tmp_path))
    records = dataset.list_records(cinc_dir)[:3]
    first = record_stage.beat_matrix(cinc_dir, records)
    files = list(tmp_path.glob("record-beats-*.npz"))
    assert len(files) == 1 and not list(tmp_path.glob("*.tmp.npz"))
    stamp = files[0].stat().st_mtime_ns
    again = record_stage.beat_matrix(cinc_dir, records)
    assert np.array_equal(first, again) and files[0].stat().st_mtime_ns == stamp  # read, not recomputed
    assert np.isfinite(first).all() and first.shape[0] == 3
