"""Rekor v2 bundles from our server, verified by sigstore-python's CLI, sigstore-go and
sigstore-js, with the trust file `rekor-py trust-config` writes.

The bundle is made by sigstore-python 4.5.1's own signing steps, as its `Signer` runs
them against a v2 log: `RekorV2Client` builds and posts the hashedRekordRequestV002,
`TimestampAuthorityClient` asks our TSA for an RFC 3161 timestamp over the
signature, `Bundle._from_parts` assembles the v0.3 bundle (the leaf certificate comes
from the test CA instead of Fulcio).  A v2 entry has no SET, so every verifier must
take the bundle's time from the TSA's token, checked against the TSA chain in the
trusted root.  Negative controls: another artifact, an inclusion proof that does not
fold to the checkpoint's root, a timestamp from a TSA the trust file does not name.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sigstore._internal.rekor.client_v2 import RekorV2Client
from sigstore._internal.timestamp import TimestampAuthorityClient
from sigstore.hashes import Hashed
from sigstore.models import Bundle
from sigstore_models.common.v1 import HashAlgorithm, HashOutput, MessageSignature

from tests.interop.conftest import InteropLog, client_env
from tests.interop.sigstore_bundles import SIGNER_EMAIL, identity_policy
from tests.tools.fulcio import OIDC_ISSUER, FulcioPKI, pem

FULCIO_URL = "https://fulcio.rekor-py.test"
CTLOG_URL = "https://ctfe.rekor-py.test"


@dataclass
class V2Signed:
    bundle: Path
    artifact: Path
    log_index: int

    def load(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.bundle.read_text())
        return data


def sign_v2(url: str, tsa_url: str, pki: FulcioPKI, folder: Path, name: str) -> V2Signed:
    """sigstore-python's signing steps for a Rekor v2 log and a TSA."""
    artifact = folder / f"{name}.txt"
    artifact.write_bytes(f"signed through rekor-py's Rekor v2 log ({name})\n".encode())
    leaf = pki.issue(SIGNER_EMAIL)
    digest = hashlib.sha256(artifact.read_bytes()).digest()
    hashed = Hashed(algorithm=HashAlgorithm.SHA2_256, digest=digest)
    signature = leaf.key.sign(digest, ec.ECDSA(hashed._as_prehashed()))
    client = RekorV2Client(url)
    entry = client.create_entry(
        client._build_hashed_rekord_request(hashed, signature, leaf.cert))
    timestamp = TimestampAuthorityClient(tsa_url).request_timestamp(signature)
    content = MessageSignature(
        message_digest=HashOutput(algorithm=HashAlgorithm.SHA2_256,
                                  digest=base64.b64encode(digest)),
        signature=base64.b64encode(signature))
    bundle = Bundle._from_parts(leaf.cert, content, entry, [timestamp])
    path = folder / f"{name}.sigstore.json"
    path.write_text(bundle.to_json())
    return V2Signed(path, artifact, entry._inner.log_index)


