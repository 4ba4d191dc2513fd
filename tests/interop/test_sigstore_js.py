"""sigstore-js verifies bundles made through rekor-py, and rejects damaged and foreign ones.

`verify.mjs` (tests/interop/js) runs sigstore-js's own verifier (`@sigstore/verify`'s
`Verifier` on `toTrustMaterial` of a TrustedRoot and `toSignedEntity` of a bundle from
`@sigstore/bundle`), with one tlog entry and, for certificates, one SCT.  The trusted root
names our log, the test CA and its CT log; bundles come from sigstore-python's signing
steps and from cosign through a real `rekor-py serve`.  Every check runs the program and
asserts its exit code and the reason it prints (sigstore-js's error code and message).

sigstore-js checks a bundle in this order: timestamps, certificate chain and SCT (or the
key), then the tlog entry (SET, checkpoint, inclusion proof, body), then the signature,
then the identity policy; so a foreign bundle with a certificate fails on its chain first,
and the cases below that mean to reach the log entry use a trusted root whose CA matches.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.interop import sigstore_bundles
from tests.interop.conftest import InteropLog, client_env
from tests.interop.sigstore_bundles import (
    BUNDLE_NAMES,
    PRODUCTION_BUNDLE,
    PRODUCTION_IDENTITY,
    PRODUCTION_ROOT,
    Signed,
    damaged,
    identity_policy,
    mixed_root,
    root_with_fresh_log_key,
    root_with_log_url,
    signed_bundle,
    without_set,
)

# The shared fixtures, bound here so that pytest finds them (module-scoped: this module
# gets its own log, PKI and bundles).
cosign_attestations = sigstore_bundles.cosign_attestations
cosign_bundle = sigstore_bundles.cosign_bundle
our_root = sigstore_bundles.our_root
pki = sigstore_bundles.pki
python_bundles = sigstore_bundles.python_bundles
sigstore_folder = sigstore_bundles.sigstore_folder

BAD_SET = "TLOG_INCLUSION_PROMISE_ERROR: inclusion promise could not be verified"


def verify_js(tools: dict[str, Path], folder: Path, *args: str | Path
              ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["node", str(tools["sigstore-js"] / "verify.mjs"), *map(str, args)],
                          env=client_env(folder), capture_output=True, text=True,
                          timeout=60, check=False)


def assert_ok(done: subprocess.CompletedProcess[str], log_index: int) -> None:
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("OK "), done.stdout
    assert f"log index {log_index}," in lines[0], lines[0]


def assert_fail(done: subprocess.CompletedProcess[str], reason: str) -> None:
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    assert done.stdout == ""
    assert done.stderr.startswith("FAIL: ") and done.stderr.count("\n") == 1, done.stderr
    assert reason in done.stderr, done.stderr


@pytest.fixture
def signed(request: pytest.FixtureRequest, name: str) -> Signed:
    return signed_bundle(request, name)


def _any_artifact(folder: Path) -> Path:
    """For a production bundle, whose artifact we do not have: the checks before the
    signature's are what these cases are about."""
    path = folder / "not-the-artifact.bin"
    path.write_bytes(b"not the artifact\n")
    return path


# ---- our bundles verify ---------------------------------------------------------------


@pytest.mark.parametrize("name", BUNDLE_NAMES)
def test_our_bundle_verifies(signed: Signed, our_root: Path, interop_tools: dict[str, Path],
                             sigstore_folder: Path) -> None:
    done = verify_js(interop_tools, sigstore_folder, "--trusted-root", our_root,
                     "--bundle", signed.bundle, "--artifact", signed.artifact, *signed.policy)
    assert_ok(done, signed.log_index)
    if "--key" in signed.policy:
        assert "signed by the given key" in done.stdout
    else:
        assert "identity signer@rekor-py.test (https://oidc.rekor-py.test)" in done.stdout


def test_production_bundle_passes_its_log_with_production_root(
        interop_tools: dict[str, Path], sigstore_folder: Path) -> None:
    # The control for the foreign-bundle cases: with the production root, a real entry of
    # rekor.sigstore.dev passes chain, SCT and log entry, and fails only on the signature
    # (its artifact is not shipped).
    done = verify_js(interop_tools, sigstore_folder, "--trusted-root", PRODUCTION_ROOT,
                     "--bundle", PRODUCTION_BUNDLE, "--artifact", _any_artifact(sigstore_folder),
                     *PRODUCTION_IDENTITY)
    assert_fail(done, "SIGNATURE_ERROR: signature verification failed")


# ---- rejected ------------------------------------------------------------------------


