"""Rotating a Rekor v1 log into a new shard, as `rekor-py shard rotate` does.

One transaction: lock the active tree's row (so the batch a server is
committing finishes first, and none starts), check that its stored checkpoint
verifies under the key the log has for it, freeze it (that checkpoint becomes
its final one), and create the new active tree, whose leaf 0 is the log's entry
`frozen offset + frozen size`, with its empty checkpoint signed by the new key.

Running servers need no restart: their sequencer finds the tree frozen when it
next locks it, rolls that batch back and commits it to the new tree
(log/sequencer.py); readers adopt the new tree on their next query
(LogService._shards_in).  Writes pause for the rotation transaction and one
batch, and fail none.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from rekor_py import merkle
from rekor_py.errors import StorageError
from rekor_py.log.checkpoint import Checkpoint, format_checkpoint, origin_for, verify_checkpoint
from rekor_py.log.shards import LogKeyring
from rekor_py.log.signer import LogSigner, SignatureError
from rekor_py.storage import log_store

__all__ = ["Rotation", "rotate"]


@dataclass(frozen=True)
class Rotation:
    frozen: log_store.TreeRow  # as it was just before (still marked active)
    active: log_store.TreeRow


async def rotate(pool: Any, name: str, keyring: LogKeyring,
                 new_signer: LogSigner | None = None) -> Rotation:
    """Freeze the active v1 tree and start its successor, signed by `new_signer`
    (default: the frozen tree's key).  `name` is the log's checkpoint name.
    Raises StorageError if there is no active tree, or its checkpoint does not
    verify under the key `keyring` has for it."""
    async with pool.acquire() as conn, conn.transaction():
        await log_store.lock_tree_creation(conn)
        active = await log_store.get_active_tree(conn, 1)
        if active is None:
            raise StorageError("the database holds no v1 tree to rotate")
        frozen = await log_store.lock_tree(conn, active.tree_id)
        old_signer = keyring.signer_for(frozen)
        try:
            verify_checkpoint(frozen.checkpoint, old_signer.verifier, name=name)
        except (SignatureError, ValueError) as e:
            raise StorageError(f"tree {frozen.tree_id}'s checkpoint does not verify under "
                               f"key {old_signer.log_id_hex}: {e}") from None
        await log_store.freeze_tree(conn, frozen.tree_id, old_signer.log_id)
        signer = new_signer or old_signer
        tree_id = secrets.randbelow((1 << 63) - 1) + 1
        origin = origin_for(name, tree_id)
        empty = format_checkpoint(Checkpoint(origin, 0, merkle.EMPTY_ROOT), signer, name)
        new = await log_store.create_tree(
            conn, tree_id, origin, merkle.EMPTY_ROOT, empty, 1,
            virtual_offset=frozen.virtual_offset + frozen.size, log_id=signer.log_id)
    return Rotation(frozen, new)
