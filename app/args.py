"""Command-line helpers the monitor's three commands (GUI, --headless, analyze) share."""

from __future__ import annotations

import logging


def configure_logging(verbose: bool) -> None:
    """INFO with -v, WARNING otherwise, one format for every command."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def parse_lead(text: str | None) -> str | int | None:
    """A --lead value: an index when it is an integer ("0", "-1"), else a lead name ("MLII")."""
    return int(text) if text and text.lstrip("-").isdigit() else text


def add_engine_args(p, default: str = "auto") -> None:
    """--engine and the Triton server options, the same in every command that runs a model."""
    p.add_argument("--engine", default=default,
                   help=f"inference backend: auto (best local one), onnxruntime, torch, tensorrt, triton, "
                        f"or a registry name (default {default})")
    p.add_argument("--triton-url", metavar="HOST:PORT",
                   help="Triton server for --engine triton (gRPC; http://HOST:PORT for HTTP)")
    p.add_argument("--triton-model", default="dacl", help="model name on the Triton server (default dacl)")
    p.add_argument("--triton-timeout", type=float, default=10.0, metavar="S",
                   help="seconds before a Triton request fails (default 10)")


def engine_options(args) -> dict[str, dict]:
    """Backend options from add_engine_args' flags, in the form engines.registry.select_engine takes."""
    if args.engine != "triton" and args.triton_url:
        raise ValueError(f"--triton-url needs --engine triton (got --engine {args.engine})")
    if args.engine == "triton" and not args.triton_url:
        raise ValueError("--engine triton needs --triton-url HOST:PORT (the server's gRPC or http://HOST:PORT)")
    if args.engine != "triton":
        return {}
    return {"triton": {"url": args.triton_url, "model": args.triton_model, "timeout_s": args.triton_timeout}}
