"""`rekor-py loginfo`: verify the log's tree head, and that it extends the last one
verified (the rule is rekor_py/log/tree_head.py's, shared with `monitor`).

It warns, on stderr and in --json's "warnings", when the server answers with
another log key or tree ID than it did when last remembered: a rotated key or a
new shard, or someone else's log behind the same URL.  The warning is given
once per change; the new key and tree are remembered afterwards.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rekor_py.cli.client_common import add_command, client, current_head, log_key_arg
from rekor_py.cli.common import EXIT_OK, print_json
from rekor_py.client.http import RekorClient
from rekor_py.client.state import StateFile, default_state_path
from rekor_py.client.verify import VerificationError, parse_consistency_proof
from rekor_py.log.checkpoint import CheckpointError, verify_checkpoint
from rekor_py.log.signer import LogVerifier
from rekor_py.log.tree_head import (
    NotExtending,
    TreeHead,
    check_consistency,
    check_growth,
    split_view_report,
)

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    add_command(subparsers, "loginfo",
                "verify the tree head, and its consistency with the last one", _args, run)


def _args(p: argparse.ArgumentParser) -> None:
    log_key_arg(p)
    p.add_argument("--state", type=Path, metavar="FILE",
                   help=f"remembered tree heads (default {default_state_path()})")


def identity_warnings(last: tuple[str, int] | None, log_id_hex: str, tree_id: int) -> list[str]:
    """What changed in the (log ID, tree ID) a server serves since `last`."""
    if last is None:
        return []
    old_log_id, old_tree_id = last
    warnings = []
    if old_log_id != log_id_hex:
        warnings.append(f"the log's key changed: its log ID was {old_log_id}, now "
                        f"{log_id_hex}; nothing signed by the old key vouches for the new one")
    if old_tree_id != tree_id:
        warnings.append(f"the log's tree ID changed from {old_tree_id} to {tree_id}: a new "
                        f"shard, whose history is not checked against the old tree's")
    return warnings


def run(args: argparse.Namespace) -> int:
    rekor = client(args)
    verifier, head = current_head(args, rekor)
    state = StateFile(args.state or default_state_path())
    warnings = identity_warnings(state.last_served(rekor.url), verifier.log_id_hex,
                                 head.tree_id)
    for warning in warnings:
        print(f"rekor-py loginfo: WARNING: {warning}", file=sys.stderr)
    old = state.find(verifier.log_id_hex, head.tree_id)
    if old is not None:
        _check_extends(rekor, old, head, verifier, state.path)
    if old is None or head.size > old.size or warnings:
        state.remember(verifier.log_id_hex, head, rekor.url)
    if args.json:
        print_json({"treeID": str(head.tree_id), "treeSize": head.size,
                    "rootHash": head.root_hash.hex(), "logID": verifier.log_id_hex,
                    "signedTreeHead": head.checkpoint, "verified": True,
                    "warnings": warnings,
                    "consistentWith": None if old is None else
                    {"treeSize": old.size, "rootHash": old.root_hash.hex()}})
        return EXIT_OK
    print("Verification Successful!")
    print(f"Tree Size: {head.size}")
    print(f"Root Hash: {head.root_hash.hex()}")
    print(f"Tree ID: {head.tree_id}")
    print(f"Log ID: {verifier.log_id_hex}")
    if old is None:
        print(f"First tree head seen for this log; remembered in {state.path}")
    else:
        print(f"Consistent with the last verified tree head (size {old.size})")
    return EXIT_OK


def _check_extends(rekor: RekorClient, old: TreeHead, new: TreeHead, verifier: LogVerifier,
                   path: Path) -> None:
    """`new` must be `old` or extend it; else print both heads and fail."""
    try:
        if check_growth(old, new):
            answer = rekor.consistency_proof(old.size, new.size, str(new.tree_id))
            check_consistency(old, new, parse_consistency_proof(answer))
    except NotExtending as e:
        print(split_view_report(str(e), old, old.checkpoint, new, new.checkpoint,
                                old_genuine=_genuine(old, verifier), remembered_in=str(path)),
              end="", file=sys.stderr)
        raise VerificationError(str(e)) from e


def _genuine(head: TreeHead, verifier: LogVerifier) -> bool:
    """The remembered note verifies under the log key and says what its fields say."""
    try:
        cp = verify_checkpoint(head.checkpoint, verifier)
    except CheckpointError:
        return False
    return cp.size == head.size and cp.root_hash == head.root_hash
