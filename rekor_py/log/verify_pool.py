"""The verification pool: proposed entries are parsed and verified off the event loop.

Parsing and verifying an entry is CPU work in Python (JSON, PEM, base64, PGP
packets, canonical JSON) around a signature check.  On the event loop, one
expensive request would freeze every other request and the sequencer, and no
deadline could fire while it ran.  Here it runs in worker processes:

* each worker is a spawned process that runs one entry at a time, so its wall
  time on an entry is that entry's CPU time: past `verify_deadline_s` the worker
  is killed and replaced, and the request gets 400 naming the limit.  (A thread
  cannot be stopped, and the GIL would let Python parsing in threads slow the
  event loop itself: see the benchmark figures in bench/README.md.)
* at most `max_verify_queue` entries are being verified or waiting for a worker;
  beyond that a request gets 503 with Retry-After instead of queueing forever.
* waiting entries are served smallest body first (in powers of two, FIFO among
  equals), and bodies over 64 KiB never occupy the last free worker: honest
  entries are a few KiB, so a burst of near-limit hostile bodies can neither
  stand in front of them nor take every worker.
* only bytes and a PreparedEntry cross the process boundary (one pipe per
  worker, read with loop.add_reader: no helper threads); under load, small
  entries go to a worker in batches of up to 8, one message each way, which
  halves the IPC cost per entry (a batch past the deadline is verified again
  one entry at a time, so only the culprit is refused).

concurrent.futures.ProcessPoolExecutor was not used because it cannot stop
one task: a stuck worker can only be ended by breaking the whole pool, failing
every other request in it.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import multiprocessing
import os
import signal
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from rekor_py import limits as limits_mod
from rekor_py.errors import RekorError
from rekor_py.limits import Limits
from rekor_py.log.prepared import PreparedEntry
from rekor_py.logsafe import clip

__all__ = ["ProcessVerifyPool", "ThreadVerifyPool", "VerifyPool", "make_pool"]

log = logging.getLogger(__name__)

# (raw JSON bytes, insertable kinds or None for search, max attestation bytes)
Job = tuple[bytes, frozenset[str] | None, int]


class Refused(RekorError):
    """A RekorError raised in a worker, rebuilt in the server: same status and message."""

    def __init__(self, status: int, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


_MAX_FAILED_STARTS = 3
# Bodies above this are "large": honest entries are a few KiB (a rekord carries
# its artifact, so it may be large and honest, but it is rare), and every
# hostile body that costs seconds is large.  Large jobs never take the last
# free worker.
_LARGE_JOB = 64 * 1024
# Small jobs sent to one worker in one message, at most.
_MAX_BATCH = 8


class VerifierBusy(RekorError):
    status = 503
    retry_after = 1
    # 5xx answers carry this fixed message (api/problems.py): it names the setting.
    message = ("the server is busy verifying other entries, retry later "
               "(setting max_verify_queue, REKOR_PY_MAX_VERIFY_QUEUE)")


def _overtime_error(deadline: float) -> RekorError:
    return Refused(400, f"error processing entry: verifying it took more than {deadline:g} s "
                        f"of CPU (setting verify_deadline_s, REKOR_PY_VERIFY_DEADLINE_S)")


def run_job(job: Job) -> tuple[str, Any]:
    """What a worker does with one job: ("ok", PreparedEntry), ("refused", (status,
    message, retry_after)) for a client fault, or ("bug", traceback text)."""
    from rekor_py.log.prepare import prepare_raw

    try:
        return "ok", prepare_raw(*job)
    except RekorError as e:
        return "refused", (e.status, e.client_message, e.retry_after)
    except Exception:  # noqa: BLE001 - a parser bug: the server logs it, answers 500
        return "bug", traceback.format_exc(limit=-8)[-4000:]


def _outcome(kind: str, value: Any) -> PreparedEntry:
    if kind == "ok":
        assert isinstance(value, PreparedEntry)
        return value
    if kind == "refused":
        status, message, retry_after = value
        raise Refused(status, message, retry_after)
    # The worker's traceback may quote the entry: escaped onto one line, bounded.
    log.error("verification failed with an unexpected error: %s", clip(value, 4000))
    raise RekorError


def _worker_main(conn: Connection, limits: Limits) -> None:
    """A verification worker: the limits, warm imports, then batches of jobs, one
    job at a time, the results of a batch in one message."""
    # Ctrl-C reaches the whole process group; the server decides when we stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    limits_mod.configure(limits)
    import rekor_py.log.prepare  # noqa: F401 - the parsers and cryptography, once

    try:
        conn.send("ready")
        while (jobs := conn.recv()) is not None:
            conn.send([run_job(job) for job in jobs])
    except (EOFError, OSError):  # the server closed the pool or went away
        return


@dataclass(eq=False)
class _Waiting:
    # (size class, arrival): the queue's order.  The queue holds (priority, _Waiting)
    # pairs, which tuples compare in C (priorities are unique), where a dataclass's
    # generated __lt__ would be a Python call per comparison.
    priority: tuple[int, int]
    job: Job
    future: asyncio.Future[PreparedEntry]
    # The pool's death count when a worker died under this job alone (None: never).
    # The job is tried again; a later death is charged to it only on a worker
    # spawned after that one.  An outside kill (the OOM killer, an operator)
    # often takes several workers at once, and the job, retried on another
    # doomed worker, is not to blame; a worker started after the first death
    # was not among them.  Each uncharged death ends a worker that existed at
    # the first, so a job that does kill workers is refused after a few.
    died_at: int | None = None
    # Sent alone, never in a batch: its batch ran past the deadline, and only
    # alone can the job that did it be told apart from its batch-mates.
    alone: bool = False

    @property
    def large(self) -> bool:
        return len(self.job[0]) > _LARGE_JOB


@dataclass(eq=False)
class _Worker:
    proc: BaseProcess
    conn: Connection
    spare: bool
    born: int  # the pool's death count when it was spawned
    ready: bool = False
    busy: list[_Waiting] = field(default_factory=list)
    timer: asyncio.TimerHandle | None = None


class VerifyPool:
    """What the handlers use: `verify(job)` and the queue bound (both pools)."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._admitted = 0

    @property
    def admitted(self) -> int:
        """Entries being verified or waiting for a worker."""
        return self._admitted

    async def verify(self, job: Job) -> PreparedEntry:
        """The PreparedEntry for `job`; raises its 4xx, VerifierBusy, or a 400 past
        the deadline."""
        if self._admitted >= self.limits.max_verify_queue:
            raise VerifierBusy
        self._admitted += 1
        try:
            return await self._verify(job)
        finally:
            self._admitted -= 1

    async def _verify(self, job: Job) -> PreparedEntry:
        raise NotImplementedError

    async def start(self) -> None:
        """Start the workers (returns before they are warm)."""

    async def close(self) -> None:
        """Stop the workers; entries still being verified are abandoned."""


