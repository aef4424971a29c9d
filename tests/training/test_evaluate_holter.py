"""`dacl-train evaluate --holter`: the monitor's AF alarms on annotated Holter records, by EC57 rules."""

import json
from pathlib import Path

import numpy as np
import pytest
import wfdb
from typer.testing import CliRunner

from core import ec57
from training.cli import app

MITDB = Path(__file__).parents[2] / ".." / "shared" / "data" / "mitdb"
BUNDLE = Path(__file__).parents[2] / "engines" / "default"
MINUTES = 8


def write_cut(name: str, out: Path) -> None:
    """The first MINUTES of an MIT-BIH record (MLII) and its reference annotations, as a new WFDB record."""
    from core.records import open_record

    rec = open_record(MITDB / name, "MLII")
    n = MINUTES * 60 * 360
    wfdb.wrsamp(name, fs=360, units=["mV"], sig_name=["MLII"], p_signal=rec.signal[:n, None], fmt=["16"],
                adc_gain=[200.0], baseline=[0], write_dir=str(out))
    ann = rec.annotations
    keep = ann.sample < n
    wfdb.wrann(name, "atr", ann.sample[keep], np.array(ann.symbol)[keep],
               aux_note=[a or "" for a in np.array(ann.aux_note, dtype=object)[keep]], write_dir=str(out))


@pytest.fixture(scope="module")
def holter(tmp_path_factory):
    if not (MITDB / "201.hea").is_file():
        pytest.skip(f"MIT-BIH records not found at {MITDB.resolve()} (../shared/data/mitdb)")
    out = tmp_path_factory.mktemp("holter")
    for name in ("201", "100"):  # 201 opens with 6 min of AF; 100 has none
        write_cut(name, out)
    return out


def test_evaluate_scores_the_alarms_as_the_benchmark_does(holter, tmp_path):
    res = CliRunner().invoke(app, ["evaluate", "--holter", str(holter), "--model", str(BUNDLE),
                                   "--json", str(tmp_path / "m.json")])
    assert res.exit_code == 0, res.output
    assert "duration_se" in res.output
    got = json.loads((tmp_path / "m.json").read_text())["holter"]
    assert got["gross"]["records"] == 2 and got["gross"]["records_without_af"] == 1
    # 201's reference AF after the 5-min learning period, by hand from its rhythm notes: from 5:00 to the
    # first change away from AF (6:18), and from AF's return (7:57) to the cut's end (8:00)
    atr = wfdb.rdann(str(holter / "201"), "atr")
    notes = [(s / 360, aux.strip("\x00")) for s, sym, aux in zip(atr.sample, atr.symbol, atr.aux_note,
                                                                 strict=True) if sym == "+"]
    assert [n for _, n in notes[:4]] == ["(AFIB", "(NOD", "(N", "(AFIB"]
    want_s = (notes[1][0] - 300) + (MINUTES * 60 - notes[3][0])
    assert got["gross"]["ref_s"] == pytest.approx(want_s, abs=0.01)

    # the other path: `dacl-monitor analyze` writes annotation files, read back with wfdb.rdann and scored
    from app.analyze import analyze_paths
    from core.scheduler_model import load_model

    model = load_model(BUNDLE, "onnxruntime")
    run = analyze_paths(holter, tmp_path / "out", model, report=False)
    model.close()
    scores = []
    for s in run["records"]:
        atr = wfdb.rdann(str(holter / s["record"]), "atr")
        ref = ec57.af_reference(atr.sample, atr.symbol, atr.aux_note, s["samples"])
        det = wfdb.rdann(str(tmp_path / "out" / s["record"]), "dacl")
        detected = ec57.rhythm_intervals(det.sample, det.symbol, det.aux_note, s["samples"])
        scores.append(ec57.score_record(s["record"], ref, detected, s["samples"], s["fs"]))
    want = ec57.gross(scores)
    for key in ("duration_se", "duration_ppv", "episode_ppv", "false_alarms", "det_episodes", "ref_episodes"):
        assert got["gross"][key] == pytest.approx(want[key], abs=1e-9), key


def test_evaluate_needs_data_or_holter_and_names_an_empty_folder(tmp_path):
    res = CliRunner().invoke(app, ["evaluate", "--model", str(BUNDLE)])
    assert res.exit_code != 0 and "--holter" in res.output
    res = CliRunner().invoke(app, ["evaluate", "--holter", str(tmp_path), "--model", str(BUNDLE)])
    assert res.exit_code == 1
    assert "holds no WFDB records" in " ".join(res.output.split())
    (tmp_path / "x.hea").write_text("x 1 360 10\nx.dat 16 200 16 0 0 0 0 MLII\n")
    res = CliRunner().invoke(app, ["evaluate", "--holter", str(tmp_path), "--model", str(BUNDLE)])
    assert res.exit_code == 1
    assert "no records with reference 'atr' annotations" in " ".join(res.output.split())
