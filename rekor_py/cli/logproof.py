"""`rekor-py logproof`: fetch, and where a verified root is known for both sizes
verify, a consistency proof."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rekor_py.cli.client_common import (
    UsageError,
    add_command,
    client,
    current_head,
    log_key_arg,
)
from rekor_py.cli.common import EXIT_OK, print_json
from rekor_py.client.state import StateFile, default_state_path
from rekor_py.client.verify import VerificationError, parse_consistency_proof
from rekor_py.log.tree_head import NotExtending, TreeHead, check_consistency, check_growth

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    add_command(subparsers, "logproof", "fetch (and where possible verify) a consistency proof",
                _args, run)


def _args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--first-size", type=int, default=1, metavar="N", help="(default 1)")
    p.add_argument("--last-size", type=int, required=True, metavar="M")
    p.add_argument("--tree-id", help="tree (shard) ID, decimal (default: the active tree)")
    log_key_arg(p)
    p.add_argument("--state", type=Path, metavar="FILE",
                   help="remembered tree heads, for verifying (default: as loginfo)")


def run(args: argparse.Namespace) -> int:
    if args.first_size < 1 or args.last_size < args.first_size:
        raise UsageError("need 1 <= --first-size <= --last-size")
    rekor = client(args)
    proof = rekor.consistency_proof(args.first_size, args.last_size, args.tree_id)
    hashes = proof.get("hashes") if isinstance(proof, dict) else None
    if not isinstance(hashes, list) or not all(isinstance(h, str) for h in hashes):
        raise VerificationError("the consistency proof answer has no hashes list")
    verifier, head = current_head(args, rekor)
    known: dict[int, TreeHead] = {head.size: head}
    remembered = StateFile(args.state or default_state_path()).find(verifier.log_id_hex,
                                                                     head.tree_id)
    if remembered is not None:
        known.setdefault(remembered.size, remembered)
    first, last = known.get(args.first_size), known.get(args.last_size)
    verified = first is not None and last is not None
    if first is not None and last is not None:
        try:
            if check_growth(first, last):
                check_consistency(first, last, parse_consistency_proof(proof))
        except NotExtending as e:
            raise VerificationError(str(e)) from e
    if args.json:
        print_json({"firstSize": args.first_size, "lastSize": args.last_size,
                    "hashes": hashes, "rootHash": proof.get("rootHash"),
                    "verified": verified})
        return EXIT_OK
    print(f"Current Root Hash: {proof.get('rootHash')}")
    print("Hashes: [" + ", ".join(hashes) + "]")
    if verified:
        print(f"Verified: consistency from size {args.first_size} to {args.last_size}")
    else:
        missing = [s for s in (args.first_size, args.last_size) if s not in known]
        print(f"Not verified: no verified root known for size "
              f"{' or '.join(map(str, missing))} (run loginfo at that size)")
    return EXIT_OK
