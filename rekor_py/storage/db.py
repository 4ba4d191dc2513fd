"""Connections to PostgreSQL: the asyncpg pool and DSN helpers.

This module owns how rekor-py connects (pool settings, DSN rewriting) and the
small typed view of an asyncpg connection that the rest of storage/ codes
against.  asyncpg ships no type information, so `Connection` below lists just
the methods we call; an asyncpg connection or pool connection satisfies it.
What to run on a connection is log_store.py's business; the schema is
migrate.py's.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import asyncpg  # type: ignore[import-untyped]

__all__ = [
    "Connection",
    "Record",
    "create_pool",
    "split_hosts",
    "is_unavailable",
    "quote_ident",
    "to_sqlalchemy_url",
    "with_database",
]

# A result row: asyncpg.Record indexes by column name like a mapping.
Record = Mapping[str, Any]

_SCHEMES = ("postgresql://", "postgres://")

# What asyncpg raises while PostgreSQL is down, restarting or in recovery: the
# request may succeed if retried later, so it is a 503, not a 500 with a trace.
_UNAVAILABLE = (
    OSError,  # connection refused or reset
    asyncpg.exceptions.PostgresConnectionError,  # SQLSTATE class 08, a dropped connection
    asyncpg.exceptions.CannotConnectNowError,  # 57P03: starting up, shutting down
    asyncpg.exceptions.AdminShutdownError,  # 57P01: the server is stopping
    asyncpg.exceptions.CrashShutdownError,  # 57P02: another backend crashed
    # A multi-host URL with target_session_attrs=read-write while no host is the
    # primary (a failover in progress): a new primary is being promoted.
    asyncpg.exceptions.TargetServerAttributeNotMatched,
    # 25006: the server we are on is a standby now (a primary demoted under us).
    asyncpg.exceptions.ReadOnlySQLTransactionError,
)


def is_unavailable(error: BaseException) -> bool:
    """Whether `error`, or an error it was raised from or while handling, says the
    database cannot be reached now."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        e = pending.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, _UNAVAILABLE) or _is_broken_connection(e):
            return True
        pending += [e.__cause__, e.__context__]
    return False


def _is_broken_connection(error: BaseException) -> bool:
    # What asyncpg raises on a connection the server dropped mid-operation (a
    # shutdown's FATAL, a killed backend): "the underlying connection is closed",
    # or its protocol caught between states ("cannot switch to state 12; another
    # operation (2) is in progress", 2 being the error-consuming state).  The pool
    # discards such a connection; a retry gets a new one.
    if isinstance(error, asyncpg.exceptions.InternalClientError):
        return "cannot switch to state" in str(error)
    if isinstance(error, asyncpg.exceptions.InterfaceError):
        return "connection is closed" in str(error)
    return False


class Connection(Protocol):
    """The subset of asyncpg.Connection that storage/ uses."""

    async def execute(self, query: str, *args: object) -> str: ...

    async def fetch(self, query: str, *args: object) -> list[Record]: ...

    async def fetchrow(self, query: str, *args: object) -> Record | None: ...

    async def fetchval(self, query: str, *args: object) -> Any: ...

    async def copy_records_to_table(
        self,
        table_name: str,
        *,
        records: Iterable[Sequence[object]],
        columns: Sequence[str] | None = None,
    ) -> str: ...

    def is_in_transaction(self) -> bool: ...


async def _reset(conn: Any) -> None:
    """Nothing more to do before a connection goes back to the pool.

    asyncpg rolls back a transaction left open (a cancelled request) before it calls
    this, whatever it is (tests/integration/test_storage.py pins that).  Its default
    reset would then run `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL`: one more round trip per request, for session state this server never
    creates (its advisory locks are transaction-scoped, it declares no cursors,
    listens to nothing and sets nothing for the session).  Without it, 2 server
    processes spend about 10% less CPU per upload, PostgreSQL about 20% less."""