def trust_config(log: InteropLog, pki: FulcioPKI, folder: Path) -> Path:
    """The file `rekor-py trust-config` writes: the server's logs and TSA, plus the
    test CA as the organization's Fulcio and its CT log."""
    chain = folder / "fulcio-chain.pem"
    chain.write_bytes(b"".join(pem(c) for c in pki.chain))
    ct_key = folder / "ctlog.pub"
    ct_key.write_bytes(pki.ct_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    out = folder / "trust-config.json"
    done = subprocess.run(
        [sys.executable, "-m", "rekor_py", "trust-config", "--rekor-server", log.url,
         "--fulcio-url", FULCIO_URL, "--fulcio-chain", str(chain), "--ctlog-url", CTLOG_URL,
         "--ctlog-key", str(ct_key), "--output", str(out)],
        capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return out


def trusted_root_of(config: Path) -> Path:
    root = config.with_name(config.stem + ".trusted-root.json")
    root.write_text(json.dumps(json.loads(config.read_text())["trustedRoot"]))
    return root


@pytest.fixture(scope="module")
def v2_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rekor-v2")


@pytest.fixture(scope="module")
def v2_pki() -> FulcioPKI:
    return FulcioPKI.create("rekor-py v2 interop")


@pytest.fixture(scope="module")
def v2_trust(interop_log: InteropLog, v2_pki: FulcioPKI, v2_folder: Path) -> Path:
    return trust_config(interop_log, v2_pki, v2_folder)


@pytest.fixture(scope="module")
def v2_signed(interop_log: InteropLog, v2_pki: FulcioPKI, v2_folder: Path) -> V2Signed:
    tsa_url = f"{interop_log.url}/api/v1/timestamp"
    # Entries before it, so that its inclusion proof has hashes to damage.
    for i in range(2):
        sign_v2(interop_log.url, tsa_url, v2_pki, v2_folder, f"python-v2-filler-{i}")
    return sign_v2(interop_log.url, tsa_url, v2_pki, v2_folder, "python-v2")


def _python(folder: Path, config: Path, bundle: Path, artifact: Path
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sigstore", "--trust-config", str(config), "verify", "identity",
         "--cert-identity", SIGNER_EMAIL, "--cert-oidc-issuer", OIDC_ISSUER,
         "--bundle", str(bundle), str(artifact)],
        env=client_env(folder), capture_output=True, text=True, timeout=120, check=False)


def _go(tools: dict[str, Path], folder: Path, root: Path, bundle: Path, artifact: Path,
        email: str = SIGNER_EMAIL) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(tools["sigverify"]), "--trusted-root", str(root), "--bundle", str(bundle),
         "--artifact", str(artifact), "--signed-timestamp", *identity_policy(email)],
        env=client_env(folder), capture_output=True, text=True, timeout=60, check=False)


def _js(tools: dict[str, Path], folder: Path, root: Path, bundle: Path, artifact: Path,
        email: str = SIGNER_EMAIL) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["node", str(tools["sigstore-js"] / "verify.mjs"), "--trusted-root", str(root),
         "--bundle", str(bundle), "--artifact", str(artifact), *identity_policy(email)],
        env=client_env(folder), capture_output=True, text=True, timeout=60, check=False)


def test_the_bundle_is_a_v2_entry_with_a_timestamp(v2_signed: V2Signed) -> None:
    bundle = v2_signed.load()
    (entry,) = bundle["verificationMaterial"]["tlogEntries"]
    assert entry["kindVersion"] == {"kind": "hashedrekord", "version": "0.0.2"}
    assert "inclusionPromise" not in entry or entry["inclusionPromise"] is None
    assert entry.get("integratedTime", "0") == "0"
    tokens = bundle["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"]
    assert len(tokens) == 1


def test_sigstore_python_cli_verifies(v2_signed: V2Signed, v2_trust: Path,
                                      v2_folder: Path) -> None:
    done = _python(v2_folder, v2_trust, v2_signed.bundle, v2_signed.artifact)
    assert done.returncode == 0, done.stderr
    assert "OK" in done.stderr + done.stdout


def test_sigstore_go_verifies(interop_tools: dict[str, Path], v2_signed: V2Signed,
                              v2_trust: Path, v2_folder: Path) -> None:
    done = _go(interop_tools, v2_folder, trusted_root_of(v2_trust), v2_signed.bundle,
               v2_signed.artifact)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("OK"), done.stdout


def test_sigstore_js_verifies(interop_tools: dict[str, Path], v2_signed: V2Signed,
                              v2_trust: Path, v2_folder: Path) -> None:
    done = _js(interop_tools, v2_folder, trusted_root_of(v2_trust), v2_signed.bundle,
               v2_signed.artifact)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("OK sigstore-js"), done.stdout


def _damaged(signed: V2Signed, folder: Path, name: str, how: Any) -> Path:
    bundle = copy.deepcopy(signed.load())
    how(bundle)
    path = folder / f"damaged-{name}.sigstore.json"
    path.write_text(json.dumps(bundle))
    return path


def _flip(value: str) -> str:
    raw = bytearray(base64.b64decode(value))
    raw[0] ^= 1
    return base64.b64encode(bytes(raw)).decode()


