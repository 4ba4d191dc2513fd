"""Connections shared out evenly among the worker processes of `serve --workers N`.

Each worker process runs its own event loop, so a connection is served by the one
process that holds it, for as long as it stays open.  Letting the kernel pick
(SO_REUSEPORT) hashes each connection's addresses: with few long-lived
connections, the usual case behind a proxy or with clients that keep their
connections alive, the split is uneven (32 connections came out 20/12 and 12/20 as
often as 16/16), and the process with more of them answers each request later
while the other waits for work.  Here the parent process listens and accepts, and
passes each connection (its file descriptor, over a Unix socket) to the worker that
holds the fewest open connections at that moment.  Only the connection moves; its
requests and answers never pass through the parent.

The protocol on each worker's channel (SOCK_SEQPACKET, one message per event):
parent to worker, a message "c" carrying an accepted socket (SCM_RIGHTS); worker to
parent, "r" once it serves (no connection is handed to a worker before), "xN" when
it has closed N connections, and "s" when it stops (it takes no more).  A worker that
dies closes its end: the parent stops counting it, and the supervisor attaches its
successor.  Connections that no worker can take at the moment wait in the parent
(up to _MAX_WAITING) for the next worker that says "r".
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import selectors
import socket
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["Balancer", "HandedConnections", "channel_pair", "open_listeners"]

log = logging.getLogger(__name__)

_READY = b"r"
_CLOSED = b"x"
_STOPPING = b"s"
_CONNECTIONS = b"c"
# Accepted connections held while no worker can take one (all restarting, or every
# channel full); beyond this, new ones are closed.
_MAX_WAITING = 1024
# Connections accepted in one go, and descriptors read from one message at most.
_MAX_FDS = 32
_BACKLOG = 1024


def open_listeners(host: str, port: int) -> list[socket.socket]:
    """Sockets bound to every address `host` resolves to, as asyncio's create_server
    binds them (IPv6 sockets IPv6-only, SO_REUSEADDR, no SO_REUSEPORT: no other
    process may share the port).  They listen from the first worker's start on
    (Balancer): until then a client is refused, as by a server not yet up.
    Raises OSError (a port taken)."""
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                               flags=socket.AI_PASSIVE)
    listeners: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(infos):
            try:
                sock = socket.socket(family, kind, proto)
            except OSError as e:
                if e.errno == errno.EAFNOSUPPORT:
                    continue  # e.g. IPv6 turned off in the kernel, as asyncio skips it
                raise
            listeners.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            # With port 0, every address on the one port the first one got.
            sock.bind((address[0], port, *address[2:]))
            port = sock.getsockname()[1]
        if not listeners:
            raise OSError(errno.EAFNOSUPPORT, f"no address of {host!r} can be bound here")
    except OSError:
        for sock in listeners:
            sock.close()
        raise
    return listeners


def channel_pair() -> tuple[socket.socket, socket.socket]:
    """(the parent's end, the worker's end) of a worker's channel."""
    return socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)


