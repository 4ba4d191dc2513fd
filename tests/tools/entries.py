"""Editing proposed entries for rejection tables: a copy with fields replaced or deleted."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

__all__ = ["DELETE", "with_changes"]

# A change to this value deletes the field instead of replacing it.
DELETE: Any = ...


def with_changes(entry: Mapping[str, Any], changes: Mapping[str, Any], *, sep: str = ".") -> dict[str, Any]:
    """A deep copy of `entry` with each `path -> value` applied (paths split on `sep`)."""
    edited: dict[str, Any] = copy.deepcopy(dict(entry))
    for path, value in changes.items():
        *parents, last = path.split(sep)
        target = edited
        for name in parents:
            target = target[name]
        if value is DELETE:
            del target[last]
        else:
            target[last] = value
    return edited
