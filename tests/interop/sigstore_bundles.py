"""Sigstore bundles made through our log, and damaged copies of them, for the sigstore-go
and sigstore-js verifiers (test_bundle_verifiers.py).

The signers are real clients: sigstore-python 4.5.1's own signing steps
(`RekorClient._build_*_request`, `create_entry`, `Bundle._from_parts`, as `Signer` runs
them) with a leaf from the test CA instead of Fulcio, and cosign `sign-blob --key
--new-bundle-format` and `attest-blob`.  A key-signed bundle from sigstore-python's upload
is assembled here the way cosign does (publicKey hint = base64 SHA-256 of the key's DER
SPKI), and so is an intoto 0.0.2 one, which sigstore-python's client cannot read back.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sigstore import dsse
from sigstore._internal.rekor import EntryRequestBody
from sigstore._internal.rekor.client import RekorClient
from sigstore.hashes import Hashed
from sigstore.models import Bundle
from sigstore_models.common.v1 import HashAlgorithm, HashOutput, MessageSignature

from tests.integration.logserver import signed_hashedrekord
from tests.interop.conftest import InteropLog, client_env
from tests.interop.trust import write_trusted_root
from tests.tools.fulcio import OIDC_ISSUER, FulcioPKI

SIGNER_EMAIL = "signer@rekor-py.test"
VECTORS = Path(__file__).parents[1] / "vectors" / "sigstore-python"

# The production vector (a GitHub Actions release signature in rekor.sigstore.dev) and
# what it was signed by; its artifact is not shipped, only its digest (in the bundle).
PRODUCTION_BUNDLE = VECTORS / "bundle_v3_github.whl.sigstore"
PRODUCTION_ROOT = VECTORS / "trusted_root.production.json"
PRODUCTION_IDENTITY = [
    "--certificate-identity",
    "https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/tags/v0.1.2",
    "--certificate-oidc-issuer", "https://token.actions.githubusercontent.com"]


@dataclass
class Signed:
    """A bundle, the artifact it signs, and the policy flags that name its signer."""

    name: str
    bundle: Path
    artifact: Path
    policy: list[str]
    log_index: int

    def load(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.bundle.read_text())
        return data


def identity_policy(email: str = SIGNER_EMAIL, issuer: str = OIDC_ISSUER) -> list[str]:
    return ["--certificate-identity", email, "--certificate-oidc-issuer", issuer]


def _spki(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def _write(folder: Path, name: str, bundle: dict[str, Any] | str) -> Path:
    path = folder / f"{name}.sigstore.json"
    path.write_text(bundle if isinstance(bundle, str) else json.dumps(bundle, indent=2))
    return path


def sigstore_python_hashedrekord(log: InteropLog, pki: FulcioPKI, folder: Path,
                                 sct: bool = True) -> Signed:
    """sigstore-python's `sign_artifact` steps: hashedrekord, test-CA leaf (with an
    embedded SCT, or none), bundle v0.3."""
    stem = "python-hashedrekord" + ("" if sct else "-no-sct")
    artifact = folder / f"{stem}.txt"
    artifact.write_bytes(f"signed by sigstore-python through rekor-py ({stem})\n".encode())
    leaf = pki.issue(SIGNER_EMAIL, sct=sct)
    client = RekorClient(log.url)
    digest = hashlib.sha256(artifact.read_bytes()).digest()
    hashed = Hashed(algorithm=HashAlgorithm.SHA2_256, digest=digest)
    signature = leaf.key.sign(digest, ec.ECDSA(hashed._as_prehashed()))
    entry = client.create_entry(
        client._build_hashed_rekord_request(hashed, signature, leaf.cert))
    content = MessageSignature(
        message_digest=HashOutput(algorithm=HashAlgorithm.SHA2_256,
                                  digest=base64.b64encode(digest)),
        signature=base64.b64encode(signature))
    bundle = Bundle._from_parts(leaf.cert, content, entry)
    return Signed(f"{stem}-cert", _write(folder, stem, bundle.to_json()),
                  artifact, identity_policy(), entry._inner.log_index)


def sigstore_python_dsse(log: InteropLog, pki: FulcioPKI, folder: Path) -> Signed:
    """sigstore-python's `sign_dsse` steps: an in-toto statement naming the artifact, a
    dsse 0.0.1 entry, test-CA leaf, bundle v0.3."""
    artifact = folder / "python-dsse.txt"
    artifact.write_bytes(b"attested by sigstore-python through rekor-py\n")
    statement = _statement(artifact)
    leaf = pki.issue(SIGNER_EMAIL)
    envelope = dsse._sign(leaf.key, statement)
    client = RekorClient(log.url)
    entry = client.create_entry(client._build_dsse_request(envelope, leaf.cert))
    bundle = Bundle._from_parts(leaf.cert, envelope, entry)
    return Signed("python-dsse-cert", _write(folder, "python-dsse", bundle.to_json()),
                  artifact, identity_policy(), entry._inner.log_index)


def _statement(artifact: Path) -> dsse.Statement:
    return dsse.Statement(json.dumps({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": artifact.name,
                     "digest": {"sha256": hashlib.sha256(artifact.read_bytes()).hexdigest()}}],
        "predicateType": "https://rekor-py.test/predicate/v1",
        "predicate": {"built-by": "tests/interop"},
    }).encode())


def bundle_tlog_entry(response: dict[str, Any]) -> dict[str, Any]:
    """A bundle's tlogEntries[] item from a Rekor v1 LogEntry answer (`{uuid: entry}`),
    mapped as sigstore-python and rekor's `pkg/tle` map it."""
    ((_, entry),) = response.items()
    body = json.loads(base64.b64decode(entry["body"]))
    proof = entry["verification"]["inclusionProof"]
    return {
        "logIndex": str(entry["logIndex"]),
        "logId": {"keyId": base64.b64encode(bytes.fromhex(entry["logID"])).decode()},
        "kindVersion": {"kind": body["kind"], "version": body["apiVersion"]},
        "integratedTime": str(entry["integratedTime"]),
        "inclusionPromise": {
            "signedEntryTimestamp": entry["verification"]["signedEntryTimestamp"]},
        "inclusionProof": {
            "logIndex": str(proof["logIndex"]),
            "rootHash": base64.b64encode(bytes.fromhex(proof["rootHash"])).decode(),
            "treeSize": str(proof["treeSize"]),
            "hashes": [base64.b64encode(bytes.fromhex(h)).decode() for h in proof["hashes"]],
            "checkpoint": {"envelope": proof["checkpoint"]},
        },
        "canonicalizedBody": entry["body"],
    }


