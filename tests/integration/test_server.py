"""The log server over real HTTP on a real PostgreSQL, checked by sigstore-python's client.

sigstore-python 4.5.1's own Rekor client writes and reads entries, and its own
verification code checks the inclusion proof, checkpoint and SET under the
log's key.  Entries survive a restart; a second `serve` process on the same
database appends to the same tree.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import rekor_types
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sigstore._internal.rekor import EntryRequestBody
from sigstore._internal.rekor.client import RekorClient
from sigstore._internal.trust import Keyring
from sigstore.models import TransparencyLogEntry
from sigstore_models.common import v1 as common_v1

from rekor_py import merkle
from rekor_py.log.checkpoint import parse_checkpoint
from tests.integration.conftest import postgres_scratch_dir
from tests.integration.logserver import (
    RunningLog,
    free_port,
    log_settings,
    post_entry,
    signed_hashedrekord,
    spawn_serve,
    start_log,
    wait_closed,
)


@pytest.fixture
async def log_server(database_url: str, tmp_path: Path) -> AsyncIterator[RunningLog]:
    server = await start_log(log_settings(database_url, tmp_path))
    yield server
    await server.stop()


async def _public_key(url: str) -> ec.EllipticCurvePublicKey:
    async with aiohttp.ClientSession() as s, s.get(f"{url}/api/v1/log/publicKey") as r:
        assert r.status == 200
        assert r.content_type == "application/x-pem-file"
        key = serialization.load_pem_public_key(await r.read())
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return key


def _keyring(key: ec.EllipticCurvePublicKey) -> Keyring:
    der = key.public_bytes(serialization.Encoding.DER,
                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return Keyring([common_v1.PublicKey(
        raw_bytes=base64.b64encode(der),
        key_details=common_v1.PublicKeyDetails.PKIX_ECDSA_P256_SHA_256,
        valid_for=common_v1.TimeRange(start=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)),
    )])


def _uuid(entry: TransparencyLogEntry) -> str:
    # sigstore's model holds the body already base64-decoded.
    body = entry._inner.canonicalized_body
    assert isinstance(body, bytes) and body.startswith(b"{")
    return merkle.leaf_hash(body).hex()


async def test_sigstore_python_client_round_trip(log_server: RunningLog) -> None:
    client = RekorClient(log_server.url)
    keyring = _keyring(await _public_key(log_server.url))
    async with aiohttp.ClientSession() as session:  # a few entries so proofs are not empty
        for i in range(5):
            status, _, _ = await post_entry(session, log_server.url,
                                            signed_hashedrekord(f"filler {i}".encode()))
            assert status == 201
    proposed = signed_hashedrekord(b"hello from sigstore-python")
    created = await asyncio.to_thread(client.create_entry, EntryRequestBody(proposed))
    created._verify(keyring)  # inclusion proof, checkpoint and SET, sigstore-python's code
    assert created._inner.log_index == 5

    uuid = _uuid(created)
    by_uuid = await asyncio.to_thread(client.log.entries.get, uuid=uuid)
    by_uuid._verify(keyring)
    retrieved = await asyncio.to_thread(client.log.entries.retrieve.post,
                                        rekor_types.Hashedrekord.model_validate(proposed))
    assert retrieved is not None
    retrieved._verify(keyring)
    assert _uuid(by_uuid) == _uuid(retrieved) == uuid
    info = await asyncio.to_thread(client.log.get)
    assert info.tree_size == 6


async def test_sigstore_python_rejects_a_foreign_key(log_server: RunningLog) -> None:
    client = RekorClient(log_server.url)
    created = await asyncio.to_thread(
        client.create_entry, EntryRequestBody(signed_hashedrekord(b"x")))
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    with pytest.raises(Exception, match="(?i)verif|signature"):
        created._verify(_keyring(other))


async def test_create_answers_rekor_shapes(log_server: RunningLog) -> None:
    async with aiohttp.ClientSession() as session:
        status, body, headers = await post_entry(session, log_server.url,
                                                 signed_hashedrekord(b"shape"))
        assert status == 201
        (entry_id, entry), = body.items()
        assert len(entry_id) == 80 and headers["ETag"] == entry_id
        assert headers["Location"] == f"/api/v1/log/entries/{entry_id}"
        assert entry_id[16:] == merkle.leaf_hash(base64.b64decode(entry["body"])).hex()
        proof = entry["verification"]["inclusionProof"]
        cp = parse_checkpoint(proof["checkpoint"]).checkpoint
        assert cp.size == proof["treeSize"] and cp.root_hash.hex() == proof["rootHash"]
        assert cp.origin == f"127.0.0.1:{log_server.settings.port} - {int(entry_id[:16], 16)}"

        # The same entry again: 409 with the existing entry's location.
        status, err, headers = await post_entry(session, log_server.url, _resend(body))
        assert status == 409
        assert headers["Location"] == f"/api/v1/log/entries/{entry_id}"
        assert err["code"] == 409 and entry_id in err["message"]

        async with session.get(f"{log_server.url}/api/v1/log/entries",
                               params={"logIndex": "0"}) as r:
            assert r.status == 200 and list(await r.json()) == [entry_id]
        async with session.get(f"{log_server.url}/api/v1/log/entries",
                               params={"logIndex": "7"}) as r:
            assert r.status == 404 and await r.read() == b""


def _resend(created: dict[str, Any]) -> dict[str, Any]:
    """The proposed entry again, rebuilt from the canonical body (same leaf)."""
    import json
    (entry,) = created.values()
    return json.loads(base64.b64decode(entry["body"]))


async def test_consistency_proofs_verify(log_server: RunningLog) -> None:
    roots: dict[int, bytes] = {}
    async with aiohttp.ClientSession() as session:
        for i in range(20):
            await post_entry(session, log_server.url, signed_hashedrekord(f"c{i}".encode()))
            async with session.get(f"{log_server.url}/api/v1/log") as r:
                info = await r.json()
            roots[info["treeSize"]] = bytes.fromhex(info["rootHash"])
        for first, last in [(1, 20), (3, 17), (8, 16), (20, 20)]:
            async with session.get(f"{log_server.url}/api/v1/log/proof",
                                   params={"firstSize": first, "lastSize": last}) as r:
                assert r.status == 200
                proof = [bytes.fromhex(h) for h in (await r.json())["hashes"]]
            merkle.verify_consistency(first, last, proof, roots[first], roots[last])


async def test_entries_survive_restart(database_url: str, tmp_path: Path) -> None:
    settings = log_settings(database_url, tmp_path)
    first = await start_log(settings)
    async with aiohttp.ClientSession() as session:
        ids = []
        for i in range(7):
            _, body, _ = await post_entry(session, first.url, signed_hashedrekord(f"r{i}".encode()))
            ids.append(next(iter(body)))
        await first.stop()
        again = await start_log(log_settings(database_url, tmp_path))
        try:
            async with session.get(f"{again.url}/api/v1/log") as r:
                info = await r.json()
            assert info["treeSize"] == 7 and info["treeID"] == str(int(ids[0][:16], 16))
            status, body, _ = await post_entry(session, again.url, signed_hashedrekord(b"after"))
            assert status == 201 and next(iter(body.values()))["logIndex"] == 7
            async with session.get(f"{again.url}/api/v1/log/entries/{ids[3]}") as r:
                assert r.status == 200 and list(await r.json()) == [ids[3]]
        finally:
            await again.stop()


@pytest.mark.parametrize("embedded", [False, True], ids=["database-url", "embedded"])
async def test_serve_creates_a_missing_data_dir(embedded: bool, database_url: str,
                                                tmp_path: Path) -> None:
    """`serve --data-dir DIR` where DIR does not exist yet: the server creates it, for
    the keys it makes on first start and (embedded) the database, which runs as its
    own user and must be able to enter it."""
    base = postgres_scratch_dir()
    base.chmod(0o755)  # as a user's data folder would be
    data_dir = base / "new" / "data"
    try:
        port = free_port()
        proc = spawn_serve(None if embedded else database_url, data_dir, port,
                           log_dir=tmp_path)
        try:
            assert (data_dir / "signing-key.pem").stat().st_mode & 0o777 == 0o600
            async with aiohttp.ClientSession() as session:
                status, _, _ = await post_entry(session, f"http://127.0.0.1:{port}",
                                                signed_hashedrekord(b"new data dir"))
            assert status == 201
        finally:
            proc.terminate()
            await wait_closed(proc)
    finally:
        shutil.rmtree(base, ignore_errors=True)


async def test_second_serve_process_appends_to_the_same_tree(log_server: RunningLog,
                                                             database_url: str) -> None:
    port = free_port()
    proc = spawn_serve(database_url, log_server.settings.data_dir, port)
    other = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            results = await asyncio.gather(*[
                post_entry(session, (log_server.url, other)[i % 2],
                           signed_hashedrekord(f"two-{i}".encode()))
                for i in range(40)])
            assert all(status == 201 for status, _, _ in results)
            indexes = sorted(next(iter(b.values()))["logIndex"] for _, b, _ in results)
            assert indexes == list(range(40))
            for url in (log_server.url, other):
                async with session.get(f"{url}/api/v1/log") as r:
                    info = await r.json()
                assert info["treeSize"] == 40
    finally:
        proc.terminate()
        await wait_closed(proc)


async def test_proofs_across_full_tiles(log_server: RunningLog) -> None:
    """Past 256 entries proofs come from full (cached, expanded) and partial tiles."""
    async with aiohttp.ClientSession() as session:
        for start in range(0, 600, 100):
            results = await asyncio.gather(*[
                post_entry(session, log_server.url, signed_hashedrekord(f"t{i}".encode()))
                for i in range(start, start + 100)])
            assert all(status == 201 for status, _, _ in results)
        async with session.get(f"{log_server.url}/api/v1/log") as r:
            info = await r.json()
        size, root = info["treeSize"], bytes.fromhex(info["rootHash"])
        assert size == 600
        for index in (0, 255, 256, 257, 511, 512, 599):
            async with session.get(f"{log_server.url}/api/v1/log/entries",
                                   params={"logIndex": str(index)}) as r:
                (entry,) = (await r.json()).values()
            proof = entry["verification"]["inclusionProof"]
            assert proof["treeSize"] == size and proof["rootHash"] == root.hex()
            merkle.verify_inclusion(merkle.leaf_hash(base64.b64decode(entry["body"])), index,
                                    size, [bytes.fromhex(h) for h in proof["hashes"]], root)


async def test_entry_too_large_for_a_bundle_is_refused(log_server: RunningLog) -> None:
    """A canonical body over 65,535 bytes could never be served in a C2SP bundle."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "big")])
    now = datetime.datetime.now(datetime.UTC)
    sans = [x509.DNSName(f"host-{i:05d}.example.com") for i in range(3000)]
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .sign(key, hashes.SHA256()))
    artifact = b"big"
    proposed = {
        "apiVersion": "0.0.1", "kind": "hashedrekord",
        "spec": {"data": {"hash": {"algorithm": "sha256",
                                   "value": hashlib.sha256(artifact).hexdigest()}},
                 "signature": {"content": base64.b64encode(
                                   key.sign(artifact, ec.ECDSA(hashes.SHA256()))).decode(),
                               "publicKey": {"content": base64.b64encode(
                                   cert.public_bytes(serialization.Encoding.PEM)).decode()}}},
    }
    async with aiohttp.ClientSession() as session:
        status, body, _ = await post_entry(session, log_server.url, proposed)
    assert status == 400 and "the limit is 65535" in body["message"], body
