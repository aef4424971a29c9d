"""Run a window's Qt event loop for `dacl-monitor` and its review mode: for ever, or for a set time.

Both command lines (app.cli, app.review_cli) end here; with `--duration` the loop stops after it and
saves `--screenshot`, which is how the tests and the documentation's screenshots drive them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path


def run_window(app, window, duration: float | None, screenshot: str | None,
               failure: Callable[[], str | None] = lambda: None) -> int:
    """Run the event loop; with `duration` (s), stop after it and save `screenshot`.

    When `failure()` returns a message at that point, it is printed and the exit status is 1.
    """
    from PySide6 import QtCore

    status = {"code": 0}
    if duration is not None:
        def finish() -> None:
            if (error := failure()) is not None:
                status["code"] = 1
                print(f"dacl-monitor: error: {error}", file=sys.stderr)
            elif screenshot:
                status["code"] = _save_screenshot(window, screenshot)
            app.exit(status["code"])

        QtCore.QTimer.singleShot(int(duration * 1000), finish)
    code = app.exec()
    if duration is not None:
        # closed after the loop, not in it: closing the last window inside exec() posts a Quit event that
        # outlives this exec() and ends the caller's next event loop (a test's waits) at once
        window.close()
    return status["code"] or code


def _save_screenshot(window, path: str) -> int:
    """Save a PNG of the whole window; 0 when written, 1 (with a message) when not."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    image = window.grab()
    if not image.save(str(target), "PNG"):
        print(f"dacl-monitor: error: could not write the screenshot to {path!r}", file=sys.stderr)
        return 1
    print(f"screenshot {target} {image.width()}x{image.height()}")
    return 0
