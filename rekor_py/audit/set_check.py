"""fsck's check of stored SETs, on every core.

Each stored SET costs fsck one signature verification: ~75 us for ECDSA P-256
on the 2-core machine of bench/, ten times what recomputing the entry's leaf
hash and tiles costs.  Checked in fsck's own process, SETs were 87% of a
1M-entry check's CPU and held it to one core.

So with `jobs` > 1 the SETs of each page of entries go to worker processes in
chunks, while fsck reads and hashes the next pages.  The outcome is the one a
check in order would give: results are taken oldest chunk first, and before
fsck reports a discrepancy of its own it waits for every chunk sent before it
(`drain`), so a bad SET on an earlier entry is still the first discrepancy.
At most a few chunks per worker are outstanding, which bounds memory.
"""

from __future__ import annotations

import asyncio
import collections
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from rekor_py.log.set import set_from_stored, verify_set
from rekor_py.log.signer import LogVerifier

__all__ = ["BadSet", "SetChecker", "WorkerLost", "first_bad_set"]

# (leaf index, stored SET, canonical body, integrated time)
SetItem = tuple[int, bytes, bytes, int]

# Entries per chunk sent to a worker: ~150 ms of verification, a few MB of bodies.
_CHUNK = 2048
# Chunks outstanding per worker before fsck waits for the oldest.
_AHEAD = 4


class WorkerLost(Exception):
    """A verification worker died (killed, out of memory): the check is incomplete."""


@dataclass(frozen=True)
class BadSet:
    """The first stored SET of a chunk that does not verify."""

    tree_id: int
    leaf_index: int
    virtual_index: int
    log_id_hex: str
    reason: str
    stored: bytes


def first_bad_set(key: LogVerifier | bytes, tree_id: int, virtual_offset: int,
                  items: Sequence[SetItem]) -> tuple[int, BadSet | None]:
    """Verify the items' SETs in order under `key` (a verifier, or its DER
    SubjectPublicKeyInfo in a worker): how many verified, and the first that
    fails (None if none did)."""
    verifier = key if isinstance(key, LogVerifier) else _verifier(key)
    log_id_hex = verifier.log_id_hex
    for n, (index, stored, body, integrated_time) in enumerate(items):
        try:
            verify_set(verifier, set_from_stored(verifier, stored), body, integrated_time,
                       log_id_hex, virtual_offset + index)
        except ValueError as e:  # SignatureError is one
            return n, BadSet(tree_id, index, virtual_offset + index, log_id_hex, str(e), stored)
    return len(items), None


_VERIFIERS: dict[bytes, LogVerifier] = {}


def _verifier(spki_der: bytes) -> LogVerifier:
    """A worker's verifier for a key, parsed once per process."""
    verifier = _VERIFIERS.get(spki_der)
    if verifier is None:
        verifier = _VERIFIERS[spki_der] = LogVerifier.from_der(spki_der)
    return verifier


class SetChecker:
    """Verifies stored SETs as fsck streams entries: in this process with jobs=1,
    else in `jobs` worker processes started at the first SET."""

    def __init__(self, jobs: int) -> None:
        if jobs < 1:
            raise ValueError(f"jobs must be >= 1, got {jobs}")
        self.jobs = jobs
        # SETs that verified so far, over every submit whose result is in.
        self.verified = 0
        self._pool: Executor | None = None
        self._pending: collections.deque[asyncio.Future[tuple[int, BadSet | None]]] = (
            collections.deque())

    async def submit(self, verifier: LogVerifier, tree_id: int, virtual_offset: int,
                     items: Sequence[SetItem]) -> BadSet | None:
        """Check `items` (in entry order, after every earlier submit).  Returns the
        first bad SET found so far in submission order, or None; with workers,
        a bad SET may be returned by a later submit or by drain."""
        if self.jobs == 1:
            return self._count(first_bad_set(verifier, tree_id, virtual_offset, items))
        loop = asyncio.get_running_loop()
        for start in range(0, len(items), _CHUNK):
            while len(self._pending) >= self.jobs * _AHEAD:
                if (bad := await self._oldest()) is not None:
                    return bad
            future: Future[tuple[int, BadSet | None]] = self._executor().submit(
                first_bad_set, verifier.spki_der, tree_id, virtual_offset,
                list(items[start:start + _CHUNK]))
            self._pending.append(asyncio.wrap_future(future, loop=loop))
        return None

    async def drain(self) -> BadSet | None:
        """Wait for every chunk submitted: the first bad SET among them, or None."""
        while self._pending:
            if (bad := await self._oldest()) is not None:
                return bad
        return None

    async def _oldest(self) -> BadSet | None:
        try:
            outcome = await self._pending.popleft()
        except BrokenProcessPool as e:
            raise WorkerLost("a SET verification worker died; the check is incomplete") from e
        return self._count(outcome)

    def _count(self, outcome: tuple[int, BadSet | None]) -> BadSet | None:
        verified, bad = outcome
        self.verified += verified
        return bad

    def _executor(self) -> Executor:
        if self._pool is None:
            # spawn: a fork would copy this process's event loop and connections.
            self._pool = ProcessPoolExecutor(self.jobs,
                                             mp_context=multiprocessing.get_context("spawn"))
        return self._pool

    def close(self) -> None:
        """Stop the workers; chunks still queued are dropped."""
        for pending in self._pending:
            pending.cancel()
        self._pending.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
