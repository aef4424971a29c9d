"""Triton backend: the scattering+encoder pair served by a Triton Inference Server (tritonclient).

The server holds the repository `dacl-train export-triton` writes; its ensemble takes raw normalised
windows and returns probs, embedding and trajectory. The client speaks gRPC, or HTTP when the URL says
``http://`` or the gRPC client is not installed. At open it checks that the server is live, that the
model is ready, and that the contract the server's model carries (config parameter ``dacl_contract``)
equals the bundle's: another window, band or set of weights is refused with the field named. Every later
failure (server gone, model unloaded, timeout) raises TritonError naming the server, so the scheduler
faults the streams of that batch and goes on; the next batch tries the server again.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import numpy as np

from engines.base import Engine, EngineUnavailable
from engines.bundle import Bundle

log = logging.getLogger(__name__)

DEFAULT_MODEL = "dacl"
OUTPUTS = ("probs", "embedding", "trajectory")
# the manifest blocks a served model must share with the bundle the monitor loaded (see engines.contract)
CONTRACT_FIELDS = ("fs", "window", "hop", "classes", "preprocessing", "episodes")


class TritonError(RuntimeError):
    """The server failed a request or holds another model; the message names the server and the problem."""


def unavailable_reason() -> str | None:
    """Why the Triton client cannot run here, or None when it can."""
    try:
        import tritonclient.http  # noqa: F401 - the fallback protocol must be there
    except ImportError as err:
        return f"tritonclient is not installed ({err}); pip install 'tritonclient[grpc,http]'"
    return None


def _client(url: str, protocol: str, timeout_s: float):
    """(module, client) for 'grpc', 'http' or 'auto' (gRPC unless the URL says http://)."""
    address = url.removeprefix("grpc://").removeprefix("http://")
    if protocol == "auto":
        protocol = "http" if url.startswith("http://") else "grpc"
        if protocol == "grpc":
            try:
                import tritonclient.grpc  # noqa: F401
            except ImportError:
                log.warning("tritonclient has no gRPC support here; using HTTP for %s", url)
                protocol = "http"
    if protocol == "grpc":
        import tritonclient.grpc as module

        return module, module.InferenceServerClient(address)
    if protocol == "http":
        import tritonclient.http as module

        return module, module.InferenceServerClient(address, connection_timeout=timeout_s,
                                                    network_timeout=timeout_s)
    raise ValueError(f"triton protocol must be auto, grpc or http, got {protocol!r}")


def contract_record(bundle: Bundle) -> dict[str, Any]:
    """What a client checks against its own bundle: the manifest's contract blocks and the graphs' hashes."""
    m = bundle.manifest
    record = {k: m.get(k) for k in CONTRACT_FIELDS}
    record["graphs"] = {g: {"inputs": s["inputs"], "outputs": s["outputs"],
                            "sha256": bundle.sha256(s["onnx"])} for g, s in bundle.graphs.items()}
    return json.loads(json.dumps(record))  # plain JSON types, as the server's copy will be


def contract_differences(server: dict[str, Any], local: dict[str, Any], prefix: str = "") -> list[str]:
    """Fields where the server's contract record differs from the bundle's, as 'field: server vs bundle'."""
    out = []
    for key in sorted(set(server) | set(local)):
        a, b = server.get(key), local.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += contract_differences(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}: server {a!r} vs bundle {b!r}")
    return out


class TritonEngine(Engine):
    """The "pair" graph as a request to a Triton ensemble; see the module docstring."""

    name = "triton"

    def __init__(self, bundle: Bundle, url: str | None = None, model: str = DEFAULT_MODEL,
                 protocol: str = "auto", timeout_s: float = 10.0) -> None:
        if not url:
            raise EngineUnavailable("the triton engine needs the server's address (--triton-url HOST:PORT)")
        reason = unavailable_reason()
        if reason:
            raise EngineUnavailable(reason)
        super().__init__(bundle, "pair")
        self.url, self.model, self.timeout_s = url, model, timeout_s
        self.where = f"triton server {url} model {model!r}"
        self._module, self.client = _client(url, protocol, timeout_s)
        self.protocol = self._module.__name__.rsplit(".", 1)[-1]
        self._reconnect = False
        self.device = f"triton {self.protocol}://{url.split('://')[-1]}"
        try:
            live = self.client.is_server_live()
        except Exception as err:  # noqa: BLE001 - refused, unreachable, DNS: all say the same to the user
            raise EngineUnavailable(f"triton server {url}: cannot connect ({_message(err)})") from err
        if not live:
            raise EngineUnavailable(f"triton server {url}: the server is not live")
        if not self.client.is_model_ready(model):
            raise EngineUnavailable(f"{self.where}: the model is not ready on the server "
                                    f"(served: {', '.join(self._ready_models()) or 'none'})")
        config = self._config()
        self.check_contract(config)
        self.max_batch = int(config.get("max_batch_size") or 1)
        self.spec.outputs = {k: v for k, v in self.spec.outputs.items() if k in OUTPUTS}

    def _ready_models(self) -> list[str]:
        index = self.client.get_model_repository_index()
        if self.protocol == "grpc":  # a protobuf reply; HTTP gives a list of dicts
            return [r.name for r in index.models if r.state == "READY"]
        return [r["name"] for r in index if r.get("state") == "READY"]

    def _config(self) -> dict[str, Any]:
        if self.protocol == "grpc":
            from google.protobuf import json_format

            reply = self.client.get_model_config(self.model)
            return json_format.MessageToDict(reply.config, preserving_proto_field_name=True)
        return self.client.get_model_config(self.model)

    def check_contract(self, config: dict[str, Any]) -> None:
        """Refuse a served model whose contract differs from the bundle's (TritonError names the fields)."""
        text = (config.get("parameters", {}).get("dacl_contract") or {}).get("string_value")
        if not text:
            raise TritonError(f"{self.where} carries no dacl_contract parameter: it was not exported from a "
                              "bundle (dacl-train export-triton), so its contract cannot be checked")
        diff = contract_differences(json.loads(text), contract_record(self.bundle))
        if diff:
            raise TritonError(f"{self.where} serves another model than bundle {self.bundle.path}: "
                              + "; ".join(diff[:6]) + (f" (+{len(diff) - 6} more)" if len(diff) > 6 else ""))

    def _run(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        module = self._module
        if self._reconnect:  # a fresh channel: gRPC's own reconnection backs off for up to two minutes
            self.client.close()
            _, self.client = _client(self.url, self.protocol, self.timeout_s)
            self._reconnect = False
        tensor = module.InferInput(self.spec.input_name, list(batch.shape), "FP32")
        tensor.set_data_from_numpy(batch)
        wanted = [module.InferRequestedOutput(name) for name in OUTPUTS]
        try:
            timeout = {"client_timeout": self.timeout_s} if self.protocol == "grpc" else {}
            result = self.client.infer(self.model, [tensor], outputs=wanted, **timeout)
        except Exception as err:  # noqa: BLE001 - every client failure becomes one clear error
            self._reconnect = True
            raise TritonError(f"{self.where}: {_message(err)}") from err
        return {name: result.as_numpy(name) for name in OUTPUTS}

    def info(self) -> dict[str, Any]:
        """Engine info plus the server, model and protocol."""
        return {**super().info(), "url": self.url, "model": self.model, "protocol": self.protocol}

    def close(self) -> None:
        """Close the client's connection."""
        self.client.close()


def _message(err: BaseException) -> str:
    """The client's exception text without its status noise."""
    text = err.message() if hasattr(err, "message") and callable(err.message) else str(err)
    return (text or type(err).__name__).strip()