def intoto_002(log: InteropLog, pki: FulcioPKI, folder: Path) -> Signed:
    """An intoto 0.0.2 entry (what `@sigstore/cli attest` logs): sigstore-python's DSSE
    envelope with a test-CA leaf, posted as Rekor's model wants it (payload and signature
    base64 twice) and bundled here, since sigstore-python's client reads only hashedrekord
    and dsse answers."""
    artifact = folder / "intoto-002.txt"
    artifact.write_bytes(b"attested through rekor-py as intoto 0.0.2\n")
    leaf = pki.issue(SIGNER_EMAIL)
    envelope_json = dsse._sign(leaf.key, _statement(artifact)).to_json()
    env = json.loads(envelope_json)

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    proposed: dict[str, Any] = {"kind": "intoto", "apiVersion": "0.0.2", "spec": {"content": {
        "envelope": {"payloadType": env["payloadType"], "payload": b64(env["payload"].encode()),
                     "signatures": [{"sig": b64(sig["sig"].encode()),
                                     "publicKey": b64(leaf.cert_pem)}
                                    for sig in env["signatures"]]},
        "hash": {"algorithm": "sha256",
                 "value": hashlib.sha256(envelope_json.encode()).hexdigest()}}}}
    r = requests.post(f"{log.url}/api/v1/log/entries", json=proposed, timeout=30)
    assert r.status_code == 201, r.text
    tlog_entry = bundle_tlog_entry(r.json())
    bundle = {
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {
            "certificate": {"rawBytes": b64(leaf.cert.public_bytes(serialization.Encoding.DER))},
            "tlogEntries": [tlog_entry],
            "timestampVerificationData": {},
        },
        "dsseEnvelope": env,
    }
    return Signed("intoto-002-cert", _write(folder, "intoto-002", bundle), artifact,
                  identity_policy(), int(tlog_entry["logIndex"]))


