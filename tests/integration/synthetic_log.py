"""Growing a served log fast, in-process, with synthetic hashedrekord-shaped entries.

65,536+ entries through HTTP POST would take minutes; instead `append_synthetic`
writes batches the way the Sequencer does, through the same storage functions
and in the same shape of transaction (lock the tree row, fold the right edge from
tiles, insert entries, append exactly the new tile hashes, store the signed Rekor
checkpoint with a compare-and-swap).  A server running on the same database
sees the new head at once; its sequencer reloads its right edge when it next
appends.  The bodies look like hashedrekord 0.0.1 bodies (canonical JSON with a
real P-256 public key) but carry made-up signatures: the tile API and the
monitor's tree checks do not look at signatures.  With `sets=True` each entry
gets its real SET stored, as the sequencer stores it (what reads then serve).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from rekor_py import merkle
from rekor_py.log.checkpoint import Checkpoint, format_checkpoint, origin_for
from rekor_py.log.set import sign_batch_sets
from rekor_py.log.signer import LogSigner
from rekor_py.storage import log_store

_KEY = ec.generate_private_key(ec.SECP256R1())
_INTEGRATED_TIME = 1_700_000_000
SYNTHETIC_KEY_PEM = _KEY.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def synthetic_body(n: int, key_pem: bytes = SYNTHETIC_KEY_PEM, tag: str = "") -> bytes:
    """A canonical hashedrekord-shaped body, unique per (n, tag)."""
    digest = hashlib.sha256(f"{tag}artifact {n}".encode()).hexdigest()
    fake_sig = hashlib.sha512(f"{tag}sig {n}".encode()).digest() + bytes(8)
    spec = {"data": {"hash": {"algorithm": "sha256", "value": digest}},
            "signature": {"content": base64.b64encode(fake_sig).decode(),
                          "publicKey": {"content": base64.b64encode(key_pem).decode()}}}
    obj = {"apiVersion": "0.0.1", "kind": "hashedrekord", "spec": spec}
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


async def append_synthetic(pool: Any, tree_id: int, signer: LogSigner, checkpoint_name: str,
                           bodies: Sequence[bytes], *, batch: int = 16384,
                           search_keys: Sequence[Sequence[str]] | None = None,
                           sets: bool = False) -> int:
    """Append `bodies` (with `search_keys[i]` the search keys of bodies[i]; default
    none; with `sets`, their SETs signed by `signer`) in transactions of `batch`
    entries; returns the new tree size."""
    size = 0
    for at in range(0, len(bodies), batch):
        chunk = bodies[at:at + batch]
        keys = search_keys[at:at + batch] if search_keys is not None else [()] * len(chunk)
        async with pool.acquire() as conn, conn.transaction():
            tree = await log_store.lock_tree(conn, tree_id)
            plan = merkle.edge_plan(tree.size)
            tiles = await log_store.read_tiles(conn, tree_id,
                                               [(t.level, t.index) for t in plan.tiles])
            edge = merkle.fold_edge(plan, tiles)
            assert edge.root_hash() == tree.root_hash
            leaves = merkle.leaf_hashes_packed(chunk)
            result = merkle.append_leaves(edge, leaves)
            stored_sets: Sequence[bytes | None] = (
                sign_batch_sets(signer, chunk, _INTEGRATED_TIME, tree.virtual_offset + tree.size)
                if sets else [None] * len(chunk))
            rows = [log_store.EntryRow(tree_id, tree.size + i, leaves[32 * i:32 * i + 32], body,
                                       _INTEGRATED_TIME, search_keys=keys[i],
                                       signed_entry_timestamp=stored_sets[i])
                    for i, body in enumerate(chunk)]
            await log_store.insert_entries(conn, rows)
            await log_store.append_tile_hashes(conn, tree_id, result.tiles)
            size = result.edge.size
            note = format_checkpoint(
                Checkpoint(origin_for(checkpoint_name, tree_id), size, result.root_hash),
                signer, checkpoint_name)
            await log_store.update_tree_head(conn, tree_id, tree.size, size,
                                             result.root_hash, note)
    return size
