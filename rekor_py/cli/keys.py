"""`rekor-py keys show`: a key's public half and identifiers, from a PEM file or a key URI.

For operators whose keys live in a token: what the server will publish for a key
(its PEM public key, log ID and key hint, or an Ed25519 note key's vkey) without
starting the server, e.g. to have a CA certify the TSA key or to hand witnesses the
note key.  Opens the key exactly as `serve` does (docs/keys.md), so a wrong PIN or
URI shows here the same way.  Making tokens and keys is left to the token's tools
(softhsm2-util, pkcs11-tool; docs/keys.md has the commands).
"""

from __future__ import annotations

import argparse
from typing import Any

from rekor_py.cli.common import EXIT_OK, EXIT_USAGE, fail, print_json

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    keys = subparsers.add_parser("keys", help="show a signing key's public half (file or "
                                              "pkcs11: URI)")
    actions = keys.add_subparsers(dest="action", required=True)
    show = actions.add_parser("show", help="the public key, log ID and key hint of a key")
    show.add_argument("key", help="a PEM private key file or a key URI (pkcs11:...)")
    show.add_argument("--note-name",
                      help="for an Ed25519 key: also print its C2SP vkey under this name")
    show.add_argument("--json", action="store_true", help="print JSON")
    keys.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from rekor_py.config import load_settings
    from rekor_py.keys import open_uri_key, redact
    from rekor_py.log.c2sp import NoteVerifier
    from rekor_py.log.signer import KeyFileError, LogSigner, LogVerifier

    try:
        settings = load_settings({"signing_key": args.key})
        location = settings.signing_key
        if isinstance(location, str):
            public = open_uri_key(location, settings, "key").public_key
        else:
            assert location is not None
            public = LogSigner.from_pem(location.read_bytes(),
                                        settings.signing_key_password()).public_key
    except (KeyFileError, ValueError, OSError) as e:
        return fail("keys", str(e), EXIT_USAGE)
    verifier = LogVerifier(public)
    shown: dict[str, str] = {
        "key": redact(str(args.key)),
        "algorithm": verifier.algorithm,
        "logID": verifier.log_id_hex,
        "keyHint": verifier.key_hint.hex(),
        "publicKey": verifier.public_key_pem.decode(),
    }
    if args.note_name and isinstance(public, ed25519.Ed25519PublicKey):
        shown["vkey"] = NoteVerifier.ed25519(args.note_name, public).vkey
    if args.json:
        print_json(shown)
    else:
        for name, value in shown.items():
            if name != "publicKey":
                print(f"{name}: {value}")
        print(shown["publicKey"], end="")
    return EXIT_OK
