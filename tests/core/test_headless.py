"""`dacl-monitor --headless`: N replay streams, a JSON report with the agreed keys, bad records skipped."""

import json
import shutil

import pytest

from app.cli import main as cli_main
from tests.core.test_scheduler_support import CINC, bundle_path, need_data


@pytest.fixture(scope="module")
def bundle(pytestconfig):
    return bundle_path(pytestconfig.cache.mkdir("dacl-scheduler-bundle"))


@pytest.fixture
def records_with_a_bad_one(tmp_path):
    need_data(CINC)
    folder = tmp_path / "records"
    folder.mkdir()
    for name in ("A00001", "A00002"):
        for ext in (".hea", ".mat"):
            shutil.copy(CINC / (name + ext), folder / (name + ext))
    (folder / "BROKEN.hea").write_text("this is not a WFDB header\n")
    (folder / "RECORDS").write_text("A00001\nBROKEN\nA00002\n")
    return folder


def test_headless_run_writes_the_report_and_skips_a_bad_record(
    bundle, records_with_a_bad_one, tmp_path, capsys
):
    out = tmp_path / "r.json"
    events = tmp_path / "events.csv"
    code = cli_main(["--headless", "--records", str(records_with_a_bad_one), "--streams", "3", "--speed", "5",
                     "--duration", "4", "--engine", "onnxruntime", "--model", str(bundle), "--json", str(out),
                     "--events", str(events), "--annotations", str(tmp_path / "ann")])
    assert code == 0
    report = json.loads(out.read_text())
    assert json.loads(capsys.readouterr().out) == report
    for key in ("windows", "dropped", "latency_ms", "windows_per_s", "backend", "cpu_percent", "peak_rss_mb"):
        assert key in report
    assert set(report["latency_ms"]) >= {"p50", "p95", "p99", "max"}
    assert report["backend"].startswith("onnxruntime")
    # 3 streams at x5 for 4 s: each completes its first window after 2048/300/5 = 1.4 s, then 5 per second
    assert 20 <= report["windows"] + report["dropped"] <= 3 * (1 + 5 * 3)
    assert report["windows"] > 0 and report["latency_ms"]["max"] >= report["latency_ms"]["p50"] > 0
    assert report["windows_per_s"] > 0 and report["cpu_percent"] > 0 and report["peak_rss_mb"] > 50
    assert [s["record"].rsplit("/", 1)[-1] for s in report["records_skipped"]] == ["BROKEN"]
    assert len(report["records_used"]) == 2 and report["streams"] == 3
    assert events.read_text().startswith("stream_id,kind,rhythm")
    import wfdb

    rhythm = wfdb.rdann(str(tmp_path / "ann" / "stream0"), "rhy")  # every stream starts in '(N'
    assert rhythm.aux_note[0] == "(N" and rhythm.sample[0] == 2048


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--streams", "0"], "--streams must be a positive integer; 0 is invalid"),
        (["--records", "/nonexistent/dir"], "record /nonexistent/dir not found"),
        (["--engine", "warp-drive"], "unknown engine 'warp-drive'"),
    ],
)
def test_headless_bad_arguments_exit_2_with_a_message(bundle, args, message, capsys):
    need_data(CINC)
    argv = ["--headless", "--records", str(CINC / "A00001"), "--duration", "1", "--model", str(bundle)]
    assert cli_main(argv + args) == 2
    assert message in capsys.readouterr().err.replace("\n", " ")


def test_no_readable_record_is_an_error(bundle, tmp_path, capsys):
    (tmp_path / "BROKEN.hea").write_text("garbage\n")
    code = cli_main(["--headless", "--records", str(tmp_path), "--duration", "1", "--model", str(bundle)])
    assert code == 2
    assert "none of the records" in capsys.readouterr().err.replace("\n", " ")