# How long one host of a multi-host URL may take to accept a connection before the
# next is tried.  asyncpg's own timeout covers the whole list: a primary that vanished
# from the network (its SYNs dropped, not refused) would use it all, and the hosts
# after it, the new primary among them, would never be tried.
CONNECT_TIMEOUT_S = 3.0
# How long sent data may stay unacknowledged, and how soon an idle connection is
# probed, before the kernel drops the connection.  Without them a connection to a
# primary cut off by a partition hangs (a commit waiting forever for its answer) until
# the command timeout; with them it fails within seconds, the request gets a 503 and
# the pool connects again, to whichever host is the primary now.
TCP_USER_TIMEOUT_MS = 5000
_KEEPALIVE_IDLE_S, _KEEPALIVE_INTERVAL_S, _KEEPALIVE_COUNT = 2, 1, 3


def split_hosts(dsn: str) -> list[str]:
    """One single-host DSN per host of a multi-host `dsn`, in its order (the same
    user, database and parameters); a single-host `dsn` comes back alone."""
    parts = urlsplit(dsn)
    userinfo, at, hosts = parts.netloc.rpartition("@")
    if "," not in hosts:
        return [dsn]
    scheme = dsn.split("://", 1)[0]
    return [f"{scheme}://{userinfo}{at}{host}{parts.path}" + (f"?{parts.query}" if parts.query else "")
            for host in hosts.split(",")]


def _with_attrs(dsn: str, attrs: str) -> str:
    parts = urlsplit(dsn)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "target_session_attrs"]
    return urlunsplit(parts._replace(query=urlencode([*query, ("target_session_attrs", attrs)])))


def _session_attrs(dsn: str) -> str:
    return dict(parse_qsl(urlsplit(dsn).query)).get("target_session_attrs", "any")


async def _connect_host_by_host(dsn: str, **kwargs: Any) -> Any:
    """asyncpg.connect over the hosts of `dsn` one at a time, each with its own
    CONNECT_TIMEOUT_S; the first that matches target_session_attrs wins.  For
    prefer-standby, a first round asks for a standby, a second takes any host."""
    hosts = split_hosts(dsn)
    attrs = _session_attrs(dsn)
    rounds = ["standby", "any"] if attrs == "prefer-standby" else [attrs]
    last: BaseException | None = None
    for wanted in rounds:
        for host in hosts:
            try:
                return await asyncpg.connect(_with_attrs(host, wanted),
                                             timeout=CONNECT_TIMEOUT_S, **kwargs)
            except (OSError, TimeoutError, asyncpg.exceptions.TargetServerAttributeNotMatched,
                    asyncpg.exceptions.PostgresConnectionError,
                    asyncpg.exceptions.CannotConnectNowError) as e:
                last = e
    assert last is not None
    raise last


async def _init_connection(conn: Any) -> None:
    """Bound how long the kernel keeps a connection whose peer went silent."""
    # asyncpg exposes no socket option of its own; its transport holds the socket.
    transport = getattr(conn, "_transport", None)
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is None or sock.family != socket.AF_INET and sock.family != socket.AF_INET6:
        return
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    if hasattr(socket, "TCP_USER_TIMEOUT"):  # Linux
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, TCP_USER_TIMEOUT_MS)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, _KEEPALIVE_IDLE_S)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, _KEEPALIVE_INTERVAL_S)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, _KEEPALIVE_COUNT)


async def create_pool(
    dsn: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    command_timeout: float | None = 60.0,
) -> asyncpg.Pool:
    """Open a connection pool to `dsn` (a postgresql:// URL).

    Requires 0 <= min_size <= max_size, max_size >= 1.  Raises OSError or an
    asyncpg error when the server cannot be reached.
    """
    if not 0 <= min_size <= max_size or max_size < 1:
        raise ValueError(f"bad pool size: min_size={min_size} max_size={max_size}")
    multi_host = len(split_hosts(dsn)) > 1
    pool: asyncpg.Pool = await _Pool(
        dsn,
        connection_class=asyncpg.Connection,
        record_class=asyncpg.Record,
        # asyncpg.create_pool's defaults.
        max_queries=50_000,
        max_inactive_connection_lifetime=300.0,
        loop=None,
        # A multi-host URL (a replicated cluster): one host at a time, see above.
        connect=_connect_host_by_host if multi_host else None,
        init=_init_connection,
        min_size=min_size,
        max_size=max_size,
        reset=_reset,
        command_timeout=command_timeout,
        server_settings={
            # Shows up in pg_stat_activity, so an operator can tell our sessions apart.
            "application_name": "rekor-py",
            # Our queries are small, indexed lookups: JIT compilation would only
            # add latency to them.
            "jit": "off",
        },
    )
    return pool


