"""The one loader of tests/vectors/merkle (transparency-dev/merkle testdata, see
SOURCE.md there): one pytest param per JSON file, named by its path."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

__all__ = ["VECTORS", "b64", "load", "proof"]

VECTORS = Path(__file__).parents[1] / "vectors" / "merkle"


def load(kind: str) -> list[Any]:
    """Every vector under VECTORS/<kind> (inclusion, consistency, subtreeinclusion,
    subtreeconsistency), as pytest params with the file's relative path as ID."""
    files = sorted((VECTORS / kind).rglob("*.json"))
    assert files, f"no {kind} vectors under {VECTORS}"
    return [pytest.param(json.loads(f.read_text()), id=f.relative_to(VECTORS).as_posix())
            for f in files]


def b64(value: str) -> bytes:
    return base64.b64decode(value, validate=True)


def proof(v: dict[str, Any]) -> list[bytes]:
    """The vector's proof hashes (`null` in the JSON means none)."""
    return [b64(p) for p in v["proof"] or []]
