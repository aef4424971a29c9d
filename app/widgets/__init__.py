"""Display widgets of the monitor: each takes plain numpy arrays or WindowResults, never a source."""
