"""Pre-signed upload bodies for the write benchmarks, in three shapes.

- `pubkey`: hashedrekord entries signed by 8 reused P-256 keys (parsed-key caches help).
- `fulcio`: what keyless signing sends: every entry has a fresh P-256 key in a fresh
  Fulcio-shaped certificate (email SAN, OIDC issuer extensions, embedded SCT) issued by
  a test CA (tests/tools/fulcio.py), so nothing about the key or chain repeats.
- `mixed`: a third each of `fulcio` hashedrekord, rekord with a PGP detached signature
  (gpg, 4 keys), and dsse envelopes (fresh P-256 key per entry, in-toto statements).
- `fulcio-v2`: the `fulcio` entries as Rekor v2 requests (hashedRekordRequestV002 with
  the DER certificate), for POST /api/v2/log/entries.

Everything is signed before the run, in as many processes as there are cores; the
server's work is then the only work measured.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.tools.fulcio import FulcioPKI
from tests.tools.gpg import GnuPG

WORKLOADS = ("pubkey", "fulcio", "mixed", "fulcio-v2")

_pki: FulcioPKI | None = None  # one test CA per worker process (set by _init)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _hashedrekord(artifact: bytes, signature: bytes, verifier_pem: bytes) -> bytes:
    return json.dumps({
        "apiVersion": "0.0.1", "kind": "hashedrekord",
        "spec": {"data": {"hash": {"algorithm": "sha256",
                                   "value": hashlib.sha256(artifact).hexdigest()}},
                 "signature": {"content": _b64(signature),
                               "publicKey": {"content": _b64(verifier_pem)}}},
    }).encode()


def _pubkey_chunk(args: tuple[str, range]) -> list[bytes]:
    run, indexes = args
    keys = [ec.generate_private_key(ec.SECP256R1()) for _ in range(8)]
    pems = [k.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
            for k in keys]
    out = []
    for i in indexes:
        artifact = f"bench {run} {i}".encode()
        key = keys[i % len(keys)]
        out.append(_hashedrekord(artifact, key.sign(artifact, ec.ECDSA(hashes.SHA256())),
                                 pems[i % len(keys)]))
    return out


def _fulcio_one(run: str, i: int) -> bytes:
    assert _pki is not None
    leaf = _pki.issue(f"signer-{i}@bench.rekor-py.test")
    artifact = f"bench {run} {i}".encode()
    return _hashedrekord(artifact, leaf.sign(artifact), leaf.cert_pem)


def _fulcio_v2_one(run: str, i: int) -> bytes:
    assert _pki is not None
    leaf = _pki.issue(f"signer-{i}@bench.rekor-py.test")
    artifact = f"bench {run} {i}".encode()
    der = leaf.cert.public_bytes(serialization.Encoding.DER)
    return json.dumps({"hashedRekordRequestV002": {
        "digest": _b64(hashlib.sha256(artifact).digest()),
        "signature": {"content": _b64(leaf.sign(artifact)),
                      "verifier": {"x509Certificate": {"rawBytes": _b64(der)},
                                   "keyDetails": "PKIX_ECDSA_P256_SHA_256"}}}}).encode()


def _dsse_one(run: str, i: int) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    statement = json.dumps({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": f"artifact-{i}",
                     "digest": {"sha256": hashlib.sha256(f"{run} {i}".encode()).hexdigest()}}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {"buildDefinition": {"buildType": "https://rekor-py.test/bench"}},
    }).encode()
    payload_type = "application/vnd.in-toto+json"
    pae = b"DSSEv1 %d %s %d %s" % (len(payload_type), payload_type.encode(),
                                   len(statement), statement)
    envelope = {"payload": _b64(statement), "payloadType": payload_type,
                "signatures": [{"sig": _b64(key.sign(pae, ec.ECDSA(hashes.SHA256())))}]}
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    return json.dumps({"apiVersion": "0.0.1", "kind": "dsse", "spec": {"proposedContent": {
        "envelope": json.dumps(envelope), "verifiers": [_b64(pem)]}}}).encode()


def _pgp_chunk(args: tuple[str, range]) -> list[bytes]:
    run, indexes = args
    with tempfile.TemporaryDirectory(prefix="rekor-py-bench-gpg-") as home:
        gpg = GnuPG.create(Path(home) / "gnupg")
        fprs = [gpg.generate(f"bench{k}@bench.rekor-py.test", "ed25519") for k in range(4)]
        keys = {fpr: _b64(gpg.export(fpr)) for fpr in fprs}
        out = []
        for i in indexes:
            artifact = f"bench {run} {i}".encode()
            fpr = fprs[i % len(fprs)]
            signature = gpg.sign(fpr, artifact, armor=True)
            out.append(json.dumps({"apiVersion": "0.0.1", "kind": "rekord", "spec": {
                "data": {"content": _b64(artifact)},
                "signature": {"format": "pgp", "content": _b64(signature),
                              "publicKey": {"content": keys[fpr]}}}}).encode())
    return out


def _init() -> None:
    global _pki  # noqa: PLW0603 - one CA per worker, made once
    _pki = FulcioPKI.create("rekor-py bench")


def _per_entry_chunk(args: tuple[str, range, str]) -> list[bytes]:
    run, indexes, kind = args
    make: Callable[[str, int], bytes] = {"fulcio": _fulcio_one, "dsse": _dsse_one,
                                         "fulcio-v2": _fulcio_v2_one}[kind]
    return [make(run, i) for i in indexes]


def _chunks(n: int, parts: int) -> list[range]:
    step = -(-n // parts)
    return [range(start, min(n, start + step)) for start in range(0, n, step)]


def presign(workload: str, n: int) -> list[bytes]:
    """`n` distinct valid upload bodies of `workload`, signed in parallel."""
    if workload not in WORKLOADS:
        raise ValueError(f"workload must be one of {WORKLOADS}")
    run = os.urandom(8).hex()
    cores = os.cpu_count() or 1
    with ProcessPoolExecutor(cores, initializer=_init) as pool:
        if workload == "pubkey":
            parts = pool.map(_pubkey_chunk, [(run, r) for r in _chunks(n, cores)])
            return [b for part in parts for b in part]
        if workload in ("fulcio", "fulcio-v2"):
            parts = pool.map(_per_entry_chunk,
                             [(run, r, workload) for r in _chunks(n, cores * 4)])
            return [b for part in parts for b in part]
        # mixed: interleave the three kinds so every batch holds all of them.
        third = n // 3
        fulcio = pool.submit(_per_entry_chunk, (run, range(third), "fulcio"))
        dsse = pool.submit(_per_entry_chunk, (run, range(third, 2 * third), "dsse"))
        pgp = _pgp_chunk((run, range(2 * third, n)))
        kinds = [fulcio.result(), dsse.result(), pgp]
    mixed = []
    for i in range(max(len(k) for k in kinds)):
        mixed.extend(k[i] for k in kinds if i < len(k))
    return mixed
