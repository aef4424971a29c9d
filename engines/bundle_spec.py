"""What a valid bundle manifest contains, checked field by field with errors that name the field.

Kept apart from bundle.py (which exports graphs) so the checks read as one list of rules.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

FORMAT_VERSION = 1
CLASSES = (("N", "Normal"), ("A", "AF"), ("O", "Other"), ("~", "Noisy"))  # order of the `probs` columns
GRAPHS = {  # graph -> output names, in the order the exported module returns them
    "scattering": ("scattering", "features"),
    "encoder": ("probs", "embedding", "trajectory"),
}
GRAPH_INPUTS = {"scattering": "window", "encoder": "features"}
REQUIRED = ("format_version", "fs", "window", "hop", "classes", "preprocessing", "scattering", "graphs",
            "projection", "reference_cloud", "metrics", "config", "data_hash", "files")
NORMALIZATIONS = ("zscore_per_window",)


class BundleError(ValueError):
    """A bundle is missing, malformed, or does not match its recorded contract or hashes."""


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def default_preprocessing(fs: int = 300) -> dict[str, Any]:
    """The project's normalisation contract (core.preprocess) as data: what a window must be before the graph.

    Chosen lead in mV -> resampled to ``fs`` -> band-pass 0.5-40 Hz -> per window
    (w - mean(w)) / max(std(w), 0.01 mV), float32.
    """
    return {"fs": fs, "units": "mV", "bandpass_hz": [0.5, 40.0],
            "normalization": {"kind": "zscore_per_window", "std_floor_mv": 0.01}, "dtype": "float32"}


def _need(mapping: dict, key: str, where: str) -> Any:
    if not isinstance(mapping, dict) or key not in mapping:
        raise BundleError(f"manifest.json is missing required field '{where}{key}'")
    return mapping[key]


def _check_preprocessing(pre: dict, fs: int) -> None:
    where = "preprocessing."
    if _need(pre, "fs", where) != fs:
        raise BundleError(f"preprocessing.fs={pre['fs']} disagrees with the model rate fs={fs}")
    low, high = _need(pre, "bandpass_hz", where)
    if not 0 < low < high < fs / 2:
        raise BundleError(f"preprocessing.bandpass_hz={[low, high]} is not a band inside (0, {fs / 2}) Hz")
    norm = _need(pre, "normalization", where)
    if _need(norm, "kind", where + "normalization.") not in NORMALIZATIONS:
        raise BundleError(f"preprocessing.normalization.kind={norm['kind']!r} unknown; "
                          f"known: {NORMALIZATIONS}")
    if not _need(norm, "std_floor_mv", where + "normalization.") > 0:
        raise BundleError(f"preprocessing.normalization.std_floor_mv={norm['std_floor_mv']} must be > 0")
    if _need(pre, "dtype", where) != "float32":
        raise BundleError(f"preprocessing.dtype={pre['dtype']!r}; the graphs take float32")
    _need(pre, "units", where)


def _check_graphs(graphs: dict, window: int) -> int:
    """Check names and shapes of both graphs; return the embedding width D."""
    for graph, outputs in GRAPHS.items():
        spec = _need(graphs, graph, "graphs.")
        for key in ("onnx", "program", "inputs", "outputs"):
            _need(spec, key, f"graphs.{graph}.")
        if list(spec["inputs"]) != [GRAPH_INPUTS[graph]]:
            raise BundleError(f"graphs.{graph}.inputs is {list(spec['inputs'])}, expected "
                              f"[{GRAPH_INPUTS[graph]!r}]")
        if list(spec["outputs"]) != list(outputs):
            raise BundleError(f"graphs.{graph}.outputs is {list(spec['outputs'])}, expected {list(outputs)}")
        for name, shape in {**spec["inputs"], **spec["outputs"]}.items():
            if not shape or shape[0] != "batch" or not all(isinstance(d, int) and d > 0 for d in shape[1:]):
                raise BundleError(f"graphs.{graph} tensor {name!r} has shape {shape}; expected "
                                  "['batch', positive sizes...]")
    if graphs["scattering"]["inputs"]["window"] != ["batch", window]:
        raise BundleError(f"graphs.scattering input 'window' is {graphs['scattering']['inputs']['window']}, "
                          f"expected ['batch', {window}]")
    features = graphs["scattering"]["outputs"]["features"]
    if graphs["encoder"]["inputs"]["features"] != features:
        raise BundleError(f"graphs.encoder input 'features' {graphs['encoder']['inputs']['features']} does "
                          f"not match the scattering output {features}")
    out = graphs["encoder"]["outputs"]
    if (out["probs"] != ["batch", len(CLASSES)] or out["trajectory"] != ["batch", 2]
            or len(out["embedding"]) != 2):
        raise BundleError(f"graphs.encoder outputs {out}: expected probs ['batch', 4], embedding "
                          "['batch', D], trajectory ['batch', 2]")
    return out["embedding"][1]


RHYTHM_FIELDS = ("onnx", "inputs", "outputs", "features", "context_s", "guard_s")
EPISODE_FIELDS = ("rhythm", "on", "off", "k_on", "k_off", "smooth", "chosen_by", "cv")


def _check_rhythm(rhythm: dict, dim: int) -> None:
    """The optional rhythm head: embedding (B, D) + rhythm features (B, R) -> rhythm_probs (B, 4)."""
    for key in RHYTHM_FIELDS:
        _need(rhythm, key, "rhythm.")
    r = len(rhythm["features"])
    want_in = {"embedding": ["batch", dim], "rhythm": ["batch", r]}
    if rhythm["inputs"] != want_in:
        raise BundleError(f"rhythm.inputs is {rhythm['inputs']}, expected {want_in} (the encoder's embedding "
                          f"and one value per rhythm.features name)")
    if rhythm["outputs"] != {"rhythm_probs": ["batch", len(CLASSES)]}:
        raise BundleError(f"rhythm.outputs is {rhythm['outputs']}, expected {{'rhythm_probs': ['batch', 4]}}")
    if not rhythm["context_s"] > 0 or not rhythm["guard_s"] >= 0:
        raise BundleError(f"rhythm.context_s={rhythm['context_s']} must be > 0 and rhythm.guard_s="
                          f"{rhythm['guard_s']} >= 0")


def _check_features_block(block: Mapping[str, Any], name: str, fields: tuple[str, ...],
                          input_name: str) -> None:
    """A small CPU graph's block: every field present, one input value per named feature."""
    for key in fields:
        if key not in block:
            raise BundleError(f"manifest {name} lacks field {key!r}")
    f = len(block["features"])
    if block["inputs"] != {input_name: ["batch", f]}:
        raise BundleError(f"{name}.inputs is {block['inputs']}, expected {{'{input_name}': ['batch', {f}]}} "
                          f"(one value per {name}.features name)")


