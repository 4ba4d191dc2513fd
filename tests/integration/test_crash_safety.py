"""Crash safety under write load: SIGKILLed servers, crashed PostgreSQL.

Both tests keep a bounded load generator running while they break things, and
check the ledger afterwards (tests/integration/load.py): every 201 is in the log
with the same leaf hash at the same index, indexes have no gap, every
checkpoint served is a prefix of the final tree, fsck is clean, and the log
still takes entries.  Errors and connection resets of in-flight requests are
expected; a 201 for something absent never is.

- Server kills: three writers share one database; at random moments one of those
  up (every fourth cycle: all of them) gets SIGKILL and is restarted in the
  background while the others take the load, 22 cycles.
- PostgreSQL crashes: an EmbeddedPostgres the test owns is killed with SIGKILL,
  shut down immediately (SIGQUIT, what `pg_ctl stop -m immediate` sends) or
  stopped fast, then started again (WAL recovery), 6 cycles, while the servers
  keep running: they must recover on their own, without a restart.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import stat
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from rekor_py.app import HANDLER_TIMEOUT_MESSAGE
from rekor_py.log.signer import LogSigner
from rekor_py.storage.embedded import EmbeddedPostgres

from .conftest import postgres_scratch_dir
from .load import Ledger, ServeProcess, probe_until_writable, run_load, verify_log
from .logserver import free_port, signed_hashedrekord

KILL_CYCLES = 22
PG_CYCLES = 6


def _verifier(data_dir: Path) -> LogSigner:
    return LogSigner.load_or_create(data_dir / "signing-key.pem")


async def _all_accept(servers: list[ServeProcess], ledger: Ledger, tag: str) -> None:
    """After recovery every server takes entries again: nothing but 201s."""
    before = ledger.statuses.copy()
    await run_load([s.url for s in servers], ledger, seconds=20, max_requests=60,
                   concurrency=6, tag=tag)
    after = ledger.statuses - before
    assert set(after) == {"201"} and after["201"] == 60, after


# ---- SIGKILL the servers --------------------------------------------------------------------


async def test_sigkill_servers_under_load(database_url: str, writers: list[ServeProcess],
                                          tmp_path: Path) -> None:
    await asyncio.gather(*[asyncio.to_thread(w.start) for w in writers])
    ledger = Ledger()
    stop = asyncio.Event()
    load = asyncio.create_task(run_load(
        lambda: [w.url for w in writers if w.is_alive()], ledger, seconds=180,
        max_requests=8_000, concurrency=6, tag="kill", until=stop,
        rate=80))
    seed = os.environ.get("REKOR_PY_TEST_SEED") or str(random.randrange(1 << 32))
    print(f"kill schedule: REKOR_PY_TEST_SEED={seed}")
    rng = random.Random(seed)
    restarts: list[asyncio.Task[None]] = []
    began = time.monotonic()
    try:
        for cycle in range(KILL_CYCLES):
            # At least two servers up (each start is bounded), so the kill lands
            # while the load runs, at a random moment.
            while len([w for w in writers if w.is_alive()]) < 2:  # noqa: ASYNC110  polls child processes
                await asyncio.sleep(0.05)
            await asyncio.sleep(rng.uniform(0.2, 0.9))
            up = [w for w in writers if w.is_alive()]
            victims = up if cycle % 4 == 3 else [rng.choice(up)]
            for victim in victims:
                victim.kill()
                # Restart in the background: the others take the load meanwhile,
                # and the next kill may come before this one is back.
                restarts.append(asyncio.create_task(asyncio.to_thread(victim.start)))
            assert not load.done(), "the load generator stopped"
        await asyncio.gather(*restarts)
    finally:
        stop.set()
        await load
    print(f"server kills: {KILL_CYCLES} cycles in {time.monotonic() - began:.1f} s, "
          f"{sum(w.starts for w in writers)} starts (each "
          f"{min(t for w in writers for t in w.start_seconds):.1f}-"
          f"{max(t for w in writers for t in w.start_seconds):.1f} s),", ledger.summary())
    assert len(ledger.acks) >= 200
    # Kills must have hit requests in flight, or this test proves little.
    assert ledger.statuses["reset"] + ledger.statuses["503"] > 0, ledger.statuses
    assert ledger.statuses["500"] == 0, ledger.statuses
    await _all_accept(writers, ledger, "kill-after")
    facts = await verify_log(database_url, writers[0].url, ledger, _verifier(tmp_path).verifier)
    assert facts.size >= len(ledger.acks)
    _assert_key_never_logged(tmp_path, writers)


def _assert_key_never_logged(data_dir: Path, servers: list[ServeProcess]) -> None:
    """The log key stays 0600 and no line of it reaches a server log, whatever happened."""
    key_file = data_dir / "signing-key.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    secret_lines = [line for line in key_file.read_text().splitlines() if not line.startswith("-----")]
    assert secret_lines
    for server in servers:
        text = server.log_path.read_text()
        assert not any(line in text for line in secret_lines), server.log_path


# ---- crash PostgreSQL -----------------------------------------------------------------------


@pytest.fixture
async def own_postgres() -> AsyncIterator[EmbeddedPostgres]:
    """A PostgreSQL of this test's own, which it may kill (fsync off: a killed
    server loses nothing with it; only an OS crash would)."""
    data_dir = postgres_scratch_dir()
    server = EmbeddedPostgres(data_dir, port=free_port(), fsync=False)
    await asyncio.to_thread(server.start)
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)
        shutil.rmtree(data_dir, ignore_errors=True)


def _postmaster_pid(server: EmbeddedPostgres) -> int:
    return int((server.pgdata / "postmaster.pid").read_text().splitlines()[0])


def _crash(server: EmbeddedPostgres, mode: str) -> None:
    """Take PostgreSQL down: 'kill' (SIGKILL), 'immediate' (SIGQUIT: no checkpoint,
    recovery on start) or 'fast' (a clean shutdown that cuts off sessions)."""
    if mode == "fast":
        server.stop()
        return
    pid = _postmaster_pid(server)
    os.kill(pid, signal.SIGKILL if mode == "kill" else signal.SIGQUIT)
    deadline = time.monotonic() + 30
    while server.is_running():
        assert time.monotonic() < deadline, "postgres did not go down"
        time.sleep(0.02)


async def test_postgres_restarts_under_load(own_postgres: EmbeddedPostgres,
                                            tmp_path: Path) -> None:
    dsn = own_postgres.dsn()
    servers = [ServeProcess(dsn, tmp_path, free_port()) for _ in range(2)]
    try:
        for s in servers:
            s.start()
        ledger = Ledger()
        stop = asyncio.Event()
        load = asyncio.create_task(run_load([s.url for s in servers], ledger, seconds=180,
                                            max_requests=20_000, concurrency=6, tag="pg",
                                            until=stop, rate=150))
        recovery: list[float] = []
        modes = ["kill", "immediate", "fast"] * (PG_CYCLES // 3)
        try:
            for mode in modes:
                await asyncio.sleep(random.uniform(0.3, 0.8))
                await asyncio.to_thread(_crash, own_postgres, mode)
                await asyncio.sleep(0.3)  # requests now meet a dead database
                await asyncio.to_thread(own_postgres.start)
                assert own_postgres.dsn() == dsn  # same port: the servers' DSN still holds
                recovery += [await probe_until_writable(s.url, deadline_s=30.0, timeout_s=5.0,
                                                     pause_s=0.05, ledger=ledger)
                             for s in servers]
                assert not load.done(), "the load generator stopped"
        finally:
            stop.set()
            await load
        print(f"postgres restarts: {len(modes)} ({', '.join(modes)}), recovery within "
              f"{max(recovery):.2f} s,", ledger.summary())
        # No server was restarted: they came back on their own.
        assert all(s.is_alive() and s.starts == 1 for s in servers)
        assert ledger.statuses["201"] >= 100
        # A database that is down is a 503 (retry later), never a 500.
        assert ledger.statuses["503"] > 0 and ledger.statuses["500"] == 0, ledger.statuses
        await _all_accept(servers, ledger, "pg-after")
        await verify_log(dsn, servers[0].url, ledger, _verifier(tmp_path).verifier)
    finally:
        for s in servers:
            s.stop()


# ---- a worker of --workers N dies ------------------------------------------------------------


def _children(pid: int) -> set[int]:
    """The worker processes of a `serve --workers` parent (not multiprocessing's resource tracker)."""
    workers = set()
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except FileNotFoundError:
            continue  # gone meanwhile
        if b"resource_tracker" not in cmdline:
            workers.add(int(child))
    return workers


async def test_a_killed_worker_is_replaced(database_url: str, tmp_path: Path) -> None:
    """serve --workers 2: SIGKILL one worker under load; the other keeps serving, the
    parent starts a new one, and nothing acknowledged is lost."""
    server = ServeProcess(database_url, tmp_path, free_port(), extra_args=("--workers", "2"))
    try:
        server.start()
        assert server.proc is not None
        deadline = time.monotonic() + 60
        while len(_children(server.proc.pid)) < 2:
            assert time.monotonic() < deadline, "workers did not start"
            await asyncio.sleep(0.1)
        ledger = Ledger()
        stop = asyncio.Event()
        load = asyncio.create_task(run_load([server.url], ledger, seconds=60, max_requests=3_000,
                                            concurrency=4, tag="worker", until=stop, rate=100))
        await asyncio.sleep(1.0)
        first = _children(server.proc.pid)
        victim = max(first)
        os.kill(victim, signal.SIGKILL)
        while True:  # a new worker replaces it; the parent itself never exits
            now = _children(server.proc.pid)
            if len(now) == 2 and victim not in now:
                break
            assert time.monotonic() < deadline and server.proc.poll() is None, now
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.5)
        stop.set()
        await load
        print("worker kill:", ledger.summary())
        assert ledger.statuses["201"] >= 50 and ledger.statuses["500"] == 0, ledger.statuses
        assert "exited with code -9; starting a new one" in server.log_path.read_text()
        await _all_accept([server], ledger, "worker-after")
        await verify_log(database_url, server.url, ledger, _verifier(tmp_path).verifier)
    finally:
        server.stop()


