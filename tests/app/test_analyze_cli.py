"""`dacl-monitor analyze`: files per record, a corrupt record skipped with its reason, exit codes."""

import json
import shutil
from pathlib import Path

import pytest

from app.cli import main as cli_main
from tests.core.test_scheduler_support import CINC, bundle_path, need_data


@pytest.fixture(scope="module")
def bundle(pytestconfig):
    return bundle_path(pytestconfig.cache.mkdir("dacl-scheduler-bundle"))


@pytest.fixture
def folder(tmp_path):
    need_data(CINC)
    folder = tmp_path / "records"
    folder.mkdir()
    for name in ("A00001", "A00004"):
        for ext in (".hea", ".mat"):
            shutil.copy(CINC / (name + ext), folder / (name + ext))
    (folder / "BROKEN.hea").write_text("this is not a WFDB header\n")
    (folder / "TRUNCATED.hea").write_text((CINC / "A00001.hea").read_text().replace("A00001", "TRUNCATED"))
    (folder / "TRUNCATED.mat").write_bytes((CINC / "A00001.mat").read_bytes()[:100])
    return folder


def test_analyze_writes_every_output_and_skips_corrupt_records(bundle, folder, tmp_path, capsys):
    wfdb = pytest.importorskip("wfdb")
    out = tmp_path / "out"
    code = cli_main(["analyze", str(folder), "--out", str(out), "--model", str(bundle), "--engine",
                     "onnxruntime", "--json"])
    assert code == 0
    run = json.loads(capsys.readouterr().out)
    assert [s["record"] for s in run["records"]] == ["A00001", "A00004"]
    skipped = {s["record"].split("/")[-1]: s["error"] for s in run["skipped"]}
    assert set(skipped) == {"BROKEN", "TRUNCATED"}
    assert "header" in skipped["BROKEN"]
    for s in run["records"]:
        assert s["windows"] == s["expected_windows"] > 0 and s["dropped"] == 0
        name = s["record"]
        assert (out / f"{name}_report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        rows = (out / f"{name}_windows.csv").read_text().splitlines()
        assert rows[0].startswith("end_sample,end_s,p_N,p_A,p_O,p_~,heart_rate_bpm")
        assert len(rows) == 1 + s["windows"]
        ann = wfdb.rdann(str(out / name), "dacl")
        assert ann.fs == 300 and set(ann.symbol) == {"+"} and ann.aux_note[0] == "(N"
        summary = json.loads((out / f"{name}_summary.json").read_text())
        assert summary["files"]["report"] == f"{name}_report.png"
        # absolute, so review mode finds the record from any folder
        assert Path(summary["path"]).is_absolute() and Path(summary["path"] + ".hea").is_file()
    assert json.loads((out / "analysis.json").read_text())["records"] == run["records"]


def test_analyze_exits_1_when_nothing_could_be_analysed_and_2_on_a_bad_model(bundle, tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "X.hea").write_text("garbage\n")
    assert cli_main(["analyze", str(folder), "--out", str(tmp_path / "o"), "--model", str(bundle)]) == 1
    assert cli_main(["analyze", str(folder), "--out", str(tmp_path / "o"), "--model", str(tmp_path)]) == 2
