"""What the monitor remembers between runs (QSettings): record, lead, speed, loop, grid, save folder, size."""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore

DEFAULT_SAVE_DIR = Path.home() / "dacl-monitor"
ORGANIZATION = "DACL"
APPLICATION = "dacl-monitor"


class MonitorSettings:
    """Typed access to the monitor's QSettings; `path` points at an INI file instead (tests, --settings)."""

    def __init__(self, path: str | None = None) -> None:
        if path:
            self._qs = QtCore.QSettings(path, QtCore.QSettings.Format.IniFormat)
        else:
            self._qs = QtCore.QSettings(ORGANIZATION, APPLICATION)

    def _get(self, key: str, default, kind):
        value = self._qs.value(key, default)
        if kind is bool and isinstance(value, str):
            return value.lower() in ("1", "true", "yes")
        try:
            return kind(value)
        except (TypeError, ValueError):
            return default

    def sync(self) -> None:
        """Write pending changes to disk."""
        self._qs.sync()

    @property
    def last_record(self) -> str:
        """The record opened last ('' if none)."""
        return self._get("last_record", "", str)

    @last_record.setter
    def last_record(self, value: str) -> None:
        self._qs.setValue("last_record", value)

    @property
    def last_lead(self) -> str:
        """The lead chosen last ('' for the record's default lead)."""
        return self._get("last_lead", "", str)

    @last_lead.setter
    def last_lead(self, value: str) -> None:
        self._qs.setValue("last_lead", value)

    @property
    def speed(self) -> float:
        """Replay speed factor."""
        return self._get("speed", 1.0, float)

    @speed.setter
    def speed(self, value: float) -> None:
        self._qs.setValue("speed", float(value))

    @property
    def loop(self) -> bool:
        """Whether replays loop."""
        return self._get("loop", True, bool)

    @loop.setter
    def loop(self, value: bool) -> None:
        self._qs.setValue("loop", bool(value))

    @property
    def grid(self) -> bool:
        """Whether the ECG-paper grid is shown."""
        return self._get("grid", True, bool)

    @grid.setter
    def grid(self, value: bool) -> None:
        self._qs.setValue("grid", bool(value))

    @property
    def save_dir(self) -> str:
        """Where File ▸ Save writes events, annotations and pictures."""
        return self._get("save_dir", str(DEFAULT_SAVE_DIR), str)

    @save_dir.setter
    def save_dir(self, value: str) -> None:
        self._qs.setValue("save_dir", str(value))

    @property
    def geometry(self) -> QtCore.QByteArray | None:
        """The window geometry saved at the last close."""
        value = self._qs.value("geometry")
        return value if isinstance(value, QtCore.QByteArray) else None

    @geometry.setter
    def geometry(self, value: QtCore.QByteArray) -> None:
        self._qs.setValue("geometry", value)
