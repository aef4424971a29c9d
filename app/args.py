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