class ProcessVerifyPool(VerifyPool):
    """`size` spawned worker processes, plus one warm spare (see the module docstring).

    The spare takes over at once from a worker killed past its deadline: a new
    process needs about half a second of imports before it can verify, which
    under attack would leave the pool short just when it is needed."""

    def __init__(self, size: int, limits: Limits) -> None:
        super().__init__(limits)
        self._size = size
        self._ctx = multiprocessing.get_context("spawn")
        self._workers: list[_Worker] = []
        self._idle: list[_Worker] = []
        self._spare: _Worker | None = None
        self._waiting: list[tuple[tuple[int, int], _Waiting]] = []  # a heap: see _Waiting
        self._seq = itertools.count()
        self._deaths = 0  # workers that died under their jobs, so far
        self._reaping: set[asyncio.Task[None]] = set()
        self._closed = False
        # Workers that died before they were ready, in a row: past
        # _MAX_FAILED_STARTS something is broken (an import, the environment) that
        # a restart will not mend, and respawning would only spin.
        self._failed_starts = 0

    async def start(self) -> None:
        for _ in range(self._size):
            self._spawn(spare=False)

    async def close(self) -> None:
        self._closed = True
        for worker in list(self._workers):
            self._retire(worker, kill=False)
        for _, waiting in self._waiting:
            if not waiting.future.done():
                waiting.future.set_exception(VerifierBusy("the server is shutting down"))
        self._waiting.clear()
        if self._reaping:
            await asyncio.gather(*self._reaping, return_exceptions=True)

    async def _verify(self, job: Job) -> PreparedEntry:
        if self._failed_starts >= _MAX_FAILED_STARTS:
            raise RekorError("verification workers cannot start (see the server log)")
        if self._spare is None and not self._closed:
            # Only once the server verifies at all: a read-only server (or a
            # test that never posts) does not pay for a process it never uses.
            self._spawn(spare=True)
        future: asyncio.Future[PreparedEntry] = asyncio.get_running_loop().create_future()
        size_class = max(len(job[0]), 1).bit_length()
        self._push(_Waiting((size_class, next(self._seq)), job, future))
        self._dispatch()
        # A cancelled waiter (its client left, its request timed out) leaves its
        # future cancelled: _dispatch skips it, and a worker already on it finishes.
        return await future

    # ---- workers ------------------------------------------------------------------------

    def _spawn(self, *, spare: bool) -> None:
        parent, child = self._ctx.Pipe()
        proc = self._ctx.Process(target=_worker_main, args=(child, self.limits),
                                 name="rekor-py-verify", daemon=True)
        proc.start()
        child.close()
        worker = _Worker(proc, parent, spare, born=self._deaths)
        self._workers.append(worker)
        if spare:
            self._spare = worker
        asyncio.get_running_loop().add_reader(parent.fileno(), self._on_message, worker)
        # uvloop (libuv) makes a watched fd non-blocking: a 4 MiB job would then
        # fail to send, and a result larger than the socket buffer arrive in parts.
        # Blocking is right here: the worker reads a job, and writes a result,
        # in one go, so neither call waits for more than the copy.
        os.set_blocking(parent.fileno(), True)

    def _dispatch(self) -> None:
        while self._idle and self._waiting:
            head = self._waiting[0][1]
            if head.future.done():
                heapq.heappop(self._waiting)
                continue
            if head.large and self._size > 1 and self._busy_with_large() >= self._size - 1:
                # The queue is smallest first, so only large jobs wait: one
                # worker stays free for small (honest-sized) entries.
                return
            batch = [heapq.heappop(self._waiting)[1]]
            if not head.large and not head.alone:
                # Under load, small jobs go in batches: one message each way for
                # several entries halves the IPC cost per entry.  Shared among
                # the idle workers, so a batch never leaves another worker idle.
                size = min(_MAX_BATCH, max(1, (len(self._waiting) + 1) // len(self._idle)))
                while len(batch) < size and self._waiting:
                    nxt = self._waiting[0][1]
                    if nxt.large or nxt.alone:
                        break
                    heapq.heappop(self._waiting)
                    if not nxt.future.done():
                        batch.append(nxt)
            worker = self._idle.pop()
            worker.busy = batch
            try:
                worker.conn.send([waiting.job for waiting in batch])
            except OSError:
                # It died while idle: the jobs never reached it, so they wait on.
                worker.busy = []
                for waiting in batch:
                    self._push(waiting)
                self._replace(worker, "could not take a job")
                continue
            worker.timer = asyncio.get_running_loop().call_later(
                self.limits.verify_deadline_s, self._overtime, worker)

    def _push(self, waiting: _Waiting) -> None:
        heapq.heappush(self._waiting, (waiting.priority, waiting))

    def _busy_with_large(self) -> int:
        return sum(1 for w in self._workers if w.busy and w.busy[0].large)

    def _on_message(self, worker: _Worker) -> None:
        try:
            message = worker.conn.recv()
        except (EOFError, OSError):
            self._replace(worker, f"exited with code {worker.proc.exitcode}")
            return
        if message == "ready":
            worker.ready = True
            self._failed_starts = 0
            if worker.spare:
                return  # kept warm until a worker must be replaced
        else:
            if worker.timer is not None:
                worker.timer.cancel()
            batch, worker.busy, worker.timer = worker.busy, [], None
            for waiting, (kind, value) in zip(batch, message, strict=True):
                if not waiting.future.done():
                    try:
                        waiting.future.set_result(_outcome(kind, value))
                    except RekorError as e:
                        waiting.future.set_exception(e)
        self._idle.append(worker)
        self._dispatch()

    def _overtime(self, worker: _Worker) -> None:
        batch, worker.busy = worker.busy, []
        deadline = self.limits.verify_deadline_s
        if len(batch) == 1:
            log.warning("an entry of %d bytes took more than %g s to verify: its worker "
                        "(pid %s) is replaced", len(batch[0].job[0]), deadline,
                        worker.proc.pid)
            if not batch[0].future.done():
                batch[0].future.set_exception(_overtime_error(deadline))
        else:
            log.warning("a batch of %d entries took more than %g s to verify: its worker "
                        "(pid %s) is replaced, the entries are verified again one by one",
                        len(batch), deadline, worker.proc.pid)
            for waiting in batch:
                waiting.alone = True
                self._push(waiting)
        self._replace(worker, None)

    def _replace(self, worker: _Worker, why: str | None) -> None:
        """Kill a worker (stuck, or dead already) and put another in its place: the
        warm spare if there is one, then a new spare."""
        batch, worker.busy = worker.busy, []
        if why is not None:
            log.error("verification worker (pid %s) %s", worker.proc.pid, why)
            if batch:
                self._deaths += 1
            for waiting in batch:
                if waiting.future.done():
                    continue
                if len(batch) > 1:
                    waiting.alone = True  # which one killed it is not known
                elif waiting.died_at is not None and worker.born >= waiting.died_at:
                    log.error("an entry of %d bytes killed two verification workers: "
                              "refused", len(waiting.job[0]))
                    waiting.future.set_exception(RekorError())
                    continue
                elif waiting.died_at is None:
                    waiting.died_at = self._deaths
                self._push(waiting)
        self._retire(worker, kill=True)
        if not worker.ready:
            self._failed_starts += 1
            if self._failed_starts >= _MAX_FAILED_STARTS:
                log.error("verification workers die before they are ready: not restarting")
                for _, left in self._waiting:
                    if not left.future.done():
                        left.future.set_exception(RekorError())
                self._waiting.clear()
                return
        if self._closed:
            return
        spare = self._spare
        if worker.spare:
            self._spawn(spare=True)
        elif spare is not None and spare.ready:
            spare.spare = False
            self._spawn(spare=True)
            self._idle.append(spare)
            self._dispatch()
        else:
            self._spawn(spare=False)

    def _retire(self, worker: _Worker, *, kill: bool) -> None:
        if worker.timer is not None:
            worker.timer.cancel()
        if worker in self._idle:
            self._idle.remove(worker)
        if worker is self._spare:
            self._spare = None
        self._workers.remove(worker)
        asyncio.get_running_loop().remove_reader(worker.conn.fileno())
        if kill:
            worker.proc.kill()
        else:
            try:
                worker.conn.send(None)
            except OSError:
                worker.proc.kill()
        worker.conn.close()
        task = asyncio.ensure_future(asyncio.to_thread(_reap, worker.proc))
        self._reaping.add(task)
        task.add_done_callback(self._reaping.discard)


def _reap(proc: BaseProcess) -> None:
    proc.join(5)
    if proc.is_alive():
        proc.kill()
        proc.join(5)


class ThreadVerifyPool(VerifyPool):
    """Verification in threads of the server process: no IPC, but a thread past
    its deadline cannot be stopped (its request gets 400 and the thread runs on,
    holding a worker), and Python parsing holds the GIL the event loop needs."""

    def __init__(self, size: int, limits: Limits) -> None:
        super().__init__(limits)
        self._executor = ThreadPoolExecutor(size, thread_name_prefix="rekor-py-verify")

    async def _verify(self, job: Job) -> PreparedEntry:
        loop = asyncio.get_running_loop()
        try:
            kind, value = await asyncio.wait_for(
                loop.run_in_executor(self._executor, run_job, job),
                self.limits.verify_deadline_s)
        except TimeoutError:
            raise _overtime_error(self.limits.verify_deadline_s) from None
        return _outcome(kind, value)

    async def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def make_pool(kind: str, size: int, limits: Limits) -> VerifyPool:
    """`kind` "process" (the default) or "thread"."""
    factories: dict[str, Callable[[int, Limits], VerifyPool]] = {
        "process": ProcessVerifyPool, "thread": ThreadVerifyPool}
    if kind not in factories:
        raise ValueError(f"verify pool must be one of {sorted(factories)}, not {kind!r}")
    return factories[kind](size, limits)
