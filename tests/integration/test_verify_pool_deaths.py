"""Verification workers that die under a job, with real worker processes.

The pool cannot tell an outside kill (the OOM killer, an operator) from an entry
that crashes its worker, except by where the job dies next.  These tests stage
both, deterministically: SIGSTOP holds a worker alive (its pipe open, so a job
still reaches it) until the test kills it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
from collections.abc import Callable

import pytest

from rekor_py.errors import RekorError
from rekor_py.limits import Limits
from rekor_py.log.verify_pool import ProcessVerifyPool
from tests.integration.logserver import signed_hashedrekord
from tests.integration.test_hostile import signed_dsse, statement

KINDS = frozenset({"hashedrekord"})


def job(artifact: bytes) -> tuple[bytes, frozenset[str], int]:
    return json.dumps(signed_hashedrekord(artifact)).encode(), KINDS, 0


async def until(what: Callable[[], bool], timeout_s: float = 30.0,
                poll_s: float = 0.01) -> None:
    # Polled: the state is the pool's own, changed by its pipe callbacks.
    async with asyncio.timeout(timeout_s):
        while not what():  # noqa: ASYNC110
            await asyncio.sleep(poll_s)


def holder(pool: ProcessVerifyPool, body: bytes) -> object | None:
    """The worker that has `body` in hand, if one has."""
    for worker in pool._workers:
        if any(waiting.job[0] == body for waiting in worker.busy):
            return worker
    return None


@pytest.fixture
async def pool() -> ProcessVerifyPool:
    pool = ProcessVerifyPool(1, Limits(max_payload_bytes=32 * 1024 * 1024))
    await pool.start()
    await pool.verify(job(b"warm"))  # also spawns the warm spare
    await until(lambda: pool._spare is not None and pool._spare.ready)
    yield pool
    await pool.close()


async def test_a_job_on_workers_killed_together_is_verified(pool: ProcessVerifyPool) -> None:
    """Both processes are killed from outside; the job reaches each before it dies.
    Neither death is the job's fault: it is verified on a worker started after."""
    first, spare = pool._workers
    for worker in (first, spare):
        os.kill(worker.proc.pid, signal.SIGSTOP)
    body, kinds, cap = job(b"victim")
    task = asyncio.ensure_future(pool.verify((body, kinds, cap)))
    await until(lambda: holder(pool, body) is first)
    os.kill(first.proc.pid, signal.SIGKILL)
    # The spare, ready before the kill, takes over and is handed the job.
    await until(lambda: holder(pool, body) is spare)
    os.kill(spare.proc.pid, signal.SIGKILL)
    prepared = await asyncio.wait_for(task, 60)
    assert prepared.kind == "hashedrekord"


async def test_a_job_that_kills_every_worker_is_refused(pool: ProcessVerifyPool) -> None:
    """An entry whose verification always crashes its worker (staged by killing
    whichever worker holds it) is refused with a 500, after at most one death per
    worker alive at the first, plus one: it cannot take the pool down forever."""
    # A job that takes a worker about a second (60,000 in-toto subjects, parsed
    # because the pool's payload limit is raised): time to kill the worker under it.
    digests = [hashlib.sha256(b"%d" % i).hexdigest() for i in range(60_000)]
    body = json.dumps(signed_dsse(statement(digests))).encode()
    task = asyncio.ensure_future(pool.verify((body, frozenset({"dsse"}), 0)))
    deaths = 0
    while not task.done():
        await until(lambda: task.done() or holder(pool, body) is not None, poll_s=0.001)
        worker = holder(pool, body)
        if worker is not None and not task.done():
            os.kill(worker.proc.pid, signal.SIGKILL)
            deaths += 1
            await until(lambda killed=worker: task.done() or holder(pool, body) is not killed)
    with pytest.raises(RekorError) as refused:
        task.result()
    assert refused.value.status == 500, refused.value.client_message
    # One worker and its spare were alive at the first death.
    assert 2 <= deaths <= 3, deaths
    # The pool serves on.
    prepared = await pool.verify(job(b"after"))
    assert prepared.kind == "hashedrekord"
