"""The monitor's dark, bedside-style look: colours per class and trace, and the Qt style sheet."""

from __future__ import annotations

import pyqtgraph as pg

BACKGROUND = "#05080b"
PANEL = "#0d1318"
PANEL_BORDER = "#1f2a33"
TEXT = "#d8e1e8"
TEXT_DIM = "#7d8b96"
ECG_GREEN = "#39ff6a"
HR_GREEN = "#39ff6a"
ALARM_RED = "#ff3b3b"
GRID_MINOR = (255, 70, 70, 22)
GRID_MAJOR = (255, 70, 70, 75)

# One colour per class, in core.results.CLASS_CODES order (N, A, O, ~).
CLASS_COLORS = ("#4fc3f7", "#ff4d4d", "#ffb74d", "#9e9e9e")

STYLE_SHEET = f"""
QMainWindow, QWidget {{ background: {BACKGROUND}; color: {TEXT}; }}
QFrame#panel {{ background: {PANEL}; border: 1px solid {PANEL_BORDER}; border-radius: 4px; }}
QFrame#panel[selected="true"] {{ border: 2px solid {ECG_GREEN}; }}
QLabel {{ background: transparent; }}
QLabel#title {{ color: {TEXT_DIM}; font-size: 11px; font-weight: bold; letter-spacing: 1px; }}
QToolBar {{ background: {PANEL}; border-bottom: 1px solid {PANEL_BORDER}; spacing: 4px; }}
QToolButton {{ color: {TEXT}; padding: 3px 8px; border-radius: 3px; }}
QToolButton:checked {{ background: #1d3b2a; color: {ECG_GREEN}; }}
QToolButton:hover {{ background: #1b252e; }}
QStatusBar {{ background: {PANEL}; color: {TEXT_DIM}; border-top: 1px solid {PANEL_BORDER}; }}
QStatusBar QLabel {{ color: {TEXT_DIM}; padding: 0 6px; }}
QListWidget {{ background: {PANEL}; border: none; color: {TEXT}; font-size: 12px; }}
QComboBox, QLineEdit, QPushButton {{ background: #16202a; color: {TEXT}; border: 1px solid {PANEL_BORDER};
    padding: 3px 6px; border-radius: 3px; }}
QPushButton:hover {{ background: #1f2d3a; }}
QDialog {{ background: {PANEL}; }}
QMenuBar {{ background: {PANEL}; color: {TEXT}; }}
QMenuBar::item:selected, QMenu::item:selected {{ background: #1d3b2a; color: {ECG_GREEN}; }}
QMenu {{ background: {PANEL}; color: {TEXT}; border: 1px solid {PANEL_BORDER}; }}
"""


def configure_pyqtgraph() -> None:
    """Global pyqtgraph options: dark background, antialiasing off (faster, crisp at monitor scale)."""
    pg.setConfigOptions(background=BACKGROUND, foreground=TEXT_DIM, antialias=False)
