"""sigstore-go verifies bundles made through rekor-py, and rejects damaged and foreign ones.

`sigverify` (tests/interop/go) is a small program on sigstore-go's own verifier
(`verify.NewVerifier` with one transparency-log entry and its integrated time, SCTs for
certificates), reading a trusted root that names our log, the test CA and its CT log.
Bundles come from sigstore-python's signing steps and from cosign, through a real
`rekor-py serve`.  Every check runs the program and asserts its exit code and the
reason it prints.
"""

from __future__ import annotations

import base64
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

# What sigstore-go says when no tlog entry of the bundle verifies against the trusted
# root: entries of unknown logs and entries whose SET fails are skipped, then counted.
NO_VERIFIED_ENTRY = "not enough verified log entries from transparency log: 0 < 1"


def sigverify(tools: dict[str, Path], folder: Path, *args: str | Path
              ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(tools["sigverify"]), *map(str, args)],
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


# ---- our bundles verify ---------------------------------------------------------------


@pytest.mark.parametrize("name", BUNDLE_NAMES)
def test_our_bundle_verifies(signed: Signed, our_root: Path, interop_tools: dict[str, Path],
                             sigstore_folder: Path) -> None:
    done = sigverify(interop_tools, sigstore_folder, "--trusted-root", our_root,
                     "--bundle", signed.bundle, "--artifact", signed.artifact, *signed.policy)
    assert_ok(done, signed.log_index)
    if "--key" in signed.policy:
        assert "signed by the given key" in done.stdout
    else:
        assert "identity signer@rekor-py.test (https://oidc.rekor-py.test)" in done.stdout


def test_production_bundle_verifies_with_production_root(interop_tools: dict[str, Path],
                                                         sigstore_folder: Path) -> None:
    # The control for the foreign-bundle cases: the same program accepts a real entry of
    # rekor.sigstore.dev against the production trusted root.
    bundle = json.loads(PRODUCTION_BUNDLE.read_text())
    digest = base64.b64decode(bundle["messageSignature"]["messageDigest"]["digest"]).hex()
    done = sigverify(interop_tools, sigstore_folder, "--trusted-root", PRODUCTION_ROOT,
                     "--bundle", PRODUCTION_BUNDLE, "--artifact-digest", f"sha256:{digest}",
                     *PRODUCTION_IDENTITY)
    assert_ok(done, 79605083)


# ---- rejected ------------------------------------------------------------------------


def test_foreign_bundle_against_our_root(our_root: Path, interop_tools: dict[str, Path],
                                         sigstore_folder: Path) -> None:
    bundle = json.loads(PRODUCTION_BUNDLE.read_text())
    digest = base64.b64decode(bundle["messageSignature"]["messageDigest"]["digest"]).hex()
    done = sigverify(interop_tools, sigstore_folder, "--trusted-root", our_root,
                     "--bundle", PRODUCTION_BUNDLE, "--artifact-digest", f"sha256:{digest}",
                     *PRODUCTION_IDENTITY)
    assert_fail(done, NO_VERIFIED_ENTRY)


@pytest.mark.parametrize("name", ["python-hashedrekord-cert", "python-hashedrekord-key"])
def test_our_bundle_against_production_root(signed: Signed, interop_tools: dict[str, Path],
                                            sigstore_folder: Path) -> None:
    done = sigverify(interop_tools, sigstore_folder, "--trusted-root", PRODUCTION_ROOT,
                     "--bundle", signed.bundle, "--artifact", signed.artifact, *signed.policy)
    assert_fail(done, NO_VERIFIED_ENTRY)


DAMAGE_REASONS = {
    # The SET still verifies, so sigstore-go goes on to the proof and finds another root.
    "inclusion-proof-hash": "does not match expected root",
    "checkpoint-signature": "signature on checkpoint did not verify",
    # A SET that does not verify makes sigstore-go skip the entry.
    "signed-entry-timestamp": NO_VERIFIED_ENTRY,
}


@pytest.mark.parametrize("how", sorted(DAMAGE_REASONS))
@pytest.mark.parametrize("name", ["python-hashedrekord-cert", "python-dsse-cert",
                                  "intoto-002-cert", "cosign-hashedrekord-key",
                                  "cosign-dsse-key"])
