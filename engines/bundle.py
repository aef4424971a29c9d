"""The model bundle: a folder with manifest.json, two ONNX graphs and their torch.export programs.

``write_bundle`` is called once at the end of training; ``load_bundle`` is called by every consumer and
refuses a bundle whose format, fields, preprocessing contract, tensor names/shapes or file hashes are off.
Layout::

    manifest.json  scattering.onnx  encoder.onnx  scattering.pt2  encoder.pt2
    reference_cloud.npz  [demo_windows.npy]  [plans/ (TensorRT plans, built on the machine, not hashed)]
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from engines.bundle_spec import (
    CLASSES,
    FORMAT_VERSION,
    GRAPHS,
    BundleError,
    default_preprocessing,
    file_sha256,
    validate_manifest,
)
from engines.export import ONNX_OPSET, export_graph, export_onnx_multi, max_ort_deviation, onnx_io

log = logging.getLogger(__name__)

__all__ = ["Bundle", "BundleError", "CLASSES", "FORMAT_VERSION", "load_bundle", "write_bundle"]

EXPORT_TOLERANCE = 1e-3  # ONNX Runtime vs PyTorch on the probe batch; beyond this the export is broken


class Bundle:
    """A loaded, validated bundle: paths to its graphs plus the manifest's contract as attributes."""

    def __init__(self, path: Path, manifest: dict[str, Any]) -> None:
        self.path = path
        self.manifest = manifest
        self.fs: int = manifest["fs"]
        self.window: int = manifest["window"]
        self.hop: int = manifest["hop"]
        self.class_codes: list[str] = [c["code"] for c in manifest["classes"]]
        self.class_names: list[str] = [c["name"] for c in manifest["classes"]]
        self.preprocessing: dict[str, Any] = manifest["preprocessing"]
        self.scattering: dict[str, Any] = manifest["scattering"]
        self.graphs: dict[str, dict[str, Any]] = manifest["graphs"]
        self.metrics: dict[str, Any] = manifest["metrics"]
        self.projection_matrix = np.asarray(manifest["projection"]["matrix"], dtype=np.float32)  # (D, 2)
        self.projection_offset = np.asarray(manifest["projection"]["offset"], dtype=np.float32)  # (2,)
        self.rhythm: dict[str, Any] | None = manifest.get("rhythm")  # the rhythm-context head, if any
        self.episodes: dict[str, Any] | None = manifest.get("episodes")  # episode detector settings, if any
        self.rr_model: dict[str, Any] | None = manifest.get("rr_model")  # the RR rhythm model, if any
        self.alarm: dict[str, Any] | None = manifest.get("alarm")  # the AF alarm's fusion (core/alarm.py)
        self.record_head: dict[str, Any] | None = manifest.get("record_head")  # whole-record classes

    def onnx_path(self, graph: str) -> Path:
        """Path of ``scattering.onnx`` or ``encoder.onnx``."""
        return self.path / self.graphs[graph]["onnx"]

    def program_path(self, graph: str) -> Path:
        """Path of the torch.export program ``scattering.pt2`` or ``encoder.pt2``."""
        return self.path / self.graphs[graph]["program"]

    def sha256(self, name: str) -> str:
        """Recorded SHA-256 of a bundle file (checked at load)."""
        return self.manifest["files"][name]

    @property
    def embedding_dim(self) -> int:
        """D, the embedding width."""
        return int(self.graphs["encoder"]["outputs"]["embedding"][1])

    @property
    def feature_shape(self) -> tuple[int, int]:
        """(2P, F), the ST feature shape of one window."""
        return tuple(self.graphs["scattering"]["outputs"]["features"][1:])

    def reference_cloud(self) -> dict[str, np.ndarray]:
        """Training-set trajectory points (N, 2) and their class codes (N,) for the latent plot."""
        with np.load(self.path / self.manifest["reference_cloud"]["file"], allow_pickle=False) as data:
            return {k: data[k] for k in data.files}

    def demo_windows(self) -> np.ndarray | None:
        """Normalised real windows (N, W) shipped for verification where no data folder exists."""
        name = self.manifest.get("demo_windows")
        return None if name is None else np.load(self.path / name["file"], allow_pickle=False)

    def __repr__(self) -> str:
        return f"Bundle({str(self.path)!r}, D={self.embedding_dim}, fs={self.fs}, W={self.window})"


def _tensor_spec(shape: Sequence[int]) -> list:
    return ["batch", *[int(s) for s in shape[1:]]]


def _default_scattering(module: nn.Module, fs: int) -> dict[str, Any]:
    """Scattering parameters read off a ScatteringTransformer-like module's attributes."""
    try:
        q = module.Q if isinstance(module.Q, (list, tuple)) else (module.Q, 1)
        window = getattr(module, "shape", None) or module.window
        window = window[0] if isinstance(window, (list, tuple)) else window
        return {"fs": fs, "window": int(window), "J": int(module.J), "Q": [int(q[0]), int(q[1])],
                "T": getattr(module, "T", None), "max_order": int(module.max_order)}
    except AttributeError as err:
        raise BundleError(f"pass scattering_params={{fs, window, J, Q, T, max_order}}: {err}") from None


