"""The model contract: what a bundle expects of the signal path, read from its manifest and nowhere else.

A bundle's manifest says how its windows were made (sampling rate, window, the monitor's hop, band-pass
edges and order, the per-window z-score floor), which classes its outputs are, what else it takes (the
RR-feature rhythm context) and how its episodes are detected. `ModelContract.from_manifest` reads all of
it once; the scheduler builds each stream's Preprocessor, its windowing, the normaliser, the rhythm
tracker and the EpisodeDetector from this object (`SchedulerConfig.for_model`), so a bundle trained with
another band, window or floor runs with its own numbers or is refused with the field named.

The constants in core.preprocess / core.windowing are the training side's choices: training writes them
into the manifest (`preprocessing_block`) and reads nothing back.

Old bundles: one without `preprocessing.bandpass_order` (written before the field existed) was trained
with the order in core.preprocess and loads with it, with a warning naming the field; a missing
`episodes` block gives the detector's defaults, a missing `rhythm` block a model without rhythm context.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.events import EpisodeSettings
from core.preprocess import BAND_HZ, BANDPASS_ORDER, MODEL_FS, STD_FLOOR_MV
from core.results import CLASS_CODES, CLASS_NAMES
from core.windowing import WINDOW

log = logging.getLogger(__name__)

NORMALIZATION = "zscore_per_window"


class ContractError(ValueError):
    """A manifest's contract cannot be run by this code; the message names the field."""


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
    hop: int = 300  # the monitor's hop between window ends (training crops use their own)
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
    """The manifest's `preprocessing` block for a model trained with core.preprocess's signal path."""
    return {"fs": fs, "units": "mV", "bandpass_hz": list(BAND_HZ), "bandpass_order": BANDPASS_ORDER,
            "normalization": {"kind": NORMALIZATION, "std_floor_mv": STD_FLOOR_MV}, "dtype": "float32"}
