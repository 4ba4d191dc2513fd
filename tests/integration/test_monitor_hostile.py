"""`rekor-py monitor` against a small log server written here, honest or hostile.

The server speaks the C2SP tile API (checkpoint, tiles, entry bundles) over real
HTTP and signs real checkpoints with an Ed25519 note key the monitor pins.
Honest: every tile comes from merkle.append_leaves over its entries.  Hostile:
it signs a checkpoint claiming 2**40 entries and serves made-up tiles whose
level-0 hashes do match the entries it serves.  The monitor must hold memory
bounded by what it checks, not by what is claimed, and report no match from an
entry it could not prove part of the signed tree.
"""

from __future__ import annotations

import json
import struct
import tracemalloc
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from rekor_py import merkle
from rekor_py.cli.monitor import run_monitor
from rekor_py.log.c2sp import NoteSigner, format_c2sp_checkpoint
from rekor_py.log.checkpoint import Checkpoint
from rekor_py.log.tile_path import parse_tile_path
from rekor_py.monitor import check
from rekor_py.monitor.state import MonitorState, load_state, save_state
from rekor_py.monitor.watch import Watchlist
from tests.integration.logserver import free_port, signed_hashedrekord

ORIGIN = "hostile.test"
HUGE = 1 << 40


@dataclass
class FakeLog:
    """What the server serves; `bundles` counts the entry bundles read."""

    signer: NoteSigner
    entries: list[bytes]
    size: int = 0
    root: bytes = merkle.EMPTY_ROOT
    tiles: dict[tuple[int, int], bytes] = field(default_factory=dict)
    hostile: bool = False
    bundles: int = 0

    def grow_to(self, n: int) -> None:
        """Honest: the tree of the first n entries, every tile as append_leaves gives it."""
        self.hostile, self.size, self.tiles = False, n, {}
        result = merkle.append_leaves(merkle.RightEdge.empty(),
                                      merkle.leaf_hashes(self.entries[:n]))
        for w in result.tiles:
            key = (w.level, w.index)
            self.tiles[key] = self.tiles.get(key, b"") + w.hashes
        self.root = result.root_hash

    def claim_huge(self) -> None:
        """Hostile: a signed size of 2**40 over tiles that are made up."""
        self.hostile, self.size, self.root = True, HUGE, b"\x42" * 32

    def checkpoint(self) -> str:
        return format_c2sp_checkpoint(Checkpoint(ORIGIN, self.size, self.root), [self.signer])

    def bundle_entries(self, index: int, width: int) -> list[bytes]:
        start = index * merkle.TILE_WIDTH
        return [self.entries[(start + i) % len(self.entries)] for i in range(width)]

    def tile(self, level: int, index: int, width: int) -> bytes | None:
        if self.hostile:
            if level == 0:  # the entries do hash to these: only the tree above lies
                return b"".join(merkle.leaf_hashes(self.bundle_entries(index, width)))
            return bytes([level, index % 256]) * 16 * width
        data = self.tiles.get((level, index), b"")
        return data[: width * 32] if len(data) >= width * 32 else None


def _bundle(entries: list[bytes]) -> bytes:
    return b"".join(struct.pack(">H", len(e)) + e for e in entries)


async def _serve(fake: FakeLog) -> AsyncIterator[str]:
    async def checkpoint(_: web.Request) -> web.Response:
        return web.Response(text=fake.checkpoint())

    async def tile(request: web.Request) -> web.Response:
        is_bundle, tile = parse_tile_path("tile/" + request.match_info["rest"])
        fake.bundles += is_bundle
        data = fake.tile(tile.level, tile.index, tile.width)
        if data is None:
            raise web.HTTPNotFound
        if is_bundle:
            data = _bundle(fake.bundle_entries(tile.index, tile.width))
        return web.Response(body=data, content_type="application/octet-stream")

    app = web.Application()
    app.router.add_get("/checkpoint", checkpoint)
    app.router.add_get("/tile/{rest:.+}", tile)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@dataclass
class Setup:
    fake: FakeLog
    url: str
    state: Path
    watch: Watchlist


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    watched = ec.generate_private_key(ec.SECP256R1())
    pem = watched.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    entries = [json.dumps(signed_hashedrekord(b"artifact %d" % i, watched)).encode()
               for i in range(700)]
    signer = NoteSigner.ed25519(ORIGIN, ed25519.Ed25519PrivateKey.generate())
    fake = FakeLog(signer, entries)
    state = tmp_path / "state.json"
    save_state(state, MonitorState(ORIGIN, (signer.verifier,), None))
    async for url in _serve(fake):
        yield Setup(fake, url, state, Watchlist([], [pem]))


async def _pass(s: Setup, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = await run_monitor(s.url, s.state, s.watch)
    return code, capsys.readouterr().out


async def test_honest_log_is_followed_tile_by_tile(setup: Setup,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    setup.fake.grow_to(300)  # one full level-0 tile and a partial one
    code, out = await _pass(setup, capsys)
    assert code == 0, out
    assert sum(line.startswith("match:") for line in out.splitlines()) == 300
    assert "size 300 (300 new entries verified, 300 matches)" in out
    setup.fake.grow_to(700)  # from inside a partial tile, across a full one
    code, out = await _pass(setup, capsys)
    assert code == 0, out
    indexes = [int(line.split()[1].split("=")[1]) for line in out.splitlines()
               if line.startswith("match:")]
    assert indexes == list(range(300, 700))
    saved = load_state(setup.state)
    assert saved is not None and saved.checkpoint == setup.fake.checkpoint()


async def test_a_huge_claimed_size_is_checked_in_bounded_chunks(
        setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    setup.fake.claim_huge()
    tracemalloc.start()
    try:
        code, out = await _pass(setup, capsys)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert code == 1, out
    assert (f"INCONSISTENT LOG: the entries of tile/0/000 are not in the tree of size {HUGE}"
            in out)
    # Its entries hash to its level-0 tile and carry the watched key: still no match,
    # since they are not proven part of the signed tree.
    assert "match:" not in out
    saved = load_state(setup.state)
    assert saved is not None and saved.checkpoint is None
    # Read ahead at most _LOOKAHEAD bundles past the one that failed.
    assert setup.fake.bundles <= check._LOOKAHEAD + 1
    assert peak < 16 * 1024 * 1024, f"peak {peak} bytes"


async def test_a_huge_size_after_a_verified_one_fails_the_consistency_proof(
        setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    setup.fake.grow_to(300)
    assert (await _pass(setup, capsys))[0] == 0
    setup.fake.claim_huge()
    setup.fake.bundles = 0
    code, out = await _pass(setup, capsys)
    assert code == 1 and f"no valid consistency proof from 300 to {HUGE}" in out
    assert "match:" not in out and setup.fake.bundles == 0  # no entry read before it holds
