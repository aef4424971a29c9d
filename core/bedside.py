"""The bedside headline: the rhythm the AF alarm reads, with its context, not one window's class.

One 6.8 s window's class flickers (a clean sinus record can read "Noisy 47 %" for a second); the alarm
model reads the RR model's last 64 beats with the window, and its episode detector confirms AF over
tens of seconds. The headline follows that: a confirmed AF episode, a paced bed, else the alarm input's
leading class, where a noisy window says "signal quality" instead of naming a rhythm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.results import WindowResult
from engines.contract import CLASS_CODES

AF, NOISY, OTHER = CLASS_CODES.index("A"), CLASS_CODES.index("~"), CLASS_CODES.index("O")
TEXT = {"N": "Sinus rhythm", "A": "Possible AF", "O": "Other rhythm", "~": "Signal quality poor"}
SHORT = {"N": "Sinus", "A": "AF?", "O": "Other", "~": "Signal?"}


@dataclass(frozen=True)
class Headline:
    """What the bed's rhythm line shows: text, the class whose colour it takes, a line of context."""

    text: str
    cls: int
    context: str
    short: str  # for a bed-grid cell


def source_of(result: WindowResult) -> str:
    """Which model the alarm input comes from, as the user should read it."""
    if result.alarm_probs is not None:
        return "RR model (last 64 beats) + this window" if result.rr_probs is not None else \
            "this window (RR model waiting for 64 beats)"
    if result.rhythm_probs is not None:
        return "window + RR features of the last 60 s"
    return "this window"


def headline(result: WindowResult, in_af: bool) -> Headline:
    """The headline of a bed whose newest result is `result`; `in_af`: an AF episode is open."""
    p = np.asarray(result.alarm_input, np.float64)
    p_af = float(p[AF])
    context = f"{source_of(result)}: p(AF) {100 * p_af:.0f} %"
    if result.paced:
        if in_af:
            return Headline("Paced · atrial fibrillation", AF, f"bed marked paced · {context}", "Paced AF")
        return Headline("Paced rhythm", OTHER, f"bed marked paced · {context}", "Paced")
    if in_af:
        return Headline("Atrial fibrillation", AF, context, "AF")
    cls = int(np.argmax(p))
    code = CLASS_CODES[cls]
    if cls == NOISY:
        context = f"rhythm not read · {context}"
    elif cls == AF:  # leading but not (yet) confirmed by the episode detector
        context = f"not confirmed · {context}"
    return Headline(TEXT[code], cls, context, SHORT[code])