def test_foreign_bundle_against_our_root(our_root: Path, interop_tools: dict[str, Path],
                                         sigstore_folder: Path) -> None:
    args: list[str | Path] = ["--bundle", PRODUCTION_BUNDLE,
                              "--artifact", _any_artifact(sigstore_folder),
                              *PRODUCTION_IDENTITY]
    done = verify_js(interop_tools, sigstore_folder, "--trusted-root", our_root, *args)
    assert_fail(done, "CERTIFICATE_ERROR: Failed to verify certificate chain")
    # With production's CA and CT log but our log, the entry itself is what fails.
    root = mixed_root(our_root, PRODUCTION_ROOT, sigstore_folder)
    done = verify_js(interop_tools, sigstore_folder, "--trusted-root", root, *args)
    assert_fail(done, BAD_SET)


@pytest.mark.parametrize("name", ["python-hashedrekord-cert", "python-dsse-cert",
                                  "python-hashedrekord-key", "cosign-hashedrekord-key"])
def test_our_bundle_against_production_logs(signed: Signed, our_root: Path,
                                            interop_tools: dict[str, Path],
                                            sigstore_folder: Path) -> None:
    # Production's logs, our CA: the chain passes, our log entry does not.
    root = mixed_root(PRODUCTION_ROOT, our_root, sigstore_folder)
    done = verify_js(interop_tools, sigstore_folder, "--trusted-root", root,
                     "--bundle", signed.bundle, "--artifact", signed.artifact, *signed.policy)
    assert_fail(done, BAD_SET)


def test_our_bundle_against_production_root(our_root: Path, interop_tools: dict[str, Path],
                                            sigstore_folder: Path,
                                            request: pytest.FixtureRequest) -> None:
    signed = signed_bundle(request, "python-hashedrekord-cert")
    done = verify_js(interop_tools, sigstore_folder, "--trusted-root", PRODUCTION_ROOT,
                     "--bundle", signed.bundle, "--artifact", signed.artifact, *signed.policy)
    assert_fail(done, "CERTIFICATE_ERROR: Failed to verify certificate chain")


DAMAGE_REASONS = {
    "inclusion-proof-hash":
        "TLOG_INCLUSION_PROOF_ERROR: calculated root hash does not match inclusion proof",
    "checkpoint-signature": "TLOG_INCLUSION_PROOF_ERROR: invalid checkpoint signature",
    "signed-entry-timestamp": BAD_SET,
}


@pytest.mark.parametrize("how", sorted(DAMAGE_REASONS))
@pytest.mark.parametrize("name", ["python-hashedrekord-cert", "python-dsse-cert",
                                  "intoto-002-cert", "cosign-hashedrekord-key",
                                  "cosign-dsse-key"])
def test_damaged_bundle(signed: Signed, how: str, our_root: Path,
                        interop_tools: dict[str, Path], sigstore_folder: Path) -> None:
    bad = damaged(signed, how, sigstore_folder)
    done = verify_js(interop_tools, sigstore_folder, "--trusted-root", our_root,
                     "--bundle", bad, "--artifact", signed.artifact, *signed.policy)
    assert_fail(done, DAMAGE_REASONS[how])


@pytest.mark.parametrize("keep_log_id", [True, False], ids=["our-log-id", "its-own-log-id"])
@pytest.mark.parametrize("name", ["python-hashedrekord-cert", "cosign-hashedrekord-key"])
def test_wrong_log_key_in_trusted_root(signed: Signed, keep_log_id: bool, our_root: Path,
                                       interop_tools: dict[str, Path],
                                       sigstore_folder: Path) -> None:
    root = root_with_fresh_log_key(json.loads(our_root.read_text()), keep_log_id)
    path = sigstore_folder / f"root-fresh-key-{keep_log_id}.json"
    path.write_text(json.dumps(root))
    done = verify_js(interop_tools, sigstore_folder, "--trusted-root", path,
                     "--bundle", signed.bundle, "--artifact", signed.artifact, *signed.policy)
    assert_fail(done, BAD_SET)


@pytest.mark.parametrize("name", ["python-hashedrekord-cert", "cosign-hashedrekord-key"])
def test_log_url_in_trusted_root_must_hold_the_checkpoint_name(
        signed: Signed, our_root: Path, interop_tools: dict[str, Path],
        sigstore_folder: Path) -> None:
    # sigstore-js takes a checkpoint signature only from a log whose baseUrl matches the
    # signature line's name (ours: host:port, `serve --hostname`), key hint aside.
    root = root_with_log_url(our_root, "https://rekor.elsewhere.test", sigstore_folder)
    done = verify_js(interop_tools, sigstore_folder, "--trusted-root", root,
                     "--bundle", signed.bundle, "--artifact", signed.artifact, *signed.policy)
    assert_fail(done, "TLOG_INCLUSION_PROOF_ERROR: invalid checkpoint signature")


