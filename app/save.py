"""Save one bed's session from the window: its event log (CSV), WFDB rhythm annotations, a PNG of the view.

The writers are the ones headless and `analyze` use: `EventLog.to_csv` (the `--headless --events` CSV:
one row per RhythmEvent, samples at the model rate) and `core.events.write_rhythm_annotations` ('+' with
'(AFIB' / '(N' aux notes). The annotations are moved to the record's own sample numbers and placed at the
centre of the deciding window, as `analyze` places them (core.reference), so a replayed record's saved
annotations line up with it in WFDB tools. File names say record and time:
`201_2026-12-02T07-30-00_events.csv`, `201_2026-12-02T07-30-00.dacl` (read it with
`wfdb.rdann(".../201_2026-12-02T07-30-00", "dacl")`), `201_2026-12-02T07-30-00_view.png`.
"""

from __future__ import annotations

import time
from pathlib import Path

from core.events import EventLog, write_rhythm_annotations
from core.reference import StreamMap, baseline_sample, record_events

ANNOTATION_EXTENSION = "dacl"  # as `dacl-monitor analyze` writes


class SaveError(RuntimeError):
    """A file could not be written; the message says which and why."""


def stem(name: str, now: float | None = None) -> str:
    """'<name>_<local time as 2026-12-02T07-30-00>' (no ':' so the name is valid everywhere)."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "stream"
    return f"{safe}_{time.strftime('%Y-%m-%dT%H-%M-%S', time.localtime(time.time() if now is None else now))}"


def _folder(folder: str | Path) -> Path:
    path = Path(folder).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SaveError(f"cannot create the save folder {str(path)!r}: {exc.strerror or exc}") from exc
    return path


def save_events_csv(log: EventLog, stream_id: int, name: str, folder: str | Path,
                    now: float | None = None) -> Path:
    """One bed's events as `<name>_<time>_events.csv`."""
    path = _folder(folder) / f"{stem(name, now)}_events.csv"
    try:
        return log.to_csv(path, stream_id)
    except OSError as exc:
        raise SaveError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from exc


def save_annotations(log: EventLog, stream_id: int, name: str, folder: str | Path, smap: StreamMap,
                     lag: int, first_end: int, now: float | None = None) -> tuple[Path, int]:
    """The bed's episodes as WFDB rhythm annotations `<name>_<time>.dacl` at the record's sample numbers.

    `smap` maps the stream to the record (an LSL stream: a map onto itself at the model rate), `lag` is
    the episode settings' onset lag and `first_end` the end index of the stream's first window. Returns
    the path and how many events were left out because they fall after the record's first pass.
    """
    events = log.stream_events(stream_id)
    moved = record_events(events, smap, lag)
    path = _folder(folder)
    try:
        written = write_rhythm_annotations(moved, stem(name, now), smap.record_fs, path, ANNOTATION_EXTENSION,
                                           baseline_sample=baseline_sample(first_end, smap, lag, moved))
    except OSError as exc:
        raise SaveError(f"cannot write annotations in {str(path)!r}: {exc.strerror or exc}") from exc
    return written, len(events) - len(moved)


def save_png(widget, name: str, folder: str | Path, now: float | None = None) -> Path:
    """A PNG of what `widget` shows now (QWidget.grab), as `<name>_<time>_view.png`."""
    path = _folder(folder) / f"{stem(name, now)}_view.png"
    if not widget.grab().save(str(path), "PNG"):
        raise SaveError(f"cannot write the picture {str(path)!r}")
    return path
