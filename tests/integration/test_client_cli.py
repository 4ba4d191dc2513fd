"""The client commands against a live log over real HTTP on a real PostgreSQL.

The main flows run `python -m rekor_py ...` as a subprocess, with a signature
made by the `openssl` command line tool; the rest call the same `main()` in a
thread (the server runs on the test's event loop, so nothing here may block it).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from rekor_py.cli import main
from rekor_py.storage.migrate import migrate
from tests.integration.conftest import scratch_database
from tests.integration.logserver import RunningLog, free_port, log_settings, start_log
from tests.integration.test_search import make_certificate
from tests.tools.gpg import GnuPG
from tests.tools.minisign import minisign_key
from tests.tools.ssh_keygen import ssh_keygen

EMAIL = "builder@example.com"
_ID_RE = re.compile(r"UUID: ([0-9a-f]{80})")


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture(scope="module")
async def log(database_url_module: str, tmp_path_factory: pytest.TempPathFactory
              ) -> AsyncIterator[RunningLog]:
    server = await start_log(log_settings(database_url_module, tmp_path_factory.mktemp("cli")))
    yield server
    await server.stop()


def _main_captured(argv: list[str]) -> Run:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as e:  # argparse usage errors
            code = int(e.code or 0)
    return Run(code, out.getvalue(), err.getvalue())


async def cli(log: RunningLog, *args: str | Path) -> Run:
    """`rekor-py <args> --rekor-server <log>` in-process, off the event loop."""
    argv = [str(a) for a in args]
    return await asyncio.to_thread(_main_captured, [*argv, "--rekor-server", log.url])


async def cli_process(*args: str | Path, env: dict[str, str] | None = None) -> Run:
    """`python -m rekor_py <args>` as a subprocess."""
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "rekor_py", *map(str, args)],
        capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})})
    return Run(done.returncode, done.stdout, done.stderr)


# ---- signed artifacts ------------------------------------------------------------------


@dataclass
class Signed:
    artifact: Path
    signature: Path
    public_key: Path  # PEM key or certificate

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.artifact.read_bytes()).hexdigest()

    def upload_args(self) -> list[str | Path]:
        return ["upload", "--artifact", self.artifact, "--signature", self.signature,
                "--public-key", self.public_key]


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _pub_pem(key: Any) -> bytes:
    return bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo))


def sign_p256(d: Path, artifact: bytes) -> Signed:
    key = ec.generate_private_key(ec.SECP256R1())
    return Signed(_write(d / "artifact", artifact),
                  _write(d / "sig", key.sign(artifact, ec.ECDSA(hashes.SHA256()))),
                  _write(d / "key.pub", _pub_pem(key)))


def sign_rsa(d: Path, artifact: bytes) -> Signed:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return Signed(_write(d / "artifact", artifact),
                  _write(d / "sig", key.sign(artifact, padding.PKCS1v15(), hashes.SHA256())),
                  _write(d / "key.pub", _pub_pem(key)))


def sign_cert(d: Path, artifact: bytes) -> Signed:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = make_certificate(key, EMAIL, "https://ci.example.com/workflow")
    return Signed(_write(d / "artifact", artifact),
                  _write(d / "sig", key.sign(artifact, ec.ECDSA(hashes.SHA256()))),
                  _write(d / "cert.pem", cert))


def sign_openssl(d: Path, artifact: bytes) -> Signed:
    """Key, public key and signature all made by the openssl command line tool."""
    def openssl(*args: str | Path) -> None:
        subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)
    key, pub = d / "key.pem", d / "key.pub"
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key)
    openssl("pkey", "-in", key, "-pubout", "-out", pub)
    path = _write(d / "artifact", artifact)
    openssl("dgst", "-sha256", "-sign", key, "-out", d / "sig", path)
    return Signed(path, d / "sig", pub)


def _uuid(run: Run) -> str:
    match = _ID_RE.search(run.out)
    assert match, run.out
    return match.group(1)


async def _log_key(log: RunningLog, d: Path) -> Path:
    return _write(d / "log.pub", log.runtime.service.public_key_pem())


# ---- the main flow, as a subprocess ----------------------------------------------------


async def test_main_flow_as_subprocess_with_openssl(log: RunningLog, tmp_path: Path) -> None:
    signed = await asyncio.to_thread(sign_openssl, tmp_path, b"signed by openssl\n")
    env = {"REKOR_PY_SERVER": log.url}  # the default server comes from the environment
    up = await cli_process(*signed.upload_args(), env=env)
    assert up.code == 0, up.err
    assert re.search(r"Created entry at index \d+, available at: " + re.escape(log.url), up.out)
    assert "Verified: inclusion proof" in up.out
    uuid = _uuid(up)

    saved = tmp_path / "entry.json"
    got = await cli_process("get", "--uuid", uuid, "--save", saved, env=env)
    assert got.code == 0, got.err
    assert f"UUID: {uuid}" in got.out and signed.sha256 in got.out  # the decoded body
    assert list(json.loads(saved.read_text())) == [uuid]

    # Offline: the server named is not running; the entry and the pinned key suffice.
    dead = f"http://127.0.0.1:{free_port()}"
    offline = await cli_process("verify", "--entry", saved, "--log-key",
                                await _log_key(log, tmp_path), "--rekor-server", dead)
    assert offline.code == 0, offline.err
    assert uuid in offline.out

    found = await cli_process("search", "--sha", signed.sha256, "--json", env=env)
    assert found.code == 0 and uuid in found.json()

    state = tmp_path / "state.json"
    info = await cli_process("loginfo", "--state", state, env=env)
    assert info.code == 0, info.err
    assert "Verification Successful!" in info.out and "First tree head" in info.out
    assert state.exists()


# ---- every key kind, in-process -------------------------------------------------------


@pytest.mark.parametrize("sign", [sign_p256, sign_rsa, sign_cert], ids=["p256", "rsa", "cert"])
async def test_round_trip(log: RunningLog, tmp_path: Path,
                          sign: Callable[[Path, bytes], Signed]) -> None:
    signed = sign(tmp_path, f"round trip {sign.__name__}".encode())
    up = await cli(log, *signed.upload_args(), "--json")
    assert up.code == 0, up.err
    result = up.json()
    assert result["verified"] is True and result["alreadyExists"] is False
    uuid, index = result["uuid"], result["logIndex"]

    by_index = await cli(log, "get", "--log-index", str(index), "--json")
    assert by_index.code == 0, by_index.err
    body = by_index.json()["body"]
    assert body["spec"]["data"]["hash"] == {"algorithm": "sha256", "value": signed.sha256}

    for ref in (uuid, uuid[16:]):  # 80-hex entry ID and 64-hex UUID
        checked = await cli(log, "verify", "--uuid", ref)
        assert checked.code == 0, checked.err
        assert f"Entry {uuid} at index {index}" in checked.out

    by_key = await cli(log, "search", "--public-key", signed.public_key, "--json")
    assert by_key.code == 0 and by_key.json() == [uuid]

    again = await cli(log, *signed.upload_args())  # 409: fetched and verified, not an error
    assert again.code == 0, again.err
    assert f"Entry already exists at index {index}" in again.out


def sign_gpg(d: Path, artifact: bytes) -> Signed:
    gpg = GnuPG.create(d / "gnupg")
    fpr = gpg.generate("CLI Signer <cli@example.com>", "ed25519", "sign")
    return Signed(_write(d / "artifact", artifact), _write(d / "artifact.asc", gpg.sign(fpr, artifact, armor=True)),
                  _write(d / "key.asc", gpg.export(fpr)))


def sign_ssh(d: Path, artifact: bytes) -> Signed:
    key = ssh_keygen(d, "ed25519", "cli@example.com")
    path = _write(d / "artifact", artifact)
    return Signed(path, _write(d / "artifact.sshsig", key.sign(path)), _write(d / "key.pub", key.public_line))


def sign_minisign(d: Path, artifact: bytes) -> Signed:
    key = minisign_key(d, "cli")
    path = _write(d / "artifact", artifact)
    return Signed(path, _write(d / "artifact.minisig", key.sign(path)), _write(d / "cli.pub", key.public_file))


def rekord_signers() -> dict[str, Callable[[Path, bytes], Signed]]:
    """Per signature format: the files that format's real tool makes."""
    return {"x509": sign_openssl, "pgp": sign_gpg, "ssh": sign_ssh, "minisign": sign_minisign}


