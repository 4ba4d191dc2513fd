"""sigstore-go and sigstore-js verify bundles made through rekor-py, and reject damaged and
foreign ones.

The two verifiers:

- sigstore-go (v1.3.0): `sigverify` (tests/interop/go) is a small program on sigstore-go's
  own verifier (`verify.NewVerifier` with one transparency-log entry and its integrated
  time, SCTs for certificates).
- sigstore-js (@sigstore/verify 3.1.1, @sigstore/bundle 4.0.0): `verify.mjs`
  (tests/interop/js) runs sigstore-js's own verifier (`@sigstore/verify`'s `Verifier` on
  `toTrustMaterial` of a TrustedRoot and `toSignedEntity` of a bundle from
  `@sigstore/bundle`), with one tlog entry and, for certificates, one SCT.

Both read a trusted root that names our log, the test CA and its CT log.  Bundles come from
sigstore-python's signing steps and from cosign, through a real `rekor-py serve` (one for
this module: both verifiers judge the same bundles).  Every check runs a verifier and
asserts its exit code and the reason it prints (sigstore-go's error text, sigstore-js's
error code and message).  The two word their failures differently and sometimes fail at a
different step, so each case written once here takes the exact reason from the verifier's
own table (`GO`, `JS`); the cases only one of them has sit at the end, per verifier.

sigstore-js checks a bundle in this order: timestamps, certificate chain and SCT (or the
key), then the tlog entry (SET, checkpoint, inclusion proof, body), then the signature,
then the identity policy; so a foreign bundle with a certificate fails on its chain first,
and the sigstore-js cases that mean to reach the log entry use a trusted root whose CA
matches.  sigstore-go judges the log entry first: a bundle of a log the root does not name
fails there, whatever its certificate.
"""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
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
# gets its own log, PKI and bundles, which both verifiers check).
cosign_attestations = sigstore_bundles.cosign_attestations
cosign_bundle = sigstore_bundles.cosign_bundle
our_root = sigstore_bundles.our_root
pki = sigstore_bundles.pki
python_bundles = sigstore_bundles.python_bundles
sigstore_folder = sigstore_bundles.sigstore_folder

# The production vector's entry in rekor.sigstore.dev.
PRODUCTION_LOG_INDEX = 79605083

# In a verifier's table: the verifier accepts the bundle (exit 0, one `OK … log index N,`
# line) instead of failing with a reason.
VERIFIES = None


# ---- the verifiers ---------------------------------------------------------------------


def _production_digest(folder: Path) -> list[str | Path]:
    """The production vector's artifact, by digest (sigverify's `--artifact-digest`)."""
    bundle = json.loads(PRODUCTION_BUNDLE.read_text())
    digest = base64.b64decode(bundle["messageSignature"]["messageDigest"]["digest"]).hex()
    return ["--artifact-digest", f"sha256:{digest}"]


def _any_artifact(folder: Path) -> list[str | Path]:
    """For a production bundle, whose artifact we do not have (verify.mjs takes only
    `--artifact`): the checks before the signature's are what these cases are about."""
    path = folder / "not-the-artifact.bin"
    path.write_bytes(b"not the artifact\n")
    return ["--artifact", path]


@dataclass(frozen=True)
class Verifier:
    """A verifier program, and the outcome it prints for each case of this module: a reason
    its one `FAIL: …` line must contain, or VERIFIES."""

    name: str
    # Its command line before the arguments, from `interop_tools`.
    command: Callable[[dict[str, Path]], list[str]]
    # The arguments that name the production vector's artifact (which is not shipped).
    production_artifact: Callable[[Path], list[str | Path]]

    # The outcome of each case below, by the case's name; `str | None` ones may be VERIFIES.
    production_with_production_root: str | None
    foreign_with_our_root: str
    # Our bundle (by name) against the production trusted root.
    ours_with_production_root: dict[str, str]
    # By DAMAGE's name of the damage.
    damaged: dict[str, str]
    wrong_log_key: str
    other_log_url: str | None
    without_set: str
    # By what the bundle signs: "message" (messageSignature) or "statement" (a DSSE
    # envelope's in-toto statement).
    other_artifact: dict[str, str]
    other_email: str
    other_issuer: str
    other_key: str
    intoto_001: str
    leaf_without_sct: str

    def run(self, tools: dict[str, Path], folder: Path, *args: str | Path
            ) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.command(tools), *map(str, args)],
                              env=client_env(folder), capture_output=True, text=True,
                              timeout=60, check=False)

    def verify(self, tools: dict[str, Path], folder: Path, root: Path, bundle: Path,
               *args: str | Path) -> subprocess.CompletedProcess[str]:
        """Run it on `bundle` with trusted root `root`; `args` name the artifact and the
        policy."""
        return self.run(tools, folder, "--trusted-root", root, "--bundle", bundle, *args)


