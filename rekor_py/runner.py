"""Running the server: one process, or a parent supervising N worker processes on
one port; and applying migrations.  The flags are rekor_py/cli/serve.py's and
rekor_py/cli/migrate.py's.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rekor_py.config import Settings
from rekor_py.observability.metrics import MULTIPROC_ENV

if TYPE_CHECKING:
    from rekor_py.balancer import Balancer, HandedConnections

__all__ = ["LOG_FORMAT", "migrate", "serve"]

log = logging.getLogger("rekor_py")

LOG_FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"


def serve(settings: Settings) -> int:
    """Serve until SIGINT or SIGTERM; the exit code."""
    if settings.workers > 1:
        return _serve_workers(settings)
    _run(_serve(settings))
    return 0


def migrate(settings: Settings) -> None:
    """Apply the migrations to the configured (or the embedded) database."""
    asyncio.run(_migrate(settings))


# The server stack (aiohttp, asyncpg, SQLAlchemy, ...) is imported only by the
# commands that use it: client commands start in a fraction of the time.


async def _serve(settings: Settings, channel: socket.socket | None = None) -> None:
    """Serve on settings.host:port, or with `channel` (a worker of --workers N) the
    connections the parent hands over on it (rekor_py/balancer.py)."""
    from aiohttp import web

    from rekor_py.app import create_app
    from rekor_py.server import open_log

    runtime = await open_log(settings)
    runner = web.AppRunner(create_app(settings, runtime.service, runtime.v2), access_log=None)
    await runner.setup()
    try:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        handed = None
        if channel is None:
            site = web.TCPSite(runner, settings.host, settings.port)
            await site.start()
        else:
            handed = _serve_from_parent(runner, channel, stop)
        log.info("rekor-py serving tree %d on http://%s:%d (checkpoint name %s)",
                 runtime.service.tree_id, settings.host, settings.port,
                 runtime.service.checkpoint_name)
        await stop.wait()
        if handed is not None:
            handed.stopping()  # before the idle connections close: none comes back here
        log.info("shutting down")
    finally:
        await runner.cleanup()
        await runtime.close()


async def _migrate(settings: Settings) -> None:
    from rekor_py.storage.embedded import EmbeddedPostgres
    from rekor_py.storage.migrate import migrate as apply

    if settings.database_url is not None:
        await apply(settings.migrate_database_url or settings.database_url)
        return
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    embedded = EmbeddedPostgres(settings.data_dir / "postgres")
    dsn = await asyncio.to_thread(embedded.start)
    try:
        await apply(dsn)
    finally:
        if embedded.started:  # not the database of a server that is running
            await asyncio.to_thread(embedded.stop)


def _run(coro: Any) -> None:
    """Run on uvloop (a libuv event loop: markedly less overhead per request than
    asyncio's pure-Python loop) where it is installed, else on asyncio's."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(coro)
    else:
        uvloop.run(coro)


def _serve_from_parent(runner: Any, channel: socket.socket,
                       stop: asyncio.Event) -> HandedConnections:
    """Serve the connections the parent hands over, and tell it of each one closed;
    stop if the parent goes away."""
    from rekor_py.balancer import HandedConnections

    server = runner.server
    handed = HandedConnections(channel, server, stop.set)
    forget = server.connection_lost

    def connection_lost(handler: Any, exc: BaseException | None) -> None:
        forget(handler, exc)
        handed.closed()

    # aiohttp's server has no hook for a closed connection; its handlers call this.
    server.connection_lost = connection_lost
    return handed


def _worker(settings: Settings, channel: socket.socket) -> None:
    from rekor_py.observability.logs import configure_logging

    configure_logging(settings.log_format)
    _run(_serve(settings, channel))


def _serve_workers(settings: Settings) -> int:
    """Parent of --workers N: brings up the database, key and tree once, then runs N
    children on one port; the tree's row lock keeps them building one tree."""
    from rekor_py.storage.embedded import EmbeddedPostgres

    embedded = None
    dsn, admin_dsn = settings.database_url, settings.migrate_database_url
    if dsn is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        embedded = EmbeddedPostgres(settings.data_dir / "postgres", fsync=settings.fsync)
        admin_dsn = embedded.start()
        dsn = embedded.server_dsn()
    try:
        # Each worker verifies entries in its own pool: share the cores among them.
        child = settings.replace(database_url=dsn, migrate_database_url=admin_dsn, workers=1,
                                 verify_workers=settings.verify_pool_size)
        asyncio.run(_prepare(child))
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        # One /metrics for all workers: each keeps its values in files here, and a
        # scrape (on whichever worker) sums them (observability/metrics.py).
        metrics_dir = tempfile.mkdtemp(prefix="rekor-py-metrics-")
        os.environ[MULTIPROC_ENV] = metrics_dir
        try:
            return _balanced(child, settings.workers, stop)
        finally:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    finally:
        if embedded is not None:
            embedded.stop()


# A worker that dies this soon after its start, this many times in a row, is not
# restarted again: something is wrong that a restart will not mend (a bad key, a
# database refusing it), and the whole server exits instead of spinning.
_QUICK_DEATH_S = 10.0
_MAX_QUICK_DEATHS = 5


def _balanced(child: Settings, workers: int, stop: threading.Event) -> int:
    """The parent listens on the port and shares the connections out among the
    workers (rekor_py/balancer.py); the exit code."""
    from rekor_py.balancer import Balancer, open_listeners

    try:
        listeners = open_listeners(child.host, child.port)
    except OSError as e:
        log.error("cannot listen on %s:%d: %s", child.host, child.port, e)
        return 1
    balancer = Balancer(listeners, workers)
    failed: list[bool] = []
    thread = threading.Thread(target=_balance, args=(balancer, stop, failed),
                              name="rekor-py-accept", daemon=True)
    thread.start()
    port = listeners[0].getsockname()[1]
    log.info("listening on http://%s:%d; connections go to the worker with the fewest",
             child.host, port)

    def stop_accepting() -> None:
        balancer.close()
        thread.join(10)

    try:
        supervised = _supervise(child, workers, stop, balancer.attach, stop_accepting)
        return 0 if supervised and not failed else 1
    finally:
        stop_accepting()


def _balance(balancer: Balancer, stop: threading.Event, failed: list[bool]) -> None:
    try:
        balancer.run()
    except Exception:  # the server cannot take connections any more: stop it, exit 1
        log.exception("the connection balancer failed")
        failed.append(True)
        stop.set()


def _supervise(child: Settings, workers: int, stop: threading.Event,
               attach: Callable[[int, socket.socket], None],
               stop_accepting: Callable[[], None]) -> bool:
    """Run `workers` worker processes until `stop` (True); a worker that dies is restarted.

    A worker can die at any moment (SIGKILL, the OOM killer, a crash in C): the
    others keep serving the port meanwhile, and since a batch is acknowledged only
    after it committed, nothing it acknowledged is lost.  Gives up, stopping all,
    after _MAX_QUICK_DEATHS deaths in a row within _QUICK_DEATH_S of their start
    (False).
    """
    ctx = multiprocessing.get_context("spawn")

    def spawn(i: int) -> tuple[Any, float]:
        from rekor_py.balancer import channel_pair

        ours, theirs = channel_pair()
        proc = ctx.Process(target=_worker, args=(child, theirs), name=f"rekor-py-worker-{i}")
        try:
            proc.start()
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()  # the worker has its own copy
        attach(i, ours)
        return proc, time.monotonic()

    procs = [spawn(i) for i in range(workers)]
    quick_deaths = 0
    try:
        while not stop.wait(0.5):
            for i, (proc, started) in enumerate(procs):
                if proc.is_alive():
                    continue
                quick = time.monotonic() - started < _QUICK_DEATH_S
                quick_deaths = quick_deaths + 1 if quick else 0
                if quick_deaths >= _MAX_QUICK_DEATHS:
                    log.error("worker %d exited (code %s) %d times in a row within %.0f s "
                              "of starting; stopping", i, proc.exitcode, quick_deaths,
                              _QUICK_DEATH_S)
                    return False
                log.warning("worker %d (pid %s) exited with code %s; starting a new one",
                            i, proc.pid, proc.exitcode)
                _forget_metrics(proc.pid)
                procs[i] = spawn(i)
        return True
    finally:
        stop_accepting()  # no new connection goes to a worker that is stopping
        for proc, _ in procs:
            if proc.is_alive():
                proc.terminate()
        for proc, _ in procs:
            proc.join(30)


def _forget_metrics(pid: int | None) -> None:
    """A dead worker's gauges no longer count (its counters still do)."""
    if pid is not None and os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


async def _prepare(settings: Settings) -> None:
    """Open and close the log once: migrations, key file and tree exist afterwards."""
    from rekor_py.server import open_log

    runtime = await open_log(settings, writable=False)
    await runtime.close()
