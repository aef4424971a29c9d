"""Heart rate, the current rhythm and the event list of one stream (the alarm banner: app.widgets.alarm)."""

from __future__ import annotations

import math

from PySide6 import QtCore, QtGui, QtWidgets

from app import theme
from core.bedside import Headline

RHYTHM_TEXT = ("Sinus rhythm", "Atrial fibrillation", "Other rhythm", "Noisy signal")  # event lines


class VitalsPanel(QtWidgets.QFrame):
    """The numbers a clinician reads first: a large heart rate and the current rhythm label."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("panel")
        layout = QtWidgets.QGridLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        title = QtWidgets.QLabel("HR")
        title.setObjectName("title")
        unit = QtWidgets.QLabel("bpm")
        unit.setStyleSheet(f"color: {theme.HR_GREEN}; font-size: 14px;")
        self.hr_label = QtWidgets.QLabel("--")
        self.hr_label.setStyleSheet(f"color: {theme.HR_GREEN}; font-size: 96px; font-weight: bold;")
        self.hr_label.setAlignment(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
        self.rhythm_label = QtWidgets.QLabel("waiting for the first window")
        self.rhythm_label.setStyleSheet(f"color: {theme.TEXT_DIM}; font-size: 17px; font-weight: bold;")
        self.rhythm_label.setAlignment(QtCore.Qt.AlignmentFlag.AlignRight)
        layout.addWidget(title, 0, 0, QtCore.Qt.AlignmentFlag.AlignTop)
        layout.addWidget(unit, 0, 1, QtCore.Qt.AlignmentFlag.AlignTop | QtCore.Qt.AlignmentFlag.AlignRight)
        layout.addWidget(self.hr_label, 1, 0, 1, 2)
        layout.addWidget(self.rhythm_label, 2, 0, 1, 2)
        self.detail_label = QtWidgets.QLabel("")
        self.detail_label.setStyleSheet(f"color: {theme.TEXT_DIM}; font-size: 12px;")
        self.detail_label.setAlignment(QtCore.Qt.AlignmentFlag.AlignRight)
        layout.addWidget(self.detail_label, 3, 0, 1, 2)

    def set_heart_rate(self, bpm: float) -> None:
        """Show the heart rate in beats per minute; NaN (no beats found) shows dashes."""
        self.hr_label.setText("--" if bpm is None or not math.isfinite(bpm) else f"{bpm:.0f}")

    def set_detail(self, text: str) -> None:
        """A small line under the rhythm (source time, window count)."""
        self.detail_label.setText(text)

    def set_rhythm(self, headline: Headline | None) -> None:
        """Show the bed's rhythm (core.bedside: the alarm model's, not one window's) in its colour."""
        if headline is None:
            self.rhythm_label.setText("waiting for the first window")
            self.rhythm_label.setToolTip("")
            self.rhythm_label.setStyleSheet(f"color: {theme.TEXT_DIM}; font-size: 17px; font-weight: bold;")
            return
        self.rhythm_label.setText(headline.text)
        self.rhythm_label.setToolTip(headline.context)
        self.rhythm_label.setStyleSheet(
            f"color: {theme.CLASS_COLORS[headline.cls]}; font-size: 17px; font-weight: bold;")


class EventList(QtWidgets.QListWidget):
    """Rhythm events, newest first, with the stream time they happened at."""

    MAX_ITEMS = 500

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

    def add_event(self, text: str, cls: int | None = None) -> None:
        """Prepend an event line, coloured by its class when given."""
        item = QtWidgets.QListWidgetItem(text)
        if cls is not None:
            item.setForeground(QtGui.QColor(theme.CLASS_COLORS[cls]))
        self.insertItem(0, item)
        while self.count() > self.MAX_ITEMS:
            self.takeItem(self.count() - 1)

