"""Run inside a private network namespace by test_lsl_and_x11.py: publish a record with dacl-stream,
discover it in the monitor's LSL dialog, choose it, and report what the monitor received (JSON)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ["QT_QPA_PLATFORM"] = "offscreen"


def main() -> int:
    bundle, settings, record = sys.argv[1:4]
    stream_cli = Path(sys.executable).parent / "dacl-stream"
    sender = subprocess.Popen([str(stream_cli), record, "--speed", "10", "--loop", "--name", "dacl-gui-test"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        from PySide6 import QtCore, QtWidgets

        from app import theme
        from app.controller import MonitorSession
        from app.dialogs import LslDialog
        from app.main_window import MainWindow
        from app.settings import MonitorSettings

        _app = QtWidgets.QApplication([sys.argv[0]])  # kept alive for the whole run
        theme.configure_pyqtgraph()
        window = MainWindow(MonitorSession(bundle, speed=1.0), MonitorSettings(settings))
        window.show()
        dialog = LslDialog(window, wait_s=1.0)
        names: list[str] = []
        deadline = time.monotonic() + 15
        while "dacl-gui-test" not in names and time.monotonic() < deadline:
            dialog.refresh()
            names = [info.name() for info in dialog.infos]
        dialog.choose(names.index("dacl-gui-test") if "dacl-gui-test" in names else 0)
        dialog.accept()
        sid = window.connect_lsl(dialog.chosen) if dialog.chosen is not None else None
        if sid is not None:  # run the event loop until 4 results arrived (at most 25 s)
            loop = QtCore.QEventLoop()
            poll = QtCore.QTimer()
            poll.timeout.connect(lambda: loop.quit() if len(window.beds[sid].results) >= 4 else None)
            poll.start(50)
            QtCore.QTimer.singleShot(25000, loop.quit)
            loop.exec()
        results = list(window.beds[sid].results) if sid is not None else []
        error_before = window.error_text
        # a stream that is not on the network: its source faults, and the window shows why
        import pylsl

        missing = window.connect_lsl(pylsl.StreamInfo("dacl-no-such-stream", "ECG", 1, 300.0), replace=False)
        loop = QtCore.QEventLoop()
        poll = QtCore.QTimer()
        poll.timeout.connect(lambda: loop.quit() if "dacl-no-such-stream" in window.error_text else None)
        poll.start(50)
        QtCore.QTimer.singleShot(20000, loop.quit)
        loop.exec()
        report = {
            "discovered": names,
            "listed": [dialog.list.item(i).text() for i in range(dialog.list.count())],
            "stream_id": sid,
            "source_field": window.status.field("source"),
            "error": window.error_text,
            "error_before": error_before,
            "missing_stream_id": missing,
            "error_dialog": window._error_dialog.text() if window._error_dialog is not None else "",
            "beds": len(window.beds),
            "end_indices": [r.end_index for r in results],
            "waveform_samples": window.waveform.samples_shown,
        }
        window.close()
        print(json.dumps(report))
        return 0
    finally:
        sender.terminate()
        sender.wait(5)


if __name__ == "__main__":
    sys.exit(main())