def sigstore_python_key(log: InteropLog, folder: Path) -> Signed:
    """A hashedrekord signed with a plain key (no certificate), uploaded by sigstore-python's
    client; the bundle carries the key's hint as cosign's `--new-bundle-format` writes it."""
    artifact = folder / "python-key.txt"
    artifact.write_bytes(b"signed with a key, uploaded by sigstore-python\n")
    key = ec.generate_private_key(ec.SECP256R1())
    pub_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    key_path = folder / "python-key.pub"
    key_path.write_bytes(pub_pem)
    data = artifact.read_bytes()
    digest = hashlib.sha256(data).digest()
    signature = key.sign(data, ec.ECDSA(hashes.SHA256()))
    proposed = {
        "apiVersion": "0.0.1", "kind": "hashedrekord",
        "spec": {"data": {"hash": {"algorithm": "sha256", "value": digest.hex()}},
                 "signature": {"content": base64.b64encode(signature).decode(),
                               "publicKey": {"content": base64.b64encode(pub_pem).decode()}}},
    }
    entry = RekorClient(log.url).create_entry(EntryRequestBody(proposed))
    tlog_entry = json.loads(entry._inner.to_json())
    bundle = {
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {
            "publicKey": {"hint": base64.b64encode(
                hashlib.sha256(_spki(key.public_key())).digest()).decode()},
            "tlogEntries": [tlog_entry],
            "timestampVerificationData": {},
        },
        "messageSignature": {
            "messageDigest": {"algorithm": "SHA2_256", "digest": base64.b64encode(digest).decode()},
            "signature": base64.b64encode(signature).decode(),
        },
    }
    return Signed("python-hashedrekord-key", _write(folder, "python-key", bundle), artifact,
                  ["--key", str(key_path)], entry._inner.log_index)


def cosign_key(log: InteropLog, cosign: Path, folder: Path) -> Signed:
    """cosign v2 `sign-blob --key --new-bundle-format`: its own upload (the legacy Rekor v1
    client, `--rekor-url`) and its own bundle."""
    home = folder / "cosign-home"
    home.mkdir(exist_ok=True)
    env = client_env(home, COSIGN_PASSWORD="")
    prefix = folder / "cosign"
    run([str(cosign), "generate-key-pair", "--output-key-prefix", str(prefix)], env, folder)
    artifact = folder / "cosign-blob.txt"
    artifact.write_bytes(b"signed by cosign through rekor-py\n")
    bundle = folder / "cosign.sigstore.json"
    run([str(cosign), "sign-blob", "--yes", "--key", f"{prefix}.key",
         "--rekor-url", log.url, "--tlog-upload=true", "--new-bundle-format",
         "--bundle", str(bundle), str(artifact)], env, folder)
    data = json.loads(bundle.read_text())
    index = int(data["verificationMaterial"]["tlogEntries"][0]["logIndex"])
    return Signed("cosign-hashedrekord-key", bundle, artifact, ["--key", f"{prefix}.pub"], index)


