"""The monitor's status bar: source, rate, model, backend, latency, throughput and drops, plus errors."""

from __future__ import annotations

import math

from PySide6 import QtWidgets

from app import theme

FIELDS = ("source", "rate", "model", "backend", "latency", "throughput", "drops")


class MonitorStatusBar(QtWidgets.QStatusBar):
    """Permanent fields, each a label, and a red error line that stays until the next error or a clear."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.error_label = QtWidgets.QLabel("")
        self.error_label.setStyleSheet(f"color: {theme.ALARM_RED}; font-weight: bold;")
        self.addWidget(self.error_label, 1)
        self.labels: dict[str, QtWidgets.QLabel] = {}
        for name in FIELDS:
            label = QtWidgets.QLabel("")
            label.setObjectName(f"status_{name}")
            self.labels[name] = label
            self.addPermanentWidget(label)
        self.set_field("source", "no source")

    def set_field(self, name: str, text: str) -> None:
        """Set one permanent field's text (one of FIELDS)."""
        self.labels[name].setText(text)

    def field(self, name: str) -> str:
        """The text of one permanent field."""
        return self.labels[name].text()

    def show_error(self, text: str) -> None:
        """Show an error in red (it stays until replaced or cleared) and as a tooltip with the full text."""
        first_line = text.splitlines()[0] if text else ""
        self.error_label.setText(first_line)
        self.error_label.setToolTip(text)

    def clear_error(self) -> None:
        """Remove the error line."""
        self.error_label.setText("")
        self.error_label.setToolTip("")

    def set_timing(self, p50_ms: float, p99_ms: float, windows_per_s: float, drops: int) -> None:
        """Show latency p50/p99, windows/s and dropped windows (drops in red when not zero)."""
        if math.isfinite(p50_ms):
            self.set_field("latency", f"latency p50 {p50_ms:.1f} ms · p99 {p99_ms:.1f} ms")
        else:
            self.set_field("latency", "latency –")
        self.set_field("throughput", f"{windows_per_s:.1f} windows/s")
        self.set_field("drops", f"drops {drops}")
        style = f"color: {theme.ALARM_RED if drops else theme.TEXT_DIM};"
        if self.labels["drops"].styleSheet() != style:  # restyling is costly: only on change
            self.labels["drops"].setStyleSheet(style)


