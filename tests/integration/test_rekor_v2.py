"""The Rekor v2 API beside v1 on one server, checked by sigstore-python's own v2 client.

sigstore-python 4.5.1's RekorV2Client builds the hashedRekordRequestV002 (its own
code, from a certificate), posts it, and parses the TransparencyLogEntry with
its strict model; its own verification code checks the inclusion proof and the
checkpoint signature under the v2 log's Ed25519 key.  The v2 tree is a tree of
its own: v1 and v2 writers run at once and fsck finds both trees consistent.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg  # type: ignore[import-untyped]
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID
from sigstore._internal.rekor import RekorClientError
from sigstore._internal.rekor.client_v2 import RekorV2Client
from sigstore._internal.trust import Keyring
from sigstore.hashes import Hashed
from sigstore.models import TransparencyLogEntry
from sigstore_models.common import v1 as common_v1
from sigstore_models.rekor.v1 import TransparencyLogEntry as Inner

from rekor_py import cli, merkle
from rekor_py.audit.fsck import fsck
from rekor_py.audit.source import load_v2_key, load_verifier
from rekor_py.log.c2sp import NoteVerifier, verify_c2sp_checkpoint
from tests.integration.logserver import (
    RunningLog,
    log_settings,
    post_entry,
    signed_hashedrekord,
    start_log,
)


@pytest.fixture
async def log_server(database_url: str, tmp_path: Path) -> AsyncIterator[RunningLog]:
    server = await start_log(log_settings(database_url, tmp_path))
    yield server
    await server.stop()


def _certificate(key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rekor-py v2 test")])
    now = dt.datetime.now(dt.UTC)
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(minutes=10))
            .add_extension(x509.SubjectAlternativeName([x509.RFC822Name("signer@example.com")]),
                           critical=False)
            .sign(key, hashes.SHA256()))


def v2_request(artifact: bytes) -> dict[str, Any]:
    """sigstore-python's own hashedRekordRequestV002 for `artifact`, signed by a fresh
    P-256 key in a certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    digest = hashlib.sha256(artifact).digest()
    signature = key.sign(artifact, ec.ECDSA(hashes.SHA256()))
    hashed = Hashed(algorithm=common_v1.HashAlgorithm.SHA2_256, digest=digest)
    return dict(RekorV2Client._build_hashed_rekord_request(hashed, signature,
                                                            _certificate(key)))


async def _v2_key(url: str) -> ed25519.Ed25519PublicKey:
    """The v2 log's key, from the served trust config (checked against its log ID)."""
    async with aiohttp.ClientSession() as s, s.get(f"{url}/api/v1/trustConfig") as r:
        assert r.status == 200
        config = await r.json()
    (v2,) = [t for t in config["trustedRoot"]["tlogs"]
             if t["publicKey"]["keyDetails"] == "PKIX_ED25519"]
    key = serialization.load_der_public_key(base64.b64decode(v2["publicKey"]["rawBytes"]))
    assert isinstance(key, ed25519.Ed25519PublicKey)
    return key


def _keyring(key: ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey,
             details: common_v1.PublicKeyDetails) -> Keyring:
    der = key.public_bytes(serialization.Encoding.DER,
                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return Keyring([common_v1.PublicKey(
        raw_bytes=base64.b64encode(der), key_details=details,
        valid_for=common_v1.TimeRange(start=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)))])


async def _create(url: str, request: dict[str, Any]) -> TransparencyLogEntry:
    return await asyncio.to_thread(RekorV2Client(url).create_entry, request)  # type: ignore[arg-type]


