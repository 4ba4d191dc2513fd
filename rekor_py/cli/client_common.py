"""What the client commands (upload, get, verify, search, loginfo, logproof) share.

Modelled on rekor-cli.  Each command talks to one server (`--rekor-server`, else
$REKOR_PY_SERVER, else http://127.0.0.1:3000), checks every proof and signature
it is given before it reports success, and prints for humans, or one JSON
document with `--json`.

Exit codes (cli/common.py): 0 success; 1 a lookup found nothing, a check
failed, or the server could not answer (network, 5xx); 2 unusable input (bad
flags or files, or the server refused the request as malformed, 4xx other
than 404).

The log key is the trust root: `--log-key PEM` pins it; without it the key is
fetched from the server (GET /api/v1/log/publicKey?treeID=), as rekor-cli does.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rekor_py.cli.common import EXIT_FAILED, EXIT_USAGE, fail
from rekor_py.client.http import DEFAULT_SERVER, APIError, RekorClient
from rekor_py.client.proposals import InputError, read_file
from rekor_py.client.verify import (
    LogEntryAnswer,
    VerificationError,
    parse_log_entry_answer,
    verify_log_info,
)
from rekor_py.log.signer import KeyFileError, LogVerifier
from rekor_py.log.tree_head import TreeHead
from rekor_py.statefile import StateError

__all__ = [
    "UsageError",
    "add_command",
    "client",
    "current_head",
    "entry_ref_args",
    "entry_summary",
    "fetch_entry",
    "log_key_arg",
    "log_verifier",
    "verified_line",
]

SERVER_ENV = "REKOR_PY_SERVER"
_ENTRY_ID_RE = re.compile(r"[0-9a-fA-F]{64}|[0-9a-fA-F]{80}")

Run = Callable[[argparse.Namespace], int]


class UsageError(ValueError):
    """Bad flags or values the parser could not catch; exit 2."""


def add_command(subparsers: Any, name: str, help_text: str,
                add_args: Callable[[argparse.ArgumentParser], None], run: Run) -> None:
    """A client subcommand: --rekor-server and --json, its own flags, and `run`
    wrapped so that each failure becomes its exit code and one error line."""
    p = subparsers.add_parser(name, help=help_text, description=help_text)
    p.add_argument("--rekor-server", metavar="URL",
                   default=os.environ.get(SERVER_ENV, DEFAULT_SERVER),
                   help=f"log server (default ${SERVER_ENV} or {DEFAULT_SERVER})")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    add_args(p)
    p.set_defaults(run=lambda args: _guarded(name, run, args))


def _guarded(name: str, run: Run, args: argparse.Namespace) -> int:
    try:
        return run(args)
    except (UsageError, InputError, KeyFileError, StateError) as e:
        return fail(name, str(e), EXIT_USAGE)
    except VerificationError as e:
        return fail(name, f"verification failed: {e}", EXIT_FAILED)
    except APIError as e:
        refused = 400 <= e.status < 500 and e.status != 404
        return fail(name, f"server {e.status}: {e.message}" if e.status else e.message,
                    EXIT_USAGE if refused else EXIT_FAILED)


def log_key_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--log-key", type=Path, metavar="PEM",
                   help="the log's public key (default: fetched from the server)")


def entry_ref_args(p: argparse.ArgumentParser, *, entry_file: bool) -> None:
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--uuid", help="entry UUID (64 hex) or entry ID (80 hex)")
    group.add_argument("--log-index", type=int, metavar="N", help="the entry's log index")
    if entry_file:
        group.add_argument("--entry", type=Path, metavar="FILE",
                           help="a saved entry (`get --save`), verified offline with --log-key")
    log_key_arg(p)


def client(args: argparse.Namespace) -> RekorClient:
    try:
        return RekorClient(args.rekor_server)
    except ValueError as e:
        raise UsageError(str(e)) from None


def log_verifier(args: argparse.Namespace, rekor: RekorClient | None,
                 tree_id: int | str | None) -> LogVerifier:
    """--log-key, or the key the server serves for that tree."""
    if args.log_key is not None:
        return LogVerifier.from_pem(read_file(args.log_key, "log key"))
    assert rekor is not None
    pem = rekor.public_key(None if tree_id is None else str(tree_id))
    try:
        return LogVerifier.from_pem(pem)
    except KeyFileError as e:
        raise VerificationError(f"the server's public key: {e}") from None


def entry_summary(answer: LogEntryAnswer, verifier: LogVerifier) -> dict[str, Any]:
    return {
        "uuid": answer.entry_id,
        "logIndex": answer.tlog.log_index,
        "logID": verifier.log_id_hex,
        "integratedTime": answer.tlog.integrated_time,
        "treeSize": answer.tlog.tree_size,
        "rootHash": answer.tlog.root_hash.hex(),
        "verified": True,
    }


def verified_line(answer: LogEntryAnswer) -> str:
    return (f"Verified: inclusion proof at tree size {answer.tlog.tree_size}, "
            f"checkpoint, signed entry timestamp")


def fetch_entry(args: argparse.Namespace, rekor: RekorClient) -> LogEntryAnswer:
    """The entry --uuid or --log-index names, checked to be the one asked for."""
    if args.uuid is not None:
        if not _ENTRY_ID_RE.fullmatch(args.uuid):
            raise UsageError("--uuid must be 64 or 80 hex digits")
        answer = parse_log_entry_answer(rekor.get_entry_by_uuid(args.uuid))
        wanted = args.uuid.lower()
        if answer.entry_id != wanted and answer.uuid != wanted:
            raise VerificationError(f"asked for {wanted}, the server answered {answer.entry_id}")
        return answer
    if args.log_index < 0:
        raise UsageError("--log-index must be >= 0")
    answer = parse_log_entry_answer(rekor.get_entry_by_index(args.log_index))
    if answer.tlog.log_index != args.log_index:
        raise VerificationError(
            f"asked for index {args.log_index}, the server answered {answer.tlog.log_index}")
    return answer


def current_head(args: argparse.Namespace, rekor: RekorClient
                 ) -> tuple[LogVerifier, TreeHead]:
    """The log's current tree head, verified under --log-key or the served key."""
    info = rekor.log_info()
    tree_id = info.get("treeID") if isinstance(info, dict) else None
    verifier = log_verifier(args, rekor, tree_id if isinstance(tree_id, str) else None)
    return verifier, verify_log_info(info, verifier)
