import importlib.util

import pytest
from typer.testing import CliRunner

from training.cli import app

runner = CliRunner()


def text(res) -> str:
    """The output with rich's line wrapping undone."""
    return " ".join(res.output.split())


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None, reason="TensorRT is installed here")
def test_build_engines_without_tensorrt_says_why_and_exits_1():
    res = runner.invoke(app, ["build-engines", "--model", "engines/default"])
    assert res.exit_code == 1
    assert "cannot build TensorRT plans" in text(res)
    assert "tensorrt" in text(res).lower()


@pytest.mark.parametrize("command", ["build-engines", "verify-engines"])
def test_engine_commands_on_a_missing_bundle_name_it(tmp_path, command):
    res = runner.invoke(app, [command, "--model", str(tmp_path / "nope")])
    assert res.exit_code == 1
    assert "no manifest.json" in text(res)


def test_build_engines_rejects_an_unknown_precision():
    res = runner.invoke(app, ["build-engines", "--model", "engines/default", "--precision", "int3"])
    assert res.exit_code == 1
    assert "precision must be 'fp16' or 'fp32'" in text(res)
