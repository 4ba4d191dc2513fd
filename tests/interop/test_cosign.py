"""The real cosign v2.6.5 (github.com/sigstore/cosign/v2) and v3.1.3
(github.com/sigstore/cosign/v3) against `rekor-py serve`.

Every test runs cosign as a subprocess against one log served over real HTTP on a real
PostgreSQL (`interop_log`), checks cosign's exit code and what it printed, and checks
that the log grew by exactly the entries cosign uploaded.  Images live in a real OCI
registry (Debian's docker-registry on 127.0.0.1, `tests/interop/registry.py`), pushed
there by the real crane.

Trust is configured as a private deployment configures it, with no public Sigstore
service (this machine has no route to one): `--rekor-url` names our log; verification
trusts our log's key through `SIGSTORE_REKOR_PUBLIC_KEY` (old bundles, image signatures)
or through a `--trusted-root` file naming the log (new bundle format); certificates come
from the test CA in `tests/tools/fulcio.py`, its CT key given by
`SIGSTORE_CT_LOG_PUBLIC_KEY_FILE` or by the trusted root.

Limits of cosign v2.6.5 itself, not of the log (v3's are with its tests below, all in
docs/rekor-compat.md, "Go clients"):
* `sign-blob` has no `--certificate` flag: a blob signed with a certificate needs Fulcio
  (keyless), which we do not run.  The certificate flows here are `attest-blob
  --certificate --certificate-chain` (DSSE) and `sign --certificate` for images
  (hashedrekord).
* `verify-blob` with an old-format bundle needs the log key from SIGSTORE_REKOR_PUBLIC_KEY
  (`--trusted-root` is refused: "only supported with --new-bundle-format").
* A wrong log key shows as "rekor log public key not found for payload": cosign looks
  the key up by the entry's log ID (SHA-256 of the key) before checking any signature.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.interop.conftest import InteropLog
from tests.interop.cosign import Cosign, fresh_public_key_pem, rekor_body, sha256_hex
from tests.interop.registry import Registry, push_image, running_registry
from tests.interop.trust import write_trusted_root
from tests.tools.fulcio import OIDC_ISSUER, FulcioPKI

IDENTITY = "signer@rekor-py.test"
# The leaf must cover every integratedTime it is checked against; the module runs in
# well under this.
LEAF_LIFETIME = datetime.timedelta(minutes=30)
NO_TRUSTED_ENTRY = "not enough verified log entries from transparency log: 0 < 1"
PREDICATE = {"buildType": "https://rekor-py.test/build", "builder": {"id": "rekor-py-tests"}}


@dataclass
class Setup:
    """Everything one module's cosign calls share."""

    log: InteropLog
    cosign: Cosign
    work: Path
    key: Path  # cosign's encrypted private key (generate-key-pair)
    pub: Path
    trusted_root: Path  # names our log and the test CA + CT log
    wrong_root: Path  # the same, with a fresh key in place of our log's
    wrong_log_key: Path
    pki: FulcioPKI
    ca_chain: Path
    ct_key: Path
    leaf_key: Path  # the certificate's key, imported into cosign's format
    leaf_cert: Path

    def leaf_der(self) -> bytes:
        return x509.load_pem_x509_certificate(self.leaf_cert.read_bytes()).public_bytes(
            serialization.Encoding.DER)

    def artifact(self, name: str) -> Path:
        path = self.work / name
        path.write_bytes(f"{name}, signed by cosign\n".encode())
        return path

    def predicate(self) -> Path:
        path = self.work / "predicate.json"
        path.write_text(json.dumps(PREDICATE))
        return path


@pytest.fixture(scope="module")
def setup(interop_tools: dict[str, Path], interop_log: InteropLog,
          tmp_path_factory: pytest.TempPathFactory) -> Setup:
    work = tmp_path_factory.mktemp("cosign")
    cosign = Cosign(interop_tools["cosign"], work)
    key, pub = cosign.generate_key_pair("signer")
    pki = FulcioPKI.create()
    files = pki.write(work / "ca")
    log_key = interop_log.public_key_pem.read_bytes()
    trusted_root = write_trusted_root(work / "trusted_root.json", interop_log.url, log_key, pki)
    wrong_log_key = fresh_public_key_pem(work / "wrong-rekor.pub")
    wrong_root = write_trusted_root(work / "wrong_trusted_root.json", interop_log.url,
                                    wrong_log_key.read_bytes(), pki)
    leaf = pki.issue(IDENTITY, lifetime=LEAF_LIFETIME)
    leaf_key, _ = cosign.import_key_pair(leaf.key_pem, "leaf")
    leaf_cert = work / "leaf.pem"
    leaf_cert.write_bytes(leaf.cert_pem)
    return Setup(interop_log, cosign, work, key, pub, trusted_root, wrong_root, wrong_log_key,
                 pki, files["chain"], files["ct_public_key"], leaf_key, leaf_cert)