async def test_sigstore_python_v2_client_round_trip(log_server: RunningLog) -> None:
    url = log_server.url
    key = await _v2_key(url)
    keyring = _keyring(key, common_v1.PublicKeyDetails.PKIX_ED25519)
    entries = [await _create(url, v2_request(b"v2 artifact %d" % i)) for i in range(4)]
    for i, entry in enumerate(entries):
        entry._verify(keyring)  # inclusion proof and checkpoint: sigstore-python's code
        inner = entry._inner
        assert inner.log_index == i and inner.inclusion_proof.tree_size == i + 1
        assert inner.kind_version.kind == "hashedrekord"
        assert inner.kind_version.version == "0.0.2"
    # The log ID clients find the log by: the note key ID of the checkpoint line.
    origin = log_server.settings.v2_checkpoint_name
    note_key = NoteVerifier.ed25519(origin, key)
    assert entries[0]._inner.log_id.key_id[:4] == note_key.key_id
    # A keyring without the v2 key (the v1 log's key instead) refuses the entry.
    async with aiohttp.ClientSession() as s, s.get(f"{url}/api/v1/log/publicKey") as r:
        v1_key = serialization.load_pem_public_key(await r.read())
    assert isinstance(v1_key, ec.EllipticCurvePublicKey)
    with pytest.raises(Exception, match="(?i)verif|signature|checkpoint"):
        entries[-1]._verify(_keyring(v1_key, common_v1.PublicKeyDetails.PKIX_ECDSA_P256_SHA_256))


async def test_v2_answer_shape_tiles_and_checkpoint(log_server: RunningLog) -> None:
    """The raw answer is protojson as rekor-tiles emits it, and the v2 tiles and
    checkpoint under /api/v2 hold the entry."""
    url = log_server.url
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{url}/api/v2/log/entries", json=v2_request(b"shape")) as r:
            assert r.status == 201, await r.text()
            answer = await r.json()
        assert list(answer) == ["logIndex", "logId", "kindVersion", "integratedTime",
                                "inclusionPromise", "inclusionProof", "canonicalizedBody"]
        assert answer["logIndex"] == "0" and answer["integratedTime"] == "0"
        assert answer["inclusionPromise"] is None
        proof = answer["inclusionProof"]
        assert proof["treeSize"] == "1" and proof["hashes"] == []
        body = base64.b64decode(answer["canonicalizedBody"])
        assert base64.b64decode(proof["rootHash"]) == merkle.leaf_hash(body)
        async with s.get(f"{url}/api/v2/checkpoint") as r:
            assert r.status == 200
            checkpoint = await r.text()
        assert checkpoint == proof["checkpoint"]["envelope"]
        async with s.get(f"{url}/api/v2/checkpoint.vkeys") as r:
            vkey = (await r.text()).strip()
        verified = verify_c2sp_checkpoint(checkpoint, [NoteVerifier.from_vkey(vkey)])
        assert verified.origin == log_server.settings.v2_checkpoint_name and verified.size == 1
        async with s.get(f"{url}/api/v2/tile/entries/000.p/1") as r:
            assert r.status == 200
            bundle = await r.read()
        assert bundle == len(body).to_bytes(2, "big") + body
        async with s.get(f"{url}/api/v2/tile/0/000.p/1") as r:
            assert await r.read() == merkle.leaf_hash(body)
        # The v1 tree did not move.
        async with s.get(f"{url}/api/v1/log") as r:
            assert (await r.json())["treeSize"] == 0


async def test_v2_duplicate_is_409_with_its_index(log_server: RunningLog) -> None:
    request = v2_request(b"twice")
    first = await _create(log_server.url, request)
    async with aiohttp.ClientSession() as s, \
            s.post(f"{log_server.url}/api/v2/log/entries", json=request) as r:
        assert r.status == 409
        assert r.headers["x-log-index"] == str(first._inner.log_index)
        assert (await r.json())["code"] == 409
    with pytest.raises(RekorClientError):
        await _create(log_server.url, request)


async def test_v2_refusals_write_nothing(log_server: RunningLog) -> None:
    url = log_server.url
    good = v2_request(b"good")
    spec = good["hashedRekordRequestV002"]
    short_digest = {"hashedRekordRequestV002": {**spec, "digest": base64.b64encode(
        b"\x01" * 20).decode()}}
    bad_signature = {"hashedRekordRequestV002": {**spec, "signature": {
        **spec["signature"], "content": base64.b64encode(b"\x30\x00").decode()}}}
    dsse = {"dsseRequestV002": {"envelope": {"payload": "", "payloadType": "x",
                                             "signatures": []}, "verifiers": []}}
    async with aiohttp.ClientSession() as s:
        for bad in (short_digest, bad_signature, dsse, {"x": 1}, [1]):
            async with s.post(f"{url}/api/v2/log/entries", json=bad) as r:
                body = await r.json()
                assert r.status == 400, (bad, body)
                assert body["code"] == 400 and body["message"], body
        async with s.post(f"{url}/api/v2/log/entries", data=b"{not json",
                           headers={"Content-Type": "application/json"}) as r:
            assert r.status == 400
        async with s.get(f"{url}/api/v2/checkpoint") as r:
            assert (await r.text()).split("\n")[1] == "0"


