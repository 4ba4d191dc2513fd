"""Client subcommands, modelled on rekor-cli: upload, get, verify, search, loginfo, logproof.

Each command talks to one server (`--rekor-server`, else $REKOR_PY_SERVER, else
http://127.0.0.1:3000), checks every proof and signature it is given before it
reports success, and prints for humans, or one JSON document with `--json`.

Exit codes: 0 success; 1 a lookup found nothing, a check failed, or the server
could not answer (network, 5xx); 2 unusable input (bad flags or files, or the
server refused the request as malformed, 4xx other than 404).  Errors go to
stderr as "rekor-py <command>: error: <message>".

The log key is the trust root: `--log-key PEM` pins it; without it the key is
fetched from the server (GET /api/v1/log/publicKey?treeID=), as rekor-cli does.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rekor_py.client.http import DEFAULT_SERVER, APIError, RekorClient
from rekor_py.client.proposals import (
    ENTRY_TYPES,
    InputError,
    artifact_digest,
    Proposal,
    hashedrekord_proposal,
    rekord_proposal,
    read_file,
)
from rekor_py.client.state import StateError, StateFile, default_state_path
from rekor_py.client.verify import (
    LogEntryAnswer,
    TreeHead,
    VerificationError,
    parse_log_entry_answer,
    verify_consistency,
    verify_log_entry,
    verify_log_info,
)
from rekor_py.log.checkpoint import CheckpointError, verify_checkpoint
from rekor_py.log.signer import KeyFileError, LogVerifier
from rekor_py.pki import FORMATS

__all__ = ["register"]

SERVER_ENV = "REKOR_PY_SERVER"
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
_ENTRY_ID_RE = re.compile(r"[0-9a-fA-F]{64}|[0-9a-fA-F]{80}")

Handler = Callable[[argparse.Namespace], int]


class UsageError(ValueError):
    """Bad flags or values the parser could not catch; exit 2."""


# ---- registration ----------------------------------------------------------------------


def register(subparsers: Any) -> None:
    """Add upload, get, verify, search, loginfo and logproof to `rekor-py`."""
    _add(subparsers, "upload", "upload a signed artifact's entry and verify the receipt",
         _upload_args, _upload)
    _add(subparsers, "get", "fetch an entry by UUID or log index and verify it",
         _get_args, _get)
    _add(subparsers, "verify", "verify an entry's inclusion proof, checkpoint and SET",
         _verify_args, _verify)
    _add(subparsers, "search", "find entry UUIDs by artifact hash, key or email",
         _search_args, _search)
    _add(subparsers, "loginfo", "verify the tree head, and its consistency with the last one",
         _loginfo_args, _loginfo)
    _add(subparsers, "logproof", "fetch (and where possible verify) a consistency proof",
         _logproof_args, _logproof)


def _add(subparsers: Any, name: str, help_text: str,
         add_args: Callable[[argparse.ArgumentParser], None], run: Handler) -> None:
    p = subparsers.add_parser(name, help=help_text, description=help_text)
    p.add_argument("--rekor-server", metavar="URL",
                   default=os.environ.get(SERVER_ENV, DEFAULT_SERVER),
                   help=f"log server (default ${SERVER_ENV} or {DEFAULT_SERVER})")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    add_args(p)
    p.set_defaults(handler=lambda args: _run(name, run, args))


def _log_key_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--log-key", type=Path, metavar="PEM",
                   help="the log's public key (default: fetched from the server)")


def _entry_ref_args(p: argparse.ArgumentParser, *, entry_file: bool) -> None:
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--uuid", help="entry UUID (64 hex) or entry ID (80 hex)")
    group.add_argument("--log-index", type=int, metavar="N", help="the entry's log index")
    if entry_file:
        group.add_argument("--entry", type=Path, metavar="FILE",
                           help="a saved entry (`get --save`), verified offline with --log-key")
    _log_key_arg(p)


def _upload_args(p: argparse.ArgumentParser) -> None:
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--artifact", type=Path, metavar="FILE", help="the signed file (SHA-256)")
    what.add_argument("--artifact-hash", metavar="ALG:HEX",
                      help="its digest instead (hashedrekord): sha256:, sha384: or sha512: then hex")
    p.add_argument("--signature", type=Path, required=True, metavar="FILE",
                   help="the detached signature (x509: raw bytes or base64 text)")
    p.add_argument("--public-key", type=Path, required=True, metavar="FILE",
                   help="the key: PEM key, certificate or chain (x509), PGP key, SSH or minisign key")
    p.add_argument("--type", default="hashedrekord",
                   help="entry type: hashedrekord (default) or rekord (sends the artifact)")
    p.add_argument("--pki-format", default="x509",
                   help="signature format: x509 (default); rekord also takes pgp, ssh, minisign")
    _log_key_arg(p)


def _get_args(p: argparse.ArgumentParser) -> None:
    _entry_ref_args(p, entry_file=False)
    p.add_argument("--save", type=Path, metavar="FILE",
                   help="write the verified entry as served ({entryID: LogEntry})")


def _verify_args(p: argparse.ArgumentParser) -> None:
    _entry_ref_args(p, entry_file=True)


def _search_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sha", metavar="HASH", help="artifact digest, [sha256:|sha384:|sha512:]hex")
    p.add_argument("--artifact", type=Path, metavar="FILE", help="search by the file's SHA-256")
    p.add_argument("--email", help="email SAN of the signing certificate")
    p.add_argument("--subject", help="any SAN value (URI, DNS, IP, email)")
    p.add_argument("--public-key", type=Path, metavar="FILE", help="PEM key or certificate")
    p.add_argument("--pki-format", default="x509", help="format of --public-key (default x509)")
    p.add_argument("--operator", choices=("and", "or"), default="or",
                   help="combine criteria (default or)")


def _loginfo_args(p: argparse.ArgumentParser) -> None:
    _log_key_arg(p)
    p.add_argument("--state", type=Path, metavar="FILE",
                   help=f"remembered tree heads (default {default_state_path()})")


def _logproof_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--first-size", type=int, default=1, metavar="N", help="(default 1)")
    p.add_argument("--last-size", type=int, required=True, metavar="M")
    p.add_argument("--tree-id", help="tree (shard) ID, decimal (default: the active tree)")
    _log_key_arg(p)
    p.add_argument("--state", type=Path, metavar="FILE",
                   help="remembered tree heads, for verifying (default: as loginfo)")


# ---- running ---------------------------------------------------------------------------


def _run(name: str, run: Handler, args: argparse.Namespace) -> int:
    """Run a handler; map each failure to its exit code and one line on stderr."""
    try:
        return run(args)
    except (UsageError, InputError, KeyFileError) as e:
        return _fail(name, str(e), EXIT_USAGE)
    except StateError as e:
        return _fail(name, str(e), EXIT_USAGE)
    except VerificationError as e:
        return _fail(name, f"verification failed: {e}", EXIT_FAILED)
    except APIError as e:
        refused = 400 <= e.status < 500 and e.status != 404
        return _fail(name, f"server {e.status}: {e.message}" if e.status else e.message,
                     EXIT_USAGE if refused else EXIT_FAILED)


def _fail(name: str, message: str, code: int) -> int:
    print(f"rekor-py {name}: error: {message}", file=sys.stderr)
    return code


def _client(args: argparse.Namespace) -> RekorClient:
    try:
        return RekorClient(args.rekor_server)
    except ValueError as e:
        raise UsageError(str(e)) from None


def _log_verifier(args: argparse.Namespace, client: RekorClient | None,
                  tree_id: int | str | None) -> LogVerifier:
    """--log-key, or the key the server serves for that tree."""
    if args.log_key is not None:
        return LogVerifier.from_pem(read_file(args.log_key, "log key"))
    assert client is not None
    pem = client.public_key(None if tree_id is None else str(tree_id))
    try:
        return LogVerifier.from_pem(pem)
    except KeyFileError as e:
        raise VerificationError(f"the server's public key: {e}") from None


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=True))


def _entry_summary(answer: LogEntryAnswer, verifier: LogVerifier) -> dict[str, Any]:
    return {
        "uuid": answer.entry_id,
        "logIndex": answer.tlog.log_index,
        "logID": verifier.log_id_hex,
        "integratedTime": answer.tlog.integrated_time,
        "treeSize": answer.tlog.tree_size,
        "rootHash": answer.tlog.root_hash.hex(),
        "verified": True,
    }


def _verified_line(answer: LogEntryAnswer) -> str:
    return (f"Verified: inclusion proof at tree size {answer.tlog.tree_size}, "
            f"checkpoint, signed entry timestamp")


# ---- upload ----------------------------------------------------------------------------


def _upload(args: argparse.Namespace) -> int:
    proposal = _proposal(args)
    client = _client(args)
    response = client.create_entry(proposal.proposed)
    exists = response.status == 409
    if exists:
        data = client.get_by_location(response.headers.get("Location", ""))
    else:
        data = response.json()
        etag = response.headers.get("ETag")
        if etag is not None and isinstance(data, dict) and etag not in data:
            raise VerificationError("the ETag header is not the returned entry's ID")
    answer = parse_log_entry_answer(data)
    _check_is_ours(answer, proposal)
    verifier = _log_verifier(args, client, answer.tree_id)
    verify_log_entry(answer, verifier)
    location = f"{client.url}/api/v1/log/entries/{answer.entry_id}"
    if args.json:
        _print_json({**_entry_summary(answer, verifier), "location": location,
                     "alreadyExists": exists})
        return EXIT_OK
    if exists:
        print(f"Entry already exists at index {answer.tlog.log_index}, available at: {location}")
    else:
        print(f"Created entry at index {answer.tlog.log_index}, available at: {location}")
    print(f"UUID: {answer.entry_id}")
    print(_verified_line(answer))
    return EXIT_OK


def _proposal(args: argparse.Namespace) -> Proposal:
    """The entry `upload` sends, built from the files and checked locally."""
    if args.type not in ENTRY_TYPES:
        raise UsageError(f"entry type {args.type!r} is not supported (supported: "
                         f"{', '.join(ENTRY_TYPES)})")
    formats = ("x509",) if args.type == "hashedrekord" else tuple(sorted(FORMATS))
    if args.pki_format not in formats:
        raise UsageError(f"PKI format {args.pki_format!r} is not supported for {args.type} "
                         f"(supported: {', '.join(formats)})")
    signature = read_file(args.signature, "signature")
    public_key = read_file(args.public_key, "public key")
    if args.type == "hashedrekord":
        return hashedrekord_proposal(artifact_digest(args.artifact, args.artifact_hash),
                                     signature, public_key)
    if args.artifact is None:
        raise UsageError("rekord entries carry the artifact itself: give --artifact")
    return rekord_proposal(read_file(args.artifact, "artifact"), signature, public_key,
                           args.pki_format)


def _check_is_ours(answer: LogEntryAnswer, proposal: Proposal) -> None:
    """The logged leaf is exactly the canonical body of what we uploaded."""
    if answer.tlog.body != proposal.canonical_body:
        raise VerificationError("the log returned an entry that is not the one uploaded")


# ---- get and verify --------------------------------------------------------------------


def _fetch(args: argparse.Namespace, client: RekorClient) -> LogEntryAnswer:
    if args.uuid is not None:
        if not _ENTRY_ID_RE.fullmatch(args.uuid):
            raise UsageError("--uuid must be 64 or 80 hex digits")
        answer = parse_log_entry_answer(client.get_entry_by_uuid(args.uuid))
        wanted = args.uuid.lower()
        if answer.entry_id != wanted and answer.uuid != wanted:
            raise VerificationError(f"asked for {wanted}, the server answered {answer.entry_id}")
        return answer
    if args.log_index < 0:
        raise UsageError("--log-index must be >= 0")
    answer = parse_log_entry_answer(client.get_entry_by_index(args.log_index))
    if answer.tlog.log_index != args.log_index:
        raise VerificationError(
            f"asked for index {args.log_index}, the server answered {answer.tlog.log_index}")
    return answer


def _get(args: argparse.Namespace) -> int:
    client = _client(args)
    answer = _fetch(args, client)
    verifier = _log_verifier(args, client, answer.tree_id)
    verify_log_entry(answer, verifier)
    if args.save is not None:
        _save_entry(args.save, answer)
    if args.json:
        _print_json({**_entry_summary(answer, verifier), "body": answer.body})
        return EXIT_OK
    when = datetime.datetime.fromtimestamp(answer.tlog.integrated_time or 0, datetime.UTC)
    print(f"LogID: {verifier.log_id_hex}")
    print(f"Index: {answer.tlog.log_index}")
    print(f"IntegratedTime: {when.isoformat().replace('+00:00', 'Z')}")
    print(f"UUID: {answer.entry_id}")
    print(f"Body: {json.dumps(answer.body, indent=2, sort_keys=True)}")
    print(_verified_line(answer))
    return EXIT_OK


def _save_entry(path: Path, answer: LogEntryAnswer) -> None:
    try:
        path.write_text(json.dumps({answer.entry_id: answer.value}, indent=2) + "\n")
    except OSError as e:
        raise InputError(f"cannot write {path}: {e.strerror}") from None


def _verify(args: argparse.Namespace) -> int:
    client = None
    if args.entry is not None:
        try:
            data = json.loads(read_file(args.entry, "entry"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise InputError(f"entry {args.entry} is not JSON: {e}") from None
        answer = parse_log_entry_answer(data)
        if args.log_key is None:
            client = _client(args)
    else:
        client = _client(args)
        answer = _fetch(args, client)
    verifier = _log_verifier(args, client, answer.tree_id)
    verify_log_entry(answer, verifier)
    if args.json:
        _print_json(_entry_summary(answer, verifier))
        return EXIT_OK
    print(f"Entry {answer.entry_id} at index {answer.tlog.log_index}")
    print(_verified_line(answer))
    return EXIT_OK


# ---- search ----------------------------------------------------------------------------


def _search(args: argparse.Namespace) -> int:
    query: dict[str, Any] = {}
    if args.sha is not None and args.artifact is not None:
        raise UsageError("give --sha or --artifact, not both")
    if args.sha is not None:
        query["hash"] = args.sha
    if args.artifact is not None:
        query["hash"] = "sha256:" + artifact_digest(args.artifact, None)[1]
    if args.email is not None:
        query["email"] = args.email
    if args.subject is not None:
        query["subject"] = args.subject
    if args.public_key is not None:
        content = read_file(args.public_key, "public key")
        query["publicKey"] = {"format": args.pki_format,
                              "content": base64.b64encode(content).decode()}
    if not query:
        raise UsageError("give at least one of --sha, --artifact, --email, --subject, "
                         "--public-key")
    query["operator"] = args.operator
    found = _client(args).search_index(query)
    if not isinstance(found, list) or not all(isinstance(u, str) for u in found):
        raise VerificationError("the search answer is not a list of entry IDs")
    if args.json:
        _print_json(found)
    elif found:
        print("\n".join(found))
    if not found:
        print("rekor-py search: no matching entries found", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


# ---- loginfo and logproof --------------------------------------------------------------


def _current_head(args: argparse.Namespace, client: RekorClient
                  ) -> tuple[LogVerifier, TreeHead]:
    info = client.log_info()
    tree_id = info.get("treeID") if isinstance(info, dict) else None
    verifier = _log_verifier(args, client, tree_id if isinstance(tree_id, str) else None)
    return verifier, verify_log_info(info, verifier)


def _loginfo(args: argparse.Namespace) -> int:
    client = _client(args)
    verifier, head = _current_head(args, client)
    state = StateFile(args.state or default_state_path())
    old = state.find(verifier.log_id_hex, head.tree_id)
    if old is not None:
        try:
            _check_extends(client, old, head)
        except VerificationError as e:
            _report_split_view(old, head, verifier, state.path)
            raise e
    if old is None or head.tree_size > old.tree_size:
        state.remember(verifier.log_id_hex, head, client.url)
    if args.json:
        _print_json({"treeID": head.tree_id, "treeSize": head.tree_size,
                     "rootHash": head.root_hash.hex(), "logID": verifier.log_id_hex,
                     "signedTreeHead": head.checkpoint, "verified": True,
                     "consistentWith": None if old is None else
                     {"treeSize": old.tree_size, "rootHash": old.root_hash.hex()}})
        return EXIT_OK
    print("Verification Successful!")
    print(f"Tree Size: {head.tree_size}")
    print(f"Root Hash: {head.root_hash.hex()}")
    print(f"Tree ID: {head.tree_id}")
    print(f"Log ID: {verifier.log_id_hex}")
    if old is None:
        print(f"First tree head seen for this log; remembered in {state.path}")
    else:
        print(f"Consistent with the last verified tree head (size {old.tree_size})")
    return EXIT_OK


def _check_extends(client: RekorClient, old: TreeHead, new: TreeHead) -> None:
    """`new` must be `old` or extend it: same root at the same size, a proof otherwise."""
    if new.tree_size < old.tree_size:
        raise VerificationError(f"the log shrank from size {old.tree_size} to {new.tree_size}")
    if new.tree_size == old.tree_size:
        if new.root_hash != old.root_hash:
            raise VerificationError(f"two different roots for size {new.tree_size}")
        return
    hashes: Any = []
    if old.tree_size > 0:
        proof = client.consistency_proof(old.tree_size, new.tree_size, new.tree_id)
        hashes = proof.get("hashes") if isinstance(proof, dict) else None
        if not isinstance(hashes, list):
            raise VerificationError("the consistency proof answer has no hashes list")
    verify_consistency(old, new, hashes)


def _report_split_view(old: TreeHead, new: TreeHead, verifier: LogVerifier,
                       path: Path) -> None:
    """Print both heads: the evidence a user needs to report a split view."""
    try:
        cp = verify_checkpoint(old.checkpoint, verifier)
        genuine = cp.size == old.tree_size and cp.root_hash == old.root_hash
    except CheckpointError:
        genuine = False
    err = sys.stderr
    print("The log's current tree head is NOT consistent with the one remembered.", file=err)
    print(f"Remembered ({path}): size {old.tree_size} root {old.root_hash.hex()}", file=err)
    print(f"Current:  size {new.tree_size} root {new.root_hash.hex()}", file=err)
    if genuine:
        print("Both heads carry the log's valid signature: this is evidence of a split view "
              "or a forked log.", file=err)
    else:
        print("The remembered head's signed note does not match its fields: the state file "
              "may have been altered.", file=err)
    print(f"--- remembered signed tree head ---\n{old.checkpoint}"
          f"--- current signed tree head ---\n{new.checkpoint}", end="", file=err)


def _logproof(args: argparse.Namespace) -> int:
    if args.first_size < 1 or args.last_size < args.first_size:
        raise UsageError("need 1 <= --first-size <= --last-size")
    client = _client(args)
    proof = client.consistency_proof(args.first_size, args.last_size, args.tree_id)
    hashes = proof.get("hashes") if isinstance(proof, dict) else None
    if not isinstance(hashes, list) or not all(isinstance(h, str) for h in hashes):
        raise VerificationError("the consistency proof answer has no hashes list")
    verifier, head = _current_head(args, client)
    known = {head.tree_size: head}
    remembered = StateFile(args.state or default_state_path()).find(verifier.log_id_hex,
                                                                     head.tree_id)
    if remembered is not None:
        known.setdefault(remembered.tree_size, remembered)
    first, last = known.get(args.first_size), known.get(args.last_size)
    verified = first is not None and last is not None
    if first is not None and last is not None:
        verify_consistency(first, last, hashes)
    if args.json:
        _print_json({"firstSize": args.first_size, "lastSize": args.last_size,
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
