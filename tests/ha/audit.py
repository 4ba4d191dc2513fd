"""Counting what a failover broke: acknowledgements lost, checkpoints forked.

tests/integration/load.py's verify_log asserts; after a failover the tests also need
the numbers (how many acks, how many checkpoints were checked, how many were lost or
fork), and the control test needs a checker that *reports* a loss rather than stops
at it.  Both read the log's leaves from one database, as it stands.

`checkpoint_is_consistent` is the question a client holding a checkpoint asks of the
log it sees now: is my (size, root) a prefix of this tree?  A database that went back
in time (an asynchronous failover, a restored backup) answers no for every
checkpoint signed past its end or over leaves it has since replaced.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from rekor_py import merkle
from tests.integration.load import Ack, Ledger, stored_leaves

__all__ = ["Findings", "audit", "checkpoint_is_consistent"]


def checkpoint_is_consistent(size: int, root: bytes, leaves: Sequence[bytes]) -> bool:
    """Whether a checkpoint (size, root) is a prefix of the tree over `leaves`."""
    if size > len(leaves):
        return False
    return (merkle.root_hash(list(leaves[:size])) if size else merkle.EMPTY_ROOT) == root


@dataclass
class Findings:
    size: int
    acks: int
    checkpoints: int
    lost: list[Ack] = field(default_factory=list)  # an ack whose leaf is not at its index
    forks: list[tuple[int, bytes]] = field(default_factory=list)  # (size, root) not a prefix
    gaps: int = 0  # indexes below the size with no entry

    def line(self) -> str:
        return (f"size {self.size}, acknowledgements {self.acks}, checkpoints checked "
                f"{self.checkpoints}, lost {len(self.lost)}, forks {len(self.forks)}, "
                f"gaps {self.gaps}")


async def audit(database_url: str, ledger: Ledger) -> Findings:
    """Check every ack and every checkpoint in the ledger against the log as stored."""
    size, leaves = await stored_leaves(database_url)
    found = Findings(size, len(ledger.acks), len(ledger.checkpoints),
                     gaps=size - len(leaves))
    for ack in ledger.acks:
        if ack.log_index >= len(leaves) or leaves[ack.log_index] != ack.leaf_hash:
            found.lost.append(ack)
    # Roots of every checkpointed prefix in one pass over the leaves.
    edge, done = merkle.RightEdge.empty(), 0
    for checkpoint_size, root in sorted({(s, r) for s, r, _ in ledger.checkpoints}):
        if checkpoint_size > len(leaves):
            found.forks.append((checkpoint_size, root))
            continue
        if checkpoint_size > done:
            edge = merkle.append_leaves(edge, leaves[done:checkpoint_size]).edge
            done = checkpoint_size
        have = edge.root_hash() if checkpoint_size else merkle.EMPTY_ROOT
        if have != root:
            found.forks.append((checkpoint_size, root))
    return found