async def test_v2_search_finds_v2_entries_with_proofs(log_server: RunningLog) -> None:
    """POST /api/v2/index/retrieve: v2 entries by artifact hash and by the certificate's
    email, each verifiable by sigstore-python; a v1 search does not name them."""
    url = log_server.url
    keyring = _keyring(await _v2_key(url), common_v1.PublicKeyDetails.PKIX_ED25519)
    for i in range(3):
        await _create(url, v2_request(b"searchable %d" % i))
    async with aiohttp.ClientSession() as s:
        assert (await post_entry(s, url, signed_hashedrekord(b"searchable 1")))[0] == 201
        digest = hashlib.sha256(b"searchable 1").hexdigest()
        async with s.post(f"{url}/api/v2/index/retrieve", json={"hash": f"sha256:{digest}"}) as r:
            assert r.status == 200, await r.text()
            by_hash = await r.json()
        async with s.post(f"{url}/api/v2/index/retrieve",
                          json={"email": "Signer@Example.com"}) as r:
            by_email = await r.json()
        async with s.post(f"{url}/api/v1/index/retrieve", json={"hash": digest}) as r:
            v1_ids = await r.json()
    assert [e["logIndex"] for e in by_hash] == ["1"]
    assert [e["logIndex"] for e in by_email] == ["0", "1", "2"]
    for answer in by_email:
        TransparencyLogEntry(Inner.from_dict(answer))._verify(keyring)
    assert len(v1_ids) == 1  # the v1 entry only
    async with aiohttp.ClientSession() as s, \
            s.get(f"{url}/api/v1/log/entries/{v1_ids[0]}") as r:
        assert r.status == 200


async def test_monitor_follows_the_v2_log(log_server: RunningLog, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """`rekor-py monitor --api 2`: pins the v2 log's Ed25519 vkey, verifies its
    checkpoints and tiles, and finds the watched email in v2 bodies."""
    url = log_server.url
    state = tmp_path / "monitor.json"
    args = ["monitor", "--once", "--url", url, "--api", "2", "--state", str(state),
            "--watch-email", "signer@example.com"]
    for i in range(3):
        await _create(url, v2_request(b"watched %d" % i))
    assert await asyncio.to_thread(cli.main, args) == 0
    out = capsys.readouterr().out
    assert out.count("match: ") == 3 and "email signer@example.com" in out
    assert "size 3 (3 new entries verified, 3 matches)" in out
    await _create(url, v2_request(b"watched 3"))
    assert await asyncio.to_thread(cli.main, args) == 0
    assert "size 4 (1 new entries verified, 1 matches)" in capsys.readouterr().out


async def test_v1_and_v2_writers_at_once_then_fsck(log_server: RunningLog,
                                                   database_url: str) -> None:
    url = log_server.url
    async with aiohttp.ClientSession() as s:
        async def v1(i: int) -> int:
            return (await post_entry(s, url, signed_hashedrekord(b"v1 %d" % i)))[0]

        async def v2(i: int) -> int:
            async with s.post(f"{url}/api/v2/log/entries",
                              json=v2_request(b"v2 %d" % i)) as r:
                return r.status

        statuses = await asyncio.gather(*[v1(i) for i in range(30)],
                                        *[v2(i) for i in range(30)])
    assert statuses == [201] * 60
    settings = log_server.settings
    v2_key, _ = load_v2_key(settings, None)
    conn = await asyncpg.connect(database_url)
    try:
        report = await fsck(conn, load_verifier(settings, None).verifier, v2_key=v2_key)
    finally:
        await conn.close()
    assert report.ok, report.problem
    by_api = {t.api_major: t for t in report.trees}
    assert by_api[1].size == by_api[2].size == 30
    assert by_api[1].checkpoint_verified and by_api[2].checkpoint_verified
    # Every v1 entry's SET was stored and verified; v2 entries have none.
    assert (by_api[1].sets_verified, by_api[2].sets_verified) == (30, 0)