def cosign_attestation(log: InteropLog, cosign: Path, key: Signed, entry_type: str,
                       folder: Path) -> Signed:
    """cosign v2 `attest-blob --key --new-bundle-format --rekor-entry-type dsse|intoto`: an
    in-toto statement about the artifact in a DSSE envelope, logged as `entry_type`, with
    the key of the `key` bundle (cosign's)."""
    home = folder / "cosign-home"
    env = client_env(home, COSIGN_PASSWORD="")
    artifact = folder / f"cosign-attested-{entry_type}.txt"
    artifact.write_bytes(f"attested by cosign through rekor-py ({entry_type})\n".encode())
    predicate = folder / "predicate.json"
    predicate.write_text(json.dumps({"built-by": "tests/interop"}))
    bundle = folder / f"cosign-{entry_type}.sigstore.json"
    key_pub = Path(key.policy[key.policy.index("--key") + 1])
    run([str(cosign), "attest-blob", "--yes", "--key", str(key_pub.with_suffix(".key")),
         "--predicate", str(predicate), "--type", "https://rekor-py.test/predicate/v1",
         "--rekor-url", log.url, "--tlog-upload=true", "--rekor-entry-type", entry_type,
         "--new-bundle-format", "--bundle", str(bundle), str(artifact)], env, folder)
    data = json.loads(bundle.read_text())
    entry = data["verificationMaterial"]["tlogEntries"][0]
    assert entry["kindVersion"]["kind"] == entry_type, entry["kindVersion"]
    return Signed(f"cosign-{entry_type}-key", bundle, artifact, key.policy,
                  int(entry["logIndex"]))