@pytest.mark.parametrize("pki_format", sorted(rekord_signers()))
async def test_rekord_round_trip(log: RunningLog, tmp_path: Path, pki_format: str) -> None:
    fmt = pki_format
    signed = await asyncio.to_thread(rekord_signers()[pki_format], tmp_path,
                                     f"rekord via the client, {pki_format}\n".encode())
    args = [*signed.upload_args(), "--type", "rekord", "--pki-format", fmt]
    up = await cli(log, *args, "--json")
    assert up.code == 0, up.err
    result = up.json()
    assert result["verified"] is True and result["alreadyExists"] is False
    got = await cli(log, "get", "--uuid", result["uuid"], "--json")
    assert got.code == 0, got.err
    body = got.json()["body"]
    assert (body["kind"], body["spec"]["signature"]["format"]) == ("rekord", fmt)
    assert body["spec"]["data"]["hash"] == {"algorithm": "sha256", "value": signed.sha256}
    found = await cli(log, "search", "--public-key", signed.public_key, "--pki-format", fmt,
                      "--json")
    assert found.code == 0 and found.json() == [result["uuid"]]
    again = await cli(log, *args)
    assert again.code == 0 and "Entry already exists" in again.out, again.err


async def test_search_by_email_sha384_and_operators(log: RunningLog, tmp_path: Path) -> None:
    cert = sign_cert(tmp_path, b"certified")
    cert_id = (await cli(log, *cert.upload_args(), "--json")).json()["uuid"]
    p384 = ec.generate_private_key(ec.SECP384R1())
    artifact = b"sha384 artifact"
    digest = hashlib.sha384(artifact).hexdigest()
    sig = _write(tmp_path / "sig384", p384.sign(artifact, ec.ECDSA(hashes.SHA384())))
    pub = _write(tmp_path / "p384.pub", _pub_pem(p384))
    up = await cli(log, "upload", "--artifact-hash", f"sha384:{digest}", "--signature", sig,
                   "--public-key", pub, "--json")
    assert up.code == 0, up.err
    sha384_id = up.json()["uuid"]

    async def search(*args: str | Path) -> Any:
        run = await cli(log, "search", *args, "--json")
        assert run.code in (0, 1), run.err
        return run.json()

    by_email = await search("--email", EMAIL.upper())  # other tests' certificates too
    assert cert_id in by_email and sha384_id not in by_email
    assert await search("--sha", f"sha384:{digest}") == [sha384_id]
    assert await search("--sha", digest) == [sha384_id]
    assert await search("--artifact", cert.artifact) == [cert_id]
    assert await search("--email", EMAIL, "--public-key", pub) == [*by_email, sha384_id]
    both = await search("--email", EMAIL, "--public-key", pub, "--operator", "or")
    assert cert_id in both and sha384_id in both
    assert await search("--email", EMAIL, "--public-key", pub, "--operator", "and") == []
    assert await search("--sha", cert.sha256, "--public-key", cert.public_key,
                        "--operator", "and") == [cert_id]


