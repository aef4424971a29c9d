"""The model contract: what a bundle expects of the signal path, read from its manifest and nowhere else.

A bundle's manifest says how its windows were made (sampling rate, window, the monitor's hop, band-pass
edges and order, the per-window z-score floor), which classes its outputs are, what else it takes (the
RR-feature rhythm context) and how its episodes are detected. `ModelContract.from_manifest` reads all of
it once; core builds each stream's Preprocessor, its windowing, the normaliser, the rhythm tracker and the
EpisodeDetector from this object (`core.scheduler_config.SchedulerConfig.for_model`), so a bundle trained
with another band, window or floor runs with its own numbers or is refused with the field named.

The contract belongs to the bundle, so it lives here with the bundle, and core reads it: core.preprocess,
core.windowing, core.results and core.events take their defaults (the numbers of every bundle trained
here), the class codes and `EpisodeSettings` from this module. Training writes these numbers into the
manifest (`preprocessing_block`) and reads nothing back.

Old bundles: one without `preprocessing.bandpass_order` (written before the field existed) was trained
with BANDPASS_ORDER and loads with it, with a warning naming the field; a missing `episodes` block gives
the detector's defaults, a missing `rhythm` block a model without rhythm context.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

log = logging.getLogger(__name__)

# The signal path of every bundle trained here (training's choices, written into each manifest)
MODEL_FS = 300.0  # Hz, the rate the model was trained at
WINDOW = 2048  # samples at 300 Hz (6.83 s): the model's input length
HOP = 300  # samples at 300 Hz (1 s): one result per second per stream
BAND_HZ = (0.5, 40.0)  # band-pass edges, Hz: removes baseline wander and mains/EMG noise
BANDPASS_ORDER = 3  # Butterworth order per edge (a 6th-order band-pass as 3 second-order sections)
STD_FLOOR_MV = 0.01  # normalize_window never divides by less than this (a flat window stays ~0)
CLASS_CODES = ("N", "A", "O", "~")  # the model's output classes, in the order of its probabilities
CLASS_NAMES = ("Normal", "AF", "Other", "Noisy")
NORMALIZATION = "zscore_per_window"


class ContractError(ValueError):
    """A manifest's contract cannot be run by this code; the message names the field."""


@dataclass(frozen=True)
class EpisodeSettings:
    """The episode detector's settings (the manifest's "episodes" block)."""

    rhythm: str = "A"
    on: float = 0.6
    off: float = 0.4
    k_on: int = 3
    k_off: int = 3
    smooth: int = 1  # windows averaged before the thresholds (1: none)

    def __post_init__(self) -> None:
        if self.rhythm not in CLASS_CODES:
            raise ValueError(f"rhythm must be one of {CLASS_CODES}; {self.rhythm!r} is invalid.")
        if not 0.0 <= self.off <= self.on <= 1.0:
            raise ValueError(f"thresholds need 0 <= off <= on <= 1; off={self.off!r}, on={self.on!r} "
                             "is invalid.")
        if self.k_on < 1 or self.k_off < 1:
            raise ValueError(f"k_on and k_off must be at least 1; k_on={self.k_on!r}, k_off={self.k_off!r} "
                             "is invalid.")
        if self.smooth < 1:
            raise ValueError(f"smooth must be at least 1 window; {self.smooth!r} is invalid.")

    @classmethod
    def from_manifest(cls, block: Mapping | None) -> EpisodeSettings:
        """Settings from a manifest's "episodes" block; None (a bundle older than the block): the defaults."""
        if block is None:
            return cls()
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(block) - known - {"chosen_by", "cv"})
        if unknown:
            raise ValueError(f"manifest episodes has unknown field(s) {unknown}; known: {sorted(known)}")
        return cls(**{k: block[k] for k in known if k in block})

    def onset_lag(self, window: int, hop: int) -> int:
        """Samples from a confirming window's end back to the centre of the signal its decision saw."""
        return window // 2 + (self.smooth - 1) * hop // 2