class _Pool(asyncpg.Pool):  # type: ignore[misc]
    """asyncpg's pool, handing out and taking back an idle connection without awaiting.

    asyncpg's release always runs in a task of its own (asyncio.shield, so that a
    cancelled caller still gives the connection back) and its acquire goes through
    two coroutines: about 25 us of CPU per use, measured around one query, paid by
    every request.  When there is nothing to wait for (a connected idle holder; on
    release, no transaction left open, no cancellation in flight, our no-op reset)
    both are done at once with the very steps asyncpg takes; with nothing awaited,
    no cancellation can cut them short.  Anything else goes the usual way."""

    # False once an asyncpg whose internals differ from these steps was met: its own
    # way from then on (an AttributeError below happens before anything is changed).
    _quick = True

    async def _acquire(self, timeout: float | None) -> Any:  # noqa: ASYNC109 - asyncpg's
        if (self._quick and timeout is None and not self._closing and self._initialized
                and not self._queue.empty()):
            holder = self._queue.get_nowait()
            try:
                con = holder._con
                ready = (con is not None and not con.is_closed() and holder._setup is None
                         and holder._generation == self._generation)
                cancel_timer = holder._maybe_cancel_inactive_callback
            except AttributeError:
                _Pool._quick = ready = False
            if ready:
                cancel_timer()
                holder._proxy = proxy = asyncpg.pool.PoolConnectionProxy(holder, con)
                holder._in_use = self._loop.create_future()
                holder._timeout = None
                return proxy
            self._queue.put_nowait(holder)  # to be connected the usual way
        return await super()._acquire(timeout)

    # asyncpg's signature, timeout included.
    async def release(self, connection: Any, *, timeout: float | None = None) -> None:  # noqa: ASYNC109
        if self._quick and timeout is None and type(connection) is asyncpg.pool.PoolConnectionProxy:
            try:
                holder, con = connection._holder, connection._con
                idle = (con is not None and holder._pool is self and self._reset is _reset
                        and not con.is_closed() and holder._timeout is None
                        and not con._protocol._is_cancelling()
                        and not con._protocol.is_in_transaction() and con._top_xact is None
                        and not con._listeners and not con._log_listeners
                        and con._protocol.queries_count < holder._max_queries
                        and holder._generation == self._generation)
                steps = ((con._on_release, holder._release, holder._setup_inactive_callback)
                         if idle else ())
            except AttributeError:
                _Pool._quick, steps = False, ()
            if steps:
                self._check_init()
                for step in steps:
                    step()
                return
        await super().release(connection, timeout=timeout)


def with_database(dsn: str, database: str) -> str:
    """Return `dsn` with its database name replaced by `database`."""
    _check_scheme(dsn)
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + quote(database, safe="")))


def to_sqlalchemy_url(dsn: str) -> str:
    """Turn a postgresql:// DSN into the URL of SQLAlchemy's asyncpg dialect.

    A multi-host DSN (`user@h1:p1,h2:p2/db`, what libpq and asyncpg take for a
    replicated cluster) has no place in SQLAlchemy's URL, which holds one host: its
    asyncpg dialect takes the hosts as repeated `host=` query parameters instead.
    """
    _check_scheme(dsn)
    rest = dsn.split("://", 1)[1]
    netloc, sep, tail = rest.partition("/")
    userinfo, at, hosts = netloc.rpartition("@")
    if "," not in hosts:
        return "postgresql+asyncpg://" + rest
    path, _, query = tail.partition("?")
    host_params = "&".join("host=" + quote(h, safe=":[]") for h in hosts.split(","))
    query = host_params + ("&" + query if query else "")
    return f"postgresql+asyncpg://{userinfo}{at}/{path}?{query}"


def quote_ident(name: str) -> str:
    """Quote an SQL identifier (for DDL, where parameters cannot be bound)."""
    if "\x00" in name:
        raise ValueError("identifier contains NUL")
    return '"' + name.replace('"', '""') + '"'


def _check_scheme(dsn: str) -> None:
    if not dsn.startswith(_SCHEMES):
        # Never echo the DSN: it may carry a password.
        raise ValueError("database URL must start with postgresql:// or postgres://")
