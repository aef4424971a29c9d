"""The monitor window's actions: menus, toolbar, keyboard shortcuts, and the replay controls' slots.

`ReplayControls` is a mixin of app.main_window.MainWindow. Every action is also added to the window
itself, so its shortcut works whichever page is shown.
"""

from __future__ import annotations

import time

from PySide6 import QtGui

from app.widgets.alarm import SILENCE_CHOICES_S, silence_label

SPEEDS = (1.0, 2.0, 5.0, 10.0)


def build_actions(window) -> None:
    """Create the actions of `window` (an app.main_window.MainWindow) as its attributes, menus and toolbar."""
    bar = window.addToolBar("Controls")
    bar.setMovable(False)
    bar.setObjectName("controls")

    def action(text: str, slot, shortcut: str | None = None, checkable: bool = False) -> QtGui.QAction:
        act = QtGui.QAction(text, window)
        if shortcut:
            act.setShortcut(QtGui.QKeySequence(shortcut))
            act.setToolTip(f"{text} ({shortcut})")
        act.setCheckable(checkable)
        act.triggered.connect(slot)
        window.addAction(act)
        return act

    window.open_action = action("Open record…", window.open_record_dialog, "O")
    window.lsl_action = action("LSL stream…", window.open_lsl_dialog, "L")
    window.review_action = action("Open analysis folder…", window.open_review_dialog, "Ctrl+Shift+O")
    window.analyze_action = action("Analyze record…", window.analyze_record_dialog)
    window.save_events_action = action("Save events CSV", window.save_events, "Ctrl+E")
    window.save_annotations_action = action("Save rhythm annotations (WFDB)", window.save_annotations,
                                          "Ctrl+Shift+A")
    window.save_view_action = action("Save view PNG", window.save_view, "Ctrl+P")
    window.save_view_action.setShortcuts([QtGui.QKeySequence("Ctrl+P"), QtGui.QKeySequence("Ctrl+Shift+S")])
    window.save_all_action = action("Save events, annotations and view", window.save_all, "Ctrl+S")
    window.save_folder_action = action("Save folder…", window.choose_save_folder)
    window.play_action = action("Pause", window.toggle_pause, "Space")
    window.speed_group = QtGui.QActionGroup(window)
    window.speed_actions = {}
    for speed, key in zip(SPEEDS, ("1", "2", "5", "0"), strict=True):
        act = action(f"×{speed:g}", lambda _=False, s=speed: window.set_speed(s), key, checkable=True)
        window.speed_group.addAction(act)
        window.speed_actions[speed] = act
    window.loop_action = action("Loop", window.toggle_loop, None, checkable=True)
    window.grid_action = action("Grid", window.toggle_grid, "G", checkable=True)
    window.sweep_action = action("Sweep", window.toggle_sweep, "S", checkable=True)
    window.beds_action = action("All beds", window.show_grid, "B")
    window.escape_action = action("Back to all beds", window.show_grid, "Esc")
    window.quit_action = action("Quit", window.close, "Ctrl+Q")
    window.ack_action = action("Acknowledge AF alarm", window.alarm.acknowledge, "A")
    window.silence_actions = {
        seconds: action(f"Silence AF alarms {silence_label(seconds)}",
                        lambda _=False, s=seconds: window.alarm.silence(s), key)
        for seconds, key in zip(SILENCE_CHOICES_S, ("M", "Shift+M", "Ctrl+M"), strict=True)}
    window.end_silence_action = action("End silence", window.alarm.end_silence)
    window.paced_action = action("Bed is paced", window.toggle_paced, "P", checkable=True)
    window.paced_action.setToolTip("Mark the selected bed paced (P): it shows \"Paced\" and its AF alarm "
                                   "rests on the beat sequence, not on paced QRS morphology")
    files = window.menuBar().addMenu("&File")
    for act in (window.open_action, window.lsl_action, window.review_action, window.analyze_action, None,
                window.save_events_action, window.save_annotations_action, window.save_view_action,
                window.save_all_action, window.save_folder_action, None, window.quit_action):
        files.addSeparator() if act is None else files.addAction(act)
    alarms = window.menuBar().addMenu("&Alarms")
    for act in (window.ack_action, *window.silence_actions.values(), window.end_silence_action, None,
                window.paced_action):
        alarms.addSeparator() if act is None else alarms.addAction(act)
    for act in (window.open_action, window.lsl_action, None, window.play_action,
                *window.speed_actions.values(), window.loop_action, None, window.grid_action,
                window.sweep_action, window.beds_action):
        bar.addSeparator() if act is None else bar.addAction(act)
    window.speed_actions.get(window.session.speed, window.speed_actions[1.0]).setChecked(True)
    window.loop_action.setChecked(window.session.loop)
    window.grid_action.setChecked(window.settings.grid)
    window.sweep_action.setChecked(True)


class ReplayControls:
    """Pause, speed, loop, ECG grid, sweep and the bed grid page: the toolbar's slots."""

    def toggle_pause(self) -> None:
        """Pause or resume replay (space)."""
        self.set_paused(not self.session.paused)

    def set_paused(self, paused: bool) -> None:
        """Pause or resume every replay source."""
        self.session.set_paused(paused)
        self.play_action.setText("Play" if paused else "Pause")

    def set_speed(self, speed: float) -> None:
        """Replay speed ×1/×2/×5/×10 (keys 1, 2, 5, 0)."""
        self.session.set_speed(speed)
        self.speed_actions[speed].setChecked(True)
        self.settings.speed = speed
        self._update_source_field()

    def toggle_loop(self) -> None:
        """Loop the record at its end."""
        self.session.set_loop(self.loop_action.isChecked())
        self.settings.loop = self.loop_action.isChecked()

    def toggle_paced(self) -> None:
        """Mark the selected bed paced or not (P), as a bedside monitor lets the user."""
        bed = self.beds.get(self.selected) if self.selected is not None else None
        if bed is None:
            self.paced_action.setChecked(False)
            return
        paced = self.paced_action.isChecked()
        self.session.set_paced(bed.stream_id, paced)
        text = f"{time.strftime('%H:%M:%S')}  {bed.title}: bed marked {'paced' if paced else 'not paced'}"
        bed.events.append(text)
        self.event_list.add_event(text)

    def toggle_grid(self) -> None:
        """ECG-paper grid on/off (G)."""
        on = not self.waveform.grid_visible
        self.waveform.set_grid(on)
        self.grid_action.setChecked(on)
        self.settings.grid = on

    def toggle_sweep(self) -> None:
        """Sweep mode (bedside style, fixed paper and a moving eraser) or scrolling mode (S)."""
        sweep = not self.waveform.trace.sweep
        self.waveform.set_sweep(sweep)
        for cell in self.grid.panels.values():
            cell.trace.set_sweep(sweep)
        self.sweep_action.setChecked(sweep)

    def show_grid(self) -> None:
        """Show the multi-bed grid (B); with one bed the detail view stays."""
        if len(self.beds) > 1:
            self.pages.setCurrentIndex(1)
