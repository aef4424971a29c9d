"""Cache of serialised TensorRT plans beside the bundle, keyed by everything a plan depends on.

A plan only runs on the TensorRT version and GPU that built it, for the ONNX graph, precision and batch
profile it was built with. Each graph/precision has one slot ``plans/<graph>-<precision>.trtplan`` with
a ``.json`` key beside it; a slot whose key differs, whose file is corrupt, or which fails to deserialise is
rebuilt and the reason logged. Nothing here imports tensorrt, so it is testable anywhere.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class PlanKey:
    """What a TensorRT plan depends on; two plans are interchangeable iff their keys are equal."""

    onnx_sha256: str
    tensorrt_version: str
    gpu_name: str
    compute_capability: str  # "9.0"
    precision: str  # "fp16" | "fp32"
    profile: tuple[int, int, int]  # batch (min, opt, max)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (profile as a list)."""
        return {**dataclasses.asdict(self), "profile": list(self.profile)}

    def digest(self) -> str:
        """SHA-256 of the canonical JSON form: one string that changes with every field."""
        return hashlib.sha256(json.dumps(self.as_dict(), sort_keys=True).encode()).hexdigest()

    def differences(self, recorded: dict[str, Any]) -> list[str]:
        """Fields where ``recorded`` (a stored key) differs from this key, as 'field: old -> new'."""
        mine = self.as_dict()
        return [f"{k}: {recorded.get(k)!r} -> {v!r}" for k, v in mine.items() if recorded.get(k) != v]


def default_cache_dir(bundle_dir: Path) -> Path:
    """``<bundle>/plans`` when the bundle folder is writable, else a per-user cache folder for it."""
    bundle_dir = Path(bundle_dir)
    if os.access(bundle_dir, os.W_OK):
        return bundle_dir / "plans"
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    tag = hashlib.sha256(str(bundle_dir.resolve()).encode()).hexdigest()[:16]
    return base / "dacl-monitor" / "plans" / tag


class PlanCache:
    """One folder of plans; ``load_or_build`` is the only entry point backends need."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def slot(self, graph: str, precision: str) -> tuple[Path, Path]:
        """(plan file, key file) for a graph and precision."""
        stem = self.directory / f"{graph}-{precision}"
        return stem.with_suffix(".trtplan"), stem.with_suffix(".json")

    def lookup(self, graph: str, key: PlanKey) -> tuple[bytes | None, str]:
        """The cached plan for ``key`` and "cached", or None and why it cannot be used."""
        plan_path, key_path = self.slot(graph, key.precision)
        if not plan_path.is_file() or not key_path.is_file():
            return None, "no cached plan"
        try:
            recorded = json.loads(key_path.read_text())
        except (OSError, json.JSONDecodeError) as err:
            return None, f"unreadable key file {key_path.name} ({err})"
        diffs = key.differences(recorded.get("key", {}))
        if diffs:
            return None, "key mismatch (" + "; ".join(diffs) + ")"
        plan = plan_path.read_bytes()
        if hashlib.sha256(plan).hexdigest() != recorded.get("plan_sha256"):
            return None, f"{plan_path.name} is corrupt (SHA-256 differs from the one recorded)"
        return plan, "cached"

    def store(self, graph: str, key: PlanKey, plan: bytes) -> Path:
        """Write the plan, then its key (so a crash between the two leaves no valid-looking slot)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        plan_path, key_path = self.slot(graph, key.precision)
        key_path.unlink(missing_ok=True)
        tmp = plan_path.with_suffix(".trtplan.tmp")
        tmp.write_bytes(plan)
        tmp.replace(plan_path)
        record = {"key": key.as_dict(), "digest": key.digest(),
                  "plan_sha256": hashlib.sha256(plan).hexdigest()}
        key_path.write_text(json.dumps(record, indent=1) + "\n")
        return plan_path

    def load_or_build(self, graph: str, key: PlanKey, build: Callable[[], bytes],
                      deserialize: Callable[[bytes], T]) -> tuple[T, str]:
        """Deserialize the cached plan or build, store and deserialize a new one; return it and the status.

        ``deserialize`` must raise (any exception) when a plan cannot be loaded; that plan is rebuilt.
        """
        plan, why = self.lookup(graph, key)
        if plan is not None:
            try:
                return deserialize(plan), "cached"
            except Exception as err:  # noqa: BLE001 - any load failure means: rebuild
                why = f"cached plan failed to load ({err})"
        level = logging.INFO if why == "no cached plan" else logging.WARNING
        log.log(level, "TensorRT %s plan (%s): %s - building a new one", graph, key.precision, why)
        plan = build()
        path = self.store(graph, key, plan)
        log.info("stored TensorRT plan %s (%d bytes)", path, len(plan))
        return deserialize(plan), f"built: {why}"