@dataclass(frozen=True)
class RhythmInput:
    """The rhythm head's second input: RR features of the last `context_s` seconds (core.rhythm)."""

    features: tuple[str, ...]
    context_s: float
    guard_s: float


@dataclass(frozen=True)
class ModelContract:
    """Signal-path settings of one model; the defaults are those of every bundle trained here."""

    fs: float = MODEL_FS
    window: int = WINDOW
    hop: int = HOP  # the monitor's hop between window ends (training crops use their own)
    band_hz: tuple[float, float] = BAND_HZ
    bandpass_order: int = BANDPASS_ORDER
    std_floor_mv: float = STD_FLOOR_MV
    classes: tuple[str, ...] = CLASS_CODES
    class_names: tuple[str, ...] = CLASS_NAMES
    rhythm: RhythmInput | None = None
    episodes: EpisodeSettings = EpisodeSettings()

    @property
    def inputs(self) -> tuple[str, ...]:
        """What the model takes: the window, and the rhythm context when it has a rhythm head."""
        return ("window", "rhythm") if self.rhythm is not None else ("window",)

    @classmethod
    def from_manifest(cls, manifest: Mapping[str, Any], where: str = "manifest") -> ModelContract:
        """The contract of a load_bundle-validated manifest; ContractError names what this code can't run."""
        def fail(field: str, problem: str) -> ContractError:
            return ContractError(f"{where}: field '{field}' {problem}")

        pre = manifest.get("preprocessing") or {}
        norm = pre.get("normalization") or {}
        if norm.get("kind", NORMALIZATION) != NORMALIZATION:
            raise fail("preprocessing.normalization.kind", f"is {norm.get('kind')!r}; this code computes "
                       f"only {NORMALIZATION!r}")
        if pre.get("units", "mV") != "mV":
            raise fail("preprocessing.units", f"is {pre.get('units')!r}; the signal path works in mV")
        order = pre.get("bandpass_order")
        if order is None:
            log.warning("%s has no 'preprocessing.bandpass_order' (a bundle older than the field); using "
                        "order %d, the order such bundles were trained with", where, BANDPASS_ORDER)
            order = BANDPASS_ORDER
        if not isinstance(order, int) or not 1 <= order <= 8:
            raise fail("preprocessing.bandpass_order", f"is {order!r}; expected an integer 1-8")
        codes = tuple(str(c["code"]) for c in manifest.get("classes", ()))
        if codes != CLASS_CODES:
            raise fail("classes", f"are {list(codes)}; the monitor's outputs are {list(CLASS_CODES)}")
        rhythm = None
        if manifest.get("rhythm") is not None:
            block = manifest["rhythm"]
            try:
                rhythm = RhythmInput(tuple(block["features"]), float(block["context_s"]),
                                     float(block["guard_s"]))
            except KeyError as exc:
                raise fail(f"rhythm.{exc.args[0]}", "is missing") from exc
        try:
            episodes = EpisodeSettings.from_manifest(manifest.get("episodes"))
        except (TypeError, ValueError) as exc:
            raise fail("episodes", f"is unusable: {exc}") from exc
        band = tuple(float(v) for v in pre.get("bandpass_hz", BAND_HZ))
        return cls(fs=float(manifest["fs"]), window=int(manifest["window"]), hop=int(manifest["hop"]),
                   band_hz=band, bandpass_order=order,
                   std_floor_mv=float(norm.get("std_floor_mv", STD_FLOOR_MV)), classes=codes,
                   class_names=tuple(str(c.get("name", c["code"])) for c in manifest["classes"]),
                   rhythm=rhythm, episodes=episodes)


def preprocessing_block(fs: int) -> dict[str, Any]:
    """The manifest's `preprocessing` block for a model trained with this signal path (core.preprocess)."""
    return {"fs": fs, "units": "mV", "bandpass_hz": list(BAND_HZ), "bandpass_order": BANDPASS_ORDER,
            "normalization": {"kind": NORMALIZATION, "std_floor_mv": STD_FLOOR_MV}, "dtype": "float32"}
