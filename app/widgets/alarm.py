"""The AF alarm banner: raised when an episode starts; acknowledged, or silenced for a chosen time.

States: "off" (hidden), "alarm" (red), "acknowledged" (an episode runs but was seen: hidden until the
next episode starts), "silenced" (amber, "silenced until hh:mm:ss"; new episodes are held back). When a
silence ends and an episode that was not acknowledged still runs, the banner turns red again, as a
bedside monitor's alarm pause does; an episode starting after the silence alarms as usual.

A silence runs on wall time (the monotonic clock for the deadline, the local clock for the time shown),
not on the replay clock: it is the person at the bedside who asks for quiet, so 5 minutes must not
shrink to 30 s at ×10 replay nor stand still while the replay is paused. One banner serves every bed,
so a silence covers all of them, like a central station's "silence all".
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6 import QtCore, QtWidgets

from app import theme

SILENCE_CHOICES_S = (60, 300, 900)  # the banner's silence buttons: 1, 5 and 15 min
SILENCED_AMBER = "#b7791f"
_STYLE = ("QFrame#alarm {{ background: {bg}; border-radius: 4px; }} "
          "QFrame#alarm QLabel {{ color: white; font-size: 19px; font-weight: bold; padding: 3px; }} "
          "QFrame#alarm QLabel#small {{ font-size: 13px; }} "
          "QFrame#alarm QPushButton {{ background: rgba(0,0,0,70); color: white; border: 1px solid white; "
          "padding: 3px 8px; font-weight: bold; }}")


def silence_label(seconds: float) -> str:
    """'1 min', '5 min', '90 s'."""
    return f"{seconds / 60:g} min" if seconds % 60 == 0 else f"{seconds:g} s"


class AlarmBanner(QtWidgets.QFrame):
    """The alarm line above the detail view, with Acknowledge and Silence buttons.

    `acknowledged(seconds)` is emitted on every user acknowledgement: 0 for Acknowledge, the silence's
    length for Silence; the window logs it. `clock` (monotonic seconds) and `wall` (epoch seconds) can be
    replaced in tests.
    """

    acknowledged = QtCore.Signal(float)

    def __init__(self, parent: QtWidgets.QWidget | None = None, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time) -> None:
        super().__init__(parent)
        self.setObjectName("alarm")
        self.clock, self.wall = clock, wall
        self.active = False  # an alarm condition holds: some bed is in an AF episode
        self.silenced_until: float | None = None  # clock() deadline
        self.silenced_until_wall: float | None = None
        self._acked = False
        self._alarm_text = ""
        self._alarm_source = ""
        self._style = ""
        self.label = QtWidgets.QLabel("")
        self.label.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.label.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Preferred)
        self.ack_button = QtWidgets.QPushButton("Acknowledge")
        self.ack_button.setToolTip("Hide this alarm until the next AF episode starts (A)")
        self.ack_button.clicked.connect(self.acknowledge)
        row = QtWidgets.QHBoxLayout(self)
        row.setContentsMargins(8, 2, 8, 2)
        row.addWidget(self.label, 1)
        row.addWidget(self.ack_button)
        title = QtWidgets.QLabel("Silence")
        title.setObjectName("small")
        row.addWidget(title)
        self.silence_buttons: dict[int, QtWidgets.QPushButton] = {}
        for seconds in SILENCE_CHOICES_S:
            button = QtWidgets.QPushButton(silence_label(seconds))
            button.setToolTip(f"Silence AF alarms of every bed for {silence_label(seconds)}")
            button.clicked.connect(lambda _=False, s=seconds: self.silence(s))
            row.addWidget(button)
            self.silence_buttons[seconds] = button
        self._timer = QtCore.QTimer(self)
        self._timer.setInterval(500)
        self._timer.timeout.connect(self.check_silence)
        self._refresh()

    # ----------------------------------------------------------------- what the monitor tells it
    def raise_alarm(self, text: str, source: str = "") -> None:
        """An AF episode started: red banner with `text`, unless silenced (then it waits for the end).

        `source` (the bed) is what the silenced banner names, where the full text would not fit.
        """
        self.active, self._acked, self._alarm_text, self._alarm_source = True, False, text, source
        self._refresh()

    def clear_alarm(self) -> None:
        """No bed is in AF any more: the red banner goes; a running silence stays shown."""
        self.active, self._acked = False, False
        self._refresh()

    def reset(self) -> None:
        """Forget alarm and silence (every stream was replaced: a new patient)."""
        self.silenced_until = self.silenced_until_wall = None
        self._timer.stop()
        self.clear_alarm()

    # ----------------------------------------------------------------- what the user does
    def acknowledge(self) -> bool:
        """Hide the alarm until the next episode starts; False when there is no alarm to acknowledge."""
        if not self.active or self._acked:
            return False
        self._acked = True
        self._refresh()
        self.acknowledged.emit(0.0)
        return True

    def silence(self, seconds: float) -> None:
        """Hold AF alarms back for `seconds` from now (a new choice replaces a running silence)."""
        if not seconds > 0:
            raise ValueError(f"a silence needs a positive number of seconds; {seconds!r} is invalid")
        self.silenced_until = self.clock() + seconds
        self.silenced_until_wall = self.wall() + seconds
        self._timer.start()
        self._refresh()
        self.acknowledged.emit(float(seconds))

    def end_silence(self) -> None:
        """End the silence now: an unacknowledged episode that still runs alarms again."""
        self.silenced_until = self.silenced_until_wall = None
        self._timer.stop()
        self._refresh()

    def check_silence(self) -> None:
        """End the silence once its time is up (the banner's timer calls this twice a second)."""
        if self.silenced_until is not None and self.clock() >= self.silenced_until:
            self.end_silence()

    # ----------------------------------------------------------------- display
    @property
    def state(self) -> str:
        """'off', 'alarm', 'acknowledged' or 'silenced'."""
        if self.silenced_until is not None:
            return "silenced"
        if self.active:
            return "acknowledged" if self._acked else "alarm"
        return "off"

    def text(self) -> str:
        """The banner's message."""
        return self.label.text()

    def _refresh(self) -> None:
        state = self.state
        if state == "silenced":
            until = time.strftime("%H:%M:%S", time.localtime(self.silenced_until_wall))
            text = f"AF alarms silenced until {until}"
            if self.active and not self._acked:
                text += f"  ·  AF: {self._alarm_source or 'running'}"
            self.label.setText(text)
            style = _STYLE.format(bg=SILENCED_AMBER)
        else:
            self.label.setText(self._alarm_text if state == "alarm" else "")
            style = _STYLE.format(bg=theme.ALARM_RED)
        if style != self._style:  # restyling is costly: only on change
            self._style = style
            self.setStyleSheet(style)
        self.ack_button.setEnabled(self.active and not self._acked)
        self.setVisible(state in ("alarm", "silenced"))

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt override
        """A click on the banner itself acknowledges, as before the buttons existed."""
        self.acknowledge()
