"""What fsck found: the first discrepancy, or a summary of every tree it checked.

This module owns the result types and their JSON form; deciding what is wrong
is fsck.py's and tiles.py's business, printing it is the command's.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Discrepancy", "DiscrepancyFound", "FsckReport", "TreeSummary"]


@dataclass(frozen=True)
class Discrepancy:
    """One way the stored log disagrees with itself.

    `check` is a stable, machine-readable name (e.g. "leaf_hash", "tile",
    "missing_tile", "extra_tile", "index_gap", "tree_root", "checkpoint_signature");
    `where` names the place ("entry 17", "tile 0/3", "trees row"); `message` is the
    whole story for a human; `expected` is what the recomputation says, `found`
    what the database holds (hex for hashes), either None when not applicable.
    """

    check: str
    tree_id: int | None
    where: str
    message: str
    expected: str | None = None
    found: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class DiscrepancyFound(Exception):
    """Raised inside the check at the first discrepancy; fsck() turns it into the report."""

    def __init__(self, discrepancy: Discrepancy) -> None:
        super().__init__(discrepancy.message)
        self.discrepancy = discrepancy


@dataclass
class TreeSummary:
    """One tree as checked (counts cover what was checked before a discrepancy, if any)."""

    tree_id: int
    origin: str
    state: str
    size: int
    root_hash: str = ""
    entries_checked: int = 0
    tiles_checked: int = 0
    checkpoint_verified: bool = False
    # Stored signed entry timestamps verified (v1 trees, with the log key given).
    sets_verified: int = 0
    api_major: int = 1  # the Rekor API the tree serves

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FsckReport:
    """The outcome: `problem` is None when every check held."""

    trees: list[TreeSummary] = field(default_factory=list)
    problem: Discrepancy | None = None
    # The log key's ID (hex) when checkpoint signatures were checked, else None,
    # and a sentence on where the key came from or why there was none.
    log_id: str | None = None
    key_note: str = ""
    elapsed_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def entries_checked(self) -> int:
        return sum(t.entries_checked for t in self.trees)

    @property
    def tiles_checked(self) -> int:
        return sum(t.tiles_checked for t in self.trees)

    @property
    def entries_per_second(self) -> float:
        return self.entries_checked / self.elapsed_seconds if self.elapsed_seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "problem": self.problem.to_json() if self.problem is not None else None,
            "trees": [t.to_json() for t in self.trees],
            "entries_checked": self.entries_checked,
            "tiles_checked": self.tiles_checked,
            "signatures_checked": self.log_id is not None,
            "log_id": self.log_id,
            "key_note": self.key_note,
            "elapsed_seconds": round(self.elapsed_seconds, 3),
            "entries_per_second": round(self.entries_per_second, 1),
        }