# What sigstore-go says when no tlog entry of the bundle verifies against the trusted
# root: entries of unknown logs and entries whose SET fails are skipped, then counted.
NO_VERIFIED_ENTRY = "not enough verified log entries from transparency log: 0 < 1"

GO = Verifier(
    name="sigstore-go",
    command=lambda tools: [str(tools["sigverify"])],
    production_artifact=_production_digest,
    production_with_production_root=VERIFIES,
    foreign_with_our_root=NO_VERIFIED_ENTRY,
    ours_with_production_root={"python-hashedrekord-cert": NO_VERIFIED_ENTRY,
                               "python-hashedrekord-key": NO_VERIFIED_ENTRY},
    damaged={
        # The SET still verifies, so sigstore-go goes on to the proof and finds another root.
        "inclusion-proof-hash": "does not match expected root",
        "checkpoint-signature": "signature on checkpoint did not verify",
        # A SET that does not verify makes sigstore-go skip the entry.
        "signed-entry-timestamp": NO_VERIFIED_ENTRY,
    },
    wrong_log_key=NO_VERIFIED_ENTRY,
    # For a Rekor v1 checkpoint sigstore-go checks the signature with the log's key and
    # never compares the signer's name with the trusted root's baseUrl.
    other_log_url=VERIFIES,
    # WithIntegratedTimestamps(1): without a TSA, only a SET makes integratedTime count.
    without_set="threshold not met for verified log entry integrated timestamps: 0 < 1",
    other_artifact={"message": "failed to verify signature",
                    "statement": "provided artifact digests do not match digests in statement"},
    other_email="failed to verify certificate identity",
    other_issuer="failed to verify certificate identity",
    other_key="transparency log certificate does not match",
    intoto_001="entry body is not a recognizable Rekor v1 or Rekor v2 type: "
               "intoto implementation for version '0.0.1' not found",
    leaf_without_sct="failed to verify signed certificate timestamp",
)

BAD_SET = "TLOG_INCLUSION_PROMISE_ERROR: inclusion promise could not be verified"
BAD_CHAIN = "CERTIFICATE_ERROR: Failed to verify certificate chain"
BAD_SIGNATURE = "SIGNATURE_ERROR: signature verification failed"

JS = Verifier(
    name="sigstore-js",
    command=lambda tools: ["node", str(tools["sigstore-js"] / "verify.mjs")],
    production_artifact=_any_artifact,
    # Chain, SCT and log entry pass; the signature is over an artifact we do not have.
    production_with_production_root=BAD_SIGNATURE,
    # The chain comes first.
    foreign_with_our_root=BAD_CHAIN,
    ours_with_production_root={"python-hashedrekord-cert": BAD_CHAIN},
    damaged={
        "inclusion-proof-hash":
            "TLOG_INCLUSION_PROOF_ERROR: calculated root hash does not match inclusion proof",
        "checkpoint-signature": "TLOG_INCLUSION_PROOF_ERROR: invalid checkpoint signature",
        "signed-entry-timestamp": BAD_SET,
    },
    wrong_log_key=BAD_SET,
    # sigstore-js takes a checkpoint signature only from a log whose baseUrl matches the
    # signature line's name (ours: host:port, `serve --hostname`), key hint aside.
    other_log_url="TLOG_INCLUSION_PROOF_ERROR: invalid checkpoint signature",
    # sigstore-js wants the SET's timestamp even for a key.
    without_set="TIMESTAMP_ERROR: expected 1 timestamps, got 0",
    other_artifact={"message": BAD_SIGNATURE,
                    "statement": "is not a subject of the in-toto statement"},
    other_email="UNTRUSTED_SIGNER_ERROR: certificate identity error",
    other_issuer="UNTRUSTED_SIGNER_ERROR: invalid certificate extension",
    other_key=BAD_SIGNATURE,
    intoto_001="TLOG_BODY_ERROR: unsupported intoto version: 0.0.1",
    leaf_without_sct="CERTIFICATE_ERROR: expected 1 SCTs, got 0",
)

