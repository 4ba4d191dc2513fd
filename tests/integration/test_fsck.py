"""`rekor-py fsck` on real PostgreSQL.

Clean logs: one built through a running server (while it keeps appending), one
of 66,536 entries appended in-process through log_store and the Merkle engine
in uneven batches, as the sequencer does (full and partial tiles on levels 0
and 1, a partial level-2 tile).  Corrupted logs: each mutation below is applied
to a fresh 600-entry log, and fsck must exit non-zero naming it.  The command
runs as `python -m rekor_py fsck` with --database-url, and with --data-dir on
an embedded cluster both while a server runs on it and when none does.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg  # type: ignore[import-untyped]
import pytest

from rekor_py import merkle
from rekor_py.audit import FsckReport, fsck
from rekor_py.audit.source import load_verifier
from rekor_py.log.checkpoint import Checkpoint, format_checkpoint, origin_for
from rekor_py.log.signer import LogSigner, LogVerifier
from rekor_py.storage import log_store as ls
from rekor_py.storage.embedded import EmbeddedPostgres

from .conftest import postgres_scratch_dir
from .logserver import free_port, log_settings, post_entry, signed_hashedrekord, start_log

NAME = "fsck.test"
TREE_ID = 7_000_000_001


# ---- building logs in-process ---------------------------------------------------------


@dataclass
class BuiltLog:
    tree_id: int
    size: int
    signer: LogSigner
    key_file: Path


async def build_log(dsn: str, batches: list[int], key_dir: Path, *,
                    duplicate_of: dict[int, int] | None = None) -> BuiltLog:
    """Append batches of entries as the sequencer does: entries, index keys, tiles, head.

    `duplicate_of` maps an index to an earlier index whose body it repeats (no
    index refuses that: the sequencer's check under the tree lock does).
    """
    signer = LogSigner.generate()
    key_file = key_dir / "signing-key.pem"
    key_file.write_bytes(signer.private_pem())
    key_file.chmod(0o600)
    origin = origin_for(NAME, TREE_ID)
    conn = await asyncpg.connect(dsn)
    try:
        empty = format_checkpoint(Checkpoint(origin, 0, merkle.EMPTY_ROOT), signer, NAME)
        await ls.create_tree(conn, TREE_ID, origin, merkle.EMPTY_ROOT, empty)
        edge, size = merkle.RightEdge.empty(), 0
        for n in batches:
            bodies = [_body((duplicate_of or {}).get(size + i, size + i)) for i in range(n)]
            leaves = merkle.leaf_hashes(bodies)
            result = merkle.append_leaves(edge, leaves)
            async with conn.transaction():
                await ls.lock_tree(conn, TREE_ID)
                await ls.insert_entries(conn, [
                    ls.EntryRow(TREE_ID, size + i, leaves[i], bodies[i], 1_700_000_000,
                                search_keys=(f"k{size + i}",)) for i in range(n)])
                await ls.append_tile_hashes(conn, TREE_ID, result.tiles)
                note = format_checkpoint(Checkpoint(origin, size + n, result.root_hash), signer, NAME)
                await ls.update_tree_head(conn, TREE_ID, size, size + n, result.root_hash, note)
            edge, size = result.edge, size + n
    finally:
        await conn.close()
    return BuiltLog(TREE_ID, size, signer, key_file)


def _body(n: int) -> bytes:
    return b'{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{"n":%d}}' % n


async def run_fsck(dsn: str, verifier: LogVerifier | None, page_size: int = 1000) -> FsckReport:
    """fsck through the Python API; small pages, so that small logs take several."""
    conn = await asyncpg.connect(dsn)
    try:
        return await fsck(conn, verifier, page_size=page_size)
    finally:
        await conn.close()


def fsck_cli(*args: str, check_exit: int | None = None) -> tuple[int, dict[str, Any], str]:
    """`python -m rekor_py fsck --json ARGS`: exit status, parsed stdout, stderr."""
    proc = subprocess.run([sys.executable, "-m", "rekor_py", "fsck", "--json", *args],
                          capture_output=True, text=True, timeout=120,
                          env={k: v for k, v in os.environ.items() if not k.startswith("REKOR_PY_")})
    out = json.loads(proc.stdout) if proc.stdout.strip() else {}
    if check_exit is not None:
        assert proc.returncode == check_exit, (proc.stdout, proc.stderr)
    return proc.returncode, out, proc.stderr


# ---- clean logs -------------------------------------------------------------------------


async def test_clean_log_built_through_a_running_server(database_url: str, tmp_path: Path) -> None:
    server = await start_log(log_settings(database_url, tmp_path))
    try:
        async with aiohttp.ClientSession() as session:
            for i in range(20):
                status, _, _ = await post_entry(session, server.url,
                                                signed_hashedrekord(f"fsck-{i}".encode()))
                assert status == 201
            key = load_verifier(server.settings, None)
            assert key.verifier is not None
            # Appends go on while fsck reads: its snapshot must still be consistent.
            writes = asyncio.gather(*[
                post_entry(session, server.url, signed_hashedrekord(f"during-{i}".encode()))
                for i in range(40)])
            report = await run_fsck(database_url, key.verifier)
            assert all(status == 201 for status, _, _ in await writes)
        assert report.ok, report.problem
        assert [t.api_major for t in report.trees if t.checkpoint_verified] == [1]
        assert 20 <= report.entries_checked <= 60
        code, out, _ = fsck_cli("--database-url", database_url, "--data-dir", str(tmp_path),
                                check_exit=0)
        assert out["ok"] and out["signatures_checked"] and out["entries_checked"] == 60
        assert out["log_id"] == key.verifier.log_id_hex and out["entries_per_second"] > 0
        # By default the SETs go to a worker per CPU; --jobs 1 checks them in fsck's
        # own process, with the same outcome.
        assert sum(t["sets_verified"] for t in out["trees"] if t["api_major"] == 1) == 60
        _, alone, _ = fsck_cli("--database-url", database_url, "--data-dir", str(tmp_path),
                               "--jobs", "1", check_exit=0)
        assert alone["trees"] == out["trees"]
        code, _, err = fsck_cli("--database-url", database_url, "--jobs", "0")
        assert code == 2 and "--jobs: must be at least 1" in err
    finally:
        await server.stop()


async def test_clean_log_across_tile_levels(database_url: str, tmp_path: Path) -> None:
    # 65,536 + 1,000 leaves: 259 full level-0 tiles and a partial one, a full and a
    # partial level-1 tile, a partial level-2 tile; batches cross tile borders unevenly.
    batches = [1, 255, 1, 300, 20_000, 44_979, 1_000]
    log = await build_log(database_url, batches, tmp_path)
    assert log.size == 65_536 + 1_000
    report = await run_fsck(database_url, log.signer.verifier, page_size=8192)
    assert report.ok, report.problem
    assert report.entries_checked == log.size
    assert report.tiles_checked == 260 + 2 + 1
    code, out, _ = fsck_cli("--database-url", database_url, "--public-key", str(_public_pem(log, tmp_path)),
                            check_exit=0)
    assert out["tiles_checked"] == 263 and out["signatures_checked"]


def _public_pem(log: BuiltLog, directory: Path) -> Path:
    path = directory / "log-public.pem"
    path.write_bytes(log.signer.public_key_pem)
    return path


async def test_empty_log_is_clean(database_url: str, tmp_path: Path) -> None:
    log = await build_log(database_url, [], tmp_path)
    report = await run_fsck(database_url, log.signer.verifier)
    assert report.ok and report.trees[0].size == 0 and report.trees[0].checkpoint_verified
    # Without a key fsck still checks everything else, and says what it skipped.
    code, out, _ = fsck_cli("--database-url", database_url, "--data-dir", str(tmp_path / "nokey"),
                            check_exit=0)
    assert not out["signatures_checked"] and "NOT checked" in out["key_note"]


async def test_database_without_schema_cannot_be_checked(empty_database_url: str) -> None:
    code, out, err = fsck_cli("--database-url", empty_database_url)
    assert code == 2 and not out["ok"] and "rekor-py migrate" in err


# ---- corrupted logs -----------------------------------------------------------------------

# 600 entries in batches: tiles 0/0, 0/1 full, 0/2 partial (88), 1/0 partial (2).
SMALL = [100, 200, 300]
OTHER_KEY = LogSigner.generate()


def _flip_signature(note: str) -> str:
    body, sig_line = note.rsplit("\n\n", 1)
    prefix, b64 = sig_line.rstrip("\n").rsplit(" ", 1)
    raw = bytearray(base64.b64decode(b64))
    raw[-1] ^= 1
    return f"{body}\n\n{prefix} {base64.b64encode(bytes(raw)).decode()}\n"


def _resign(note: str) -> str:
    body = note.split("\n\n")[0] + "\n"
    origin, size, root = body.splitlines()
    return format_checkpoint(Checkpoint(origin, int(size), base64.b64decode(root)), OTHER_KEY, NAME)


def _swap_root(note: str) -> str:
    lines = note.split("\n")
    lines[2] = base64.b64encode(bytes(32)).decode()
    return "\n".join(lines)


# (name, SQL statements with $1 = tree id, or a checkpoint rewrite), the check, words in
# the message.
MUTATIONS: list[tuple[str, Any, str, str]] = [
    # A body as rows before revision 0005 hold it (the canonical JSON), changed.
    ("entry-body", "UPDATE entries SET body = convert_to('{\"n\":1}', 'UTF8') "
     "WHERE tree_id = $1 AND leaf_index = 300", "leaf_hash", "entry 300"),
    # A deflated body (storage/body_codec.py) whose format byte or stream is damaged.
    ("entry-body-format", "UPDATE entries SET body = set_byte(body, 0, 5) "
     "WHERE tree_id = $1 AND leaf_index = 301", "body_format", "unknown format byte 05"),
    ("entry-body-stream", "UPDATE entries SET body = body || '\\x00'::bytea "
     "WHERE tree_id = $1 AND leaf_index = 302", "body_format", "entry 302"),
    ("entry-leaf-hash", "UPDATE entries SET leaf_hash = sha256('x') WHERE tree_id = $1 AND leaf_index = 7",
     "leaf_hash", "entry 7"),
    ("full-tile-byte", "UPDATE tiles SET hashes = set_byte(hashes, 40, get_byte(hashes, 40) # 1) "
     "WHERE tree_id = $1 AND level = 0 AND tile_index = 1", "tile", "tile 0/1, hash 1 (leaf 257)"),
    ("partial-tile-byte", "UPDATE tiles SET hashes = set_byte(hashes, 0, get_byte(hashes, 0) # 128) "
     "WHERE tree_id = $1 AND level = 0 AND tile_index = 2", "tile", "tile 0/2, hash 0"),
    ("level-1-tile-byte", "UPDATE tiles SET hashes = set_byte(hashes, 63, get_byte(hashes, 63) # 1) "
     "WHERE tree_id = $1 AND level = 1 AND tile_index = 0", "tile", "tile 1/0, hash 1 (leaves [256, 512))"),
    ("partial-tile-short", "UPDATE tiles SET hashes = substr(hashes, 1, length(hashes) - 32) "
     "WHERE tree_id = $1 AND level = 0 AND tile_index = 2", "tile_width", "tile 0/2 holds 87 hashes"),
    ("missing-tile", "DELETE FROM tiles WHERE tree_id = $1 AND level = 0 AND tile_index = 1",
     "missing_tile", "tile 0/1 is missing"),
    ("missing-level-1-tile", "DELETE FROM tiles WHERE tree_id = $1 AND level = 1",
     "missing_tile", "tile 1/0 is missing"),
    ("extra-tile", "INSERT INTO tiles VALUES ($1, 0, 3, sha256('x'))", "extra_tile", "tile 0/3"),
    ("extra-level-2-tile", "INSERT INTO tiles VALUES ($1, 2, 0, sha256('x'))", "extra_tile", "tile 2/0"),
    ("checkpoint-signature", _flip_signature, "checkpoint_signature", "does not verify"),
    ("checkpoint-other-key", _resign, "checkpoint_signature", "no signature"),
    ("checkpoint-root", _swap_root, "checkpoint_root", "checkpoint's root hash"),
    ("checkpoint-garbage", lambda note: "not a checkpoint\n", "checkpoint_format", "does not parse"),
    ("tree-root", "UPDATE trees SET root_hash = sha256('x') WHERE tree_id = $1",
     "tree_root", "trees row's root_hash"),
    ("tree-size-smaller", "UPDATE trees SET size = size - 1 WHERE tree_id = $1",
     "entry_beyond_size", "entry 599 lies beyond the tree size 599"),
    ("tree-size-larger", "UPDATE trees SET size = size + 1 WHERE tree_id = $1",
     "missing_entries", "says size 601"),
    ("index-gap", "DELETE FROM entries WHERE tree_id = $1 AND leaf_index = 200",
     "index_gap", "entry 200 is missing (the next stored index is 201)"),
]


@pytest.fixture
def key_dir() -> Iterator[Path]:
    path = postgres_scratch_dir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


async def _mutate(dsn: str, log: BuiltLog, change: Any) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        if callable(change):
            note = await conn.fetchval("SELECT checkpoint FROM trees WHERE tree_id = $1", log.tree_id)
            await conn.execute("UPDATE trees SET checkpoint = $2 WHERE tree_id = $1",
                               log.tree_id, change(note))
        else:
            for statement in [change] if isinstance(change, str) else change:
                if "$1" in statement:
                    await conn.execute(statement, log.tree_id)
                else:
                    await conn.execute(statement)
    finally:
        await conn.close()


@pytest.mark.parametrize(("change", "check", "words"), [m[1:] for m in MUTATIONS],
                         ids=[m[0] for m in MUTATIONS])
async def test_fsck_names_the_discrepancy(database_url: str, key_dir: Path, change: Any, check: str,
                                          words: str) -> None:
    log = await build_log(database_url, SMALL, key_dir)
    assert (await run_fsck(database_url, log.signer.verifier)).ok
    await _mutate(database_url, log, change)
    report = await run_fsck(database_url, log.signer.verifier)
    assert report.problem is not None
    assert report.problem.check == check, report.problem
    assert words in report.problem.message, report.problem.message
    if check in ("tile", "leaf_hash", "tree_root"):
        assert report.problem.expected and report.problem.found
        assert report.problem.expected != report.problem.found


async def test_cli_exit_status_and_message_on_discrepancy(database_url: str, key_dir: Path) -> None:
    log = await build_log(database_url, SMALL, key_dir)
    await _mutate(database_url, log, next(m[1] for m in MUTATIONS if m[0] == "full-tile-byte"))
    code, out, _ = fsck_cli("--database-url", database_url, "--data-dir", str(key_dir))
    assert code == 1 and not out["ok"]
    assert out["problem"]["check"] == "tile" and out["problem"]["where"] == "tile 0/1 hash 1"
    proc = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "rekor_py", "fsck", "--database-url", database_url,
                         "--data-dir", str(key_dir)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "FAILED [tile] at tile 0/1 hash 1" in proc.stdout and "expected: " in proc.stdout


async def test_duplicate_leaf_hash(database_url: str, key_dir: Path) -> None:
    log = await build_log(database_url, [300], key_dir, duplicate_of={290: 12})
    report = await run_fsck(database_url, log.signer.verifier)
    assert report.problem is not None and report.problem.check == "duplicate_leaf"
    assert "stored at entries 12 and 290" in report.problem.message


# ---- the embedded cluster of a data dir -----------------------------------------------------


@pytest.fixture
async def served_data_dir() -> AsyncIterator[tuple[Path, subprocess.Popen[bytes], str]]:
    """`rekor-py serve --data-dir D` on its own embedded PostgreSQL."""
    data_dir = postgres_scratch_dir()
    # The cluster lives in data_dir/postgres; as root its server user must enter data_dir.
    data_dir.chmod(0o711)
    port = free_port()
    log_path = data_dir / "serve.log"
    with open(log_path, "wb") as log_file:  # noqa: ASYNC230  a local file, opened at once
        proc = subprocess.Popen(  # noqa: ASYNC220  returns at once; the loop below waits for it
            [sys.executable, "-m", "rekor_py", "serve", "--data-dir", str(data_dir),
             "--port", str(port)],
            stdout=log_file, stderr=subprocess.STDOUT,
            env={**os.environ, "REKOR_PY_FSYNC": "0", "REKOR_PY_BATCH_MAX_DELAY_MS": "2"})
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(600):
                if proc.poll() is not None:
                    raise RuntimeError(f"serve exited: {log_path.read_text()[-2000:]}")
                try:
                    async with session.get(f"{url}/ping") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        yield data_dir, proc, url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            await asyncio.to_thread(proc.wait, 60)
        EmbeddedPostgres(data_dir / "postgres").stop()
        shutil.rmtree(data_dir, ignore_errors=True)


async def test_data_dir_with_and_without_a_running_server(
        served_data_dir: tuple[Path, subprocess.Popen[bytes], str]) -> None:
    data_dir, proc, url = served_data_dir
    cluster = EmbeddedPostgres(data_dir / "postgres")
    async with aiohttp.ClientSession() as session:
        for i in range(3):
            status, _, _ = await post_entry(session, url, signed_hashedrekord(f"dd-{i}".encode()))
            assert status == 201
        # The server runs: fsck attaches to its postmaster and leaves it running.
        code, out, err = await asyncio.to_thread(fsck_cli, "--data-dir", str(data_dir))
        assert code == 0, (out, err)
        assert out["entries_checked"] == 3 and out["signatures_checked"]
        assert cluster.is_running()
        status, _, _ = await post_entry(session, url, signed_hashedrekord(b"dd-after"))
        assert status == 201
    proc.send_signal(signal.SIGTERM)
    await asyncio.to_thread(proc.wait, 60)
    assert not cluster.is_running()
    # No server: fsck starts the cluster for the check and stops it afterwards.
    code, out, err = await asyncio.to_thread(fsck_cli, "--data-dir", str(data_dir))
    assert code == 0, (out, err)
    assert out["entries_checked"] == 4 and out["signatures_checked"]
    assert not cluster.is_running()


async def test_data_dir_without_a_cluster(key_dir: Path) -> None:
    code, out, err = fsck_cli("--data-dir", str(key_dir))
    assert code == 2 and "no embedded database" in err
    assert not (key_dir / "postgres" / "pgdata").exists()