def _flip_proof_hash(bundle: dict[str, Any]) -> None:
    """The proof then folds to another root than the checkpoint's."""
    proof = bundle["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]
    proof["hashes"][0] = _flip(proof["hashes"][0])


def _flip_root_field(bundle: dict[str, Any]) -> None:
    """Only the proof's rootHash field, not the signed checkpoint that also holds it."""
    proof = bundle["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]
    proof["rootHash"] = _flip(proof["rootHash"])


@pytest.fixture(scope="module")
def foreign_timestamp(interop_log: InteropLog, v2_pki: FulcioPKI, v2_folder: Path,
                      v2_signed: V2Signed, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundle with its timestamp replaced by one from another TSA (a second server's,
    with its own key and chain) over the same signature."""
    from rfc3161_client import TimestampRequestBuilder

    from rekor_py.tsa import TimestampAuthority

    other = TimestampAuthority.load_or_create(tmp_path_factory.mktemp("other-tsa"))
    bundle = v2_signed.load()
    signature = base64.b64decode(bundle["messageSignature"]["signature"])
    request = TimestampRequestBuilder().data(signature).nonce(nonce=True).build()
    token = other.respond(request.as_bytes())
    tokens = bundle["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"]
    tokens[0]["signedTimestamp"] = base64.b64encode(token).decode()
    path = v2_folder / "foreign-timestamp.sigstore.json"
    path.write_text(json.dumps(bundle))
    return path


def test_every_verifier_refuses_the_controls(interop_tools: dict[str, Path],
                                             v2_signed: V2Signed, v2_trust: Path,
                                             v2_folder: Path, foreign_timestamp: Path) -> None:
    other_artifact = v2_folder / "other.txt"
    other_artifact.write_bytes(b"not what was signed\n")
    assert v2_signed.load()["verificationMaterial"]["tlogEntries"][0]["inclusionProof"][
        "hashes"], "the proof must have hashes to damage"
    root = trusted_root_of(v2_trust)
    cases = {
        "another artifact": (v2_signed.bundle, other_artifact),
        "a proof that folds to another root": (
            _damaged(v2_signed, v2_folder, "proof-hash", _flip_proof_hash), v2_signed.artifact),
        "timestamp from another TSA": (foreign_timestamp, v2_signed.artifact),
    }
    for case, (bundle, artifact) in cases.items():
        outcomes = {
            "sigstore-python": _python(v2_folder, v2_trust, bundle, artifact),
            "sigstore-go": _go(interop_tools, v2_folder, root, bundle, artifact),
            "sigstore-js": _js(interop_tools, v2_folder, root, bundle, artifact),
        }
        for client, done in outcomes.items():
            assert done.returncode != 0, (case, client, done.stdout)


def test_a_wrong_root_hash_field(interop_tools: dict[str, Path], v2_signed: V2Signed,
                                 v2_trust: Path, v2_folder: Path) -> None:
    """inclusionProof.rootHash differs from the signed checkpoint's root.  sigstore-python
    compares the two and refuses; sigstore-go and sigstore-js fold the proof to the
    checkpoint's root and never read the field, so for them the bundle still verifies
    (what they check is signed; recorded in docs/rekor-v2.md)."""
    bundle = _damaged(v2_signed, v2_folder, "root-field", _flip_root_field)
    root = trusted_root_of(v2_trust)
    assert _python(v2_folder, v2_trust, bundle, v2_signed.artifact).returncode != 0
    for done in (_go(interop_tools, v2_folder, root, bundle, v2_signed.artifact),
                 _js(interop_tools, v2_folder, root, bundle, v2_signed.artifact)):
        assert done.returncode == 0, done.stderr


def test_the_trust_config_names_both_logs_and_the_tsa(v2_trust: Path) -> None:
    config = json.loads(v2_trust.read_text())
    signing = config["signingConfig"]
    assert [s["majorApiVersion"] for s in signing["rekorTlogUrls"]] == [2, 1]
    assert signing["tsaUrls"][0]["url"].endswith("/api/v1/timestamp")
    assert signing["caUrls"][0]["url"] == FULCIO_URL
    root = config["trustedRoot"]
    assert [t["publicKey"]["keyDetails"] for t in root["tlogs"]] == [
        "PKIX_ED25519", "PKIX_ECDSA_P256_SHA_256"]
    assert len(root["timestampAuthorities"]) == 1 and len(root["ctlogs"]) == 1
