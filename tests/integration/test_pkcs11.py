"""Every server key in a SoftHSM2 token: the log key (SETs, v1 checkpoints), the C2SP
note key, the Rekor v2 log key and the TSA key, each named by a pkcs11: URI.

Real entries go in through sigstore-python's clients; the SETs, checkpoints, v2
checkpoints and timestamps the token signed are verified by sigstore-python (and
rfc3161-client, its timestamp verifier) and by our own verifiers, with the public
keys read from the token itself, not from the server.  `rekor-py serve` is also
started as a process with the URIs, and each wrong configuration (wrong PIN,
missing object, bad URI) stops it with exit code 2 and one error line, before the
database is touched.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import os
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pkcs11
import pytest
import rfc3161_client
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11 import exceptions as p11e
from sigstore._internal.rekor import EntryRequestBody
from sigstore._internal.rekor.client import RekorClient
from sigstore._internal.rekor.client_v2 import RekorV2Client
from sigstore._internal.timestamp import TimestampAuthorityClient
from sigstore._internal.trust import Keyring
from sigstore.models import TransparencyLogEntry
from sigstore_models.common import v1 as common_v1

from rekor_py.keys.pkcs11 import Pkcs11Key
from rekor_py.log.c2sp import NoteVerifier, c2sp_origin, verify_c2sp_checkpoint
from rekor_py.log.checkpoint import verify_checkpoint
from rekor_py.log.set import verify_set
from rekor_py.log.signer import LogSigner, LogVerifier
from tests.integration.logserver import (
    RunningLog,
    free_port,
    log_settings,
    post_entry,
    signed_hashedrekord,
    start_log,
)
from tests.integration.test_rekor_v2 import v2_request
from tests.tools.softhsm import SoftHsm, softhsm_token


@pytest.fixture(scope="module")
def hsm() -> SoftHsm:
    return softhsm_token()


def _token_session(hsm: SoftHsm) -> pkcs11.Session:
    token = pkcs11.lib(hsm.module).get_token(token_label=hsm.label)
    try:
        return token.open(user_pin=hsm.pin)
    except p11e.UserAlreadyLoggedIn:  # the server in this process logged in: that covers us
        return token.open()


def _read_public(hsm: SoftHsm, label: str, folder: Path) -> ec.EllipticCurvePublicKey | \
        ed25519.Ed25519PublicKey:
    """The public key as the token holds it, read without our code: pkcs11-tool's DER
    export, or for Ed25519 (which OpenSC 0.23 exports wrongly) CKA_EC_POINT, a DER
    OCTET STRING around the 32 key bytes."""
    if "ed25519" in label:
        with _token_session(hsm) as session:
            public = session.get_key(object_class=ObjectClass.PUBLIC_KEY, label=label)
            point = bytes(public[Attribute.EC_POINT])
        assert point[:2] == b"\x04\x20" and len(point) == 34
        return ed25519.Ed25519PublicKey.from_public_bytes(point[2:])
    out = folder / f"{label}.der"
    hsm.tool("--read-object", "--type", "pubkey", "--label", label, "--output-file", str(out))
    key = serialization.load_der_public_key(out.read_bytes())
    assert isinstance(key, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey)
    return key


def _keyring(key: ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey,
             details: common_v1.PublicKeyDetails) -> Keyring:
    der = key.public_bytes(serialization.Encoding.DER,
                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return Keyring([common_v1.PublicKey(
        raw_bytes=base64.b64encode(der), key_details=details,
        valid_for=common_v1.TimeRange(start=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)))])


def _uris(hsm: SoftHsm) -> dict[str, str]:
    return {"signing_key": hsm.uri("log-p256"), "note_key": hsm.uri("note-ed25519"),
            "v2_signing_key": hsm.uri("v2-ed25519"), "tsa_key": hsm.uri("tsa-p256")}


@pytest.fixture
async def hsm_log(hsm: SoftHsm, database_url: str, tmp_path: Path
                  ) -> AsyncIterator[RunningLog]:
    server = await start_log(log_settings(database_url, tmp_path / "data", **_uris(hsm)))
    yield server
    await server.stop()


async def test_keys_in_the_token_sign_what_clients_verify(
        hsm: SoftHsm, hsm_log: RunningLog, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    url = hsm_log.url
    # Which threads the token is asked to sign from: SETs and heads must not block
    # the event loop's thread.
    threads: list[str] = []
    original_sign = Pkcs11Key.sign

    def recording_sign(self: Pkcs11Key, message: bytes) -> bytes:
        threads.append(threading.current_thread().name)
        return original_sign(self, message)

    monkeypatch.setattr(Pkcs11Key, "sign", recording_sign)
    log_key = _read_public(hsm, "log-p256", tmp_path)
    note_key = _read_public(hsm, "note-ed25519", tmp_path)
    v2_key = _read_public(hsm, "v2-ed25519", tmp_path)
    tsa_key = _read_public(hsm, "tsa-p256", tmp_path)
    assert isinstance(note_key, ed25519.Ed25519PublicKey)
    assert isinstance(v2_key, ed25519.Ed25519PublicKey)
    # Every key the server uses is a token key, and it published the token's public key.
    service = hsm_log.runtime.service
    assert isinstance(service.signer.signer, Pkcs11Key)
    verifier = LogVerifier(log_key)
    async with aiohttp.ClientSession() as s, s.get(f"{url}/api/v1/log/publicKey") as r:
        assert LogVerifier.from_pem(await r.read()) == verifier

    # v1: sigstore-python uploads and verifies the SET, the inclusion proof and the
    # signed checkpoint with the token's public key.
    client = RekorClient(url)
    entries: list[TransparencyLogEntry] = []
    for i in range(3):
        body = EntryRequestBody(signed_hashedrekord(b"in the token %d" % i))
        entries.append(await asyncio.to_thread(client.create_entry, body))
    assert threads and threading.main_thread().name not in threads, threads
    keyring = _keyring(log_key, common_v1.PublicKeyDetails.PKIX_ECDSA_P256_SHA_256)
    for entry in entries:
        entry._verify(keyring)
        entry._verify_set(keyring)  # explicitly: the SET is the token's signature
    # ... and a keyring with another key refuses them (the check can fail).
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    with pytest.raises(Exception, match="(?i)verif|signature|key"):
        entries[0]._verify_set(_keyring(other, common_v1.PublicKeyDetails.PKIX_ECDSA_P256_SHA_256))

    # Our own verifiers: the SET and checkpoint of each entry as served.
    async with aiohttp.ClientSession() as s:
        for entry in entries:
            index = entry._inner.log_index
            async with s.get(f"{url}/api/v1/log/entries", params={"logIndex": str(index)}) as r:
                assert r.status == 200
                (served,) = (await r.json()).values()
            proof = served["verification"]["inclusionProof"]
            verify_checkpoint(proof["checkpoint"], verifier)
            verify_set(verifier, base64.b64decode(served["verification"]["signedEntryTimestamp"]),
                       base64.b64decode(served["body"]), served["integratedTime"],
                       served["logID"], served["logIndex"])
        # The C2SP checkpoint: log key (type 0x02) and note key (type 0x01), both in the token.
        async with s.get(f"{url}/checkpoint") as r:
            note = await r.text()
    origin = c2sp_origin(service.checkpoint_name, "")
    checkpoint = verify_c2sp_checkpoint(note, [NoteVerifier.ecdsa(origin, verifier),
                                               NoteVerifier.ed25519(origin, note_key)])
    assert checkpoint.size == 3

    # v2: sigstore-python's v2 client; the checkpoint verifies with the token's v2 key.
    v2_entry = await asyncio.to_thread(RekorV2Client(url).create_entry,  # type: ignore[arg-type]
                                       v2_request(b"v2 in the token"))
    v2_entry._verify(_keyring(v2_key, common_v1.PublicKeyDetails.PKIX_ED25519))
    async with aiohttp.ClientSession() as s, s.get(f"{url}/api/v2/checkpoint") as r:
        v2_note = await r.text()
    v2_origin = hsm_log.settings.v2_checkpoint_name
    assert verify_c2sp_checkpoint(v2_note, [NoteVerifier.ed25519(v2_origin, v2_key)]).size == 1

    # TSA: sigstore-python's TSA client; rfc3161-client checks the token under the chain,
    # whose TSA certificate certifies the token's key.
    signature = b"a signature to timestamp"
    threads.clear()
    response = await asyncio.to_thread(
        TimestampAuthorityClient(f"{url}/api/v1/timestamp").request_timestamp, signature)
    async with aiohttp.ClientSession() as s, s.get(f"{url}/api/v1/timestamp/certchain") as r:
        leaf, root = x509.load_pem_x509_certificates(await r.read())
    assert threads and threading.main_thread().name not in threads, threads
    assert leaf.public_key() == tsa_key
    tsa = rfc3161_client.VerifierBuilder().tsa_certificate(leaf).add_root_certificate(root).build()
    assert tsa.verify_message(response, signature)
    with pytest.raises(rfc3161_client.VerificationError):
        tsa.verify_message(response, signature + b"!")


def test_log_key_cannot_be_read_from_the_token(hsm: SoftHsm, tmp_path: Path) -> None:
    """Neither reading CKA_VALUE nor wrapping the key under a key of ours gets it out;
    the key made --extractable (the control) does wrap."""
    with _token_session(hsm) as session:
        wrapper = session.generate_key(KeyType.AES, 256, store=False,
                                       template={Attribute.WRAP: True})
        for label in ("log-p256", "note-ed25519", "v2-ed25519", "tsa-p256"):
            key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=label)
            assert key[Attribute.EXTRACTABLE] is False
            with pytest.raises(p11e.AttributeSensitive):
                key[Attribute.VALUE]
            with pytest.raises(p11e.KeyUnextractable):
                wrapper.wrap_key(key, mechanism=Mechanism.AES_KEY_WRAP_PAD)
        control = session.get_key(object_class=ObjectClass.PRIVATE_KEY,
                                  label="extractable-p256")
        assert len(wrapper.wrap_key(control, mechanism=Mechanism.AES_KEY_WRAP_PAD)) > 32


def _serve(args: list[str], data_dir: Path, port: int,
           env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "rekor_py", "serve", "--data-dir", str(data_dir),
         "--port", str(port), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "REKOR_PY_BATCH_MAX_DELAY_MS": "2", **(env or {})})


async def test_serve_process_with_pkcs11_uris(hsm: SoftHsm, database_url: str,
                                              tmp_path: Path) -> None:
    """`rekor-py serve --signing-key pkcs11:...`, the other keys by environment, the PIN
    from REKOR_PY_PKCS11_PIN and the module from REKOR_PY_PKCS11_MODULE."""
    port = free_port()
    bare = {label: f"pkcs11:token={hsm.label};object={label}"
            for label in ("log-p256", "note-ed25519", "v2-ed25519", "tsa-p256")}
    proc = _serve(["--database-url", database_url, "--signing-key", bare["log-p256"]],
                  tmp_path / "data", port,
                  {"REKOR_PY_NOTE_KEY": bare["note-ed25519"],
                   "REKOR_PY_V2_SIGNING_KEY": bare["v2-ed25519"],
                   "REKOR_PY_TSA_KEY": bare["tsa-p256"],
                   "REKOR_PY_PKCS11_PIN": hsm.pin, "REKOR_PY_PKCS11_MODULE": hsm.module})
    try:
        url = f"http://127.0.0.1:{port}"
        verifier = LogVerifier(_read_public(hsm, "log-p256", tmp_path))
        async with aiohttp.ClientSession() as s:
            for _ in range(300):
                if proc.poll() is not None:
                    raise AssertionError(proc.communicate()[1].decode()[-2000:])
                try:
                    async with s.get(f"{url}/api/v1/log") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.1)
            entry = await asyncio.to_thread(
                RekorClient(url).create_entry,
                EntryRequestBody(signed_hashedrekord(b"served from a process")))
            entry._verify(_keyring(verifier.public_key,  # type: ignore[arg-type]
                                   common_v1.PublicKeyDetails.PKIX_ECDSA_P256_SHA_256))
            async with s.get(f"{url}/api/v1/log") as r:
                verify_checkpoint((await r.json())["signedTreeHead"], verifier)
    finally:
        proc.terminate()
        await asyncio.to_thread(proc.communicate, None, 30)
    assert not (tmp_path / "data" / "signing-key.pem").exists()  # no key file was made


@pytest.mark.parametrize(("setting", "value", "message"), [
    ("--signing-key", "pkcs11:token={label};object=log-p256?module-path={module}&pin-value=0000",
     "--signing-key: PKCS#11 token '{label}': wrong PIN"),
    ("--signing-key", "pkcs11:token={label};object=nothing?module-path={module}&pin-value={pin}",
     "--signing-key: PKCS#11 token '{label}' has no private key object='nothing'"),
    ("--signing-key", "pkcs11:token={label};object=log p256?module-path={module}",
     "--signing-key: PKCS#11 URI attribute 'object' has characters that must be "
     "percent-encoded"),
    ("REKOR_PY_TSA_KEY", "pkcs11:token={label};id=%05;type=secret-key?module-path={module}",
     "REKOR_PY_TSA_KEY: PKCS#11 URI type='secret-key': a signing key must be type=private"),
    ("REKOR_PY_NOTE_KEY", "pkcs11:token={label};object=log-p256?module-path={module}"
                          "&pin-value={pin}",
     "REKOR_PY_NOTE_KEY: Pkcs11Key('{label}', object='log-p256') is not an Ed25519 key"),
    ("REKOR_PY_TSA_KEY", "pkcs11:token={label};object=note-ed25519?module-path={module}"
                         "&pin-value={pin}",
     "REKOR_PY_TSA_KEY: Pkcs11Key('{label}', object='note-ed25519') is not an ECDSA P-256 "
     "or P-384 key"),
])
def test_bad_pkcs11_configuration_is_one_line_exit_2(hsm: SoftHsm, tmp_path: Path,
                                                     setting: str, value: str,
                                                     message: str) -> None:
    values = {"label": hsm.label, "module": hsm.module, "pin": hsm.pin}
    uri = value.format(**values)
    args, env = ([setting, uri], None) if setting.startswith("--") else ([], {setting: uri})
    # No database is given and none is started: the keys are checked first.
    proc = _serve(args, tmp_path / "data", free_port(), env)
    out, err = proc.communicate(timeout=60)
    lines = err.decode().strip().splitlines()
    assert proc.returncode == 2, err.decode()
    assert len(lines) == 1 and lines[0].startswith("rekor-py serve: error: "), lines
    assert message.format(**values) in lines[0]
    assert hsm.pin not in lines[0] or "0000" in uri
    assert not (tmp_path / "data" / "postgres").exists()


async def test_rotation_from_a_token_key_to_a_file_key(hsm: SoftHsm, database_url: str,
                                                       tmp_path: Path) -> None:
    """A shard signed in the token, then a rotation to a key file: entries of both
    shards verify with sigstore-python, each under its own key, and the sequencer
    signs off the event loop only while the active key is in the token."""
    from tests.integration.test_shards import (
        _rotate_with_new_key,
        _sigstore_entry,
        _sigstore_keyring,
    )

    server = await start_log(log_settings(database_url, tmp_path / "data",
                                          signing_key=hsm.uri("log-p256")))
    try:
        sequencer = server.runtime.service.sequencer
        assert sequencer is not None and sequencer.sign_off_loop
        async with aiohttp.ClientSession() as s:
            for i in range(2):
                status, _, _ = await post_entry(s, server.url,
                                                signed_hashedrekord(b"token shard %d" % i))
                assert status == 201
            new_signer, _ = await _rotate_with_new_key(server)
            for i in range(2):
                status, _, _ = await post_entry(s, server.url,
                                                signed_hashedrekord(b"file shard %d" % i))
                assert status == 201
            assert not sequencer.sign_off_loop  # the new shard's key is in memory
            token_key = LogVerifier(_read_public(hsm, "log-p256", tmp_path))
            both = _sigstore_keyring(token_key, new_signer.verifier)
            log_ids = []
            for index in range(4):
                async with s.get(f"{server.url}/api/v1/log/entries",
                                 params={"logIndex": str(index)}) as r:
                    assert r.status == 200
                    entry = await r.json()
                _sigstore_entry(entry)._verify(both)
                log_ids.append(next(iter(entry.values()))["logID"])
            assert log_ids == [token_key.log_id_hex] * 2 + [new_signer.log_id_hex] * 2
            with pytest.raises(Exception, match="(?i)verif|signature|key"):
                _sigstore_entry(entry)._verify(_sigstore_keyring(token_key))
    finally:
        await server.stop()


def test_keys_show_prints_what_serve_would_publish(hsm: SoftHsm, tmp_path: Path) -> None:
    def keys_show(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "rekor_py", "keys", "show", *args],
                              capture_output=True, text=True, timeout=60)

    done = keys_show(hsm.uri("log-p256"), "--json")
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    verifier = LogVerifier(_read_public(hsm, "log-p256", tmp_path))
    assert LogVerifier.from_pem(shown["publicKey"]) == verifier
    assert (shown["logID"], shown["keyHint"]) == (verifier.log_id_hex, verifier.key_hint.hex())
    assert shown["algorithm"] == "ecdsa-secp256r1"
    assert "pin-value=***" in shown["key"] and hsm.pin not in done.stdout

    note = keys_show(hsm.uri("note-ed25519"), "--note-name", "log.example")
    assert note.returncode == 0, note.stderr
    note_key = _read_public(hsm, "note-ed25519", tmp_path)
    assert isinstance(note_key, ed25519.Ed25519PublicKey)
    assert f"vkey: {NoteVerifier.ed25519('log.example', note_key).vkey}\n" in note.stdout

    key_file = tmp_path / "log.pem"
    signer = LogSigner.generate()
    key_file.write_bytes(signer.private_pem())
    from_file = keys_show(str(key_file), "--json")
    assert json.loads(from_file.stdout)["logID"] == signer.log_id_hex

    wrong = keys_show(hsm.uri("log-p256", pin=False, pin_value="0000"))
    assert wrong.returncode == 2
    assert wrong.stderr.strip().splitlines() == [
        f"rekor-py keys: error: key: PKCS#11 token '{hsm.label}': wrong PIN"]


def test_witness_key_in_the_token(hsm: SoftHsm, tmp_path: Path) -> None:
    """`rekor-py witness --key pkcs11:...` cosigns with the token's Ed25519 key: the
    vkey it prints is that key's."""
    from rekor_py.witness.cosignature import CosignatureVerifier

    (tmp_path / "logs.policy").write_text("quorum none\n")
    run = subprocess.run(
        [sys.executable, "-m", "rekor_py", "witness", "--name", "witness.test/hsm",
         "--logs", str(tmp_path / "logs.policy"), "--key", hsm.uri("note-ed25519"),
         "--data-dir", str(tmp_path / "w"), "--print-vkey"],
        capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    printed = CosignatureVerifier.from_vkey(run.stdout.strip())
    key = _read_public(hsm, "note-ed25519", tmp_path)
    assert printed == CosignatureVerifier.of("witness.test/hsm", key)  # type: ignore[arg-type]
    assert not (tmp_path / "w" / "witness-key-ed25519.pem").exists()  # no file key made