def run(cmd: list[str], env: dict[str, str], cwd: Path, timeout: float = 120
        ) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, check=False)
    if done.returncode != 0:
        raise AssertionError(f"{cmd[:2]} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done


# ---- damage ---------------------------------------------------------------------------


def _flip_b64(value: str, index: int = 0) -> str:
    raw = bytearray(base64.b64decode(value))
    raw[index] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def _entry(bundle: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = bundle["verificationMaterial"]["tlogEntries"][0]
    return entry


def flip_proof_hash(bundle: dict[str, Any]) -> None:
    hashes_ = _entry(bundle)["inclusionProof"]["hashes"]
    assert hashes_, "the inclusion proof has no hashes to flip (the tree has one leaf)"
    hashes_[0] = _flip_b64(hashes_[0])


def flip_checkpoint_signature(bundle: dict[str, Any]) -> None:
    checkpoint = _entry(bundle)["inclusionProof"]["checkpoint"]
    note, sep, sig_line = checkpoint["envelope"].partition("\n\n")
    dash, name, sig = sig_line.rstrip("\n").split(" ")
    # Byte 10 is inside the ECDSA signature, past the 4-byte key hint.
    checkpoint["envelope"] = f"{note}{sep}{dash} {name} {_flip_b64(sig, 10)}\n"


def flip_set(bundle: dict[str, Any]) -> None:
    promise = _entry(bundle)["inclusionPromise"]
    promise["signedEntryTimestamp"] = _flip_b64(promise["signedEntryTimestamp"], 12)


DAMAGE: dict[str, Callable[[dict[str, Any]], None]] = {
    "inclusion-proof-hash": flip_proof_hash,
    "checkpoint-signature": flip_checkpoint_signature,
    "signed-entry-timestamp": flip_set,
}


def damaged(signed: Signed, how: str, folder: Path) -> Path:
    bundle = copy.deepcopy(signed.load())
    DAMAGE[how](bundle)
    return _write(folder, f"{signed.name}-{how}", bundle)


def without_set(signed: Signed, folder: Path) -> Path:
    """`signed`'s bundle without its inclusion promise (the SET)."""
    bundle = copy.deepcopy(signed.load())
    del _entry(bundle)["inclusionPromise"]
    return _write(folder, f"{signed.name}-without-set", bundle)


def root_with_fresh_log_key(root: dict[str, Any], keep_log_id: bool) -> dict[str, Any]:
    """`root` with its log's public key replaced by a fresh P-256 key; with `keep_log_id`
    the log ID still names our log (so clients select it and check the signatures)."""
    fresh = _spki(ec.generate_private_key(ec.SECP256R1()).public_key())
    out = copy.deepcopy(root)
    tlog = out["tlogs"][0]
    tlog["publicKey"]["rawBytes"] = base64.b64encode(fresh).decode()
    if not keep_log_id:
        tlog["logId"]["keyId"] = base64.b64encode(hashlib.sha256(fresh).digest()).decode()
    return out



# ---- fixtures for the verifier tests (module-scoped: each module that binds them gets its
# own, on its own log) ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def sigstore_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sigstore-bundles")


@pytest.fixture(scope="module")
def pki() -> FulcioPKI:
    return FulcioPKI.create()


@pytest.fixture(scope="module")
def our_root(interop_log: InteropLog, pki: FulcioPKI, sigstore_folder: Path) -> Path:
    """A trusted root naming our log, the test CA and its CT log."""
    return write_trusted_root(sigstore_folder / "trusted_root.json", interop_log.url,
                              interop_log.public_key_pem.read_bytes(), pki)


@pytest.fixture(scope="module")
def python_bundles(interop_log: InteropLog, pki: FulcioPKI, sigstore_folder: Path
                   ) -> dict[str, Signed]:
    """sigstore-python's bundles, made through the module's log after a few filler entries
    (so inclusion proofs have hashes to damage)."""
    for i in range(3):
        r = requests.post(f"{interop_log.url}/api/v1/log/entries",
                          json=signed_hashedrekord(f"filler {i}".encode()), timeout=30)
        assert r.status_code == 201, r.text
    made = [
        sigstore_python_hashedrekord(interop_log, pki, sigstore_folder),
        sigstore_python_dsse(interop_log, pki, sigstore_folder),
        sigstore_python_key(interop_log, sigstore_folder),
        intoto_002(interop_log, pki, sigstore_folder),
        sigstore_python_hashedrekord(interop_log, pki, sigstore_folder, sct=False),
    ]
    assert len({s.log_index for s in made}) == len(made)
    return {s.name: s for s in made}


@pytest.fixture(scope="module")
def cosign_bundle(interop_log: InteropLog, interop_tools: dict[str, Path],
                  python_bundles: dict[str, Signed], sigstore_folder: Path) -> Signed:
    """cosign's bundle, made after sigstore-python's."""
    return cosign_key(interop_log, interop_tools["cosign"], sigstore_folder)


@pytest.fixture(scope="module")
def cosign_attestations(interop_log: InteropLog, interop_tools: dict[str, Path],
                        cosign_bundle: Signed, sigstore_folder: Path) -> dict[str, Signed]:
    """cosign's attestations with the same key, logged as dsse and as intoto."""
    made = [cosign_attestation(interop_log, interop_tools["cosign"], cosign_bundle, kind,
                               sigstore_folder) for kind in ("dsse", "intoto")]
    return {s.name: s for s in made}


# Bundles both verifiers accept.  (cosign's `attest-blob --rekor-entry-type intoto` logs
# intoto 0.0.1, which neither can check: see test_cosign_intoto_001.)
BUNDLE_NAMES = ["python-hashedrekord-cert", "python-dsse-cert", "python-hashedrekord-key",
                "intoto-002-cert", "cosign-hashedrekord-key", "cosign-dsse-key"]


def signed_bundle(request: pytest.FixtureRequest, name: str) -> Signed:
    """The bundle called `name`, building only the fixtures it needs."""
    if name == "cosign-hashedrekord-key":
        signed: Signed = request.getfixturevalue("cosign_bundle")
        return signed
    if name.startswith("cosign-"):
        attestations: dict[str, Signed] = request.getfixturevalue("cosign_attestations")
        return attestations[name]
    bundles: dict[str, Signed] = request.getfixturevalue("python_bundles")
    return bundles[name]


def root_with_log_url(root: Path, url: str, folder: Path) -> Path:
    """`root` with its log's baseUrl replaced by `url` (same key, same log ID)."""
    data = json.loads(root.read_text())
    data["tlogs"][0]["baseUrl"] = url
    path = folder / "root-other-log-url.json"
    path.write_text(json.dumps(data, indent=2))
    return path


def mixed_root(logs_from: Path, pki_from: Path, folder: Path) -> Path:
    """A trusted root with the transparency logs of one root and the CAs and CT logs of
    another: a bundle's certificate then passes, and only its log entry is judged."""
    logs = json.loads(logs_from.read_text())
    pki_root = json.loads(pki_from.read_text())
    mixed = dict(logs, certificateAuthorities=pki_root["certificateAuthorities"],
                 ctlogs=pki_root["ctlogs"])
    path = folder / f"root-logs-of-{logs_from.stem}-pki-of-{pki_from.stem}.json"
    path.write_text(json.dumps(mixed, indent=2))
    return path