class Balancer:
    """The parent's side: accepts on `listeners` and hands each connection to the
    ready worker with the fewest open connections (the lowest slot on a tie).

    `run` loops in a thread of its own until `close`; `attach` gives slot `i` a new
    worker's channel (its predecessor's, if any, is dropped)."""

    def __init__(self, listeners: list[socket.socket], slots: int) -> None:
        self._listeners = listeners
        self._channels: list[socket.socket | None] = [None] * slots
        self._ready = [False] * slots
        self._open = [0] * slots
        self._selector = selectors.DefaultSelector()
        self._lock = threading.Lock()
        self._attached: list[tuple[int, socket.socket]] = []
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, ("wake", -1))
        self._listening = False
        self._closed = False
        self._waiting: list[socket.socket] = []

    def open_connections(self) -> list[int]:
        """Connections each slot's worker holds, as far as the parent knows."""
        return list(self._open)

    def ready_slots(self) -> list[int]:
        """The slots whose worker has said it serves."""
        return [i for i, ready in enumerate(self._ready) if ready]

    def attach(self, slot: int, channel: socket.socket) -> None:
        """Called from any thread: slot `slot`'s worker is now the one on `channel`."""
        with self._lock:
            if self._closed:
                channel.close()
                return
            self._attached.append((slot, channel))
        self._wake()

    def close(self) -> None:
        """Stop accepting (the listeners close) and end `run`."""
        with self._lock:
            self._closed = True
        self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"w")

    def run(self) -> None:
        try:
            for sock in self._listeners:
                sock.setblocking(False)
            while not self._closed:
                # Handling one event can void a later one of the same batch (a
                # worker detached, the listeners unregistered): each is checked.
                for key, _ in self._selector.select():
                    kind, slot = key.data
                    if kind == "wake":
                        self._drain_wakes()
                    elif kind == "listener":
                        if self._listening:
                            self._accept(key.fileobj)  # type: ignore[arg-type]
                    elif self._channels[slot] is key.fileobj:
                        self._from_worker(slot)
        finally:
            for sock in self._listeners + self._waiting:
                sock.close()
            for channel in self._channels:
                if channel is not None:
                    channel.close()
            with self._lock:
                for _, channel in self._attached:
                    channel.close()
            self._selector.close()
            self._wake_r.close()
            self._wake_w.close()

    def _drain_wakes(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while self._wake_r.recv(4096):
                pass
        with self._lock:
            attached, self._attached = self._attached, []
        for slot, channel in attached:
            self._detach(slot)
            channel.setblocking(False)
            self._channels[slot] = channel
            self._selector.register(channel, selectors.EVENT_READ, ("worker", slot))

    def _detach(self, slot: int) -> None:
        channel = self._channels[slot]
        if channel is not None:
            self._selector.unregister(channel)
            channel.close()
        self._channels[slot] = None
        self._ready[slot] = False
        self._open[slot] = 0
        self._listen_while_any_ready()

    def _listen_while_any_ready(self) -> None:
        """Accept only while some worker can take the connection: meanwhile the
        kernel's backlog holds new connections (none is accepted and dropped)."""
        want = any(self._ready)
        if want == self._listening:
            return
        for sock in self._listeners:
            if want:
                sock.listen(_BACKLOG)  # the first time: until now, connections were refused
                self._selector.register(sock, selectors.EVENT_READ, ("listener", -1))
            else:
                self._selector.unregister(sock)
        self._listening = want

    def _from_worker(self, slot: int) -> None:
        while True:
            channel = self._channels[slot]
            if channel is None:
                return  # detached by the message before
            try:
                message = channel.recv(16)
            except BlockingIOError:
                return
            except OSError:
                message = b""
            if not message:  # the worker is gone; the supervisor replaces it
                self._detach(slot)
                return
            if message == _READY:
                self._ready[slot] = True
                self._listen_while_any_ready()
                waiting, self._waiting = self._waiting, []
                for conn in waiting:
                    self._place(conn)
            elif message == _STOPPING:
                self._ready[slot] = False
                self._listen_while_any_ready()
            elif message[:1] == _CLOSED:
                self._open[slot] = max(0, self._open[slot] - int(message[1:]))

    def _accept(self, listener: socket.socket) -> None:
        accepted: list[socket.socket] = []
        try:
            while len(accepted) < _MAX_FDS:
                try:
                    conn, _ = listener.accept()
                except (BlockingIOError, InterruptedError):
                    break
                except OSError as e:  # e.g. EMFILE, or a connection reset in the backlog
                    log.warning("accept failed: %s", e)
                    break
                accepted.append(conn)
        finally:
            for conn in accepted:
                self._place(conn)

    def _place(self, conn: socket.socket) -> None:
        """Hand `conn` over and close the parent's copy, or keep it waiting."""
        if self._hand_over(conn):
            conn.close()  # the parent's copy: the worker holds its own
        elif len(self._waiting) < _MAX_WAITING:
            self._waiting.append(conn)
        else:
            log.warning("no worker can take a connection, and %d wait already: closed",
                        len(self._waiting))
            conn.close()

    def _hand_over(self, conn: socket.socket) -> bool:
        candidates = sorted(self.ready_slots(), key=lambda i: self._open[i])
        for slot in candidates:
            channel = self._channels[slot]
            if channel is None:
                continue  # detached while trying an earlier candidate
            try:
                socket.send_fds(channel, [_CONNECTIONS], [conn.fileno()])
            except ConnectionError:  # the worker is gone
                self._detach(slot)
                continue
            except OSError:
                # Its channel is full (it has not read it for long) or the kernel
                # refused for now (ETOOMANYREFS, ENOBUFS): try the next worker.
                continue
            self._open[slot] += 1
            return True
        return False


# ---- the worker's side ------------------------------------------------------------------


class HandedConnections:
    """A worker's side, in its event loop: serves each connection the parent hands
    over with `protocol_factory` (an aiohttp server), and calls `on_parent_gone` if
    the channel closes.  The server calls `closed()` for each connection it closes,
    and `stopping()` once it takes no more."""

    def __init__(self, channel: socket.socket, protocol_factory: Callable[[], Any],
                 on_parent_gone: Callable[[], None]) -> None:
        self._loop = asyncio.get_running_loop()
        self._channel = channel
        self._factory = protocol_factory
        self._on_parent_gone = on_parent_gone
        self._tasks: set[asyncio.Task[Any]] = set()
        # Closes not yet told: a burst of them can fill the channel, and the parent
        # must still learn every one, or it counts this worker fuller than it is.
        self._unreported = 0
        self._writer = False
        self._reading = True
        channel.setblocking(False)
        self._loop.add_reader(channel.fileno(), self._readable)
        channel.send(_READY)

    def closed(self) -> None:
        self._unreported += 1
        self._report()

    def stopping(self) -> None:
        """Take no more connections (those the parent sent meanwhile are dropped)."""
        self._stop_reading()
        with contextlib.suppress(OSError):
            self._channel.send(_STOPPING)

    def _report(self) -> None:
        try:
            self._channel.send(_CLOSED + b"%d" % self._unreported)
        except BlockingIOError:
            if not self._writer:  # told once the channel has room
                self._writer = True
                self._loop.add_writer(self._channel.fileno(), self._writable)
            return
        except OSError:
            return  # the parent is gone: _readable stops this worker
        self._unreported = 0

    def _writable(self) -> None:
        self._loop.remove_writer(self._channel.fileno())
        self._writer = False
        if self._unreported:
            self._report()

    def _stop_reading(self) -> None:
        if self._reading:
            self._reading = False
            self._loop.remove_reader(self._channel.fileno())

    async def _adopt(self, sock: socket.socket) -> None:
        try:
            await self._loop.connect_accepted_socket(self._factory, sock)
        except Exception as e:  # noqa: BLE001 - one connection's failure, not the worker's
            log.warning("could not serve a handed-over connection: %s", e)
            sock.close()
            self.closed()

    def _readable(self) -> None:
        while self._reading:
            try:
                message, fds, _, _ = socket.recv_fds(self._channel, 16, _MAX_FDS)
            except BlockingIOError:
                return
            except OSError:
                message, fds = b"", []
            if not message and not fds:
                self._stop_reading()
                self._on_parent_gone()
                return
            for fd in fds:
                task = self._loop.create_task(self._adopt(socket.socket(fileno=fd)))
                self._tasks.add(task)  # held until done: the loop keeps weak references
                task.add_done_callback(self._tasks.discard)
