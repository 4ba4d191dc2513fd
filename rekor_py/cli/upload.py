"""`rekor-py upload`: upload a signed artifact's entry and verify the receipt."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rekor_py.cli.client_common import (
    UsageError,
    add_command,
    client,
    entry_summary,
    log_key_arg,
    log_verifier,
    verified_line,
)
from rekor_py.cli.common import EXIT_OK, print_json
from rekor_py.client.proposals import (
    ENTRY_TYPES,
    Proposal,
    artifact_digest,
    hashedrekord_proposal,
    read_file,
    rekord_proposal,
)
from rekor_py.client.verify import (
    LogEntryAnswer,
    VerificationError,
    parse_log_entry_answer,
    verify_log_entry,
)
from rekor_py.pki import FORMATS

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    add_command(subparsers, "upload", "upload a signed artifact's entry and verify the receipt",
                _args, run)


def _args(p: argparse.ArgumentParser) -> None:
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--artifact", type=Path, metavar="FILE", help="the signed file (SHA-256)")
    what.add_argument("--artifact-hash", metavar="ALG:HEX",
                      help="its digest instead (hashedrekord): sha256:, sha384: or sha512: "
                           "then hex")
    p.add_argument("--signature", type=Path, required=True, metavar="FILE",
                   help="the detached signature (x509: raw bytes or base64 text)")
    p.add_argument("--public-key", type=Path, required=True, metavar="FILE",
                   help="the key: PEM key, certificate or chain (x509), PGP key, SSH or "
                        "minisign key")
    p.add_argument("--type", default="hashedrekord",
                   help="entry type: hashedrekord (default) or rekord (sends the artifact)")
    p.add_argument("--pki-format", default="x509",
                   help="signature format: x509 (default); rekord also takes pgp, ssh, minisign")
    p.add_argument("--api", type=int, choices=(1, 2), default=1,
                   help="the Rekor API to write through: 1 (default) or 2 (hashedrekord "
                        "0.0.2 to the server's Rekor v2 log; --log-key is its Ed25519 key)")
    p.add_argument("--save", type=Path, metavar="FILE",
                   help="with --api 2: write the verified TransparencyLogEntry here")
    log_key_arg(p)


def run(args: argparse.Namespace) -> int:
    if args.api == 2:
        from rekor_py.cli.upload_v2 import run_v2

        return run_v2(args, client(args))
    proposal = _proposal(args)
    rekor = client(args)
    response = rekor.create_entry(proposal.proposed)
    exists = response.status == 409
    if exists:
        data = rekor.get_by_location(response.headers.get("Location", ""))
    else:
        data = response.json()
        etag = response.headers.get("ETag")
        if etag is not None and isinstance(data, dict) and etag not in data:
            raise VerificationError("the ETag header is not the returned entry's ID")
    answer = parse_log_entry_answer(data)
    _check_is_ours(answer, proposal)
    verifier = log_verifier(args, rekor, answer.tree_id)
    verify_log_entry(answer, verifier)
    location = f"{rekor.url}/api/v1/log/entries/{answer.entry_id}"
    if args.json:
        print_json({**entry_summary(answer, verifier), "location": location,
                    "alreadyExists": exists})
        return EXIT_OK
    if exists:
        print(f"Entry already exists at index {answer.tlog.log_index}, available at: {location}")
    else:
        print(f"Created entry at index {answer.tlog.log_index}, available at: {location}")
    print(f"UUID: {answer.entry_id}")
    print(verified_line(answer))
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
