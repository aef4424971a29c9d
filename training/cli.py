"""`dacl-train`: train and export a DACL bundle, evaluate it on a labelled folder, build/verify engines.

The sub-commands live with what they work on: training data (training.cli_train: run, cv, pack), a
bundle's accuracy (training.cli_evaluate: evaluate) and a bundle's engines (training.cli_engines:
build-engines, verify-engines, export-triton) and the RR rhythm model (training.cli_rhythm: rr); this
module puts them into one typer app.
"""

from __future__ import annotations

import logging

import typer

from training import cli_engines, cli_evaluate, cli_rhythm, cli_train

app = typer.Typer(add_completion=False, help="DACL training, evaluation and engine tools.")
app.command()(cli_train.run)
app.command()(cli_train.cv)
app.command()(cli_train.record)
app.command("evaluate")(cli_evaluate.evaluate_cmd)
app.command()(cli_train.pack)
app.command("build-engines")(cli_engines.build_engines_cmd)
app.command("verify-engines")(cli_engines.verify_engines_cmd)
app.command("export-triton")(cli_engines.export_triton_cmd)
app.command("rr")(cli_rhythm.rr_cmd)


def main() -> None:
    """Console-script entry point."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app()


if __name__ == "__main__":
    main()