RR_ONNX = "rr_rhythm.onnx"
RR_CLASSES = ("N", "A", "O")
RR_FIELDS = ("onnx", "inputs", "outputs", "features", "n_intervals", "classes", "episodes")
RR_EPISODE_FIELDS = ("on", "off", "smooth", "k_on", "k_off")


def check_rr_block(block: Mapping[str, Any]) -> None:
    """Raise BundleError naming the first missing or inconsistent field of a manifest's "rr_model"."""
    _check_features_block(block, "rr_model", RR_FIELDS, "rr_features")
    if list(block["classes"]) != list(RR_CLASSES):
        raise BundleError(f"rr_model.classes is {block['classes']}, expected {list(RR_CLASSES)}")
    if block["outputs"] != {"rr_probs": ["batch", len(RR_CLASSES)]}:
        raise BundleError(f"rr_model.outputs is {block['outputs']}, expected {{'rr_probs': ['batch', 3]}}")
    ep = block["episodes"]
    for key in RR_EPISODE_FIELDS:
        if key not in ep:
            raise BundleError(f"manifest rr_model.episodes lacks field {key!r}")
    if not 0 <= ep["off"] <= ep["on"] <= 1:
        raise BundleError(f"rr_model.episodes on={ep['on']} / off={ep['off']}: need 0 <= off <= on <= 1")
    for key in ("smooth", "k_on", "k_off"):
        if not (isinstance(ep[key], int) and ep[key] >= 1):
            raise BundleError(f"rr_model.episodes.{key}={ep[key]!r} must be an integer >= 1")


RECORD_ONNX = "record_head.onnx"
RECORD_FIELDS = ("onnx", "inputs", "outputs", "features", "classes")


def check_record_block(block: Mapping[str, Any]) -> None:
    """Raise BundleError naming the first missing or inconsistent field of a manifest's "record_head".

    Whether this build computes the named features is checked where they are computed (core/record_head.py).
    """
    _check_features_block(block, "record_head", RECORD_FIELDS, "record_features")
    codes = [c for c, _ in CLASSES]
    if list(block["classes"]) != codes:
        raise BundleError(f"record_head.classes is {block['classes']}, expected {codes}")
    if block["outputs"] != {"record_probs": ["batch", len(codes)]}:
        raise BundleError(f"record_head.outputs is {block['outputs']}, expected "
                          f"{{'record_probs': ['batch', {len(codes)}]}}")


ALARM_FIELDS = ("inputs", "mean", "std", "coef", "bias")