# ---- loginfo, state and logproof ------------------------------------------------------


async def test_loginfo_remembers_and_detects_a_forged_state(log: RunningLog,
                                                            tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    first = await cli(log, "loginfo", "--state", state, "--json")
    assert first.code == 0, first.err
    assert first.json()["consistentWith"] is None
    (tmp_path / "a").mkdir()
    assert (await cli(log, *sign_p256(tmp_path / "a", b"grow the log").upload_args())).code == 0
    second = await cli(log, "loginfo", "--state", state)
    assert second.code == 0, second.err
    size = first.json()["treeSize"]
    assert f"Consistent with the last verified tree head (size {size})" in second.out

    # Forge the remembered root: the next loginfo must refuse and show both heads.
    saved = json.loads(state.read_text())
    (record,) = saved["logs"].values()
    forged_root = "ab" * 32
    real_root = record["rootHash"]
    record["rootHash"] = forged_root
    state.write_text(json.dumps(saved))
    (tmp_path / "b").mkdir()
    assert (await cli(log, *sign_p256(tmp_path / "b", b"grow again").upload_args())).code == 0
    forged = await cli(log, "loginfo", "--state", state)
    assert forged.code == 1
    assert "NOT consistent" in forged.err and forged_root in forged.err
    assert "may have been altered" in forged.err
    current = json.loads((await cli(log, "loginfo", "--state", tmp_path / "fresh.json",
                                    "--json")).out)["rootHash"]
    assert current in forged.err and real_root != forged_root
    assert json.loads(state.read_text())["logs"] == saved["logs"]  # not overwritten

    # The same size with another root is a split view too.
    info = (await cli(log, "loginfo", "--state", tmp_path / "x.json", "--json")).json()
    record["treeSize"], record["rootHash"] = info["treeSize"], forged_root
    state.write_text(json.dumps(saved))
    same = await cli(log, "loginfo", "--state", state)
    assert same.code == 1 and "two different roots" in same.err


async def test_logproof(log: RunningLog, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    (tmp_path / "a").mkdir()
    assert (await cli(log, *sign_p256(tmp_path / "a", b"logproof a").upload_args())).code == 0
    old = (await cli(log, "loginfo", "--state", state, "--json")).json()["treeSize"]
    (tmp_path / "b").mkdir()
    assert (await cli(log, *sign_p256(tmp_path / "b", b"logproof b").upload_args())).code == 0
    new = (await cli(log, "loginfo", "--state", tmp_path / "other.json", "--json")).json()
    proof = await cli(log, "logproof", "--first-size", str(old), "--last-size",
                      str(new["treeSize"]), "--state", state, "--json")
    assert proof.code == 0, proof.err
    assert proof.json()["verified"] is True and proof.json()["rootHash"] == new["rootHash"]
    human = await cli(log, "logproof", "--first-size", "1", "--last-size", str(old),
                      "--state", state)
    assert human.code == 0 and "Hashes: [" in human.out
    if old != 1:
        assert "Not verified: no verified root known for size 1" in human.out
    bad = await cli(log, "logproof", "--first-size", "3", "--last-size", "2", "--state", state)
    assert (bad.code, bad.err.strip()) == (
        2, "rekor-py logproof: error: need 1 <= --first-size <= --last-size")
    beyond = await cli(log, "logproof", "--last-size", "99999999", "--state", state)
    assert beyond.code == 2 and "greater than what is currently observable" in beyond.err


# ---- offline verification and tampering -----------------------------------------------


async def test_verify_saved_entry_offline_and_tampered(log: RunningLog, tmp_path: Path) -> None:
    signed = sign_rsa(tmp_path, b"to be saved")
    uuid = (await cli(log, *signed.upload_args(), "--json")).json()["uuid"]
    saved = tmp_path / "entry.json"
    assert (await cli(log, "get", "--uuid", uuid, "--save", saved)).code == 0
    key = await _log_key(log, tmp_path)
    ok = await cli(log, "verify", "--entry", saved, "--log-key", key, "--json")
    assert ok.code == 0 and ok.json()["uuid"] == uuid

    data = json.loads(saved.read_text())
    proof = data[uuid]["verification"]["inclusionProof"]
    proof["rootHash"] = "00" * 32
    _write(tmp_path / "bad-root.json", json.dumps(data).encode())
    bad = await cli(log, "verify", "--entry", tmp_path / "bad-root.json", "--log-key", key)
    assert bad.code == 1 and "verification failed: inclusion proof" in bad.err

    data = json.loads(saved.read_text())
    data[uuid]["logIndex"] += 1  # the SET signs the index
    _write(tmp_path / "bad-index.json", json.dumps(data).encode())
    bad = await cli(log, "verify", "--entry", tmp_path / "bad-index.json", "--log-key", key)
    assert bad.code == 1 and "signed entry timestamp" in bad.err

    other = _write(tmp_path / "other.pub", _pub_pem(ec.generate_private_key(ec.SECP256R1())))
    wrong_key = await cli(log, "verify", "--entry", saved, "--log-key", other)
    assert wrong_key.code == 1 and "verification failed: log ID" in wrong_key.err


# ---- errors and exit codes ------------------------------------------------------------


async def test_input_errors(log: RunningLog, tmp_path: Path) -> None:
    signed = sign_p256(tmp_path, b"inputs")
    other = _write(tmp_path / "other", b"another artifact")
    cases: list[tuple[list[str | Path], int, str]] = [
        (["upload", "--artifact", tmp_path / "missing", "--signature", signed.signature,
          "--public-key", signed.public_key], 2, "cannot read artifact"),
        (["upload", "--artifact", other, "--signature", signed.signature,
          "--public-key", signed.public_key], 2, "verifying signature"),
        (["upload", "--artifact-hash", "sha256:abc", "--signature", signed.signature,
          "--public-key", signed.public_key], 2, "--artifact-hash must be"),
        ([*signed.upload_args(), "--type", "intoto"], 2, "entry type 'intoto' is not supported"),
        ([*signed.upload_args(), "--pki-format", "pgp"], 2,
         "PKI format 'pgp' is not supported for hashedrekord"),
        ([*signed.upload_args(), "--type", "rekord", "--pki-format", "tuf"], 2,
         "PKI format 'tuf' is not supported for rekord"),
        (["upload", "--artifact-hash", "sha256:" + signed.sha256, "--signature", signed.signature,
          "--public-key", signed.public_key, "--type", "rekord"], 2,
         "rekord entries carry the artifact itself"),
        (["upload", "--artifact", signed.artifact, "--signature", signed.signature,
          "--public-key", signed.signature], 2, "failure decoding PEM"),
        (["get", "--uuid", "ab" * 32], 1, "entry not found"),
        (["get", "--log-index", "99999999"], 1, "entry not found"),
        (["get", "--uuid", "xyz"], 2, "--uuid must be 64 or 80 hex digits"),
        (["verify", "--log-index", "-1"], 2, "--log-index must be >= 0"),
        (["verify", "--entry", signed.artifact, "--log-key", signed.public_key], 2,
         "is not JSON"),
        (["search"], 2, "give at least one of"),
        (["search", "--email", "not-an-email"], 2, "must be of type email"),
        (["search", "--sha", "sha256:" + "0" * 64], 1, "no matching entries found"),
        (["search", "--public-key", signed.public_key, "--pki-format", "tuf"], 2,
         "the PKI format requested is not supported by this server"),
        (["loginfo", "--state", signed.artifact], 2, "is not JSON"),
    ]
    for args, code, message in cases:
        run = await cli(log, *args)
        assert (run.code, message in run.err) == (code, True), (args, run)
    # Usage errors from argparse, and an unreachable server.
    assert (await cli(log, "get")).code == 2
    assert (await cli(log, "upload", "--signature", signed.signature)).code == 2
    dead = await asyncio.to_thread(
        _main_captured, ["loginfo", "--rekor-server", f"http://127.0.0.1:{free_port()}",
                         "--state", str(tmp_path / "s.json")])
    assert dead.code == 1 and "cannot reach" in dead.err
    bad_url = await asyncio.to_thread(_main_captured, ["loginfo", "--rekor-server", "ftp://x"])
    assert bad_url.code == 2 and "server URL must be" in bad_url.err


async def test_loginfo_warns_when_the_key_or_tree_behind_a_url_changes(
        postgres_admin_dsn: str, database_url: str, tmp_path: Path) -> None:
    """Two real logs, one after the other on the same URL: the second has another
    key (its own data dir) and another tree (its own database)."""
    state, port = tmp_path / "state.json", free_port()
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    first = await start_log(log_settings(database_url, tmp_path / "one", port=port))
    try:
        before = await cli(first, "loginfo", "--state", state, "--json")
        assert before.code == 0 and before.json()["warnings"] == [], before.err
        again = await cli(first, "loginfo", "--state", state)
        assert again.code == 0 and "WARNING" not in again.err
    finally:
        await first.stop()
    async with scratch_database(postgres_admin_dsn) as other_db:
        await migrate(other_db)
        second = await start_log(log_settings(other_db, tmp_path / "two", port=port))
        try:
            assert second.url == first.url
            changed = await cli(second, "loginfo", "--state", state, "--json")
            assert changed.code == 0, changed.err
            warnings = changed.json()["warnings"]
            assert len(warnings) == 2, warnings
            assert "key changed" in warnings[0] and before.json()["logID"] in warnings[0]
            assert "tree ID changed" in warnings[1] and before.json()["treeID"] in warnings[1]
            assert changed.err.count("rekor-py loginfo: WARNING: ") == 2
            # Said once per change: the new key and tree are what the URL serves now.
            quiet = await cli(second, "loginfo", "--state", state)
            assert quiet.code == 0 and "WARNING" not in quiet.err, quiet.err

            # A state file from before the "servers" map: its records' server fields tell.
            saved = json.loads(state.read_text())
            del saved["servers"]
            saved["logs"] = {k: v for k, v in saved["logs"].items()
                             if k.startswith(before.json()["logID"])}
            state.write_text(json.dumps(saved))
            legacy = await cli(second, "loginfo", "--state", state)
            assert legacy.code == 0 and legacy.err.count("WARNING") == 2, legacy.err
        finally:
            await second.stop()
