"""Rekor v1 shards: the trees of one log, its virtual index, and their keys.

A Rekor log rotates: the active tree is frozen (its last signed checkpoint
stays its final one) and a new tree takes the new entries, possibly signed by a
new key.  Clients still see one log.  An entry's `logIndex` is its *virtual*
index, its tree's `virtual_offset` (the final sizes of the trees before it
summed) plus its leaf index, while `inclusionProof.logIndex` stays the leaf
index inside its tree, whose checkpoint the proof is against.  Entry UUIDs
carry the tree ID (log/entries.py), so a lookup by UUID goes straight to its
tree.  docs/rekor-compat.md#sharding has the wire details.

This module holds the pure parts: `Shards`, one snapshot of a log's trees; and
`LogKeyring`, the keys this server may sign a tree's SETs and checkpoints with,
found by the tree's recorded key ID.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rekor_py.errors import StorageError
from rekor_py.log.checkpoint import Checkpoint, format_checkpoint, origin_for
from rekor_py.log.signer import KeyFileError, LogSigner
from rekor_py.storage.log_store import TreeRow

__all__ = ["LogKeyring", "Shards", "v1_head_signer"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Shards:
    """The trees of one log API, frozen ones first in virtual-index order, then the
    active one (read in one query, log_store.list_trees)."""

    trees: tuple[TreeRow, ...]

    @classmethod
    def of(cls, trees: Sequence[TreeRow]) -> Shards:
        if not trees or trees[-1].state != "active":
            raise StorageError("the log has no active tree")
        return cls(tuple(trees))

    @property
    def active(self) -> TreeRow:
        return self.trees[-1]

    @property
    def inactive(self) -> tuple[TreeRow, ...]:
        return self.trees[:-1]

    @property
    def total_size(self) -> int:
        """The log's size across its shards: one past its last virtual index."""
        return self.active.virtual_offset + self.active.size

    def by_id(self, tree_id: int) -> TreeRow | None:
        return next((t for t in self.trees if t.tree_id == tree_id), None)

    def locate(self, virtual_index: int, *, active_may_grow: bool = False
               ) -> tuple[TreeRow, int] | None:
        """The tree holding the log's entry `virtual_index`, and its leaf index there;
        None outside the log.  `active_may_grow`: count any index past the frozen
        trees as the active tree's (these trees were read a while ago, and only the
        active one can have grown since)."""
        for tree in reversed(self.trees):
            leaf = virtual_index - tree.virtual_offset
            if leaf >= 0 and (leaf < tree.size or (active_may_grow and tree.state == "active")):
                return tree, leaf
        return None


class LogKeyring:
    """The v1 log keys this server holds, by log ID (SHA-256 of the SPKI).

    The configured key (`--signing-key`, or the data dir's) signs every tree
    whose key was never recorded (trees from before shards); other trees name
    their key, which is the configured one or a PEM file in `keys_dir`.  The
    folder is read again when a tree names a key not seen yet, so a key placed
    there before a rotation is picked up without a restart."""

    def __init__(self, configured: LogSigner, keys_dir: Path | None = None,
                 load: Callable[[bytes], LogSigner] = LogSigner.from_pem) -> None:
        self.configured = configured
        self._dir = keys_dir
        self._load = load
        self._keys: dict[bytes, LogSigner] = {configured.log_id: configured}
        self._scan()

    def _scan(self) -> None:
        if self._dir is None or not self._dir.is_dir():
            return
        for path in sorted(self._dir.glob("*.pem")):
            try:
                signer = self._load(path.read_bytes())
            except (OSError, KeyFileError, ValueError) as e:
                # One unreadable file must not take the keys beside it away.
                log.warning("log key %s not loaded: %s", path, e)
                continue
            self._keys.setdefault(signer.log_id, signer)

    def get(self, log_id: bytes | None) -> LogSigner | None:
        return self.configured if log_id is None else self._keys.get(log_id)

    def signer_for(self, tree: TreeRow) -> LogSigner:
        """The key that signs `tree`.  Raises StorageError when this server lacks it."""
        signer = self.get(tree.log_id)
        if signer is None:
            self._scan()
            signer = self.get(tree.log_id)
        if signer is None:
            assert tree.log_id is not None
            raise StorageError(f"tree {tree.tree_id} is signed by key {tree.log_id.hex()}, "
                               "which this server does not hold")
        return signer


def v1_head_signer(name: str, tree_id: int, signer: LogSigner) -> Callable[[int, bytes], str]:
    """The sequencer's HeadSigner for a v1 tree: a Rekor checkpoint whose origin is
    "<name> - <tree_id>", signed by `signer` as `name`."""
    origin = origin_for(name, tree_id)

    def sign_head(size: int, root_hash: bytes) -> str:
        return format_checkpoint(Checkpoint(origin, size, root_hash), signer, name)

    return sign_head
