"""The scheduler's settings: windowing (from the model's contract), batching, back-pressure, polling."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.preprocess import BAND_HZ, BANDPASS_ORDER, MODEL_FS, STD_FLOOR_MV

if TYPE_CHECKING:
    from core.inference_model import InferenceModel


@dataclass(frozen=True)
class SchedulerConfig:
    """Windowing, batching and back-pressure settings (defaults: the model contract and a 2-core PC)."""

    fs: float = MODEL_FS  # model sampling rate, Hz
    window: int = 2048  # W, samples per window
    hop: int = 300  # H, samples between window ends (1 s at 300 Hz)
    max_batch: int = 64  # windows per inference call at most
    max_wait_ms: float = 5.0  # how long the idle worker waits after a first window to fill a batch
    workers: int = 0  # inference threads; 0: as many as the engine runs well at once (parallel_callers)
    pending_per_stream: int = 4  # bounded per-stream queue of windows waiting for inference
    ring_seconds: float = 30.0  # per-stream ring buffer of the model-rate signal (≥ one window)
    poll_interval_ms: float = 20.0  # acquisition tick
    stall_after_s: float = 5.0  # a running source with no samples for this long is "stalled"
    max_reads_per_tick: int = 64  # chunks taken from one source per tick (bounds a flat-out replay)
    heart_rate: bool = True  # compute heart rate per window (batched R-peak detector)
    heart_rate_device: str = "auto"  # "cpu", "cuda", or "auto": the model's device (InferenceModel.device)
    latency_history: int = 2000  # results kept for the running latency / windows-per-second statistics
    backpressure: str = "drop"  # "drop": live, drop a full queue's oldest window; "block": stop reading it
    band_hz: tuple[float, float] = BAND_HZ  # each stream's band-pass (the model contract)
    bandpass_order: int = BANDPASS_ORDER
    std_floor_mv: float = STD_FLOOR_MV  # normalize_window's floor (the model contract)

    @classmethod
    def for_model(cls, model: InferenceModel, **settings) -> SchedulerConfig:
        """The config whose signal path is `model.contract` (engines.contract.ModelContract), plus `settings`.

        A model without a contract (a test double) gets the defaults.
        """
        c = model.contract
        if c is None:
            return cls(**settings)
        return cls(fs=c.fs, window=c.window, hop=c.hop, band_hz=c.band_hz, bandpass_order=c.bandpass_order,
                   std_floor_mv=c.std_floor_mv, **settings)

    def __post_init__(self) -> None:
        if self.workers < 0:
            raise ValueError(f"workers must be 0 (the engine's choice) or a positive integer; "
                             f"{self.workers!r} is invalid.")
        for name in ("window", "hop", "max_batch", "pending_per_stream"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer; {getattr(self, name)!r} is invalid.")
        if self.ring_seconds * self.fs < self.window:
            raise ValueError(
                f"ring_seconds={self.ring_seconds!r} holds fewer samples than one window ({self.window}); "
                f"use at least {self.window / self.fs:.2f} s."
            )
        if self.backpressure not in ("drop", "block"):
            raise ValueError(f"backpressure must be 'drop' or 'block'; {self.backpressure!r} is invalid.")
        if self.max_wait_ms < 0 or self.poll_interval_ms <= 0:
            raise ValueError(
                f"max_wait_ms must be >= 0 and poll_interval_ms > 0; got {self.max_wait_ms!r}, "
                f"{self.poll_interval_ms!r}."
            )
