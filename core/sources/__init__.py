"""Where samples come from: one abstract `Source` and its replay (WFDB) and live (LSL) implementations."""

from core.sources.base import Source, SourceError
from core.sources.lsl import LslInletSource
from core.sources.replay import WfdbReplaySource

__all__ = ["LslInletSource", "Source", "SourceError", "WfdbReplaySource"]
