"""
sigstore-python 4.5.1 <-> a Rekor v1 server: which calls to make and how to verify the results.

Part A: the calls against a real server at REKOR_URL (they fail cleanly if nothing is listening).
Part B: offline. Builds a Rekor-v1-shaped entry signed with OUR OWN P-256 key, checks it with
        sigstore's own verifier code (Merkle inclusion proof + checkpoint + SET), then runs the
        client against a tiny in-process stub server to record the exact HTTP requests it makes.
Run:  /tmp/investigate/venv/bin/python /tmp/investigate/sigstore_demo.py
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests
import rekor_types
import rfc8785
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from sigstore._internal.rekor import EntryRequestBody, RekorClientError
from sigstore._internal.rekor.client import RekorClient
from sigstore._internal.trust import Keyring, KeyringPurpose
from sigstore._internal.merkle import verify_merkle_inclusion, _hash_leaf, _hash_children
from sigstore._internal.rekor.checkpoint import verify_checkpoint
from sigstore.errors import VerificationError
from sigstore.models import TransparencyLogEntry, TrustedRoot
from sigstore_models.common import v1 as common_v1
from sigstore_models.trustroot import v1 as trustroot_v1

REKOR_URL = "http://127.0.0.1:3000"


# ---------------------------------------------------------------- helpers
def hashedrekord_request(artifact: bytes, signer: ec.EllipticCurvePrivateKey) -> EntryRequestBody:
    """hashedrekord v0.0.1 with a bare PEM public key (RekorClient._build_hashed_rekord_request
    needs an x509 Certificate; Rekor also accepts a plain public key, so build the dict directly)."""
    digest = hashlib.sha256(artifact).digest()
    sig = signer.sign(artifact, ec.ECDSA(hashes.SHA256()))
    pem = signer.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    rekord = rekor_types.Hashedrekord(
        spec=rekor_types.hashedrekord.HashedrekordV001Schema(
            signature=rekor_types.hashedrekord.Signature(
                content=base64.b64encode(sig).decode(),
                public_key=rekor_types.hashedrekord.PublicKey(content=base64.b64encode(pem).decode()),
            ),
            data=rekor_types.hashedrekord.Data(
                hash=rekor_types.hashedrekord.Hash(algorithm="sha256", value=digest.hex())),
        )
    )
    # -> {"kind":"hashedrekord","apiVersion":"0.0.1","spec":{"signature":{...},"data":{...}}}
    return EntryRequestBody(rekord.model_dump(mode="json", by_alias=True))


def keyring_for(pub: ec.EllipticCurvePublicKey) -> Keyring:
    """Smallest way to get a RekorKeyring for our own log key (no TrustedRoot needed)."""
    der = pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return Keyring([common_v1.PublicKey(
        raw_bytes=base64.b64encode(der),            # ProtoBytes: always base64-decoded on input
        key_details=common_v1.PublicKeyDetails.PKIX_ECDSA_P256_SHA_256,
        valid_for=common_v1.TimeRange(start=dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)),
    )])


def trusted_root_for(pub: ec.EllipticCurvePublicKey, base_url: str) -> TrustedRoot:
    """A TrustedRoot holding only our Rekor key. Enough for .rekor_keyring(); the full
    sigstore.verify.Verifier also needs Fulcio CA certs and CT log keys."""
    der = pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    inner = trustroot_v1.TrustedRoot(
        media_type="application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        tlogs=[trustroot_v1.TransparencyLogInstance(
            base_url=base_url,
            hash_algorithm=common_v1.HashAlgorithm.SHA2_256,
            public_key=common_v1.PublicKey(
                raw_bytes=base64.b64encode(der),
                key_details=common_v1.PublicKeyDetails.PKIX_ECDSA_P256_SHA_256,
                valid_for=common_v1.TimeRange(start=dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)),
            ),
            log_id=common_v1.LogId(key_id=base64.b64encode(hashlib.sha256(der).digest())),
        )],
        certificate_authorities=[],
        ctlogs=[],
    )
    return TrustedRoot(inner)


# ---------------------------------------------------------------- a fake Rekor v1 "server side"
class FakeLog:
    """What a Rekor v1 server must return, reduced to the parts sigstore-python checks."""

    def __init__(self, key: ec.EllipticCurvePrivateKey, origin: str = "rekor.local - 1234567890"):
        self.key = key
        der = key.public_key().public_bytes(serialization.Encoding.DER,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
        self.log_id = hashlib.sha256(der).digest()       # logID = sha256(DER SubjectPublicKeyInfo)
        self.origin = origin
        self.leaves: list[bytes] = []                     # canonical entry bodies
        self.entries: dict[str, dict] = {}

    @staticmethod
    def _root(leaf_hashes):
        if len(leaf_hashes) == 1:
            return leaf_hashes[0]
        k = 1
        while k * 2 < len(leaf_hashes):
            k *= 2
        return _hash_children(FakeLog._root(leaf_hashes[:k]), FakeLog._root(leaf_hashes[k:]))

    @staticmethod
    def _path(m, leaf_hashes):          # RFC 6962 PATH(m, D[n]), leaf-to-root order
        n = len(leaf_hashes)
        if n == 1:
            return []
        k = 1
        while k * 2 < n:
            k *= 2
        if m < k:
            return FakeLog._path(m, leaf_hashes[:k]) + [FakeLog._root(leaf_hashes[k:])]
        return FakeLog._path(m - k, leaf_hashes[k:]) + [FakeLog._root(leaf_hashes[:k])]

    def _sign(self, data: bytes) -> bytes:
        return self.key.sign(data, ec.ECDSA(hashes.SHA256()))

    def add(self, proposed: dict) -> dict:
        # Real Rekor canonicalises the body (and swaps the signature/publicKey it was given for the
        # canonical form). Here the proposed JSON is simply serialised with RFC 8785.
        body = rfc8785.dumps(proposed)
        self.leaves.append(body)
        index, integrated_time = len(self.leaves) - 1, 1_700_000_000 + len(self.leaves)
        leaf_hash = _hash_leaf(body)
        uuid = leaf_hash.hex()                               # Rekor: 64-hex leaf hash (or 80-hex with tree-ID prefix)
        body_b64 = base64.b64encode(body).decode()
        # SET = signature over RFC 8785 JSON of exactly these four fields (ints as JSON numbers)
        set_payload = rfc8785.dumps({"body": body_b64, "integratedTime": integrated_time,
                                     "logID": self.log_id.hex(), "logIndex": index})
        self.entries[uuid] = {
            "body": body_b64, "integratedTime": integrated_time, "logID": self.log_id.hex(),
            "logIndex": index,
            "verification": {"signedEntryTimestamp": base64.b64encode(self._sign(set_payload)).decode()},
        }
        return {uuid: self.get(uuid)[uuid]}

    def get(self, uuid: str) -> dict:
        e = json.loads(json.dumps(self.entries[uuid]))
        hashes_ = [_hash_leaf(b) for b in self.leaves]
        size, root = len(hashes_), self._root(hashes_)
        # checkpoint = signed note: "<origin>\n<size>\n<b64 root>\n[Timestamp: ...\n]" + "\n" + sig lines
        note = f"{self.origin}\n{size}\n{base64.b64encode(root).decode()}\nTimestamp: 1700000000000000000\n"
        sig = self.log_id[:4] + self._sign(note.encode())  # 4-byte key hint = logID[:4], then DER sig
        checkpoint = note + "\n" + f"\u2014 {self.origin.split()[0]} {base64.b64encode(sig).decode()}\n"
        e["verification"]["inclusionProof"] = {
            "logIndex": e["logIndex"],                       # index inside THIS tree (shard-local)
            "treeSize": size, "rootHash": root.hex(),
            "hashes": [h.hex() for h in self._path(e["logIndex"], hashes_)],
            "checkpoint": checkpoint,
        }
        return {uuid: e}


# ---------------------------------------------------------------- Part A
def part_a(signer):
    client = RekorClient(REKOR_URL)                   # base URL; "/api/v1" is appended
    req = hashedrekord_request(b"hello", signer)
    try:
        print("A: log info", client.log.get())        # GET  /api/v1/log
        entry = client.create_entry(req)                # POST /api/v1/log/entries
        e2 = client.log.entries.get(log_index=entry._inner.log_index)   # GET /api/v1/log/entries?logIndex=N
        e3 = client.log.entries.retrieve.post(rekor_types.Hashedrekord.model_validate(req))
        print("A: ok", entry._inner.log_index, e2 == entry, e3)
    except (requests.ConnectionError, RekorClientError) as exc:
        print(f"A: no Rekor at {REKOR_URL}: {type(exc).__name__}: {exc}"[:200])


# ---------------------------------------------------------------- Part B
def part_b(signer):
    log_key = ec.generate_private_key(ec.SECP256R1())
    log = FakeLog(log_key)
    for i in range(4):                                   # a few entries so the proofs are not empty
        log.add(hashedrekord_request(f"filler {i}".encode(), signer))
    created = log.add(hashedrekord_request(b"hello", signer))
    for i in range(2):
        log.add(hashedrekord_request(f"more {i}".encode(), signer))
    uuid = next(iter(created))

    keyring = trusted_root_for(log_key.public_key(), REKOR_URL).rekor_keyring(KeyringPurpose.VERIFY)
    # keyring = keyring_for(log_key.public_key())       # equivalent, without a TrustedRoot

    entry = TransparencyLogEntry._from_v1_response(log.get(uuid))   # dict {uuid: LogEntry}
    verify_merkle_inclusion(entry)        # leaf = sha256(0x00 || body); RFC 6962 path -> rootHash
    verify_checkpoint(keyring, entry)     # note signature + checkpoint root == inclusionProof.rootHash
    entry._verify_set(keyring)            # SET over RFC 8785 {body, integratedTime, logID, logIndex}
    entry._verify(keyring)                # = all three above (SET only if integratedTime present)
    print("B: inclusion proof, checkpoint and SET verified; logIndex", entry._inner.log_index,
          "treeSize", entry._inner.inclusion_proof.tree_size,
          "proof len", len(entry._inner.inclusion_proof.hashes))

    # tamper checks
    bad = log.get(uuid)
    bad[uuid]["verification"]["signedEntryTimestamp"] = base64.b64encode(b"\x30\x00").decode()
    try:
        TransparencyLogEntry._from_v1_response(bad)._verify(keyring)
    except VerificationError as exc:
        print("B: tampered SET rejected:", exc)
    other = ec.generate_private_key(ec.SECP256R1())
    try:
        entry._verify(keyring_for(other.public_key()))
    except VerificationError as exc:
        print("B: wrong log key rejected:", exc)

    # ---- the same calls through RekorClient against a stub HTTP server, to record the requests
    seen = []

    class H(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def _send(self, code, obj):
            data = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            seen.append(("GET", self.path, self.headers.get("Accept")))
            if self.path.startswith("/api/v1/log/entries/"):
                u = self.path.rsplit("/", 1)[1]
                return self._send(200, log.get(u)) if u in log.entries else \
                    self._send(404, {"code": 404, "message": "entry not found"})
            if self.path.startswith("/api/v1/log/entries?logIndex="):
                i = int(self.path.split("=")[1])
                u = [k for k, v in log.entries.items() if v["logIndex"] == i][0]
                return self._send(200, log.get(u))
            self._send(404, {"code": 404, "message": "not found"})

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append(("POST", self.path, self.headers.get("Content-Type")))
            if self.path == "/api/v1/log/entries":
                return self._send(201, log.add(body))
            if self.path == "/api/v1/log/entries/retrieve/":       # note the trailing slash
                want = [rfc8785.dumps(e) for e in body.get("entries", [])]
                hits = [log.get(u) for u, v in log.entries.items()
                        if base64.b64decode(v["body"]) in want]
                return self._send(200, hits)                          # list of {uuid: LogEntry}
            self._send(404, {"code": 404, "message": "not found"})

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    client = RekorClient(f"http://127.0.0.1:{srv.server_port}")
    req = hashedrekord_request(b"via http", signer)
    e_new = client.create_entry(req)
    u = _hash_leaf(e_new._inner.canonicalized_body).hex()
    e_uuid = client.log.entries.get(uuid=u)
    e_idx = client.log.entries.get(log_index=e_new._inner.log_index)
    e_ret = client.log.entries.retrieve.post(rekor_types.Hashedrekord.model_validate(req))
    e_none = client.log.entries.retrieve.post(rekor_types.Hashedrekord.model_validate(
        hashedrekord_request(b"never logged", signer)))
    for e in (e_new, e_uuid, e_idx, e_ret):
        e._verify(keyring)
    try:
        client.log.entries.get(log_index=0)
    except ValueError as exc:
        print("B: get(log_index=0) ->", repr(exc))
    try:
        client.log.entries.get(uuid="00" * 32)
    except RekorClientError as exc:
        print("B: 404 ->", repr(exc))
    srv.shutdown()
    print("B: via HTTP: create/get-by-uuid/get-by-index/retrieve verified;",
          "retrieve with no match ->", e_none)
    for s in seen:
        print("   ", s)


if __name__ == "__main__":
    signer = ec.generate_private_key(ec.SECP256R1())
    part_a(signer)
    part_b(signer)