@pytest.mark.parametrize("name", ["python-hashedrekord-cert", "python-hashedrekord-key"])
def test_bundle_without_set(signed: Signed, our_root: Path, interop_tools: dict[str, Path],
                            sigstore_folder: Path) -> None:
    # Without a TSA, the SET is what makes integratedTime a timestamp; sigstore-js wants
    # one even for a key.  The proof and checkpoint alone do not do.
    done = verify_js(interop_tools, sigstore_folder, "--trusted-root", our_root,
                     "--bundle", without_set(signed, sigstore_folder),
                     "--artifact", signed.artifact, *signed.policy)
    assert_fail(done, "TIMESTAMP_ERROR: expected 1 timestamps, got 0")


@pytest.mark.parametrize("name, reason", [
    ("python-hashedrekord-cert", "SIGNATURE_ERROR: signature verification failed"),
    ("python-hashedrekord-key", "SIGNATURE_ERROR: signature verification failed"),
    ("python-dsse-cert", "is not a subject of the in-toto statement"),
    ("cosign-hashedrekord-key", "SIGNATURE_ERROR: signature verification failed"),
    ("intoto-002-cert", "is not a subject of the in-toto statement"),
    ("cosign-dsse-key", "is not a subject of the in-toto statement"),
])
def test_other_artifact(signed: Signed, reason: str, our_root: Path,
                        interop_tools: dict[str, Path], sigstore_folder: Path) -> None:
    other = sigstore_folder / "other-artifact.txt"
    other.write_bytes(signed.artifact.read_bytes() + b"!")
    done = verify_js(interop_tools, sigstore_folder, "--trusted-root", our_root,
                     "--bundle", signed.bundle, "--artifact", other, *signed.policy)
    assert_fail(done, reason)


@pytest.mark.parametrize("name", ["python-hashedrekord-cert"])
def test_other_identity(signed: Signed, our_root: Path, interop_tools: dict[str, Path],
                        sigstore_folder: Path) -> None:
    done = verify_js(interop_tools, sigstore_folder, "--trusted-root", our_root,
                     "--bundle", signed.bundle, "--artifact", signed.artifact,
                     *identity_policy(email="someone-else@rekor-py.test"))
    assert_fail(done, "UNTRUSTED_SIGNER_ERROR: certificate identity error")
    done = verify_js(interop_tools, sigstore_folder, "--trusted-root", our_root,
                     "--bundle", signed.bundle, "--artifact", signed.artifact,
                     *identity_policy(issuer="https://other-issuer.rekor-py.test"))
    assert_fail(done, "UNTRUSTED_SIGNER_ERROR: invalid certificate extension")


@pytest.mark.parametrize("name", ["python-hashedrekord-key", "cosign-hashedrekord-key"])
def test_other_key(signed: Signed, our_root: Path, interop_tools: dict[str, Path],
                   sigstore_folder: Path, interop_log: InteropLog) -> None:
    # Any PEM key that did not sign: the log's own key will do.
    done = verify_js(interop_tools, sigstore_folder, "--trusted-root", our_root,
                     "--bundle", signed.bundle, "--artifact", signed.artifact,
                     "--key", interop_log.public_key_pem)
    assert_fail(done, "SIGNATURE_ERROR: signature verification failed")


def test_cosign_intoto_001(request: pytest.FixtureRequest, our_root: Path,
                           interop_tools: dict[str, Path], sigstore_folder: Path) -> None:
    # cosign v2 `attest-blob --rekor-entry-type intoto` logs intoto 0.0.1 (rekor-py, like
    # Rekor, logs what it is sent); the bundle it writes names a kind this verifier
    # cannot check.
    signed = request.getfixturevalue("cosign_attestations")["cosign-intoto-key"]
    done = verify_js(interop_tools, sigstore_folder, "--trusted-root", our_root,
                     "--bundle", signed.bundle, "--artifact", signed.artifact, *signed.policy)
    assert_fail(done, "TLOG_BODY_ERROR: unsupported intoto version: 0.0.1")


@pytest.mark.parametrize("name", ["python-hashedrekord-no-sct-cert"])
def test_leaf_without_sct(signed: Signed, our_root: Path, interop_tools: dict[str, Path],
                          sigstore_folder: Path) -> None:
    args: list[str | Path] = ["--trusted-root", our_root, "--bundle", signed.bundle,
                              "--artifact", signed.artifact, *signed.policy]
    assert_fail(verify_js(interop_tools, sigstore_folder, *args), "CERTIFICATE_ERROR: expected 1 SCTs, got 0")
    assert_ok(verify_js(interop_tools, sigstore_folder, *args, "--require-sct=false"),
              signed.log_index)
