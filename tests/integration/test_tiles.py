"""The C2SP tile API over real HTTP on a real PostgreSQL.

Every checkpoint, tile and entry bundle is fetched over HTTP and checked with
the Merkle facade only: checkpoint signatures (ECDSA and Ed25519, key ID rules
recomputed with hashlib), the right edge folded from tiles against the signed
root, inclusion proofs folded from tiles for leaves around tile boundaries,
consistency proofs between successive sizes, and every bundle against its
level-0 tile.  Sizes cross the 256 and 65,536 boundaries; the log is grown
in-process with synthetic entries (tests/integration/synthetic_log.py), plus
one real POST at the end.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import re
import stat
import struct
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from rekor_py import merkle
from rekor_py.log.c2sp import NoteVerifier, verify_c2sp_checkpoint
from rekor_py.log.checkpoint import Checkpoint, parse_checkpoint
from rekor_py.log.signer import LogVerifier
from rekor_py.log.tile_path import entry_bundle_path
from rekor_py.storage import log_store
from tests.integration.logserver import (
    RunningLog,
    log_settings,
    post_entry,
    signed_hashedrekord,
    start_log,
)
from tests.integration.synthetic_log import append_synthetic, synthetic_body

_VKEY = re.compile(r"([^+\s]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/]+=*)")


@pytest.fixture
async def log_server(database_url: str, tmp_path: Path) -> AsyncIterator[RunningLog]:
    server = await start_log(log_settings(database_url, tmp_path))
    yield server
    await server.stop()


async def _get(session: aiohttp.ClientSession, url: str, **headers: str
               ) -> tuple[int, bytes, aiohttp.typedefs.LooseHeaders]:
    async with session.get(url, headers=headers) as r:
        return r.status, await r.read(), r.headers


async def _grow(log: RunningLog, start: int, end: int) -> None:
    svc = log.runtime.service
    await append_synthetic(log.runtime.pool, svc.tree_id, svc.signer,
                           log.settings.checkpoint_name,
                           [synthetic_body(n) for n in range(start, end)])


async def _verifiers(session: aiohttp.ClientSession, url: str) -> list[NoteVerifier]:
    status, text, _ = await _get(session, f"{url}/checkpoint.vkeys")
    assert status == 200
    return [NoteVerifier.from_vkey(line) for line in text.decode().splitlines()]


async def _tile(session: aiohttp.ClientSession, url: str, tile: merkle.TileID) -> bytes:
    status, body, headers = await _get(session, f"{url}/{tile.path}")
    assert status == 200, tile.path
    assert headers["Content-Type"] == "application/octet-stream"
    assert len(body) == tile.width * 32  # exactly W hashes; 8192 bytes when full
    want = "immutable" if tile.is_full else "max-age=2"
    assert want in headers["Cache-Control"]
    return body


async def _tiles(session: aiohttp.ClientSession, url: str, plan: merkle.ProofPlan
                 ) -> dict[tuple[int, int], bytes]:
    return {(t.level, t.index): await _tile(session, url, t) for t in plan.tiles}


async def _bundle(session: aiohttp.ClientSession, url: str, tile: merkle.TileID) -> list[bytes]:
    path = entry_bundle_path(tile)
    async with session.get(f"{url}/{path}", headers={"Accept-Encoding": "gzip"},
                           auto_decompress=False) as r:
        assert r.status == 200, path
        assert r.headers["Content-Encoding"] == "gzip"
        raw = gzip.decompress(await r.read())
    entries, pos = [], 0
    while pos < len(raw):
        (n,) = struct.unpack_from(">H", raw, pos)
        entries.append(raw[pos + 2:pos + 2 + n])
        pos += 2 + n
    assert pos == len(raw)
    return entries


async def _verify_size(session: aiohttp.ClientSession, url: str,
                       verifiers: list[NoteVerifier], previous: Checkpoint | None,
                       all_bundles: bool) -> Checkpoint:
    """Fetch the checkpoint and check tiles and bundles against it (module docstring)."""
    status, text, _ = await _get(session, f"{url}/checkpoint")
    assert status == 200
    cp = verify_c2sp_checkpoint(text.decode(), verifiers)
    size = cp.size
    edge_plan = merkle.edge_plan(size)
    assert merkle.fold_edge(edge_plan, await _tiles(session, url, edge_plan)).root_hash() \
        == cp.root_hash
    level0 = [merkle.tile_for(0, n, size) for n in range((size + 255) // 256)]
    chosen = level0 if all_bundles else level0[:1] + level0[-2:]
    leaves: dict[int, bytes] = {}
    for tile in dict.fromkeys(chosen):
        hashes_ = await _tile(session, url, tile)
        bundle = await _bundle(session, url, tile)
        assert len(bundle) == tile.width
        assert merkle.leaf_hashes_packed(bundle) == hashes_
        for i in range(tile.width):
            leaves[tile.index * 256 + i] = hashes_[32 * i:32 * i + 32]
    for index in {0, 255, 256, 257, 65535, 65536, size - 256, size - 2, size - 1}:
        if 0 <= index < size and index in leaves:
            plan = merkle.inclusion_plan(index, size)
            proof = merkle.fold_proof(plan, await _tiles(session, url, plan))
            merkle.verify_inclusion(leaves[index], index, size, proof, cp.root_hash)
    if previous is not None and previous.size > 0:
        plan = merkle.consistency_plan(previous.size, size)
        proof = merkle.fold_proof(plan, await _tiles(session, url, plan))
        merkle.verify_consistency(previous.size, size, proof, previous.root_hash, cp.root_hash)
    return cp


async def test_tiles_and_bundles_verify_across_boundaries(log_server: RunningLog) -> None:
    url = log_server.url
    sizes = [1, 255, 256, 257, 511, 512, 65535, 65536, 65537, 65536 + 3 * 256 + 17]
    async with aiohttp.ClientSession() as session:
        verifiers = await _verifiers(session, url)
        previous, size = None, 0
        for target in sizes:
            await _grow(log_server, size, target)
            size = target
            previous = await _verify_size(session, url, verifiers, previous,
                                          all_bundles=size < 1024 or size == sizes[-1])
            assert previous.size == size
        # The real write path continues the same tree.
        status, _, _ = await post_entry(session, url, signed_hashedrekord(b"after the bulk"))
        assert status == 201
        last = await _verify_size(session, url, verifiers, previous, all_bundles=False)
        assert last.size == size + 1


async def test_tile_status_codes_and_headers(log_server: RunningLog) -> None:
    url = log_server.url
    await _grow(log_server, 0, 300)  # tile 0/000 full, 0/001.p/44, 1/000.p/1
    async with aiohttp.ClientSession() as session:
        # Narrower partials of what exists are served (their hashes never change).
        full = await _tile(session, url, merkle.TileID(0, 0, 256))
        assert await _tile(session, url, merkle.TileID(0, 0, 7)) == full[:7 * 32]
        assert await _tile(session, url, merkle.TileID(0, 1, 44))
        for path in ["tile/0/001.p/45", "tile/0/001", "tile/0/002.p/1", "tile/1/000",
                     "tile/1/000.p/2", "tile/2/000.p/1", "tile/entries/001.p/45",
                     "tile/entries/002", "tile/7/x123/456", "tile/63/x018/x446/x744/x073/x709/x551/614"]:
            status, _, _ = await _get(session, f"{url}/{path}")
            assert status == 404, path
        for path in ["tile/0/1", "tile/0/0000", "tile/0/x000/001", "tile/0/000.p/0",
                     "tile/0/000.p/256", "tile/0/000.p/007", "tile/00/000", "tile/64/000",
                     "tile/0/000/", "tile/entries/1", "tile/entries/000.p/0", "tile/x/000",
                     "tile/0/000.p/"]:
            status, body, _ = await _get(session, f"{url}/{path}")
            assert status == 400, path
            assert b"not a canonical tile path" in body
        # Bundles: identity without Accept-Encoding: gzip, gzip with it.
        async with session.get(f"{url}/tile/entries/001.p/44",
                               headers={"Accept-Encoding": "identity"}) as r:
            assert r.status == 200 and "Content-Encoding" not in r.headers
            assert r.headers["Cache-Control"] == "public, max-age=2"
            plain = await r.read()
        async with session.get(f"{url}/tile/entries/001.p/44",
                               headers={"Accept-Encoding": "gzip, deflate"},
                               auto_decompress=False) as r:
            assert r.headers["Content-Encoding"] == "gzip"
            assert gzip.decompress(await r.read()) == plain
        first = struct.unpack_from(">H", plain)[0]
        assert plain[2:2 + first] == synthetic_body(256)


async def test_checkpoint_signatures_and_key_ids(log_server: RunningLog) -> None:
    url = log_server.url
    await _grow(log_server, 0, 3)
    origin = f"127.0.0.1:{log_server.settings.port}"
    async with aiohttp.ClientSession() as session:
        status, raw, headers = await _get(session, f"{url}/checkpoint")
        assert status == 200
        assert headers["Content-Type"] == "text/plain; charset=utf-8"
        assert headers["Cache-Control"] == "public, max-age=2"
        status, pem, _ = await _get(session, f"{url}/api/v1/log/publicKey")
        _, info, _ = await _get(session, f"{url}/api/v1/log")
        _, vkeys, vkey_headers = await _get(session, f"{url}/checkpoint.vkeys")
        status2, raw2, _ = await _get(session, f"{url}/checkpoint")
    assert raw2 == raw  # cached per head: one note per tree state
    text = raw.decode()
    body, _, sig_block = text.partition("\n\n")
    lines = body.split("\n")
    assert lines[0] == origin and lines[1] == "3"
    import json
    head = json.loads(info)
    assert base64.b64decode(lines[2]).hex() == head["rootHash"] and head["treeSize"] == 3
    signed = body.encode() + b"\n"
    sig_lines = sig_block.splitlines()
    assert len(sig_lines) == 2 and all(s.startswith(f"\u2014 {origin} ") for s in sig_lines)
    ecdsa_sig, ed_sig = (base64.b64decode(s.split(" ")[2]) for s in sig_lines)
    # ECDSA line: key ID = SHA-256(DER SPKI)[:4] (signed-note type 0x02, = Rekor's hint).
    log_key = serialization.load_pem_public_key(pem)
    assert isinstance(log_key, ec.EllipticCurvePublicKey)
    spki = log_key.public_bytes(serialization.Encoding.DER,
                                serialization.PublicFormat.SubjectPublicKeyInfo)
    assert ecdsa_sig[:4] == hashlib.sha256(spki).digest()[:4]
    log_key.verify(ecdsa_sig[4:], signed, ec.ECDSA(hashes.SHA256()))
    # Ed25519 line: key ID = SHA-256(name ‖ 0x0A ‖ 0x01 ‖ key)[:4]; the key is a 0600 PEM.
    key_path = log_server.settings.data_dir / "note-key-ed25519.pem"
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    note_key = serialization.load_pem_private_key(key_path.read_bytes(), None)
    assert isinstance(note_key, ed25519.Ed25519PrivateKey)
    raw_pub = note_key.public_key().public_bytes(serialization.Encoding.Raw,
                                                 serialization.PublicFormat.Raw)
    key_id = hashlib.sha256(origin.encode() + b"\n\x01" + raw_pub).digest()[:4]
    assert ed_sig[:4] == key_id
    note_key.public_key().verify(ed_sig[4:], signed)
    # vkeys: <name>+<8 hex key ID>+<base64(type ‖ key)>, in signature order.
    assert vkey_headers["Content-Type"] == "text/plain; charset=utf-8"
    v1, v2 = vkeys.decode().splitlines()
    m1, m2 = _VKEY.fullmatch(v1), _VKEY.fullmatch(v2)
    assert m1 and m2
    assert (m1[1], m1[2], base64.b64decode(m1[3])) == (origin, ecdsa_sig[:4].hex(), b"\x02" + spki)
    assert (m2[1], m2[2], base64.b64decode(m2[3])) == (origin, key_id.hex(), b"\x01" + raw_pub)
    # Our parser agrees, and rejects a flipped signature.
    verifiers = [NoteVerifier.from_vkey(v1), NoteVerifier.from_vkey(v2)]
    assert verify_c2sp_checkpoint(text, verifiers).size == 3
    assert NoteVerifier.ecdsa(origin, LogVerifier.from_pem(pem)) == verifiers[0]
    flipped = text[:-6] + ("A" if text[-6] != "A" else "B") + text[-5:]
    with pytest.raises(ValueError):
        verify_c2sp_checkpoint(flipped, verifiers)
    assert parse_checkpoint(text).checkpoint.size == 3


async def test_tile_prefix_and_note_key_setting(database_url: str, tmp_path: Path) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    key_path = tmp_path / "given-note-key.pem"
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    server = await start_log(log_settings(database_url, tmp_path, tile_prefix="/tlog/v1",
                                          note_key=key_path))
    try:
        async with aiohttp.ClientSession() as session:
            status, _, _ = await _get(session, f"{server.url}/checkpoint")
            assert status == 404
            status, raw, _ = await _get(session, f"{server.url}/tlog/v1/checkpoint")
            assert status == 200
            origin = f"127.0.0.1:{server.settings.port}/tlog/v1"
            assert raw.decode().startswith(origin + "\n0\n")
            verifiers = await _verifiers(session, f"{server.url}/tlog/v1")
            assert verifiers[1] == NoteVerifier.ed25519(origin, key.public_key())
            assert verify_c2sp_checkpoint(raw.decode(), verifiers).size == 0
            status, _, _ = await _get(session, f"{server.url}/tlog/v1/tile/0/000.p/1")
            assert status == 404  # an empty tree has no tiles
        assert not (tmp_path / "note-key-ed25519.pem").exists()
    finally:
        await server.stop()


async def test_full_tiles_come_from_the_warmed_proof_cache(log_server: RunningLog,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    """Once the proof cache is warm, a full tile is served from it without a read of
    storage, byte for byte what storage holds; a tile it lacks is still read."""
    svc = log_server.runtime.service
    await _grow(log_server, 0, 70_000)  # 273 full level-0 tiles, 1 full level-1 tile
    async with log_server.runtime.pool.acquire() as conn:
        stored = await log_store.read_tiles(conn, svc.tree_id, [(0, 0), (0, 272), (1, 0)])
    assert await svc.warm_tiles() == 274
    reads: list[merkle.TileID] = []
    real = svc.read_tile

    async def counting(tile: merkle.TileID) -> Any:
        reads.append(tile)
        return await real(tile)

    monkeypatch.setattr(svc, "read_tile", counting)
    async with aiohttp.ClientSession() as session:
        for level, index in stored:
            got = await _tile(session, log_server.url, merkle.TileID(level, index, 256))
            assert got == stored[(level, index)]
        assert reads == []
        await _tile(session, log_server.url, merkle.TileID(0, 273, 112))  # partial
    assert reads == [merkle.TileID(0, 273, 112)]
