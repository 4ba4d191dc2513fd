"""Placeholder: filled in by the auditors-and-clients work (issue 5)."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    """Adds no subcommands yet."""
    del subparsers


__all__ = ["register", "argparse"]
