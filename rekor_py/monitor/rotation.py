"""Following a Rekor v1 log through a rotation (`rekor-py shard rotate`).

A rotation freezes the tree the monitor watches and starts a new one, which
the tile API serves as a new C2SP log: origin "<base>/<new tree ID>", size 0.
Without this step the monitor would report the new origin as an inconsistent
log.  With it, a pass that finds a new origin checks, before moving on:

1. GET /api/v1/log names the new origin's tree as the active one, and lists
   the watched tree among `inactiveShards`;
2. the watched tree's final checkpoint there (a Rekor checkpoint) is signed by
   the pinned log key, and extends the last one the monitor verified (a
   consistency proof from /api/v1/log/proof with the frozen tree's ID);
3. the entries between the two are each fetched by log index and proven in
   the final tree (their audit paths against its signed root) before the
   watchlist sees them;
4. the new tree's checkpoint is signed by the pinned keys under the new name.
   A rotation may bring a new log key; it is accepted only when a pinned
   Ed25519 note key, which rotations keep, signs the new checkpoint too.

Any failure is reported as an inconsistent log, with the evidence.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519

from rekor_py import merkle
from rekor_py.log.c2sp import (
    SIG_ECDSA,
    SIG_ED25519,
    NoteVerifier,
    shard_c2sp_origin,
    verify_c2sp_checkpoint,
)
from rekor_py.log.checkpoint import (
    Checkpoint,
    CheckpointError,
    parse_checkpoint,
    verify_checkpoint,
)
from rekor_py.log.signer import KeyFileError, LogVerifier
from rekor_py.monitor.check import LogInconsistent
from rekor_py.monitor.fetch import FetchError, TileFetcher
from rekor_py.monitor.state import MonitorState
from rekor_py.monitor.watch import Match, Watchlist

__all__ = ["follow_rotation"]

_MAX_JSON_BYTES = 4 * 1024 * 1024
_ORIGIN_WITH_TREE = re.compile(r"(.+)/([0-9]{1,19})")


async def _json(fetcher: TileFetcher, path: str) -> Any:
    raw = await fetcher.get_api(path, _MAX_JSON_BYTES)
    try:
        return json.loads(raw)
    except ValueError as e:
        raise FetchError(f"GET {path}: not JSON") from e


async def follow_rotation(fetcher: TileFetcher, state: MonitorState, watch: Watchlist,
                          on_match: Callable[[Match], None]) -> tuple[MonitorState, str] | None:
    """If the log rotated away from the tree `state` watches: check the frozen tree's
    end (steps 1-3 above) and return the state for the new tree with a line to
    print; None if the current checkpoint's origin is not a rotation's (the
    caller's check then reports it).  Raises LogInconsistent or FetchError."""
    text = await fetcher.checkpoint()
    try:
        new_origin = parse_checkpoint(text).checkpoint.origin
    except CheckpointError:
        return None
    if new_origin == state.origin:
        return None
    info = await _json(fetcher, "/api/v1/log")
    active = str(info.get("treeID", ""))
    rotated, watched = _watched_tree(state.origin, new_origin, active)
    if not rotated:
        return None

    def fail(reason: str) -> LogInconsistent:
        return LogInconsistent(f"across a rotation: {reason}", state.checkpoint, text)

    inactive = [s for s in info.get("inactiveShards") or [] if isinstance(s, dict)]
    candidates = [s for s in inactive if watched is None or s.get("treeID") == watched]
    if not candidates:
        raise fail(f"tree {watched or '(first)'} is not among the log's inactive shards")
    shard = candidates[0]
    log_key = _pinned_log_key(state)
    old = (parse_checkpoint(state.checkpoint).checkpoint if state.checkpoint is not None
           else Checkpoint(state.origin, 0, merkle.EMPTY_ROOT))
    final = _final_checkpoint(shard, log_key, fail)
    if final.size < old.size:
        raise fail(f"the frozen tree ends at {final.size}, before the {old.size} entries "
                   "already verified")
    tree_id = str(shard["treeID"])
    if old.size and old.size < final.size:
        proof = await _json(fetcher, f"/api/v1/log/proof?firstSize={old.size}"
                                     f"&lastSize={final.size}&treeID={tree_id}")
        try:
            merkle.verify_consistency(old.size, final.size,
                                      [bytes.fromhex(h) for h in proof["hashes"]],
                                      old.root_hash, final.root_hash)
        except (ValueError, KeyError, TypeError) as e:
            raise fail(f"no valid consistency proof from {old.size} to the frozen tree's "
                       f"final size {final.size}: {e}") from e
    elif old.size == final.size and old.root_hash != final.root_hash:
        raise fail(f"the frozen tree's final root at size {final.size} differs")
    offset = state.first_index
    for leaf in range(old.size, final.size):
        body = await _proven_entry(fetcher, offset + leaf, leaf, tree_id, final, fail)
        for match in watch.scan(offset + leaf, [body], merkle.leaf_hash(body)):
            on_match(match)
    verifiers = await _renamed(fetcher, state, new_origin, active, text, fail)
    return (MonitorState(new_origin, verifiers, None, offset + final.size),
            f"rotated: tree {tree_id} frozen at size {final.size} (verified, "
            f"{final.size - old.size} entries checked); now watching {new_origin!r}")


def _watched_tree(old_origin: str, new_origin: str, active: str) -> tuple[bool, str | None]:
    """Whether `new_origin` is the log's next shard (its base origin with the active
    tree's ID), and the watched tree's ID (None: the log's first tree, whose origin
    is the base itself)."""
    found = _ORIGIN_WITH_TREE.fullmatch(old_origin)
    base, watched = (found.group(1), found.group(2)) if found else (old_origin, None)
    rotated = active.isdigit() and new_origin == shard_c2sp_origin(base, int(active))
    return rotated, watched


def _pinned_log_key(state: MonitorState) -> LogVerifier | None:
    for v in state.verifiers:
        if v.sig_type == SIG_ECDSA:
            return LogVerifier.from_der(v.key)
    return None


def _final_checkpoint(shard: dict[str, Any], key: LogVerifier | None,
                      fail: Callable[[str], LogInconsistent]) -> Checkpoint:
    """The frozen shard's signed tree head, checked against its other fields."""
    note = shard.get("signedTreeHead")
    if not isinstance(note, str):
        raise fail("the frozen shard has no signed tree head")
    try:
        cp = (verify_checkpoint(note, key) if key is not None
              else parse_checkpoint(note).checkpoint)
    except (CheckpointError, ValueError) as e:
        raise fail(f"the frozen shard's final checkpoint does not verify: {e}") from e
    if (cp.size, cp.root_hash.hex()) != (shard.get("treeSize"), shard.get("rootHash")):
        raise fail("the frozen shard's size or root differ from its signed tree head")
    if not cp.origin.endswith(f" - {shard.get('treeID')}"):
        raise fail(f"the frozen shard's checkpoint names another tree: {cp.origin!r}")
    return cp


async def _proven_entry(fetcher: TileFetcher, log_index: int, leaf: int, tree_id: str,
                        final: Checkpoint, fail: Callable[[str], LogInconsistent]) -> bytes:
    """The body of the frozen tree's leaf `leaf`, proven in its final tree."""
    answer = await _json(fetcher, f"/api/v1/log/entries?logIndex={log_index}")
    try:
        ((uuid, value),) = answer.items()
        body = base64.b64decode(value["body"], validate=True)
        proof = value["verification"]["inclusionProof"]
        if int(uuid[:16], 16) != int(tree_id) or proof["logIndex"] != leaf \
                or proof["treeSize"] != final.size:
            raise ValueError(f"entry {log_index} is not leaf {leaf} of tree {tree_id}")
        merkle.verify_inclusion(merkle.leaf_hash(body), leaf, final.size,
                                [bytes.fromhex(h) for h in proof["hashes"]], final.root_hash)
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise fail(f"entry {log_index} of the frozen tree is not proven in its final "
                   f"checkpoint: {e}") from e
    return body


async def _renamed(fetcher: TileFetcher, state: MonitorState, origin: str, tree_id: str,
                   text: str, fail: Callable[[str], LogInconsistent]
                   ) -> tuple[NoteVerifier, ...]:
    """The pinned keys under the new tree's name; a new log key only when a pinned
    Ed25519 note key vouches for the new checkpoint."""
    notes = [NoteVerifier.ed25519(origin, ed25519.Ed25519PublicKey.from_public_bytes(v.key))
             for v in state.verifiers if v.sig_type == SIG_ED25519]
    pinned = _pinned_log_key(state)
    served = LogVerifier.from_pem(await fetcher.get_api(
        f"/api/v1/log/publicKey?treeID={tree_id}", 64 * 1024))
    if pinned is not None and served.log_id != pinned.log_id and not notes:
        raise fail(f"the new tree {tree_id} is signed by a new log key "
                   f"{served.log_id_hex}, and no pinned note key vouches for it: pin it "
                   "with --key after checking it")
    verifiers = list(notes)
    if pinned is not None:
        verifiers.insert(0, NoteVerifier.ecdsa(origin, served))
    try:
        verify_c2sp_checkpoint(text, verifiers)
    except (CheckpointError, KeyFileError) as e:
        raise fail(f"the new tree's checkpoint does not verify: {e}") from e
    return tuple(verifiers)