VERIFIERS = [GO, JS]
each_verifier = pytest.mark.parametrize("verifier", VERIFIERS, ids=lambda v: v.name)


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


def assert_outcome(done: subprocess.CompletedProcess[str], outcome: str | None,
                   log_index: int) -> None:
    if outcome is VERIFIES:
        assert_ok(done, log_index)
    else:
        assert outcome is not None
        assert_fail(done, outcome)


@pytest.fixture
def signed(request: pytest.FixtureRequest, name: str) -> Signed:
    return signed_bundle(request, name)


def _signs(signed: Signed) -> str:
    """What `signed`'s bundle signs, as Verifier.other_artifact keys it."""
    return "statement" if "dsseEnvelope" in signed.load() else "message"


# ---- our bundles verify ---------------------------------------------------------------


@each_verifier
@pytest.mark.parametrize("name", BUNDLE_NAMES)
def test_our_bundle_verifies(verifier: Verifier, signed: Signed, our_root: Path,
                             interop_tools: dict[str, Path], sigstore_folder: Path) -> None:
    """Each of our bundles (hashedrekord, dsse, intoto 0.0.2; certificate or key; signed by
    sigstore-python or cosign) verifies against our root, at its own log index, for the
    signer its policy names."""
    done = verifier.verify(interop_tools, sigstore_folder, our_root, signed.bundle,
                           "--artifact", signed.artifact, *signed.policy)
    assert_ok(done, signed.log_index)
    if "--key" in signed.policy:
        assert "signed by the given key" in done.stdout
    else:
        assert "identity signer@rekor-py.test (https://oidc.rekor-py.test)" in done.stdout


@each_verifier
def test_production_bundle_with_production_root(verifier: Verifier,
                                                interop_tools: dict[str, Path],
                                                sigstore_folder: Path) -> None:
    """The control for the foreign-bundle cases: the same program takes a real entry of
    rekor.sigstore.dev against the production trusted root.  sigstore-go, given the
    artifact's digest, verifies it whole; sigstore-js, which needs the artifact itself (not
    shipped), passes chain, SCT and log entry and fails only on the signature."""
    done = verifier.verify(interop_tools, sigstore_folder, PRODUCTION_ROOT, PRODUCTION_BUNDLE,
                           *verifier.production_artifact(sigstore_folder), *PRODUCTION_IDENTITY)
    assert_outcome(done, verifier.production_with_production_root, PRODUCTION_LOG_INDEX)


# ---- rejected ------------------------------------------------------------------------


@each_verifier
def test_foreign_bundle_against_our_root(verifier: Verifier, our_root: Path,
                                         interop_tools: dict[str, Path],
                                         sigstore_folder: Path) -> None:
    """The production vector against our root fails: its entry is not of our log
    (sigstore-go), its certificate not of our CA (sigstore-js, whose chain comes first; see
    test_js_foreign_bundle_with_production_ca_and_our_log for its log entry)."""
    done = verifier.verify(interop_tools, sigstore_folder, our_root, PRODUCTION_BUNDLE,
                           *verifier.production_artifact(sigstore_folder), *PRODUCTION_IDENTITY)
    assert_fail(done, verifier.foreign_with_our_root)


@pytest.mark.parametrize("verifier, name", [
    pytest.param(v, name, id=f"{v.name}-{name}")
    for v in VERIFIERS for name in v.ours_with_production_root])
def test_our_bundle_against_production_root(verifier: Verifier, signed: Signed,
                                            interop_tools: dict[str, Path],
                                            sigstore_folder: Path) -> None:
    """Our bundle against the production trusted root fails: our log is not production's
    (sigstore-go), our CA is not (sigstore-js, chain first)."""
    done = verifier.verify(interop_tools, sigstore_folder, PRODUCTION_ROOT, signed.bundle,
                           "--artifact", signed.artifact, *signed.policy)
    assert_fail(done, verifier.ours_with_production_root[signed.name])


