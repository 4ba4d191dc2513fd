"""`rekor-py trust-config`: the ClientTrustConfig to hand Sigstore clients.

It fetches the document the server serves (GET /api/v1/trustConfig: its logs
and timestamp authority, with their keys) and adds what belongs to the
organization's own deployment: its Fulcio (URL and certificate chain), CT log
and OIDC issuer.  The result is what `sigstore --trust-config FILE` reads;
cosign's and sigstore-go's `--trusted-root` take its `trustedRoot` member
(`--trusted-root-only`).
"""

from __future__ import annotations

import argparse
import datetime
import json
from pathlib import Path
from typing import Any

from rekor_py.cli.client_common import UsageError, add_command, client
from rekor_py.cli.common import EXIT_OK
from rekor_py.client.proposals import read_file

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    add_command(subparsers, "trust-config",
                "print the Sigstore ClientTrustConfig for this log server", _args, run)


def _args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--fulcio-url", metavar="URL", help="the organization's Fulcio")
    p.add_argument("--fulcio-chain", type=Path, metavar="PEM",
                   help="its certificate chain, leaf (intermediate) first")
    p.add_argument("--ctlog-url", metavar="URL", help="its certificate transparency log")
    p.add_argument("--ctlog-key", type=Path, metavar="PEM", help="that CT log's public key")
    p.add_argument("--oidc-url", metavar="URL", help="the OIDC issuer signers log in with")
    p.add_argument("--trusted-root-only", action="store_true",
                   help="print only the trustedRoot (for cosign/sigstore-go --trusted-root)")
    p.add_argument("--output", type=Path, metavar="FILE", help="write here, not to stdout")


def run(args: argparse.Namespace) -> int:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from rekor_py.log.trust_config import LogInstance, certificate_authority, service

    config: dict[str, Any] = client(args).trust_config()
    if not isinstance(config.get("trustedRoot"), dict) or not isinstance(
            config.get("signingConfig"), dict):
        raise UsageError("the server's trust config has no trustedRoot and signingConfig")
    root, signing = config["trustedRoot"], config["signingConfig"]
    now = datetime.datetime.now(datetime.UTC)
    operator = "the organization"
    if (args.fulcio_url is None) != (args.fulcio_chain is None):
        raise UsageError("--fulcio-url and --fulcio-chain go together")
    # The CT log has run beside the CA since the CA's root was made (SCTs older than
    # a key's validFor.start are refused); without a chain, from now on.
    ct_since = now
    if args.fulcio_chain is not None:
        chain = x509.load_pem_x509_certificates(read_file(args.fulcio_chain, "Fulcio chain"))
        root["certificateAuthorities"].append(certificate_authority(args.fulcio_url, chain))
        signing["caUrls"].append(service(args.fulcio_url, chain[0].not_valid_before_utc,
                                         operator))
        ct_since = min(c.not_valid_before_utc for c in chain)
    if (args.ctlog_url is None) != (args.ctlog_key is None):
        raise UsageError("--ctlog-url and --ctlog-key go together")
    if args.ctlog_key is not None:
        key = serialization.load_pem_public_key(read_file(args.ctlog_key, "CT log key"))
        der = key.public_bytes(serialization.Encoding.DER,
                               serialization.PublicFormat.SubjectPublicKeyInfo)
        root["ctlogs"].append(LogInstance(args.ctlog_url, 1, der, _sha256(der), ct_since,
                                          operator).trusted())
    if args.oidc_url is not None:
        signing["oidcUrls"].append(service(args.oidc_url, now, operator))
    document = root if args.trusted_root_only else config
    text = json.dumps(document, indent=2) + "\n"
    if args.output is not None:
        args.output.write_text(text)
    else:
        print(text, end="")
    return EXIT_OK


def _sha256(data: bytes) -> bytes:
    import hashlib

    return hashlib.sha256(data).digest()
