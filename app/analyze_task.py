"""Analyze record… from the GUI: `dacl-monitor analyze` of one record in a QThread, with a progress dialog.

The thread loads its own model (the monitor's is busy with the live beds) and runs the same
`app.analyze.analyze_paths` as the command line, so the folder it writes is the one review mode reads.
Progress and the outcome reach the GUI thread as queued signals; Cancel makes the progress callback raise,
which stops the analysis' scheduler (analyze_record stops it in a `finally`) and writes nothing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from PySide6 import QtCore, QtWidgets

log = logging.getLogger(__name__)


class Cancelled(Exception):
    """The user cancelled the analysis."""


class AnalyzeTask(QtCore.QThread):
    """Analyse one record into `out` on a worker thread."""

    progress = QtCore.Signal(int, int)  # windows done, windows expected
    succeeded = QtCore.Signal(str)  # the output folder
    failed = QtCore.Signal(str)  # why nothing was written

    def __init__(self, record: str | Path, out: str | Path, model_path: str | Path, engine: str = "auto",
                 lead: str | int | None = None, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.record, self.out, self.model_path = Path(record), Path(out), Path(model_path)
        self.engine, self.lead = engine, lead
        self._stop = threading.Event()

    def cancel(self) -> None:
        """Stop at the next progress report (about 20 times a second)."""
        self._stop.set()

    def _on_windows(self, done: int, expected: int) -> None:
        if self._stop.is_set():
            raise Cancelled
        self.progress.emit(done, expected)

    def run(self) -> None:  # noqa: D102 - QThread entry point, on the worker thread
        from app.analyze import analyze_paths
        from core.scheduler_model import load_model

        try:
            model = load_model(self.model_path, self.engine)
        except Exception as exc:  # noqa: BLE001 - no model: say why in the window
            self.failed.emit(f"cannot load the model {self.model_path}: {exc}")
            return
        try:
            run = analyze_paths([self.record], self.out, model, lead=self.lead, on_windows=self._on_windows)
        except Cancelled:
            self.failed.emit(f"analysis of {self.record.name} cancelled: nothing written")
            return
        except Exception as exc:  # noqa: BLE001 - a thread must report, not raise
            log.exception("analysis of %s failed", self.record)
            self.failed.emit(f"analysis of {self.record} failed: {exc}")
            return
        finally:
            model.close()
        if run["records"]:
            self.succeeded.emit(str(self.out))
        else:
            reason = run["skipped"][0]["error"] if run["skipped"] else "no record found"
            self.failed.emit(f"cannot analyse {self.record}: {reason}")

    def stop(self) -> None:
        """Cancel and wait for the thread (a window closing)."""
        self.cancel()
        self.wait()


def start_analysis(parent: QtWidgets.QWidget, record: str | Path, out: str | Path, model_path: str | Path,
                   on_done: Callable[[str], None], on_error: Callable[[str], None],
                   engine: str = "auto") -> AnalyzeTask:
    """Run the analysis with a progress dialog (Cancel stops it); then `on_done(out)` or `on_error(text)`."""
    task = AnalyzeTask(record, out, model_path, engine, parent=parent)
    dialog = QtWidgets.QProgressDialog(f"Analysing {Path(record).name} (every window, as dacl-monitor "
                                       "analyze)…", "Cancel", 0, 0, parent)
    dialog.setWindowTitle("Analyze record")
    dialog.setMinimumDuration(0)
    dialog.setAutoReset(False)
    dialog.setAutoClose(False)
    task.dialog = dialog

    def progress(done: int, expected: int) -> None:
        dialog.setMaximum(max(expected, 1))
        dialog.setValue(min(done, max(expected, 1)))

    task.progress.connect(progress)
    dialog.canceled.connect(task.cancel)
    task.succeeded.connect(on_done)
    task.failed.connect(on_error)
    task.finished.connect(dialog.hide)  # not close(): a closing QProgressDialog emits canceled and resets
    dialog.show()
    task.start()
    return task