def _env_log_key(setup: Setup, key: Path | None = None) -> dict[str, str]:
    return {"SIGSTORE_REKOR_PUBLIC_KEY": str(key or setup.log.public_key_pem)}


def _grew(setup: Setup, before: int, entries: int) -> None:
    after = setup.log.tree_size()
    assert after == before + entries, (before, after, setup.log.server_log())


def _read(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _write(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(json.dumps(data))
    return path


# ---------------------------------------------------------------------------------------
# Blobs, key pair, old bundle format


def test_sign_blob_key_old_bundle(setup: Setup) -> None:
    """sign-blob --key uploads one hashedrekord 0.0.1; verify-blob checks the bundle's SET
    offline with our log key, and (given only the signature) finds the entry online."""
    blob = setup.artifact("old-bundle.txt")
    bundle = setup.work / "old-bundle.json"
    before = setup.log.tree_size()
    signed = setup.cosign.ok("sign-blob", "--key", setup.key, "--rekor-url", setup.log.url,
                             "--bundle", bundle, "--yes", blob)
    assert f"tlog entry created with index: {before}" in signed.stderr, signed.describe()
    _grew(setup, before, 1)

    saved = _read(bundle)
    assert saved["base64Signature"] == signed.stdout.strip()
    payload = saved["rekorBundle"]["Payload"]
    assert payload["logIndex"] == before
    body = rekor_body(payload["body"])
    assert (body["kind"], body["apiVersion"]) == ("hashedrekord", "0.0.1")
    assert body["spec"]["data"]["hash"] == {"algorithm": "sha256",
                                            "value": sha256_hex(blob.read_bytes())}

    env = _env_log_key(setup)
    ok = setup.cosign.ok("verify-blob", "--key", setup.pub, "--bundle", bundle, "--offline",
                         blob, env=env)
    assert "Verified OK" in ok.stderr
    # No bundle: cosign searches the log (POST /api/v1/log/entries/retrieve) for the entry.
    signature = setup.work / "old-bundle.sig"
    signature.write_text(saved["base64Signature"])
    ok = setup.cosign.ok("verify-blob", "--key", setup.pub, "--signature", signature,
                         "--rekor-url", setup.log.url, blob, env=env)
    assert "Verified OK" in ok.stderr
    _grew(setup, before, 1)

    # Negative controls.
    wrong = _env_log_key(setup, setup.wrong_log_key)
    for args in (("--bundle", bundle, "--offline"),
                 ("--signature", signature, "--rekor-url", setup.log.url)):
        bad = setup.cosign.fails("verify-blob", "--key", setup.pub, *args, blob, env=wrong)
        assert "rekor log public key not found for payload" in bad.stderr, bad.describe()
    tampered = json.loads(json.dumps(saved))
    tampered["rekorBundle"]["Payload"]["integratedTime"] += 1
    bad = setup.cosign.fails("verify-blob", "--key", setup.pub, "--offline", "--bundle",
                             _write(setup.work / "tampered.json", tampered), blob, env=env)
    assert "unable to verify SET" in bad.stderr, bad.describe()
    other = setup.artifact("old-bundle-other.txt")
    bad = setup.cosign.fails("verify-blob", "--key", setup.pub, "--offline", "--bundle",
                             bundle, other, env=env)
    assert (f'matching bundle to payload: bundle="{sha256_hex(blob.read_bytes())}", '
            f'payload="{sha256_hex(other.read_bytes())}"') in bad.stderr, bad.describe()
    _grew(setup, before, 1)


# ---------------------------------------------------------------------------------------
# Blobs, key pair, new (protobuf) bundle format, trusted root


def test_sign_blob_key_new_bundle(setup: Setup) -> None:
    """sign-blob --new-bundle-format writes a v0.3 bundle with our inclusion proof and
    checkpoint; verify-blob --trusted-root checks SET, proof and checkpoint offline."""
    blob = setup.artifact("new-bundle.txt")
    bundle = setup.work / "new-bundle.json"
    before = setup.log.tree_size()
    signed = setup.cosign.ok("sign-blob", "--key", setup.key, "--rekor-url", setup.log.url,
                             "--new-bundle-format", "--bundle", bundle, "--yes", blob)
    assert f"tlog entry created with index: {before}" in signed.stderr, signed.describe()
    _grew(setup, before, 1)

    saved = _read(bundle)
    assert saved["mediaType"] == "application/vnd.dev.sigstore.bundle.v0.3+json"
    entry = saved["verificationMaterial"]["tlogEntries"][0]
    # protojson leaves zero-valued fields out: the first entry of a log has no logIndex.
    assert entry.get("logIndex", "0") == str(before)
    assert entry["kindVersion"] == {"kind": "hashedrekord", "version": "0.0.1"}
    proof = entry["inclusionProof"]
    assert proof["treeSize"] == str(before + 1)
    assert proof["checkpoint"]["envelope"].split("\n")[1] == str(before + 1)

    ok = setup.cosign.ok("verify-blob", "--key", setup.pub, "--bundle", bundle,
                         "--trusted-root", setup.trusted_root, blob)
    assert "Verified OK" in ok.stderr

    bad = setup.cosign.fails("verify-blob", "--key", setup.pub, "--bundle", bundle,
                             "--trusted-root", setup.wrong_root, blob)
    # sigstore-go finds no trusted log with the entry's log ID, so no entry counts.
    assert NO_TRUSTED_ENTRY in bad.stderr, bad.describe()
    tampered = json.loads(json.dumps(saved))
    root_hash = bytearray(base64.b64decode(proof["rootHash"]))
    root_hash[0] ^= 1
    tampered["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["rootHash"] = \
        base64.b64encode(bytes(root_hash)).decode()
    bad = setup.cosign.fails("verify-blob", "--key", setup.pub, "--trusted-root",
                             setup.trusted_root, "--bundle",
                             _write(setup.work / "tampered-new.json", tampered), blob)
    assert "failed to verify log inclusion: calculated root" in bad.stderr, bad.describe()
    _grew(setup, before, 1)


def _signing_config(setup: Setup) -> Path:
    """A SigningConfig v0.2 naming our log as its one Rekor (v1 API), no CA, no TSA."""
    config = {
        "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
        "caUrls": [], "oidcUrls": [], "tsaUrls": [],
        "rekorTlogUrls": [{"url": setup.log.url, "majorApiVersion": 1,
                           "validFor": {"start": "2020-01-01T00:00:00Z"},
                           "operator": "rekor-py tests"}],
        "rekorTlogConfig": {"selector": "ANY"},
        "tsaConfig": {"selector": "ANY"},
    }
    return _write(setup.work / "signing_config.json", config)


def test_sign_blob_signing_config(setup: Setup) -> None:
    """--signing-config makes cosign v2.6.5 sign through sigstore-go's uploader (it reads
    the entry by the ETag header of the 201); the bundle verifies with the trusted root."""
    blob = setup.artifact("signing-config.txt")
    bundle = setup.work / "signing-config.json"
    before = setup.log.tree_size()
    setup.cosign.ok("sign-blob", "--key", setup.key, "--signing-config", _signing_config(setup),
                    "--trusted-root", setup.trusted_root, "--bundle", bundle, "--yes", blob)
    _grew(setup, before, 1)
    entry = _read(bundle)["verificationMaterial"]["tlogEntries"][0]
    assert entry.get("logIndex", "0") == str(before)
    body = rekor_body(entry["canonicalizedBody"])
    assert body["spec"]["data"]["hash"]["value"] == sha256_hex(blob.read_bytes())
    ok = setup.cosign.ok("verify-blob", "--key", setup.pub, "--bundle", bundle,
                         "--trusted-root", setup.trusted_root, blob)
    assert "Verified OK" in ok.stderr


# ---------------------------------------------------------------------------------------
# Blob attestations (in-toto statements in DSSE)


@pytest.mark.parametrize("entry_type", ["dsse", "intoto"])
def test_attest_blob_key(setup: Setup, entry_type: str) -> None:
    """attest-blob uploads a dsse 0.0.1 (default) or intoto 0.0.1 entry;
    verify-blob-attestation checks it offline with our log key, or finds it in the log."""
    blob = setup.artifact(f"attest-{entry_type}.txt")
    bundle = setup.work / f"attest-{entry_type}.json"
    envelope = setup.work / f"attest-{entry_type}.dsse.json"
    before = setup.log.tree_size()
    signed = setup.cosign.ok("attest-blob", "--key", setup.key, "--predicate",
                             setup.predicate(), "--type", "slsaprovenance", "--rekor-url",
                             setup.log.url, "--rekor-entry-type", entry_type, "--bundle",
                             bundle, "--output-signature", envelope, "--yes", blob)
    assert f"tlog entry created with index: {before}" in signed.stderr, signed.describe()
    _grew(setup, before, 1)
    body = rekor_body(_read(bundle)["rekorBundle"]["Payload"]["body"])
    assert (body["kind"], body["apiVersion"]) == \
        {"dsse": ("dsse", "0.0.1"), "intoto": ("intoto", "0.0.1")}[entry_type]

    env = _env_log_key(setup)
    ok = setup.cosign.ok("verify-blob-attestation", "--key", setup.pub, "--bundle", bundle,
                         "--type", "slsaprovenance", "--offline", blob, env=env)
    assert "Verified OK" in ok.stderr
    # The envelope alone: cosign searches the log with both a dsse and an intoto proposed
    # entry (POST /api/v1/log/entries/retrieve) and checks what it finds.
    online = ("--signature", envelope, "--rekor-url", setup.log.url)
    ok = setup.cosign.ok("verify-blob-attestation", "--key", setup.pub, *online, "--type",
                         "slsaprovenance", blob, env=env)
    assert "Verified OK" in ok.stderr
    wrong = _env_log_key(setup, setup.wrong_log_key)
    for where in (("--bundle", bundle, "--offline"), online):
        bad = setup.cosign.fails("verify-blob-attestation", "--key", setup.pub, *where,
                                 "--type", "slsaprovenance", blob, env=wrong)
        assert "rekor log public key not found for payload" in bad.stderr, bad.describe()
    _grew(setup, before, 1)


def test_attest_blob_certificate(setup: Setup) -> None:
    """attest-blob with a test-CA certificate (Fulcio-shaped: email SAN, issuer extension,
    embedded SCT): the dsse entry carries the certificate; verify-blob-attestation checks
    identity, issuer, chain, SCT and the log entry, in both bundle formats."""
    blob = setup.artifact("attest-cert.txt")
    old, new = setup.work / "attest-cert-old.json", setup.work / "attest-cert-new.json"
    before = setup.log.tree_size()
    for bundle, extra in ((old, ()), (new, ("--new-bundle-format",))):
        setup.cosign.ok("attest-blob", "--key", setup.leaf_key, "--certificate",
                        setup.leaf_cert, "--certificate-chain", setup.ca_chain,
                        "--predicate", setup.predicate(), "--type", "slsaprovenance",
                        "--rekor-url", setup.log.url, *extra, "--bundle", bundle, "--yes",
                        blob)
    _grew(setup, before, 2)
    body = rekor_body(_read(old)["rekorBundle"]["Payload"]["body"])
    assert body["kind"] == "dsse"
    verifier = base64.b64decode(body["spec"]["signatures"][0]["verifier"])
    assert verifier == setup.leaf_cert.read_bytes()

    identity = ("--certificate-identity", IDENTITY, "--certificate-oidc-issuer", OIDC_ISSUER,
                "--type", "slsaprovenance")
    env = {**_env_log_key(setup), "SIGSTORE_CT_LOG_PUBLIC_KEY_FILE": str(setup.ct_key)}
    ok = setup.cosign.ok("verify-blob-attestation", "--bundle", old, *identity,
                         "--certificate-chain", setup.ca_chain, "--offline", blob, env=env)
    assert "Verified OK" in ok.stderr
    ok = setup.cosign.ok("verify-blob-attestation", "--bundle", new, *identity,
                         "--trusted-root", setup.trusted_root, blob)
    assert "Verified OK" in ok.stderr

    bad = setup.cosign.fails("verify-blob-attestation", "--bundle", old,
                             "--certificate-identity", "someone-else@rekor-py.test",
                             "--certificate-oidc-issuer", OIDC_ISSUER, "--type",
                             "slsaprovenance", "--certificate-chain", setup.ca_chain,
                             "--offline", blob, env=env)
    assert "none of the expected identities matched" in bad.stderr, bad.describe()
    bad = setup.cosign.fails("verify-blob-attestation", "--bundle", new, *identity,
                             "--trusted-root", setup.wrong_root, blob)
    assert NO_TRUSTED_ENTRY in bad.stderr, bad.describe()
    _grew(setup, before, 2)


# ---------------------------------------------------------------------------------------
# Images in a local registry


@pytest.fixture(scope="module")
def registry(interop_tools: dict[str, Path]) -> Iterator[Registry]:
    with running_registry(interop_tools["registry"]) as running:
        yield running


@pytest.fixture(scope="module")
def image(interop_tools: dict[str, Path], registry: Registry, setup: Setup) -> str:
    """An image pushed by crane (one layer on an empty base), by digest."""
    return push_image(interop_tools["crane"], registry, setup.work, "interop/app",
                      b"an image signed by cosign against rekor-py\n")


HTTP = "--allow-http-registry"
CHECKS_TLOG = "Existence of the claims in the transparency log was verified offline"


def test_sign_verify_image_key(setup: Setup, image: str) -> None:
    """sign --key uploads a hashedrekord for the image's signature payload and stores the
    SET bundle in the registry; verify --key checks it with our log key."""
    before = setup.log.tree_size()
    signed = setup.cosign.ok("sign", "--key", setup.key, "--rekor-url", setup.log.url, HTTP,
                             "--yes", image)
    assert f"tlog entry created with index: {before}" in signed.stderr, signed.describe()
    _grew(setup, before, 1)

    verified = setup.cosign.ok("verify", "--key", setup.pub, HTTP, image,
                               env=_env_log_key(setup))
    assert CHECKS_TLOG in verified.stderr, verified.describe()
    signatures = json.loads(verified.stdout)
    digest = image.rsplit("@", 1)[1]
    ours = [s for s in signatures
            if s["optional"]["Bundle"]["Payload"]["logIndex"] == before]
    assert len(ours) == 1
    assert ours[0]["critical"]["image"]["docker-manifest-digest"] == digest

    bad = setup.cosign.fails("verify", "--key", setup.pub, HTTP, image,
                             env=_env_log_key(setup, setup.wrong_log_key))
    assert "rekor log public key not found for payload" in bad.stderr, bad.describe()
    _grew(setup, before, 1)


def test_attest_verify_image_key(setup: Setup, image: str) -> None:
    """attest --key --predicate --type uploads a dsse entry; verify-attestation checks it."""
    before = setup.log.tree_size()
    signed = setup.cosign.ok("attest", "--key", setup.key, "--predicate", setup.predicate(),
                             "--type", "slsaprovenance", "--rekor-url", setup.log.url, HTTP,
                             "--yes", image)
    assert f"tlog entry created with index: {before}" in signed.stderr, signed.describe()
    _grew(setup, before, 1)
    verified = setup.cosign.ok("verify-attestation", "--key", setup.pub, "--type",
                               "slsaprovenance", HTTP, image, env=_env_log_key(setup))
    assert CHECKS_TLOG in verified.stderr, verified.describe()
    statements = [json.loads(base64.b64decode(json.loads(line)["payload"]))
                  for line in verified.stdout.splitlines() if line.strip()]
    assert any(s["predicate"]["builder"] == PREDICATE["builder"] for s in statements)
    bad = setup.cosign.fails("verify-attestation", "--key", setup.pub, "--type",
                             "slsaprovenance", HTTP, image,
                             env=_env_log_key(setup, setup.wrong_log_key))
    assert "rekor log public key not found for payload" in bad.stderr, bad.describe()
    _grew(setup, before, 1)


def test_sign_verify_image_certificate(setup: Setup, image: str) -> None:
    """sign --certificate --certificate-chain (a test-CA leaf): the hashedrekord carries
    the certificate; verify checks identity, issuer and chain, with the log key and CT key
    from the environment or from a trusted root."""
    before = setup.log.tree_size()
    signed = setup.cosign.ok("sign", "--key", setup.leaf_key, "--certificate",
                             setup.leaf_cert, "--certificate-chain", setup.ca_chain,
                             "--rekor-url", setup.log.url, HTTP, "--yes", image)
    assert f"tlog entry created with index: {before}" in signed.stderr, signed.describe()
    _grew(setup, before, 1)

    identity = ("--certificate-identity", IDENTITY, "--certificate-oidc-issuer", OIDC_ISSUER)
    env = {**_env_log_key(setup), "SIGSTORE_CT_LOG_PUBLIC_KEY_FILE": str(setup.ct_key)}
    for args, extra_env in ((("--certificate-chain", setup.ca_chain), env),
                            (("--trusted-root", setup.trusted_root), {})):
        verified = setup.cosign.ok("verify", *identity, *args, HTTP, image, env=extra_env)
        assert CHECKS_TLOG in verified.stderr, verified.describe()
        subjects = [s["optional"].get("Subject") for s in json.loads(verified.stdout)]
        assert subjects == [IDENTITY]

    bad = setup.cosign.fails("verify", *identity, "--trusted-root", setup.wrong_root, HTTP,
                             image)
    assert "no matching signatures" in bad.stderr, bad.describe()
    assert "rekor log public key not found for payload" in bad.stderr, bad.describe()
    _grew(setup, before, 1)




# ---------------------------------------------------------------------------------------
# Other key types, and uploading the same entry twice


def _import_key(setup: Setup, name: str, key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
                ) -> tuple[Path, Path]:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    return setup.cosign.import_key_pair(pem, name)


def test_sign_blob_p384_sha384(setup: Setup) -> None:
    """A P-384 key makes cosign hash with SHA-384: the log takes a sha384 hashedrekord and
    the new bundle verifies.  (cosign verifies with SHA-256 unless told
    --signature-digest-algorithm sha384; the old bundle format is SHA-256 only, which
    cosign itself warns about.)"""
    key, pub = _import_key(setup, "p384", ec.generate_private_key(ec.SECP384R1()))
    blob = setup.artifact("p384.txt")
    bundle = setup.work / "p384.json"
    before = setup.log.tree_size()
    setup.cosign.ok("sign-blob", "--key", key, "--rekor-url", setup.log.url,
                    "--new-bundle-format", "--bundle", bundle, "--yes", blob)
    _grew(setup, before, 1)
    saved = _read(bundle)
    assert saved["messageSignature"]["messageDigest"]["algorithm"] == "SHA2_384"
    body = rekor_body(saved["verificationMaterial"]["tlogEntries"][0]["canonicalizedBody"])
    assert body["spec"]["data"]["hash"] == {
        "algorithm": "sha384", "value": hashlib.sha384(blob.read_bytes()).hexdigest()}
    ok = setup.cosign.ok("verify-blob", "--key", pub, "--signature-digest-algorithm",
                         "sha384", "--bundle", bundle, "--trusted-root", setup.trusted_root,
                         blob)
    assert "Verified OK" in ok.stderr


def test_sign_blob_twice_same_entry(setup: Setup) -> None:
    """RSA PKCS#1 v1.5 signatures are deterministic: signing the same blob again proposes
    the same entry.  The log answers 409 with the existing entry's Location; cosign fetches
    that entry and uses it (same index), and the log does not grow."""
    key, pub = _import_key(setup, "rsa", rsa.generate_private_key(65537, 2048))
    blob = setup.artifact("twice.txt")
    before = setup.log.tree_size()
    bundles = [setup.work / "twice-1.json", setup.work / "twice-2.json"]
    for bundle in bundles:
        signed = setup.cosign.ok("sign-blob", "--key", key, "--rekor-url", setup.log.url,
                                 "--bundle", bundle, "--yes", blob)
        assert f"tlog entry created with index: {before}" in signed.stderr, signed.describe()
    _grew(setup, before, 1)
    first, second = (_read(b)["rekorBundle"] for b in bundles)
    # The same entry; its SET is an ECDSA signature made anew on each read (as in Rekor).
    assert first["Payload"] == second["Payload"]
    ok = setup.cosign.ok("verify-blob", "--key", pub, "--bundle", bundles[1], "--offline",
                         blob, env=_env_log_key(setup))
    assert "Verified OK" in ok.stderr




# ---------------------------------------------------------------------------------------
# cosign v3.1.3 (github.com/sigstore/cosign/v3): new bundle format and a signing config by
# default.  With no flags it fetches the signing config and trusted root from public
# Sigstore's TUF repository, which a private deployment (and this machine) cannot reach;
# `--signing-config` + `--trusted-root` files are the offline form.  The deprecated
# `--use-signing-config=false --rekor-url` path (cosign's own Rekor client) works too.


@pytest.fixture(scope="module")
def cosign3(interop_tools: dict[str, Path], setup: Setup) -> Cosign:
    return Cosign(interop_tools["cosign3"], setup.work)


def _v3_entry(bundle: Path) -> dict[str, Any]:
    saved = _read(bundle)
    # Both spellings of v0.3 (`bundle create` writes the second).
    assert saved["mediaType"] in ("application/vnd.dev.sigstore.bundle.v0.3+json",
                                  "application/vnd.dev.sigstore.bundle+json;version=0.3")
    entries = saved["verificationMaterial"]["tlogEntries"]
    assert len(entries) == 1
    entry: dict[str, Any] = entries[0]
    return entry


@pytest.mark.parametrize("service", ["signing-config", "rekor-url"])
def test_v3_sign_blob_key(setup: Setup, cosign3: Cosign, service: str) -> None:
    """cosign v3 sign-blob --key through a signing config (sigstore-go's uploader) or
    --rekor-url; verify-blob --trusted-root checks SET, inclusion proof and checkpoint."""
    blob = setup.artifact(f"v3-{service}.txt")
    bundle = setup.work / f"v3-{service}.json"
    where = (("--signing-config", _signing_config(setup)) if service == "signing-config"
             else ("--use-signing-config=false", "--rekor-url", setup.log.url))
    before = setup.log.tree_size()
    signed = cosign3.ok("sign-blob", "--key", setup.key, *where, "--trusted-root",
                        setup.trusted_root, "--bundle", bundle, "--yes", blob)
    assert f"Wrote bundle to file {bundle}" in signed.stderr, signed.describe()
    _grew(setup, before, 1)
    entry = _v3_entry(bundle)
    assert entry.get("logIndex", "0") == str(before)
    assert entry["kindVersion"] == {"kind": "hashedrekord", "version": "0.0.1"}
    assert entry["inclusionProof"]["treeSize"] == str(before + 1)

    ok = cosign3.ok("verify-blob", "--key", setup.pub, "--bundle", bundle, "--trusted-root",
                    setup.trusted_root, blob)
    assert "Verified OK" in ok.stderr
    bad = cosign3.fails("verify-blob", "--key", setup.pub, "--bundle", bundle,
                        "--trusted-root", setup.wrong_root, blob)
    assert NO_TRUSTED_ENTRY in bad.stderr, bad.describe()
    tampered = _read(bundle)
    envelope = tampered["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["checkpoint"]
    lines = envelope["envelope"].split("\n")
    lines[1] = str(int(lines[1]) + 1)  # the checkpoint's tree size: its signature breaks
    envelope["envelope"] = "\n".join(lines)
    bad = cosign3.fails("verify-blob", "--key", setup.pub, "--trusted-root",
                        setup.trusted_root, "--bundle",
                        _write(setup.work / f"v3-{service}-tampered.json", tampered), blob)
    assert "failed to verify log inclusion" in bad.stderr, bad.describe()
    _grew(setup, before, 1)


def test_v3_bundle_upgrade_and_create(setup: Setup, cosign3: Cosign) -> None:
    """`cosign bundle upgrade` completes a v0.1 bundle (SET only, as older clients wrote
    them) with an inclusion proof fetched by GET /api/v1/log/entries?logIndex=;
    `cosign bundle create` rebuilds a bundle from a detached signature by searching the
    log.  Both results verify offline; the log does not grow."""
    blob = setup.artifact("v3-upgrade.txt")
    signed = setup.work / "v3-upgrade-signed.json"
    before = setup.log.tree_size()
    cosign3.ok("sign-blob", "--key", setup.key, "--signing-config", _signing_config(setup),
               "--trusted-root", setup.trusted_root, "--bundle", signed, "--yes", blob)
    _grew(setup, before, 1)

    old = _read(signed)
    old["mediaType"] = "application/vnd.dev.sigstore.bundle+json;version=0.1"
    del old["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]
    upgraded = setup.work / "v3-upgraded.json"
    done = cosign3.ok("bundle", "upgrade", _write(setup.work / "v3-v01.json", old),
                      "--rekor-url", setup.log.url, "--out", upgraded)
    assert f"Fetching missing inclusion proof from Rekor for log index {before}" in \
        done.stderr, done.describe()
    entry = _v3_entry(upgraded)
    assert entry["inclusionProof"]["treeSize"] == str(setup.log.tree_size())
    assert entry["canonicalizedBody"] == _v3_entry(signed)["canonicalizedBody"]
    ok = cosign3.ok("verify-blob", "--key", setup.pub, "--bundle", upgraded, "--trusted-root",
                    setup.trusted_root, blob)
    assert "Verified OK" in ok.stderr

    signature = setup.work / "v3-upgrade.sig"
    signature.write_text(_read(signed)["messageSignature"]["signature"])
    created = setup.work / "v3-created.json"
    cosign3.ok("bundle", "create", "--artifact", blob, "--signature", signature, "--key",
               setup.pub, "--rekor-url", setup.log.url, "--out", created)
    assert _v3_entry(created)["canonicalizedBody"] == _v3_entry(signed)["canonicalizedBody"]
    ok = cosign3.ok("verify-blob", "--key", setup.pub, "--bundle", created, "--trusted-root",
                    setup.trusted_root, blob)
    assert "Verified OK" in ok.stderr
    _grew(setup, before, 1)


def test_v3_verifies_v2_old_bundle(setup: Setup, cosign3: Cosign) -> None:
    """cosign v3 still verifies a v2 old-format bundle (SET) with SIGSTORE_REKOR_PUBLIC_KEY."""
    blob = setup.artifact("v2-for-v3.txt")
    bundle = setup.work / "v2-for-v3.json"
    before = setup.log.tree_size()
    setup.cosign.ok("sign-blob", "--key", setup.key, "--rekor-url", setup.log.url, "--bundle",
                    bundle, "--yes", blob)
    _grew(setup, before, 1)
    ok = cosign3.ok("verify-blob", "--key", setup.pub, "--bundle", bundle, blob,
                    env=_env_log_key(setup))
    assert "Verified OK" in ok.stderr
    bad = cosign3.fails("verify-blob", "--key", setup.pub, "--bundle", bundle, blob,
                        env=_env_log_key(setup, setup.wrong_log_key))
    assert "rekor log public key not found for payload" in bad.stderr, bad.describe()


def test_v3_sign_blob_certificate(setup: Setup, cosign3: Cosign) -> None:
    """cosign v3.1.3's sign-blob takes --certificate (v2.6.5's does not): the entry
    carries the test-CA leaf, verify-blob checks identity, issuer, chain and SCT against
    the trusted root.

    cosign's own limit: with --certificate-chain too, it writes a v0.3 bundle holding an
    x509CertificateChain, which sigstore-go (and so cosign's own verify-blob) refuses to
    load as a new bundle: verify-blob then falls back to the old format and rejects
    --trusted-root.  The entry in the log is fine; asserted below so the day cosign changes
    this shows."""
    blob = setup.artifact("v3-cert.txt")
    bundle, chained = setup.work / "v3-cert.json", setup.work / "v3-cert-chain.json"
    common = ("--key", setup.leaf_key, "--certificate", setup.leaf_cert, "--signing-config",
              _signing_config(setup), "--trusted-root", setup.trusted_root, "--yes")
    before = setup.log.tree_size()
    cosign3.ok("sign-blob", *common, "--bundle", bundle, blob)
    cosign3.ok("sign-blob", *common, "--certificate-chain", setup.ca_chain, "--bundle",
               chained, blob)
    _grew(setup, before, 2)
    material = _read(bundle)["verificationMaterial"]
    assert base64.b64decode(material["certificate"]["rawBytes"]) == \
        setup.leaf_der()
    body = rekor_body(material["tlogEntries"][0]["canonicalizedBody"])
    assert base64.b64decode(body["spec"]["signature"]["publicKey"]["content"]) == \
        setup.leaf_cert.read_bytes()

    identity = ("--certificate-identity", IDENTITY, "--certificate-oidc-issuer", OIDC_ISSUER)
    ok = cosign3.ok("verify-blob", *identity, "--bundle", bundle, "--trusted-root",
                    setup.trusted_root, blob)
    assert "Verified OK" in ok.stderr
    bad = cosign3.fails("verify-blob", "--certificate-identity", "someone@rekor-py.test",
                        "--certificate-oidc-issuer", OIDC_ISSUER, "--bundle", bundle,
                        "--trusted-root", setup.trusted_root, blob)
    assert f'expected SAN value "someone@rekor-py.test", got "{IDENTITY}"' in bad.stderr, \
        bad.describe()
    # cosign v2 finds the same entry online from the signature and certificate alone
    # (a hashedrekord search that must match the logged certificate PEM), checking chain
    # and SCT with the CA files and the CT key.
    signature = setup.work / "v3-cert.sig"
    signature.write_text(_read(bundle)["messageSignature"]["signature"])
    ok = setup.cosign.ok("verify-blob", *identity, "--certificate", setup.leaf_cert,
                         "--certificate-chain", setup.ca_chain, "--signature", signature,
                         "--rekor-url", setup.log.url, blob,
                         env={**_env_log_key(setup),
                              "SIGSTORE_CT_LOG_PUBLIC_KEY_FILE": str(setup.ct_key)})
    assert "Verified OK" in ok.stderr

    assert "x509CertificateChain" in _read(chained)["verificationMaterial"]
    bad = cosign3.fails("verify-blob", *identity, "--bundle", chained, "--trusted-root",
                        setup.trusted_root, blob)
    assert "--trusted-root only supported with --new-bundle-format" in bad.stderr, \
        bad.describe()
    _grew(setup, before, 2)


def test_v3_attest_blob_key(setup: Setup, cosign3: Cosign) -> None:
    """cosign v3 attest-blob: a dsse 0.0.1 entry and a bundle holding the DSSE envelope."""
    blob = setup.artifact("v3-attest.txt")
    bundle = setup.work / "v3-attest.json"
    before = setup.log.tree_size()
    cosign3.ok("attest-blob", "--key", setup.key, "--predicate", setup.predicate(), "--type",
               "slsaprovenance", "--signing-config", _signing_config(setup), "--trusted-root",
               setup.trusted_root, "--bundle", bundle, "--yes", blob)
    _grew(setup, before, 1)
    assert _v3_entry(bundle)["kindVersion"] == {"kind": "dsse", "version": "0.0.1"}
    assert "dsseEnvelope" in _read(bundle)
    ok = cosign3.ok("verify-blob-attestation", "--key", setup.pub, "--bundle", bundle,
                    "--type", "slsaprovenance", "--trusted-root", setup.trusted_root, blob)
    assert "Verified OK" in ok.stderr
    bad = cosign3.fails("verify-blob-attestation", "--key", setup.pub, "--bundle", bundle,
                        "--type", "slsaprovenance", "--trusted-root", setup.wrong_root, blob)
    assert NO_TRUSTED_ENTRY in bad.stderr, bad.describe()
    _grew(setup, before, 1)


def test_v3_image(setup: Setup, cosign3: Cosign, image: str) -> None:
    """cosign v3 sign/attest of the registry image (bundles stored as OCI referrers, tag
    fallback on this registry), with a key and with a certificate; verify and
    verify-attestation against the trusted root; a trusted root with the wrong log key
    finds nothing valid."""
    config = _signing_config(setup)
    offline = ("--signing-config", config, "--trusted-root", setup.trusted_root, HTTP, "--yes")
    before = setup.log.tree_size()
    cosign3.ok("sign", "--key", setup.key, *offline, image)
    cosign3.ok("attest", "--key", setup.key, "--predicate", setup.predicate(), "--type",
               "slsaprovenance", *offline, image)
    cosign3.ok("sign", "--key", setup.leaf_key, "--certificate", setup.leaf_cert, *offline,
               image)
    _grew(setup, before, 3)

    trusted = ("--trusted-root", setup.trusted_root, HTTP)
    verified = cosign3.ok("verify", "--key", setup.pub, *trusted, image)
    assert CHECKS_TLOG in verified.stderr, verified.describe()
    verified = cosign3.ok("verify-attestation", "--key", setup.pub, "--type", "slsaprovenance",
                          *trusted, image)
    assert CHECKS_TLOG in verified.stderr, verified.describe()
    verified = cosign3.ok("verify", "--certificate-identity", IDENTITY,
                          "--certificate-oidc-issuer", OIDC_ISSUER, *trusted, image)
    assert CHECKS_TLOG in verified.stderr, verified.describe()
    assert "The code-signing certificate was verified" in verified.stderr

    bad = cosign3.fails("verify", "--key", setup.pub, "--trusted-root", setup.wrong_root,
                        HTTP, image)
    assert NO_TRUSTED_ENTRY in bad.stderr, bad.describe()
    _grew(setup, before, 3)