# ---- PostgreSQL hangs -----------------------------------------------------------------------


def _postgres_pids(server: EmbeddedPostgres) -> list[int]:
    postmaster = _postmaster_pid(server)
    children = Path(f"/proc/{postmaster}/task/{postmaster}/children").read_text().split()
    return [postmaster, *map(int, children)]


async def test_a_hung_database_gets_504_not_a_hang(own_postgres: EmbeddedPostgres,
                                                   tmp_path: Path) -> None:
    """SIGSTOP every PostgreSQL process: requests answer 504 within the request
    timeout instead of hanging; after SIGCONT the log goes on, nothing lost."""
    server = ServeProcess(own_postgres.dsn(), tmp_path, free_port(),
                          env={"REKOR_PY_REQUEST_TIMEOUT_S": "1.5"})
    try:
        server.start()
        ledger = Ledger()
        await run_load([server.url], ledger, seconds=10, max_requests=40, concurrency=4, tag="pre")
        assert ledger.statuses["201"] == 40
        pids = _postgres_pids(own_postgres)
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as s:
                started = time.monotonic()
                answers = await asyncio.gather(
                    s.post(f"{server.url}/api/v1/log/entries", json=signed_hashedrekord(b"hung")),
                    s.get(f"{server.url}/api/v1/log"),
                    s.get(f"{server.url}/api/v1/log/entries?logIndex=3"))
                waited = time.monotonic() - started
                for r in answers:
                    assert r.status == 504, (r.status, await r.text())
                    assert await r.json() == {"code": 504, "message": HANDLER_TIMEOUT_MESSAGE}
                assert waited < 5, waited
        finally:
            for pid in pids:
                os.kill(pid, signal.SIGCONT)
        await probe_until_writable(server.url, deadline_s=30.0, timeout_s=5.0, pause_s=0.05,
                                   ledger=ledger)
        await _all_accept([server], ledger, "hung-after")
        await verify_log(own_postgres.dsn(), server.url, ledger, _verifier(tmp_path).verifier)
    finally:
        server.stop()
