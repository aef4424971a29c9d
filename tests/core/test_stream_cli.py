import pytest

from core.stream_cli import build_parser, main


def test_bad_record_is_reported_not_raised(tmp_path, capsys):
    assert main([str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dacl-stream: record") and "missing.hea not found" in err


def test_unknown_lead_is_reported(data_dir, capsys):
    assert main([str(data_dir / "wfdb-samples" / "100"), "--lead", "V9"]) == 2
    assert "unknown lead 'V9'" in capsys.readouterr().err


def test_bad_speed_is_reported(data_dir, capsys):
    assert main([str(data_dir / "wfdb-samples" / "100"), "--speed", "0"]) == 2
    assert "speed must be a positive factor" in capsys.readouterr().err


def test_options():
    argv = ["rec", "--lead", "II", "--chunk", "30", "--speed", "2", "--loop", "--name", "x"]
    args = build_parser().parse_args(argv)
    got = (args.record, args.lead, args.chunk, args.speed, args.loop, args.name)
    assert got == ("rec", "II", 30, 2.0, True, "x")
    with pytest.raises(SystemExit):
        build_parser().parse_args([])


def test_console_script_points_at_main():
    from importlib.metadata import entry_points

    (script,) = [ep for ep in entry_points(group="console_scripts") if ep.name == "dacl-stream"]
    assert script.load() is main