def test_damaged_bundle(signed: Signed, how: str, our_root: Path,
                        interop_tools: dict[str, Path], sigstore_folder: Path) -> None:
    bad = damaged(signed, how, sigstore_folder)
    done = sigverify(interop_tools, sigstore_folder, "--trusted-root", our_root,
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
    done = sigverify(interop_tools, sigstore_folder, "--trusted-root", path,
                     "--bundle", signed.bundle, "--artifact", signed.artifact, *signed.policy)
    assert_fail(done, NO_VERIFIED_ENTRY)


@pytest.mark.parametrize("name", ["python-hashedrekord-cert", "cosign-hashedrekord-key"])
def test_log_url_in_trusted_root_is_not_compared(signed: Signed, our_root: Path,
                                                 interop_tools: dict[str, Path],
                                                 sigstore_folder: Path) -> None:
    # For a Rekor v1 checkpoint sigstore-go checks the signature with the log's key and
    # never compares the signer's name with the trusted root's baseUrl (sigstore-js does).
    root = root_with_log_url(our_root, "https://rekor.elsewhere.test", sigstore_folder)
    done = sigverify(interop_tools, sigstore_folder, "--trusted-root", root,
                     "--bundle", signed.bundle, "--artifact", signed.artifact, *signed.policy)
    assert_ok(done, signed.log_index)


@pytest.mark.parametrize("name", ["python-hashedrekord-cert", "python-hashedrekord-key"])
def test_bundle_without_set(signed: Signed, our_root: Path, interop_tools: dict[str, Path],
                            sigstore_folder: Path) -> None:
    # Without a TSA, the SET is what makes integratedTime a timestamp
    # (WithIntegratedTimestamps(1)); the proof and checkpoint alone do not do.
    done = sigverify(interop_tools, sigstore_folder, "--trusted-root", our_root,
                     "--bundle", without_set(signed, sigstore_folder),
                     "--artifact", signed.artifact, *signed.policy)
    assert_fail(done, "threshold not met for verified log entry integrated timestamps: 0 < 1")


@pytest.mark.parametrize("name, reason", [
    ("python-hashedrekord-cert", "failed to verify signature"),
    ("python-hashedrekord-key", "failed to verify signature"),
    ("python-dsse-cert", "provided artifact digests do not match digests in statement"),
    ("cosign-hashedrekord-key", "failed to verify signature"),
    ("intoto-002-cert", "provided artifact digests do not match digests in statement"),
    ("cosign-dsse-key", "provided artifact digests do not match digests in statement"),
])
def test_other_artifact(signed: Signed, reason: str, our_root: Path,
                        interop_tools: dict[str, Path], sigstore_folder: Path) -> None:
    other = sigstore_folder / "other-artifact.txt"
    other.write_bytes(signed.artifact.read_bytes() + b"!")
    done = sigverify(interop_tools, sigstore_folder, "--trusted-root", our_root,
                     "--bundle", signed.bundle, "--artifact", other, *signed.policy)
    assert_fail(done, reason)


@pytest.mark.parametrize("name", ["python-hashedrekord-cert"])
def test_other_identity(signed: Signed, our_root: Path, interop_tools: dict[str, Path],
                        sigstore_folder: Path) -> None:
    done = sigverify(interop_tools, sigstore_folder, "--trusted-root", our_root,
                     "--bundle", signed.bundle, "--artifact", signed.artifact,
                     *identity_policy(email="someone-else@rekor-py.test"))
    assert_fail(done, "failed to verify certificate identity")
    done = sigverify(interop_tools, sigstore_folder, "--trusted-root", our_root,
                     "--bundle", signed.bundle, "--artifact", signed.artifact,
                     *identity_policy(issuer="https://other-issuer.rekor-py.test"))
    assert_fail(done, "failed to verify certificate identity")


@pytest.mark.parametrize("name", ["python-hashedrekord-key", "cosign-hashedrekord-key"])
def test_other_key(signed: Signed, our_root: Path, interop_tools: dict[str, Path],
                   sigstore_folder: Path, interop_log: InteropLog) -> None:
    # Any PEM key that did not sign: the log's own key will do.
    done = sigverify(interop_tools, sigstore_folder, "--trusted-root", our_root,
                     "--bundle", signed.bundle, "--artifact", signed.artifact,
                     "--key", interop_log.public_key_pem)
    assert_fail(done, "transparency log certificate does not match")


def test_cosign_intoto_001(request: pytest.FixtureRequest, our_root: Path,
                           interop_tools: dict[str, Path], sigstore_folder: Path) -> None:
    # cosign v2 `attest-blob --rekor-entry-type intoto` logs intoto 0.0.1 (rekor-py, like
    # Rekor, logs what it is sent); the bundle it writes names a kind this verifier
    # cannot check.
    signed = request.getfixturevalue("cosign_attestations")["cosign-intoto-key"]
    done = sigverify(interop_tools, sigstore_folder, "--trusted-root", our_root,
                     "--bundle", signed.bundle, "--artifact", signed.artifact, *signed.policy)
    assert_fail(done, "entry body is not a recognizable Rekor v1 or Rekor v2 type: "
                      "intoto implementation for version '0.0.1' not found")


@pytest.mark.parametrize("name", ["python-hashedrekord-no-sct-cert"])
def test_leaf_without_sct(signed: Signed, our_root: Path, interop_tools: dict[str, Path],
                          sigstore_folder: Path) -> None:
    args: list[str | Path] = ["--trusted-root", our_root, "--bundle", signed.bundle,
                              "--artifact", signed.artifact, *signed.policy]
    assert_fail(sigverify(interop_tools, sigstore_folder, *args), "failed to verify signed certificate timestamp")
    assert_ok(sigverify(interop_tools, sigstore_folder, *args, "--require-sct=false"),
              signed.log_index)