@each_verifier
@pytest.mark.parametrize("how", sorted(sigstore_bundles.DAMAGE))
@pytest.mark.parametrize("name", ["python-hashedrekord-cert", "python-dsse-cert",
                                  "intoto-002-cert", "cosign-hashedrekord-key",
                                  "cosign-dsse-key"])
def test_damaged_bundle(verifier: Verifier, signed: Signed, how: str, our_root: Path,
                        interop_tools: dict[str, Path], sigstore_folder: Path) -> None:
    """A bundle with one inclusion-proof hash, the checkpoint's signature or the SET
    flipped fails, each on the check that covers what was flipped."""
    bad = damaged(signed, how, sigstore_folder)
    done = verifier.verify(interop_tools, sigstore_folder, our_root, bad,
                           "--artifact", signed.artifact, *signed.policy)
    assert_fail(done, verifier.damaged[how])


@each_verifier
@pytest.mark.parametrize("keep_log_id", [True, False], ids=["our-log-id", "its-own-log-id"])
@pytest.mark.parametrize("name", ["python-hashedrekord-cert", "cosign-hashedrekord-key"])
def test_wrong_log_key_in_trusted_root(verifier: Verifier, signed: Signed, keep_log_id: bool,
                                       our_root: Path, interop_tools: dict[str, Path],
                                       sigstore_folder: Path) -> None:
    """A trusted root whose log key is not ours fails our bundles, whether it still names
    our log ID (the SET's signature fails) or its own (no log of the root wrote the entry)."""
    root = root_with_fresh_log_key(json.loads(our_root.read_text()), keep_log_id)
    path = sigstore_folder / f"root-fresh-key-{keep_log_id}.json"
    path.write_text(json.dumps(root))
    done = verifier.verify(interop_tools, sigstore_folder, path, signed.bundle,
                           "--artifact", signed.artifact, *signed.policy)
    assert_fail(done, verifier.wrong_log_key)


@each_verifier
@pytest.mark.parametrize("name", ["python-hashedrekord-cert", "cosign-hashedrekord-key"])
def test_log_url_in_trusted_root(verifier: Verifier, signed: Signed, our_root: Path,
                                 interop_tools: dict[str, Path],
                                 sigstore_folder: Path) -> None:
    """Our log under another baseUrl (same key, same log ID): sigstore-go never compares
    the checkpoint signer's name with the baseUrl and verifies; sigstore-js takes the
    checkpoint's signature only from a log whose baseUrl holds that name, and fails."""
    root = root_with_log_url(our_root, "https://rekor.elsewhere.test", sigstore_folder)
    done = verifier.verify(interop_tools, sigstore_folder, root, signed.bundle,
                           "--artifact", signed.artifact, *signed.policy)
    assert_outcome(done, verifier.other_log_url, signed.log_index)


@each_verifier
@pytest.mark.parametrize("name", ["python-hashedrekord-cert", "python-hashedrekord-key"])
def test_bundle_without_set(verifier: Verifier, signed: Signed, our_root: Path,
                            interop_tools: dict[str, Path], sigstore_folder: Path) -> None:
    """Without a TSA, the SET is what makes integratedTime a timestamp, for a certificate
    and (both verifiers want one) for a key; the proof and checkpoint alone do not do."""
    done = verifier.verify(interop_tools, sigstore_folder, our_root,
                           without_set(signed, sigstore_folder),
                           "--artifact", signed.artifact, *signed.policy)
    assert_fail(done, verifier.without_set)


@each_verifier
@pytest.mark.parametrize("name", ["python-hashedrekord-cert", "python-hashedrekord-key",
                                  "python-dsse-cert", "cosign-hashedrekord-key",
                                  "intoto-002-cert", "cosign-dsse-key"])
def test_other_artifact(verifier: Verifier, signed: Signed, our_root: Path,
                        interop_tools: dict[str, Path], sigstore_folder: Path) -> None:
    """Another artifact fails: a message signature's signature does not verify over it, an
    in-toto statement does not name its digest."""
    other = sigstore_folder / "other-artifact.txt"
    other.write_bytes(signed.artifact.read_bytes() + b"!")
    done = verifier.verify(interop_tools, sigstore_folder, our_root, signed.bundle,
                           "--artifact", other, *signed.policy)
    assert_fail(done, verifier.other_artifact[_signs(signed)])


