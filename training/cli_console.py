"""`dacl-train`'s terminal output, shared by its sub-commands: the console, progress bars, a metrics table."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from training import distributed

console = Console()


def progress_bars() -> Progress:
    """Progress bars on the console, shown by rank 0 alone under torchrun."""
    return Progress(
        TextColumn("{task.description:<12}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
        disable=not distributed.is_main(),  # under torchrun rank 0 alone shows progress
    )


def stage_reporter(prog: Progress, tasks: dict[str, int] | None = None):
    """report(stage, done, total): one bar per named stage, added the first time the stage reports."""
    tasks = {} if tasks is None else tasks

    def report(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = prog.add_task(stage, total=total)
        prog.update(tasks[stage], completed=done, total=total)

    return report


def metrics_table(title: str, m: dict) -> Table:
    """The record-classification metrics of training.evaluate.metrics as a table."""
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in ("n_records", "auroc_af", "auroc_macro", "f1_challenge", "accuracy"):
        if key in m:
            table.add_row(key, f"{m[key]:.4f}" if isinstance(m[key], float) else str(m[key]))
    for code, f1 in m.get("f1_per_class", {}).items():
        table.add_row(f"F1 {code}", f"{f1:.4f}")
    return table