def check_alarm_block(block: Mapping[str, Any], has_rr_model: bool = True) -> None:
    """Raise BundleError naming the first missing or inconsistent field of a manifest's "alarm".

    Which input names the code computes is checked where they are computed (core/alarm.py).
    """
    for key in ALARM_FIELDS:
        if key not in block:
            raise BundleError(f"manifest alarm lacks field {key!r}")
    if not has_rr_model:
        raise BundleError("manifest alarm fuses the RR model's output, but the manifest has no rr_model")
    n = len(block["inputs"])
    for key in ("mean", "std", "coef"):
        if len(block[key]) != n:
            raise BundleError(f"alarm.{key} has {len(block[key])} values for {n} alarm.inputs")
    values = [*block["mean"], *block["std"], *block["coef"], block["bias"]]
    if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in values):
        raise BundleError("alarm.mean/std/coef/bias must be finite numbers")
    if not all(v > 0 for v in block["std"]):
        raise BundleError("alarm.std must be > 0 for every input")
    if "paced" in block:  # the fit for beds marked paced (core/alarm.py)
        try:
            check_alarm_block(block["paced"], has_rr_model)
        except BundleError as err:
            raise BundleError(f"alarm.paced: {err}") from None


def _check_episodes(episodes: dict) -> None:
    unknown = sorted(set(episodes) - set(EPISODE_FIELDS))
    if unknown:
        raise BundleError(f"episodes has unknown field(s) {unknown}; known: {list(EPISODE_FIELDS)}")
    for key in ("on", "off", "k_on", "k_off"):
        _need(episodes, key, "episodes.")
    if not 0 <= episodes["off"] <= episodes["on"] <= 1:
        raise BundleError(f"episodes.on={episodes['on']} / episodes.off={episodes['off']}: "
                          "need 0 <= off <= on <= 1")
    for key in ("k_on", "k_off", "smooth"):
        if key in episodes and not (isinstance(episodes[key], int) and episodes[key] >= 1):
            raise BundleError(f"episodes.{key}={episodes[key]!r} must be an integer >= 1")


def _check_files(manifest: dict, root: Path, check_hashes: bool) -> None:
    files = manifest["files"]
    needed = [manifest["graphs"][g][k] for g in GRAPHS for k in ("onnx", "program")]
    for block in ("rhythm", "rr_model", "record_head"):
        if block in manifest:
            needed.append(manifest[block]["onnx"])
    needed.append(_need(manifest["reference_cloud"], "file", "reference_cloud."))
    if "demo_windows" in manifest:
        needed.append(_need(manifest["demo_windows"], "file", "demo_windows."))
    for name in needed:
        if name not in files:
            raise BundleError(f"manifest.json files has no SHA-256 for {name!r}")
    for name, expected in files.items():
        path = root / name
        if not path.is_file():
            raise BundleError(f"{name}: listed in manifest.json but missing from {root}")
        if check_hashes and (got := file_sha256(path)) != expected:
            raise BundleError(f"{name}: SHA-256 mismatch (expected {expected[:12]}..., got {got[:12]}...); "
                              "the file changed after the bundle was written - re-export or restore it")


def validate_manifest(manifest: dict, root: Path, *, check_hashes: bool = True) -> None:
    """Raise BundleError naming the first missing or inconsistent field, or the first changed file."""
    for key in REQUIRED:
        _need(manifest, key, "")
    if manifest["format_version"] != FORMAT_VERSION:
        raise BundleError(f"format_version {manifest['format_version']!r} is not supported "
                          f"(this build reads {FORMAT_VERSION}); re-export the bundle")
    fs, window, hop = manifest["fs"], manifest["window"], manifest["hop"]
    if not (isinstance(window, int) and isinstance(hop, int) and 0 < hop <= window):
        raise BundleError(f"window={window!r}, hop={hop!r}: need integers with 0 < hop <= window")
    codes = [c.get("code") for c in manifest["classes"]]
    if codes != [c for c, _ in CLASSES]:
        raise BundleError(f"classes {codes} differ from the contract {[c for c, _ in CLASSES]} (probs order)")
    _check_preprocessing(manifest["preprocessing"], fs)
    scat = manifest["scattering"]
    for key in ("fs", "window", "J", "Q", "T", "max_order"):
        _need(scat, key, "scattering.")
    if scat["fs"] != fs or scat["window"] != window:
        raise BundleError(f"scattering fs/window {scat['fs']}/{scat['window']} disagree with {fs}/{window}")
    if len(scat["Q"]) != 2:
        raise BundleError(f"scattering.Q={scat['Q']} must be [q1, q2]")
    dim = _check_graphs(manifest["graphs"], window)
    proj = manifest["projection"]
    shape = [len(_need(proj, "matrix", "projection.")), len(proj["matrix"][0]) if proj["matrix"] else 0]
    if shape != [dim, 2] or len(_need(proj, "offset", "projection.")) != 2:
        raise BundleError(f"projection.matrix is {shape} and offset has {len(proj['offset'])} values; "
                          f"expected [{dim}, 2] and 2")
    if "rhythm" in manifest:
        _check_rhythm(manifest["rhythm"], dim)
    if "episodes" in manifest:
        _check_episodes(manifest["episodes"])
    if "rr_model" in manifest:
        check_rr_block(manifest["rr_model"])
    if "alarm" in manifest:
        check_alarm_block(manifest["alarm"], "rr_model" in manifest)
    if "record_head" in manifest:
        check_record_block(manifest["record_head"])
    _check_files(manifest, root, check_hashes)
