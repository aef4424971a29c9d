"""The monitor window's beds: what it remembers of each stream, and the sources that feed them.

`BedState` is one stream's results, episode log and event lines; `BedSources` is a mixin of
app.main_window.MainWindow that opens records and LSL streams as beds (replacing the current ones or
beside them), reads a replayed record's reference annotations and stops every stream. It uses the
window's session, settings, grid, alarm, status bar, `select_bed`, `show_grid` and `show_error`.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from core.analyze import lead_note
from core.reference import ReferenceTrack

HISTORY = 90  # results kept per bed to rebuild the detail view on selection


@dataclass
class BedState:
    """What the window remembers of one stream: recent results, its episode log and its event lines."""

    stream_id: int
    title: str
    results: deque = field(default_factory=lambda: deque(maxlen=HISTORY))
    events: list[str] = field(default_factory=list)
    in_af: bool = False
    first_end: int | None = None  # end index of the stream's first window (where saved annotations start)
    reference: ReferenceTrack | None = None  # the replayed record's reference annotations, when it has them


class BedSources:
    """Beds from sources: open a record or an LSL stream, add its bed, remove every bed."""

    def add_stream(self, stream_id: int, title: str) -> None:
        """Register a stream the session has started: a bed state, a grid panel, maybe the detail view."""
        self.beds[stream_id] = BedState(stream_id, title)
        self.beds[stream_id].events.append(f"{time.strftime('%H:%M:%S')}  {title}: monitoring started "
                                           f"({self.session.describe(stream_id)})")
        self._load_reference(self.beds[stream_id])
        self.grid.add_bed(stream_id, title, self.session.fs)
        if self.selected is None or len(self.beds) == 1:
            self.select_bed(stream_id)
        if len(self.beds) > 1 and len(self.beds) == len(self.grid.panels) and self.pages.currentIndex() == 0:
            self.show_grid()
        self._update_source_field()

    def _load_reference(self, bed: BedState) -> None:
        """Read the replayed record's reference annotations for the strip, beat labels and agreement."""
        record = getattr(self.session.sources.get(bed.stream_id), "record", None)
        if record is None:
            return  # a live stream: no reference
        note = lead_note(record.lead)
        notes = [note] if note else []
        if record.annotations is None:
            notes.append("no reference annotations - no reference strip, beat labels or agreement")
        else:
            try:
                bed.reference = ReferenceTrack(record, self.session.fs)
            except Exception as exc:  # noqa: BLE001 - a bad annotation file must not stop the replay
                self.show_error(f"{record.name}: reference annotations not usable: {exc}", dialog=False)
                return
            if not bed.reference.has_rhythm:
                notes.append(f"its .{record.annotations.extension} annotations hold no rhythm changes - beat "
                             "labels only, no reference strip")
        if notes:
            self.status.showMessage(f"{record.name}: " + "; ".join(notes), 15000)

    def open_record(self, path: str, lead: str | int | None = None, replace: bool = True,
                    start_delay_s: float = 0.0, annotation: str | None = "atr") -> int | None:
        """Start replaying a WFDB record; errors go to the status bar and a dialog, the app keeps running.

        The record is read before anything is replaced, so a bad file leaves the current beds running.
        `annotation` is the extension of its reference annotations (None: none).
        """
        try:
            source = self.session.open_replay(path, lead, annotation)
        except Exception as exc:  # noqa: BLE001 - every failure is shown, none ends the app
            self.show_error(f"Could not open record {str(path)!r}: {exc}")
            return None
        self.settings.last_record = str(path)
        self.settings.last_lead = "" if lead is None else str(lead)
        return self._start(source, replace, start_delay_s)

    def connect_lsl(self, info, replace: bool = True) -> int | None:
        """Start reading an LSL stream (a pylsl.StreamInfo from the discovery dialog)."""
        try:
            source = self.session.open_lsl(info)
            desc = f"LSL {info.name()} ({info.nominal_srate():g} Hz, {info.hostname()})"
        except Exception as exc:  # noqa: BLE001 - every failure is shown, none ends the app
            self.show_error(f"Could not connect to the LSL stream: {exc}")
            return None
        return self._start(source, replace, 0.0, desc)

    def _start(self, source, replace: bool, start_delay_s: float, description: str = "") -> int | None:
        if replace:
            self.remove_all_streams()
        try:
            stream_id, title = self.session.add_source(source, start_delay_s, description)
        except Exception as exc:  # noqa: BLE001 - every failure is shown, none ends the app
            self.show_error(f"Could not start {getattr(source, 'name', 'the source')!r}: {exc}")
            return None
        self.status.clear_error()
        self.add_stream(stream_id, title)
        return stream_id

    def remove_all_streams(self) -> None:
        """Stop every stream and clear the views."""
        for stream_id in list(self.beds):
            self.session.remove_stream(stream_id)
            self.grid.remove_bed(stream_id)
        self.beds.clear()
        self.selected = None
        self._alarm_bed = None
        self.alarm.reset()  # a new patient: no alarm, no silence carried over
        self._clear_detail()
        self.pages.setCurrentIndex(0)
