"""Keyless signing with the real sigstore-python 4.5.1 CLI and sigstore-js
(@sigstore/sign 4.1.1) against our server.

`sigstore --trust-config FILE sign --identity-token T` asks the Fulcio stand-in
(tests/tools/fulcio_server.py) for a certificate, then writes to the log and asks
the TSA that the signing config names.  The trust file is what `rekor-py
trust-config` writes, plus the stand-in's URL: it lists the v2 log first, so
sigstore-python (which takes the highest API version per operator) signs through
Rekor v2 and our TSA; with the v2 log taken out, the same CLI signs through
Rekor v1.  sigstore-js's `bundleBuilderFromSigningConfig` signs through the v2
log and the TSA from the same file.  Each bundle is verified by sigstore-python's
CLI, sigstore-go and sigstore-js (so each client verifies the other's bundle),
and the v2 entries are found by the v2 search.  Controls: a token for another
audience is refused by the stand-in, a verification policy naming another
identity fails.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.interop.conftest import InteropLog, client_env
from tests.interop.test_rekor_v2_clients import _go, _js, trusted_root_of
from tests.interop.test_rekor_v2_clients import trust_config as write_trust_config
from tests.tools.fulcio import OIDC_ISSUER, FulcioPKI
from tests.tools.fulcio_server import FulcioServer, OIDCIssuer

EMAIL = "keyless@rekor-py.test"


@pytest.fixture(scope="module")
def keyless(interop_log: InteropLog, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[tuple[FulcioServer, Path, Path]]:
    """The Fulcio stand-in, a trust file naming it (v2 log first), and a v1-only one."""
    folder = tmp_path_factory.mktemp("keyless")
    pki = FulcioPKI.create("rekor-py keyless")
    with FulcioServer(pki, OIDCIssuer()) as fulcio:
        config = write_trust_config(interop_log, pki, folder)
        data = json.loads(config.read_text())
        # trust-config names the organization's Fulcio with the URL we gave it; point
        # the signing config at the stand-in's real address.
        data["signingConfig"]["caUrls"][0]["url"] = fulcio.url
        config.write_text(json.dumps(data))
        v1_only = folder / "trust-config-v1.json"
        data["signingConfig"]["rekorTlogUrls"] = [
            s for s in data["signingConfig"]["rekorTlogUrls"] if s["majorApiVersion"] == 1]
        v1_only.write_text(json.dumps(data))
        yield fulcio, config, v1_only


def _sigstore(folder: Path, config: Path, *args: str | Path
              ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sigstore", "--trust-config", str(config),
                           *map(str, args)], env=client_env(folder), capture_output=True,
                          text=True, timeout=120, check=False)


def _sign(folder: Path, config: Path, token: str, name: str
          ) -> tuple[subprocess.CompletedProcess[str], Path, Path]:
    artifact = folder / f"{name}.txt"
    artifact.write_bytes(f"signed keylessly by sigstore-python ({name})\n".encode())
    bundle = folder / f"{name}.sigstore.json"
    done = _sigstore(folder, config, "sign", "--identity-token", token, "--bundle", bundle,
                     artifact)
    return done, artifact, bundle


def _verify(folder: Path, config: Path, bundle: Path, artifact: Path, email: str = EMAIL
            ) -> subprocess.CompletedProcess[str]:
    return _sigstore(folder, config, "verify", "identity", "--cert-identity", email,
                     "--cert-oidc-issuer", OIDC_ISSUER, "--bundle", bundle, artifact)


def _entry(bundle: Path) -> dict[str, Any]:
    entry: dict[str, Any] = json.loads(bundle.read_text())["verificationMaterial"][
        "tlogEntries"][0]
    return entry


def _verified_and_found(log: InteropLog, tools: dict[str, Path], folder: Path, config: Path,
                        bundle: Path, artifact: Path) -> None:
    """sigstore-python's CLI, sigstore-go and sigstore-js verify the v2 bundle, and
    rekor-py's v2 search finds its entry by the signer's email."""
    verified = _verify(folder, config, bundle, artifact)
    assert verified.returncode == 0, verified.stderr
    root = trusted_root_of(config)
    for done in (_go(tools, folder, root, bundle, artifact, EMAIL),
                 _js(tools, folder, root, bundle, artifact, EMAIL)):
        assert done.returncode == 0, done.stderr
    found = requests.post(f"{log.url}/api/v2/index/retrieve", json={"email": EMAIL},
                          timeout=30).json()
    assert _entry(bundle)["logIndex"] in [e["logIndex"] for e in found]


def test_sign_through_rekor_v2_and_the_tsa(interop_log: InteropLog, interop_tools: dict[str, Path],
                                           keyless: tuple[FulcioServer, Path, Path],
                                           tmp_path: Path) -> None:
    fulcio, config, _ = keyless
    done, artifact, bundle = _sign(tmp_path, config, fulcio.issuer.token(EMAIL), "v2")
    assert done.returncode == 0, done.stderr
    entry = _entry(bundle)
    assert entry["kindVersion"] == {"kind": "hashedrekord", "version": "0.0.2"}
    material = json.loads(bundle.read_text())["verificationMaterial"]
    assert len(material["timestampVerificationData"]["rfc3161Timestamps"]) == 1
    assert fulcio.issued, "the certificate came from the stand-in"

    _verified_and_found(interop_log, interop_tools, tmp_path, config, bundle, artifact)
    # Another identity in the policy: refused.
    other = _verify(tmp_path, config, bundle, artifact, email="someone@rekor-py.test")
    assert other.returncode != 0


def test_sign_through_rekor_v1(interop_tools: dict[str, Path],
                               keyless: tuple[FulcioServer, Path, Path],
                               tmp_path: Path) -> None:
    fulcio, _, v1_only = keyless
    done, artifact, bundle = _sign(tmp_path, v1_only, fulcio.issuer.token(EMAIL), "v1")
    assert done.returncode == 0, done.stderr
    entry = _entry(bundle)
    assert entry["kindVersion"] == {"kind": "hashedrekord", "version": "0.0.1"}
    assert entry["inclusionPromise"]["signedEntryTimestamp"]
    verified = _verify(tmp_path, v1_only, bundle, artifact)
    assert verified.returncode == 0, verified.stderr


def test_the_stand_in_refuses_a_token_for_another_audience(
        keyless: tuple[FulcioServer, Path, Path], tmp_path: Path) -> None:
    fulcio, config, _ = keyless
    token = fulcio.issuer.token(EMAIL, audience="not-sigstore")
    done, _, bundle = _sign(tmp_path, config, token, "wrong-audience")
    assert done.returncode != 0 and not bundle.exists()


def test_sigstore_js_signs_through_rekor_v2(interop_log: InteropLog,
                                            interop_tools: dict[str, Path],
                                            keyless: tuple[FulcioServer, Path, Path],
                                            tmp_path: Path) -> None:
    fulcio, config, _ = keyless
    artifact = tmp_path / "js.txt"
    artifact.write_bytes(b"signed keylessly by sigstore-js through rekor-py\n")
    bundle = tmp_path / "js.sigstore.json"
    done = subprocess.run(
        ["node", str(interop_tools["sigstore-js"] / "sign.mjs"), "--trust-config", str(config),
         "--identity-token", fulcio.issuer.token(EMAIL), "--artifact", str(artifact),
         "--bundle", str(bundle)],
        env=client_env(tmp_path), capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "hashedrekord 0.0.2" in done.stdout, done.stdout
    assert _entry(bundle)["kindVersion"]["version"] == "0.0.2"
    assert json.loads(bundle.read_text())["verificationMaterial"][
        "timestampVerificationData"]["rfc3161Timestamps"]
    # sigstore-python verifies sigstore-js's bundle; sigstore-go and sigstore-js too.
    _verified_and_found(interop_log, interop_tools, tmp_path, config, bundle, artifact)


def test_sigstore_python_attests_through_rekor_v2(keyless: tuple[FulcioServer, Path, Path],
                                                  tmp_path: Path) -> None:
    """`sigstore attest`: a DSSE envelope, logged in Rekor v2 as a hashedrekord over the
    envelope's PAE (v2 has no dsse kind), verified by `sigstore verify identity`."""
    fulcio, config, _ = keyless
    artifact = tmp_path / "attested.txt"
    artifact.write_bytes(b"an artifact with an SLSA provenance\n")
    predicate = tmp_path / "predicate.json"
    predicate.write_text(json.dumps({
        "buildDefinition": {"buildType": "https://rekor-py.test/build",
                            "externalParameters": {"ref": "refs/heads/main"}},
        "runDetails": {"builder": {"id": "https://ci.rekor-py.test"}}}))
    bundle = tmp_path / "attested.sigstore.json"
    done = _sigstore(tmp_path, config, "attest", "--predicate", predicate, "--predicate-type",
                     "https://slsa.dev/provenance/v1", "--identity-token",
                     fulcio.issuer.token(EMAIL), "--bundle", bundle, artifact)
    assert done.returncode == 0, done.stderr
    data = json.loads(bundle.read_text())
    assert "dsseEnvelope" in data
    assert _entry(bundle)["kindVersion"] == {"kind": "hashedrekord", "version": "0.0.2"}
    verified = _verify(tmp_path, config, bundle, artifact)
    assert verified.returncode == 0, verified.stderr