def write_bundle(
    out_dir: str | Path,
    scattering: nn.Module,
    encoder: nn.Module,
    *,
    projection: Mapping[str, Any],
    reference_cloud: Mapping[str, np.ndarray],
    metrics: Mapping[str, Any],
    config: Mapping[str, Any],
    data_hash: str,
    scattering_params: Mapping[str, Any] | None = None,
    hop: int = 300,
    fs: int = 300,
    preprocessing: Mapping[str, Any] | None = None,
    demo_windows: np.ndarray | None = None,
    extra: Mapping[str, Any] | None = None,
    rhythm_head: nn.Module | None = None,
    rhythm_spec: Mapping[str, Any] | None = None,
    episodes: Mapping[str, Any] | None = None,
) -> Path:
    """Export both modules and write a complete, self-checking bundle into ``out_dir``; return its path.

    scattering: window (B, W) float32 -> (scattering (B, P, F), features (B, 2P, F)).
    encoder: features (B, 2P, F) -> (probs (B, 4; order N, A, O, ~), embedding (B, D), trajectory (B, 2)).
    projection: {"matrix": (D, 2), "offset": (2,)} with trajectory = embedding @ matrix + offset
        (plus any descriptive keys, e.g. "method": "pca").
    reference_cloud: {"points": (N, 2) float, "labels": (N,) class codes, ...} -> reference_cloud.npz.
    metrics: validation metrics (JSON-able); config: the training config (JSON-able);
    data_hash: hash identifying the training data/split.
    scattering_params: {"fs", "window", "J", "Q": [q1, q2], "T", "max_order"}; read off the scattering
        module's attributes (J, shape, Q, T, max_order) when omitted.
    preprocessing: the normalisation contract; defaults to the project's (band-pass 0.5-40 Hz, per-window
        z-score with a 0.01 mV std floor, float32).
    demo_windows: optional normalised real windows (N, W) stored for verification and benchmarks.
    extra: optional further JSON-able manifest fields (must not clash with the standard ones).
    rhythm_head: optional (embedding (B, D), rhythm (B, R)) -> rhythm_probs (B, 4), written as
        rhythm.onnx; rhythm_spec describes its rhythm input ({"features": [R names], "context_s",
        "guard_s", ...}). episodes: the episode detector's settings ({"on", "off", "k_on", ...}).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "manifest.json").unlink(missing_ok=True)  # a half-written bundle must never look valid
    scat = dict(scattering_params) if scattering_params is not None else _default_scattering(scattering, fs)
    window = int(scat["window"])
    if demo_windows is not None:
        demo_windows = np.ascontiguousarray(demo_windows, dtype=np.float32)
        if demo_windows.ndim != 2 or demo_windows.shape[1] != window or len(demo_windows) < 2:
            raise BundleError(f"demo_windows must have shape (N>=2, {window}), got {demo_windows.shape}")
        probe = demo_windows[:4]
    else:
        probe = torch.randn(4, window, generator=torch.Generator().manual_seed(0)).numpy()

    graphs: dict[str, Any] = {}
    s_shapes = export_graph(scattering, torch.from_numpy(probe), out / "scattering.onnx",
                            out / "scattering.pt2", "window", GRAPHS["scattering"])
    with torch.no_grad():
        features = scattering.eval()(torch.from_numpy(probe))[1].contiguous()
    e_shapes = export_graph(encoder, features, out / "encoder.onnx", out / "encoder.pt2", "features",
                            GRAPHS["encoder"])
    deviation = max(max_ort_deviation(out / "scattering.onnx", scattering, probe, "window"),
                    max_ort_deviation(out / "encoder.onnx", encoder, features.numpy(), "features"))
    if deviation > EXPORT_TOLERANCE:
        raise BundleError(f"exported graphs deviate from PyTorch by {deviation:.3g} (> {EXPORT_TOLERANCE})")
    for name, inp, shapes in (("scattering", "window", s_shapes), ("encoder", "features", e_shapes)):
        in_shape = [len(probe), window] if name == "scattering" else list(features.shape)
        graphs[name] = {"onnx": f"{name}.onnx", "program": f"{name}.pt2",
                        "inputs": {inp: _tensor_spec(in_shape)},
                        "outputs": {k: _tensor_spec(v) for k, v in shapes.items()}}

    written_rhythm = []
    if rhythm_head is not None:
        if rhythm_spec is None or "features" not in rhythm_spec:
            raise BundleError("a rhythm_head needs rhythm_spec with its 'features' names")
        with torch.no_grad():
            emb = encoder.eval()(features)[1].contiguous()
        feats = torch.randn(len(emb), len(rhythm_spec["features"]),
                            generator=torch.Generator().manual_seed(1))
        r_shapes = export_onnx_multi(rhythm_head, {"embedding": emb, "rhythm": feats}, out / "rhythm.onnx",
                                     ("rhythm_probs",))
        r_dev = max_ort_deviation(out / "rhythm.onnx", rhythm_head,
                                  {"embedding": emb.numpy(), "rhythm": feats.numpy()})
        if r_dev > EXPORT_TOLERANCE:
            raise BundleError(f"exported rhythm graph deviates from PyTorch by {r_dev:.3g}")
        deviation = max(deviation, r_dev)
        rhythm_block = {**dict(rhythm_spec), "onnx": "rhythm.onnx",
                        "inputs": {"embedding": _tensor_spec(emb.shape), "rhythm": _tensor_spec(feats.shape)},
                        "outputs": {k: _tensor_spec(v) for k, v in r_shapes.items()}}
        written_rhythm = ["rhythm.onnx"]
    else:
        (out / "rhythm.onnx").unlink(missing_ok=True)

    cloud = {k: np.asarray(v) for k, v in reference_cloud.items()}
    np.savez(out / "reference_cloud.npz", **cloud)
    manifest: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "created_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "fs": fs, "window": window, "hop": int(hop),
        "classes": [{"code": c, "name": n} for c, n in CLASSES],
        "preprocessing": dict(preprocessing) if preprocessing is not None else default_preprocessing(fs),
        "scattering": scat,
        "graphs": graphs,
        "projection": {k: np.asarray(v).tolist() if k in ("matrix", "offset") else v
                       for k, v in projection.items()},
        "reference_cloud": {"file": "reference_cloud.npz", "points": int(len(cloud.get("points", [])))},
        "metrics": dict(metrics), "config": dict(config), "data_hash": str(data_hash),
        "export": {"torch": torch.__version__, "onnx_opset": ONNX_OPSET, "max_ort_deviation": deviation},
    }
    if rhythm_head is not None:
        manifest["rhythm"] = rhythm_block
    if episodes is not None:
        manifest["episodes"] = dict(episodes)
    written = ["scattering.onnx", "scattering.pt2", "encoder.onnx", "encoder.pt2", "reference_cloud.npz",
               *written_rhythm]
    (out / "demo_windows.npy").unlink(missing_ok=True)  # never leave a stale one from an earlier bundle
    if demo_windows is not None:
        np.save(out / "demo_windows.npy", demo_windows)
        manifest["demo_windows"] = {"file": "demo_windows.npy", "count": int(len(demo_windows))}
        written.append("demo_windows.npy")
    for key, value in (extra or {}).items():
        if key in manifest:
            raise BundleError(f"extra field {key!r} clashes with a standard manifest field")
        manifest[key] = value
    manifest["files"] = {n: file_sha256(out / n) for n in sorted(written)}
    validate_manifest(manifest, out)  # refuse to write what load_bundle would refuse
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, default=_jsonable) + "\n")
    log.info("wrote bundle %s (%d files, export deviation %.2g)", out, len(written), deviation)
    return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"manifest value {value!r} of type {type(value).__name__} is not JSON-serialisable")


def load_bundle(path: str | Path, *, check_hashes: bool = True) -> Bundle:
    """Load and validate a bundle folder (or its manifest.json); raise BundleError naming what is wrong."""
    root = Path(path)
    root = root.parent if root.name == "manifest.json" else root
    manifest_path = root / "manifest.json"
    if not manifest_path.is_file():
        raise BundleError(f"{root}: no manifest.json - not a model bundle (write one with write_bundle)")
    try:
        manifest = json.loads(manifest_path.read_text())
    except json.JSONDecodeError as err:
        raise BundleError(f"{manifest_path}: not valid JSON ({err})") from None
    validate_manifest(manifest, root, check_hashes=check_hashes)
    specs = {g: manifest["graphs"][g] for g in ("scattering", "encoder")}
    for block in ("rhythm", "rr_model", "record_head"):
        if block in manifest:
            specs[block] = manifest[block]
    for graph, spec in specs.items():
        inputs, outputs = onnx_io(root / spec["onnx"])
        for kind, got, want in (("input", inputs, spec["inputs"]), ("output", outputs, spec["outputs"])):
            if list(got) != list(want):
                raise BundleError(f"{graph}.onnx {kind}s are {list(got)}, manifest says {list(want)}")
            for name, shape in want.items():
                if [d if isinstance(d, int) else "batch" for d in got[name]] != shape:
                    raise BundleError(f"{graph}.onnx {kind} {name!r} has shape {got[name]}, "
                                      f"manifest says {shape}")
    return Bundle(root, manifest)
