"""Witnessing rounds: the log asks its witnesses to cosign each new head, then
publishes it (c2sp.org/tlog-witness, for the v1 tree and the Rekor v2 tree).

One `Publisher` per log API.  Its loop takes the latest committed head (heads
committed meanwhile are skipped: a cosignature of a larger tree covers them),
sends the head's C2SP checkpoint to every witness of the policy at once, keeps
the cosignatures that verify, and records the head as published
(storage/witness_store.py), noting whether the policy's quorum cosigned it.
The write path never waits for this, unless the operator asks for fail-closed
witnessing: then a POST answers only once a head holding its entry was
published with the quorum, or 503 after `wait_s`.

Only one process of a log runs the rounds (a PostgreSQL advisory lock held on a
connection of its own; another process takes over if it dies), so a witness
sees one client per log, not one per worker.  Every process serves what was
published, from the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from typing import Any

import aiohttp

from rekor_py.errors import WitnessQuorumPending
from rekor_py.log.c2sp import TreeNotaries
from rekor_py.log.checkpoint import parse_checkpoint
from rekor_py.log.service import LogService
from rekor_py.storage import witness_store
from rekor_py.storage.log_store import TreeRow
from rekor_py.witness.client import WitnessClient, WitnessError
from rekor_py.witness.policy import WitnessPolicy

__all__ = ["Publisher", "cosigned_note"]

log = logging.getLogger(__name__)

# Advisory lock keys, one per log API: "wit" + API major.
_LOCK_BASE = 0x77697400


def cosigned_note(note: str, head: witness_store.PublishedHead) -> str:
    """The checkpoint note with the head's cosignature lines after its own."""
    return note + "".join(c.line for c in head.cosignatures)


class Publisher:
    def __init__(self, service: LogService, notaries: TreeNotaries, policy: WitnessPolicy,
                 pool: Any, *, fail_closed: bool = False, interval_s: float = 1.0,
                 timeout_s: float = 5.0, wait_s: float = 10.0, writable: bool = True) -> None:
        self.service = service
        self.notaries = notaries
        self.policy = policy
        self.fail_closed = fail_closed
        self._pool = pool
        self._interval = interval_s
        self._timeout = timeout_s
        self._wait = wait_s
        self._writable = writable
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self.clients: list[WitnessClient] = []
        # Outcomes of this process's requests, by witness and kind ("ok", "timeout"...).
        self.results: Counter[tuple[str, str]] = Counter()
        self.rounds = 0

    # ---- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        if not self._writable or not self.policy.witnesses:
            return
        self._session = aiohttp.ClientSession(
            headers={"User-Agent": "rekor-py-log", "Content-Type": "text/plain"})
        self.clients = [WitnessClient(spec, self._session, self._timeout)
                        for spec in self.policy.witnesses.values()]
        self._task = asyncio.create_task(self._run(), name=f"witnessing-v{self.service.api_major}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    # ---- the rounds -------------------------------------------------------------------

    async def _run(self) -> None:
        lock = _LOCK_BASE + self.service.api_major
        while True:
            try:
                async with self._pool.acquire() as conn:
                    if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", lock):
                        await asyncio.sleep(max(self._interval, 1.0))
                        continue
                    try:
                        await self._rounds()
                    finally:
                        with contextlib.suppress(Exception):
                            await conn.execute("SELECT pg_advisory_unlock($1)", lock)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the database went away; try again
                log.warning("witnessing paused: %s", "database unavailable", exc_info=True)
                await asyncio.sleep(1.0)

    async def _rounds(self) -> None:
        """A round at most every interval (rounds START that far apart, so a head
        waits at most one interval plus one round), and only for a new head."""
        done: tuple[int, int] | None = None
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            head = await self.service.head()
            if head.size > 0 and (head.tree_id, head.size) != done:
                await self.witness(head)
                done = (head.tree_id, head.size)
            await asyncio.sleep(max(0.0, started + self._interval - loop.time()))

    async def witness(self, head: TreeRow) -> witness_store.PublishedHead:
        """One round for `head`: ask every witness, record what they cosigned."""
        notary = self.notaries.for_tree(head)
        note = await notary.checkpoint_async(head.size, head.root_hash)
        body = parse_checkpoint(note).checkpoint.body()

        async def proof(old: int) -> list[bytes]:
            answer = await self.service.consistency(old, head.size, head.tree_id)
            return [bytes.fromhex(h) for h in answer.hashes]

        outcomes = await asyncio.gather(
            *(c.cosign(note, notary.origin, body, head.size, proof) for c in self.clients),
            return_exceptions=True)
        rows, names = [], set()
        for client, outcome in zip(self.clients, outcomes, strict=True):
            if isinstance(outcome, WitnessError):
                self.results[(client.spec.name, outcome.kind)] += 1
                log.warning("%s (checkpoint %s at size %d)", outcome, notary.origin, head.size)
                continue
            if isinstance(outcome, BaseException):
                raise outcome
            self.results[(client.spec.name, "ok")] += 1
            names.add(client.spec.name)
            rows.append(witness_store.CosignatureRow(
                outcome.name, client.spec.verifier.key_id, outcome.timestamp, outcome.line))
        quorum = self.policy.satisfied(names)
        if not quorum:
            log.warning("checkpoint %s at size %d lacks its witness quorum (cosigned by %s)%s",
                        notary.origin, head.size, sorted(names) or "none",
                        "" if self.fail_closed else "; published anyway (fail-open)")
        async with self._pool.acquire() as conn:
            await witness_store.publish_head(conn, head.tree_id, head.size, head.root_hash,
                                             quorum, rows)
        self.rounds += 1
        return witness_store.PublishedHead(head.tree_id, head.size, head.root_hash, quorum,
                                           tuple(rows))

    # ---- readers ----------------------------------------------------------------------

    async def published(self, tree_id: int) -> witness_store.PublishedHead | None:
        """What the checkpoint path serves: the latest head published (with the
        quorum, when fail-closed)."""
        async with self._pool.acquire() as conn:
            return await witness_store.latest_published(conn, tree_id,
                                                        quorum_only=self.fail_closed)

    async def wait_published(self, tree_id: int, size: int) -> None:
        """Fail-closed: return once a head of `tree_id` at least `size` large was
        published with the quorum; WitnessQuorumPending after wait_s."""
        deadline = time.monotonic() + self._wait
        while True:
            head = await self.published(tree_id)
            if head is not None and head.size >= size:
                return
            if time.monotonic() >= deadline:
                raise WitnessQuorumPending
            await asyncio.sleep(min(0.02, self._interval))

