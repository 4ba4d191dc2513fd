"""`rekor-py verify`: verify an entry's inclusion proof, checkpoint and SET, fetched
or saved by `get --save`; with `--api 2`, a Rekor v2 TransparencyLogEntry saved by
`upload --api 2 --save`, or a Sigstore bundle's entry, verified with the v2 log's key."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rekor_py.cli.client_common import (
    UsageError,
    add_command,
    client,
    entry_ref_args,
    entry_summary,
    fetch_entry,
    log_verifier,
    verified_line,
)
from rekor_py.cli.common import EXIT_OK, print_json
from rekor_py.client.http import RekorClient
from rekor_py.client.proposals import InputError, read_file
from rekor_py.client.verify import parse_log_entry_answer, verify_log_entry

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    add_command(subparsers, "verify", "verify an entry's inclusion proof, checkpoint and SET",
                _args, run)


def _args(p: argparse.ArgumentParser) -> None:
    entry_ref_args(p, entry_file=True)
    p.add_argument("--api", type=int, choices=(1, 2), default=1,
                   help="2: --entry is a Rekor v2 TransparencyLogEntry (--log-key: the v2 "
                        "log's Ed25519 key, else the server's)")


def run(args: argparse.Namespace) -> int:
    rekor: RekorClient | None = None
    if args.api == 2 and args.entry is None:
        raise UsageError("Rekor v2 serves no entry by index or UUID: verify a saved one "
                         "(--entry FILE)")
    if args.entry is not None:
        try:
            data = json.loads(read_file(args.entry, "entry"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise InputError(f"entry {args.entry} is not JSON: {e}") from None
        if args.api == 2:
            if isinstance(data, dict) and "verificationMaterial" in data:
                data = _bundle_entry(data)
            return _verify_v2(args, data)
        answer = parse_log_entry_answer(data)
        if args.log_key is None:
            rekor = client(args)
    else:
        rekor = client(args)
        answer = fetch_entry(args, rekor)
    verifier = log_verifier(args, rekor, answer.tree_id)
    verify_log_entry(answer, verifier)
    if args.json:
        print_json(entry_summary(answer, verifier))
        return EXIT_OK
    print(f"Entry {answer.entry_id} at index {answer.tlog.log_index}")
    print(verified_line(answer))
    return EXIT_OK


def _verify_v2(args: argparse.Namespace, data: Any) -> int:
    from rekor_py.cli.upload_v2 import verify_v2_answer

    rekor = client(args) if args.log_key is None else None
    entry = verify_v2_answer(args, rekor, data, None)
    if args.json:
        print_json({"logIndex": entry.log_index, "logID": entry.log_id.hex(),
                    "treeSize": entry.tree_size, "rootHash": entry.root_hash.hex(),
                    "verified": True})
        return EXIT_OK
    print(f"Rekor v2 entry at index {entry.log_index}")
    print(f"Verified: inclusion proof at tree size {entry.tree_size}, checkpoint")
    return EXIT_OK


def _bundle_entry(bundle: dict[str, Any]) -> Any:
    """The tlog entry of a Sigstore bundle (its first)."""
    entries = bundle["verificationMaterial"].get("tlogEntries") \
        if isinstance(bundle["verificationMaterial"], dict) else None
    if not isinstance(entries, list) or not entries:
        raise InputError("the bundle has no transparency log entry")
    return entries[0]