@each_verifier
@pytest.mark.parametrize("name", ["python-hashedrekord-cert"])
def test_other_identity(verifier: Verifier, signed: Signed, our_root: Path,
                        interop_tools: dict[str, Path], sigstore_folder: Path) -> None:
    """A policy naming another email, or another OIDC issuer, than the leaf's fails."""
    done = verifier.verify(interop_tools, sigstore_folder, our_root, signed.bundle,
                           "--artifact", signed.artifact,
                           *identity_policy(email="someone-else@rekor-py.test"))
    assert_fail(done, verifier.other_email)
    done = verifier.verify(interop_tools, sigstore_folder, our_root, signed.bundle,
                           "--artifact", signed.artifact,
                           *identity_policy(issuer="https://other-issuer.rekor-py.test"))
    assert_fail(done, verifier.other_issuer)


@each_verifier
@pytest.mark.parametrize("name", ["python-hashedrekord-key", "cosign-hashedrekord-key"])
def test_other_key(verifier: Verifier, signed: Signed, our_root: Path,
                   interop_tools: dict[str, Path], sigstore_folder: Path,
                   interop_log: InteropLog) -> None:
    """A key-signed bundle checked with a key that did not sign (any PEM key: the log's own
    will do) fails."""
    done = verifier.verify(interop_tools, sigstore_folder, our_root, signed.bundle,
                           "--artifact", signed.artifact, "--key", interop_log.public_key_pem)
    assert_fail(done, verifier.other_key)


@each_verifier
def test_cosign_intoto_001(verifier: Verifier, request: pytest.FixtureRequest, our_root: Path,
                           interop_tools: dict[str, Path], sigstore_folder: Path) -> None:
    """cosign v2 `attest-blob --rekor-entry-type intoto` logs intoto 0.0.1 (rekor-py, like
    Rekor, logs what it is sent); the bundle it writes names a kind neither verifier can
    check."""
    signed = request.getfixturevalue("cosign_attestations")["cosign-intoto-key"]
    done = verifier.verify(interop_tools, sigstore_folder, our_root, signed.bundle,
                           "--artifact", signed.artifact, *signed.policy)
    assert_fail(done, verifier.intoto_001)


@each_verifier
@pytest.mark.parametrize("name", ["python-hashedrekord-no-sct-cert"])
def test_leaf_without_sct(verifier: Verifier, signed: Signed, our_root: Path,
                          interop_tools: dict[str, Path], sigstore_folder: Path) -> None:
    """A leaf without an embedded SCT fails while an SCT is required, and verifies with
    `--require-sct=false`: the SCT is the only thing missing."""
    args: list[str | Path] = ["--trusted-root", our_root, "--bundle", signed.bundle,
                              "--artifact", signed.artifact, *signed.policy]
    assert_fail(verifier.run(interop_tools, sigstore_folder, *args), verifier.leaf_without_sct)
    assert_ok(verifier.run(interop_tools, sigstore_folder, *args, "--require-sct=false"),
              signed.log_index)


# ---- sigstore-js only: reaching the log entry past the certificate chain -----------------


def test_js_foreign_bundle_with_production_ca_and_our_log(our_root: Path,
                                                          interop_tools: dict[str, Path],
                                                          sigstore_folder: Path) -> None:
    """With production's CA and CT log but our log, the production vector's chain passes
    and its log entry is what fails (its SET is not our log's)."""
    root = mixed_root(our_root, PRODUCTION_ROOT, sigstore_folder)
    done = JS.verify(interop_tools, sigstore_folder, root, PRODUCTION_BUNDLE,
                     *_any_artifact(sigstore_folder), *PRODUCTION_IDENTITY)
    assert_fail(done, BAD_SET)


@pytest.mark.parametrize("name", ["python-hashedrekord-cert", "python-dsse-cert",
                                  "python-hashedrekord-key", "cosign-hashedrekord-key"])
def test_js_our_bundle_against_production_logs(signed: Signed, our_root: Path,
                                               interop_tools: dict[str, Path],
                                               sigstore_folder: Path) -> None:
    """Production's logs, our CA: the chain passes, our log entry does not."""
    root = mixed_root(PRODUCTION_ROOT, our_root, sigstore_folder)
    done = JS.verify(interop_tools, sigstore_folder, root, signed.bundle,
                     "--artifact", signed.artifact, *signed.policy)
    assert_fail(done, BAD_SET)
