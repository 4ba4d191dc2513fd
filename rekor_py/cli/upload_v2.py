"""`rekor-py upload --api 2`: write a hashedrekord to a Rekor v2 log and verify the answer.

The answer (a TransparencyLogEntry) must hold exactly the canonical body the
request makes (client/v2.py), with an inclusion proof that folds to the
checkpoint's root, and a checkpoint signed by the v2 log's Ed25519 key:
`--log-key PEM` pins it (the name is the checkpoint's origin); without it the key
is the one the server serves at /api/v2/checkpoint.vkeys, as rekor-cli fetches
a v1 log's key.  For an entry already logged (409), Rekor v2 offers no read;
rekor-py's v2 search finds it by its digest, and it is verified the same way.
`--save FILE` keeps the verified entry for `rekor-py verify --api 2 --entry FILE`.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from rekor_py.cli.client_common import UsageError
from rekor_py.cli.common import EXIT_OK, print_json
from rekor_py.client.http import RekorClient
from rekor_py.client.proposals import artifact_digest, read_file, signature_bytes
from rekor_py.client.verify import VerificationError

__all__ = ["run_v2", "v2_log_key", "verify_v2_answer"]


def v2_log_key(args: argparse.Namespace, rekor: RekorClient | None, origin: str) -> Any:
    """The v2 log's NoteVerifier: --log-key (an Ed25519 PEM) named `origin`, or
    the server's vkey for `origin`."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from rekor_py.log.c2sp import NoteVerifier
    from rekor_py.log.checkpoint import CheckpointError

    if args.log_key is not None:
        key = serialization.load_pem_public_key(read_file(args.log_key, "log key"))
        if not isinstance(key, ed25519.Ed25519PublicKey):
            raise UsageError("--log-key of a Rekor v2 log is its Ed25519 public key")
        return NoteVerifier.ed25519(origin, key)
    assert rekor is not None
    try:
        served = [NoteVerifier.from_vkey(line) for line in rekor.v2_vkeys().splitlines()
                  if line.strip()]
    except CheckpointError as e:
        raise VerificationError(f"the server's v2 verifier key: {e}") from None
    for verifier in served:
        if verifier.name == origin:
            return verifier
    raise VerificationError(f"the server serves no v2 key named {origin!r}")


def verify_v2_answer(args: argparse.Namespace, rekor: RekorClient | None, answer: Any,
                     expected_body: bytes | None) -> Any:
    """The TlogEntry of a v2 answer, verified (module docstring)."""
    from rekor_py.log.bundle_verify import EntryVerificationError, TlogEntry, verify_v2_tlog_entry
    from rekor_py.log.checkpoint import CheckpointError, parse_checkpoint

    try:
        entry = TlogEntry.from_bundle_entry(answer)
        origin = parse_checkpoint(entry.checkpoint).checkpoint.origin
    except (EntryVerificationError, CheckpointError) as e:
        raise VerificationError(str(e)) from None
    if expected_body is not None and entry.body != expected_body:
        raise VerificationError("the log returned an entry that is not the one uploaded")
    try:
        verify_v2_tlog_entry(entry, v2_log_key(args, rekor, origin))
    except EntryVerificationError as e:
        raise VerificationError(str(e)) from None
    return entry


def run_v2(args: argparse.Namespace, rekor: RekorClient) -> int:
    from rekor_py.client.v2 import v2_proposal

    if args.type != "hashedrekord" or args.pki_format != "x509":
        raise UsageError("Rekor v2 takes hashedrekord entries with x509 keys only")
    digest = artifact_digest(args.artifact, args.artifact_hash)
    proposal = v2_proposal(digest, signature_bytes(read_file(args.signature, "signature")),
                           read_file(args.public_key, "public key"))
    response = rekor.create_v2_entry(proposal.request)
    exists = response.status == 409
    if exists:
        algorithm, value = digest
        found = [a for a in rekor.search_v2({"hash": f"{algorithm}:{value}"})
                 if isinstance(a, dict) and a.get("logIndex") == response.headers.get(
                     "x-log-index")]
        if not found:
            raise VerificationError("the log says the entry exists but does not find it")
        answer = found[0]
    else:
        answer = response.json()
    entry = verify_v2_answer(args, rekor, answer, proposal.canonical_body)
    if args.save is not None:
        args.save.write_text(json.dumps(answer, indent=2) + "\n")
    if args.json:
        print_json({"logIndex": entry.log_index, "logID": entry.log_id.hex(),
                    "treeSize": entry.tree_size, "rootHash": entry.root_hash.hex(),
                    "alreadyExists": exists, "verified": True})
        return EXIT_OK
    state = "already exists" if exists else "Created entry"
    print(f"{state} at index {entry.log_index} of the Rekor v2 log at {rekor.url}")
    print(f"Verified: inclusion proof at tree size {entry.tree_size}, checkpoint "
          f"(no SET in Rekor v2)")
    return EXIT_OK
