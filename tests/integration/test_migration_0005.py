"""Revision 0005 on a log written before it: a database at 0004 with entries and
their index_keys rows (written here with the SQL of that schema) is upgraded by a
server starting on it, then served, searched, appended to and checked by fsck."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg  # type: ignore[import-untyped]
import pytest
from alembic import command
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy.engine import Connection as SyncConnection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from rekor_py import merkle
from rekor_py.audit.fsck import fsck
from rekor_py.log.checkpoint import Checkpoint, format_checkpoint, origin_for
from rekor_py.log.prepare import prepare_entry
from rekor_py.log.prepared import PreparedEntry
from rekor_py.log.set import verify_set
from rekor_py.log.signer import LogSigner
from rekor_py.storage import log_store as ls
from rekor_py.storage import migrate as migrations
from rekor_py.storage.db import to_sqlalchemy_url
from rekor_py.storage.migrate import head_revision, migrate
from tests.integration.logserver import log_settings, post_entry, signed_hashedrekord, start_log
from tests.tools.fulcio import FulcioPKI

TREE_ID = 7_000_000_000_123
NAME = "rekor.example"
KINDS = frozenset({"hashedrekord"})


def _fulcio_hashedrekord(pki: FulcioPKI, email: str, artifact: bytes) -> dict[str, Any]:
    leaf = pki.issue(email)
    return {"apiVersion": "0.0.1", "kind": "hashedrekord", "spec": {
        "data": {"hash": {"algorithm": "sha256", "value": hashlib.sha256(artifact).hexdigest()}},
        "signature": {"content": base64.b64encode(leaf.sign(artifact)).decode(),
                      "publicKey": {"content": base64.b64encode(leaf.cert_pem).decode()}}}}


async def _write_0004_log(dsn: str, signer: LogSigner, entries: list[PreparedEntry],
                          attestation_at: int) -> None:
    """The log as revision 0004's code stored it: bodies as is, kind and api_version
    columns, one index_keys row per key."""
    conn = await asyncpg.connect(dsn)
    try:
        origin = origin_for(NAME, TREE_ID)
        empty = format_checkpoint(Checkpoint(origin, 0, merkle.EMPTY_ROOT), signer, NAME)
        await ls.create_tree(conn, TREE_ID, origin, merkle.EMPTY_ROOT, empty)
        leaves = [e.leaf_hash for e in entries]
        result = merkle.append_leaves(merkle.RightEdge.empty(), leaves)
        async with conn.transaction():
            await conn.executemany(
                "INSERT INTO entries (tree_id, leaf_index, leaf_hash, body, kind, api_version, "
                "integrated_time, attestation) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                [(TREE_ID, i, e.leaf_hash, e.body, e.kind, e.api_version, 1_700_000_000 + i,
                  b"an attestation" if i == attestation_at else None)
                 for i, e in enumerate(entries)])
            await conn.executemany(
                "INSERT INTO index_keys (key, tree_id, leaf_index) VALUES ($1, $2, $3)",
                sorted({(k, TREE_ID, i) for i, e in enumerate(entries) for k in e.index_keys}))
            await ls.append_tile_hashes(conn, TREE_ID, result.tiles)
            note = format_checkpoint(Checkpoint(origin, len(entries), result.root_hash),
                                     signer, NAME)
            await ls.update_tree_head(conn, TREE_ID, 0, len(entries), result.root_hash, note)
    finally:
        await conn.close()


async def _search(session: aiohttp.ClientSession, url: str, query: Any) -> list[str]:
    async with session.post(f"{url}/api/v1/index/retrieve", json=query) as r:
        assert r.status == 200, await r.text()
        return list(await r.json())


async def test_a_0004_log_upgrades_and_serves_the_same_answers(empty_database_url: str,
                                                               tmp_path: Path) -> None:
    await migrate(empty_database_url, "0004")
    # 300 entries: a full tile and a partial one.  Every third is signed by one
    # reused key (a key search finds them all), ten carry Fulcio certificates.
    reused = ec.generate_private_key(ec.SECP256R1())
    pki = FulcioPKI.create()
    proposed = []
    for i in range(300):
        artifact = f"migrated {i}".encode()
        if i % 30 == 5:
            proposed.append(_fulcio_hashedrekord(pki, f"Signer-{i % 2}@Example.com", artifact))
        else:
            proposed.append(signed_hashedrekord(artifact, reused if i % 3 == 0 else None))
    entries = [prepare_entry(p, KINDS) for p in proposed]
    signer = LogSigner.generate()
    key_file = tmp_path / "signing-key.pem"
    key_file.write_bytes(signer.private_pem())
    key_file.chmod(0o600)
    await _write_0004_log(empty_database_url, signer, entries, attestation_at=42)

    log = await start_log(log_settings(empty_database_url, tmp_path))  # migrates to head
    try:
        conn = await asyncpg.connect(empty_database_url)
        try:
            assert await conn.fetchval("SELECT version_num FROM alembic_version") \
                == head_revision() == "0006"
            assert await conn.fetchval("SELECT to_regclass('public.index_keys')") is None
            formats = await conn.fetch("SELECT get_byte(body, 0) AS f, count(*) FROM entries "
                                       "WHERE tree_id = $1 GROUP BY 1", TREE_ID)
            assert [tuple(r) for r in formats] == [(1, 300)]  # every body deflated
            report = await fsck(conn, signer.verifier)
            assert report.problem is None, report.problem
        finally:
            await conn.close()

        ids = [f"{TREE_ID:016x}{e.leaf_hash.hex()}" for e in entries]
        async with aiohttp.ClientSession() as s:
            # Reads: the canonical body byte for byte, its time, its attestation.
            for i in (0, 42, 255, 256, 299):
                async with s.get(f"{log.url}/api/v1/log/entries", params={"logIndex": str(i)}) as r:
                    assert r.status == 200
                    (uuid, value), = (await r.json()).items()
                assert uuid == ids[i]
                assert base64.b64decode(value["body"]) == entries[i].body
                assert value["integratedTime"] == 1_700_000_000 + i
                assert ("attestation" in value) == (i == 42)
                # Rows logged before SETs were stored get one signed for the read.
                verify_set(signer.verifier,
                           base64.b64decode(value["verification"]["signedEntryTimestamp"]),
                           entries[i].body, value["integratedTime"], signer.log_id_hex, i)
            async with s.post(f"{log.url}/api/v1/log/entries/retrieve",
                              json={"entryUUIDs": [ids[7], ids[1][16:]]}) as r:
                assert [next(iter(x)) for x in await r.json()] == [ids[7], ids[1]]
            async with s.get(f"{log.url}/tile/entries/000") as r:
                bundle = await r.read()
            assert bundle == b"".join(len(e.body).to_bytes(2, "big") + e.body
                                      for e in entries[:256])

            # Search answers exactly what the index_keys rows answered.
            digest = hashlib.sha256(b"migrated 17").hexdigest()
            assert await _search(s, log.url, {"hash": f"sha256:{digest}"}) == [ids[17]]
            pem = reused.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            by_key = await _search(s, log.url, {"publicKey": {
                "format": "x509", "content": base64.b64encode(pem).decode()}})
            assert by_key == [ids[i] for i in range(300) if i % 3 == 0 and i % 30 != 5]
            by_email = await _search(s, log.url, {"email": "signer-1@example.com"})
            assert by_email == [ids[i] for i in range(300) if i % 30 == 5 and i % 2 == 1]
            assert await _search(s, log.url, {"email": "nobody@example.com"}) == []

            # Writes after the upgrade: an old entry is a duplicate (the hash index
            # finds migrated rows), a new one is logged and found by its hash.
            status, body, _ = await post_entry(s, log.url, proposed[3])
            assert status == 409, body
            fresh = signed_hashedrekord(os.urandom(16), reused)
            status, body, _ = await post_entry(s, log.url, fresh)
            assert status == 201, body
            new_id = next(iter(body))
            value = fresh["spec"]["data"]["hash"]["value"]
            assert await _search(s, log.url, {"hash": value}) == [new_id]
            by_key_now = await _search(s, log.url, {"publicKey": {
                "format": "x509", "content": base64.b64encode(pem).decode()}})
            assert by_key_now == [*by_key, new_id]
    finally:
        await log.stop()


async def test_downgrade_is_refused_with_a_reason(database_url: str) -> None:
    """The search keys' text is gone after the upgrade: no downgrade pretends otherwise."""
    def downgrade(connection: SyncConnection) -> None:
        config = migrations._config()
        config.attributes["connection"] = connection
        command.downgrade(config, "0004")

    engine = create_async_engine(to_sqlalchemy_url(database_url), poolclass=NullPool)
    try:
        with pytest.raises(NotImplementedError, match="restore a backup"):
            async with engine.begin() as c:
                await c.run_sync(downgrade)
    finally:
        await engine.dispose()
