"""A tree head, and the rule that a new tree head must extend the one seen before.

One place for the rule, used by the client's `loginfo` (heads from the Rekor API,
proofs from GET /api/v1/log/proof) and by `rekor-py monitor` (C2SP checkpoints,
proofs folded from tiles):

- a smaller tree is never an extension;
- the same size must have the same root;
- the empty tree is extended by every tree, if its root is the empty root;
- otherwise an RFC 6962 consistency proof from the old size to the new must verify.

A failure is evidence of a split view (two signed, inconsistent heads) or of an
altered memory; `split_view_report` words it the same way for both commands.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from rekor_py import merkle

__all__ = ["Head", "NotExtending", "TreeHead", "check_growth", "check_consistency",
           "split_view_report"]


@dataclass(frozen=True, slots=True)
class TreeHead:
    """A tree's size and root and the checkpoint signed for them: committed by the
    sequencer, or verified by the client."""

    tree_id: int
    size: int
    root_hash: bytes
    checkpoint: str


class Head(Protocol):
    """What the rule reads of a head (a TreeHead or a parsed Checkpoint)."""

    @property
    def size(self) -> int: ...

    @property
    def root_hash(self) -> bytes: ...


class NotExtending(ValueError):
    """The new head does not extend the old one; the message says why."""


def check_growth(old: Head, new: Head) -> bool:
    """Whether `new` needs a consistency proof from `old` (it is larger than a
    non-empty `old`).  Raises NotExtending when no proof could help."""
    if new.size < old.size:
        raise NotExtending(f"the tree shrank from size {old.size} to {new.size}")
    if old.size == 0 and old.root_hash != merkle.EMPTY_ROOT:
        raise NotExtending(f"the remembered head of size 0 has root {old.root_hash.hex()}, "
                           f"not the empty root")
    if new.size == old.size:
        if new.root_hash != old.root_hash:
            raise NotExtending(f"two different roots for tree size {new.size} (a fork)")
        return False
    return old.size > 0


def check_consistency(old: Head, new: Head, proof: Sequence[bytes]) -> None:
    """The consistency proof from `old` to `new` verifies; raises NotExtending."""
    try:
        merkle.verify_consistency(old.size, new.size, proof, old.root_hash, new.root_hash)
    except ValueError as e:  # ProofError included
        raise NotExtending(f"no valid consistency proof from {old.size} to {new.size}: "
                           f"{e}") from e


def split_view_report(reason: str, old: Head | None, old_note: str | None, new: Head,
                      new_note: str, *, old_genuine: bool | None = None,
                      remembered_in: str | None = None) -> str:
    """The evidence for a user to report: both heads and both signed notes.

    `old_genuine`: whether the remembered note still verifies and says what the
    remembered fields say (None: not examined)."""
    where = f" ({remembered_in})" if remembered_in else ""
    lines = [f"INCONSISTENT LOG: {reason}",
             "The log's current tree head is NOT consistent with the last verified one."]
    if old is not None:
        lines.append(f"Last verified{where}: size {old.size} root {old.root_hash.hex()}")
    lines.append(f"Current: size {new.size} root {new.root_hash.hex()}")
    if old_genuine is True:
        lines.append("Both heads carry the log's valid signature: this is evidence of a "
                     "split view or a forked log.")
    elif old_genuine is False:
        lines.append("The remembered head's signed note does not match its fields: the "
                     "state file may have been altered.")
    old_text = old_note or "(none: nothing was verified before)\n"
    return ("\n".join(lines) + "\n"
            f"--- last verified checkpoint ---\n{old_text}"
            f"--- new checkpoint ---\n{new_note}")
