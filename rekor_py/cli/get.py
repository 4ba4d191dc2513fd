"""`rekor-py get`: fetch an entry by UUID or log index and verify it."""

from __future__ import annotations

import argparse
import datetime
import json
from pathlib import Path
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
from rekor_py.client.proposals import InputError
from rekor_py.client.verify import LogEntryAnswer, verify_log_entry

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    add_command(subparsers, "get", "fetch an entry by UUID or log index and verify it",
                _args, run)


def _args(p: argparse.ArgumentParser) -> None:
    entry_ref_args(p, entry_file=False)
    p.add_argument("--save", type=Path, metavar="FILE",
                   help="write the verified entry as served ({entryID: LogEntry})")


def run(args: argparse.Namespace) -> int:
    rekor = client(args)
    answer = fetch_entry(args, rekor)
    verifier = log_verifier(args, rekor, answer.tree_id)
    verify_log_entry(answer, verifier)
    if args.save is not None:
        _save_entry(args.save, answer)
    if args.json:
        print_json({**entry_summary(answer, verifier), "body": answer.body})
        return EXIT_OK
    when = datetime.datetime.fromtimestamp(answer.tlog.integrated_time or 0, datetime.UTC)
    print(f"LogID: {verifier.log_id_hex}")
    print(f"Index: {answer.tlog.log_index}")
    print(f"IntegratedTime: {when.isoformat().replace('+00:00', 'Z')}")
    print(f"UUID: {answer.entry_id}")
    print(f"Body: {json.dumps(answer.body, indent=2, sort_keys=True)}")
    print(verified_line(answer))
    return EXIT_OK


def _save_entry(path: Path, answer: LogEntryAnswer) -> None:
    try:
        path.write_text(json.dumps({answer.entry_id: answer.value}, indent=2) + "\n")
    except OSError as e:
        raise InputError(f"cannot write {path}: {e.strerror}") from None
