"""`rekor-py upload --api 2` and `verify --api 2` against the server's Rekor v2 log.

Signatures come from the openssl command line tool (P-256, and RSA through a
certificate), the log runs on a real PostgreSQL, and each check is seen to fail
once: a tampered saved entry, another log's key, a request the server's parser
refuses before anything is sent.
"""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import aiohttp
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from tests.integration.logserver import RunningLog
from tests.integration.test_client_cli import (  # noqa: F401 - `log` is a fixture
    cli,
    log,
    sign_cert,
    sign_openssl,
    sign_rsa,
)


async def test_upload_save_and_verify_a_v2_entry(log: RunningLog, tmp_path: Path) -> None:  # noqa: F811
    signed = await asyncio.to_thread(sign_openssl, tmp_path, b"v2 by openssl\n")
    saved = tmp_path / "entry.json"
    run = await cli(log, *signed.upload_args(), "--api", "2", "--save", saved)
    assert run.code == 0, run.err
    assert "Created entry at index" in run.out and "Rekor v2 log" in run.out
    entry = json.loads(saved.read_text())
    assert entry["kindVersion"] == {"kind": "hashedrekord", "version": "0.0.2"}

    # Offline, with the v2 key pinned: the data dir's key, its public half.
    key = serialization.load_pem_private_key(
        log.settings.v2_signing_key_path.read_bytes(), None).public_key()
    pem = tmp_path / "v2.pub"
    pem.write_bytes(key.public_bytes(serialization.Encoding.PEM,
                                     serialization.PublicFormat.SubjectPublicKeyInfo))
    run = await cli(log, "verify", "--api", "2", "--entry", saved, "--log-key", pem, "--json")
    assert run.code == 0, run.err
    assert run.json()["logIndex"] == int(entry["logIndex"])

    # The same entry inside a Sigstore bundle.
    bundle = tmp_path / "bundle.json"
    bundle.write_text(json.dumps({"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
                                  "verificationMaterial": {"tlogEntries": [entry]}}))
    run = await cli(log, "verify", "--api", "2", "--entry", bundle, "--log-key", pem)
    assert run.code == 0, run.err

    # Again: 409, found through the v2 search, verified the same way.
    run = await cli(log, *signed.upload_args(), "--api", "2", "--json")
    assert run.code == 0, run.err
    assert run.json()["alreadyExists"] is True
    assert run.json()["logIndex"] == int(entry["logIndex"])

    # A body that is not the one proven: refused.
    tampered = dict(entry, canonicalizedBody=base64.b64encode(b"{}").decode())
    bad = tmp_path / "tampered.json"
    bad.write_text(json.dumps(tampered))
    run = await cli(log, "verify", "--api", "2", "--entry", bad, "--log-key", pem)
    assert run.code == 1 and "inclusion proof" in run.err, run.err
    # Another key: the log ID (and the checkpoint signature) do not match.
    other = tmp_path / "other.pub"
    other.write_bytes(ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    run = await cli(log, "verify", "--api", "2", "--entry", saved, "--log-key", other)
    assert run.code == 1 and "log ID" in run.err, run.err


async def test_upload_v2_with_certificates_and_rsa(log: RunningLog, tmp_path: Path) -> None:  # noqa: F811
    for make in (sign_cert, sign_rsa):
        folder = tmp_path / make.__name__
        folder.mkdir()
        signed = await asyncio.to_thread(make, folder, b"v2 %s\n" % make.__name__.encode())
        run = await cli(log, *signed.upload_args(), "--api", "2", "--json")
        assert run.code == 0, (make.__name__, run.err)
        assert run.json()["verified"] is True


async def test_upload_v2_refuses_before_sending(log: RunningLog, tmp_path: Path) -> None:  # noqa: F811
    signed = await asyncio.to_thread(sign_openssl, tmp_path, b"v2 refused\n")
    signed.signature.write_bytes(b"\x30\x06\x02\x01\x01\x02\x01\x01")  # a valid DER, wrong
    size = await _v2_size(log)
    run = await cli(log, *signed.upload_args(), "--api", "2")
    assert run.code == 2 and "signature" in run.err.lower(), run.err
    run = await cli(log, *signed.upload_args(), "--api", "2", "--type", "rekord")
    assert run.code == 2 and "hashedrekord" in run.err
    assert await _v2_size(log) == size


async def _v2_size(log: RunningLog) -> int:  # noqa: F811
    async with aiohttp.ClientSession() as s, s.get(f"{log.url}/api/v2/checkpoint") as r:
        return int((await r.text()).split("\n")[1])
