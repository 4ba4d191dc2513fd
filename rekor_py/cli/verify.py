"""`rekor-py verify`: verify an entry's inclusion proof, checkpoint and SET, fetched
or saved by `get --save`."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rekor_py.cli.client_common import (
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
                lambda p: entry_ref_args(p, entry_file=True), run)


def run(args: argparse.Namespace) -> int:
    rekor: RekorClient | None = None
    if args.entry is not None:
        try:
            data = json.loads(read_file(args.entry, "entry"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise InputError(f"entry {args.entry} is not JSON: {e}") from None
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
