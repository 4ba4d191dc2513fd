"""`rekor-py search`: find entry UUIDs by artifact hash, key or email."""

from __future__ import annotations

import argparse
import base64
import sys
from pathlib import Path
from typing import Any

from rekor_py.cli.client_common import UsageError, add_command, client
from rekor_py.cli.common import EXIT_FAILED, EXIT_OK, print_json
from rekor_py.client.proposals import artifact_digest, read_file
from rekor_py.client.verify import VerificationError

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    add_command(subparsers, "search", "find entry UUIDs by artifact hash, key or email",
                _args, run)


def _args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sha", metavar="HASH", help="artifact digest, [sha256:|sha384:|sha512:]hex")
    p.add_argument("--artifact", type=Path, metavar="FILE", help="search by the file's SHA-256")
    p.add_argument("--email", help="email SAN of the signing certificate")
    p.add_argument("--subject", help="any SAN value (URI, DNS, IP, email)")
    p.add_argument("--public-key", type=Path, metavar="FILE", help="PEM key or certificate")
    p.add_argument("--pki-format", default="x509", help="format of --public-key (default x509)")
    p.add_argument("--operator", choices=("and", "or"), default="or",
                   help="combine criteria (default or)")


def run(args: argparse.Namespace) -> int:
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
    found = client(args).search_index(query)
    if not isinstance(found, list) or not all(isinstance(u, str) for u in found):
        raise VerificationError("the search answer is not a list of entry IDs")
    if args.json:
        print_json(found)
    elif found:
        print("\n".join(found))
    if not found:
        print("rekor-py search: no matching entries found", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK
