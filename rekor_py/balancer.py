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
parent to worker, a message "c" carrying accepted sockets (SCM_RIGHTS); worker to
parent, "r" once it serves (no connection is handed to a worker before), and one
"x" per connection it has closed.  A worker that dies closes its end: the parent
stops counting it, and the supervisor attaches its successor.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import selectors
import socket
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["Balancer", "open_listeners", "serve_handed_connections"]

log = logging.getLogger(__name__)

_READY = b"r"
_CLOSED = b"x"
_CONNECTIONS = b"c"
# Sockets passed in one message at most; a burst of connections goes in a few messages.
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
            sock = socket.socket(family, kind, proto)
            listeners.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            if port == 0:  # every address on the one port the first got
                port = sock.getsockname()[1]
                infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                           flags=socket.AI_PASSIVE)
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

    def open_connections(self) -> list[int]:
        """Connections each slot's worker holds, as far as the parent knows."""
        return list(self._open)

    def ready_slots(self) -> list[int]:
        """The slots whose worker has said it serves."""
        return [i for i, ready in enumerate(self._ready) if ready]

    def attach(self, slot: int, channel: socket.socket) -> None:
        """Called from any thread: slot `slot`'s worker is now the one on `channel`."""
        with self._lock:
            self._attached.append((slot, channel))
        self._wake()

    def close(self) -> None:
        """Stop accepting (the listeners close) and end `run`."""
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
                for key, _ in self._selector.select():
                    kind, slot = key.data
                    if kind == "wake":
                        self._drain_wakes()
                    elif kind == "listener":
                        self._accept(key.fileobj)  # type: ignore[arg-type]
                    else:
                        self._from_worker(slot)
        finally:
            for sock in self._listeners:
                sock.close()
            for channel in self._channels:
                if channel is not None:
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
        channel = self._channels[slot]
        assert channel is not None
        while True:
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
            elif message == _CLOSED:
                self._open[slot] = max(0, self._open[slot] - 1)

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
            for conn in accepted:
                self._hand_over(conn)
        finally:
            for conn in accepted:
                conn.close()  # the parent's copy: the worker holds its own

    def _hand_over(self, conn: socket.socket) -> None:
        candidates = sorted(self.ready_slots(), key=lambda i: self._open[i])
        for slot in candidates:
            channel = self._channels[slot]
            if channel is None:
                continue  # detached while trying an earlier candidate
            try:
                socket.send_fds(channel, [_CONNECTIONS], [conn.fileno()])
            except BlockingIOError:
                continue  # its channel is full (it has not read it for long): the next
            except OSError:
                self._detach(slot)
                continue
            self._open[slot] += 1
            return
        log.warning("no worker could take a connection; it is closed")


# ---- the worker's side ------------------------------------------------------------------


def serve_handed_connections(channel: socket.socket, protocol_factory: Callable[[], Any],
                             on_parent_gone: Callable[[], None]) -> Callable[[], None]:
    """In a worker's event loop: serve each connection the parent hands over with
    `protocol_factory` (an aiohttp server), tell the parent of each one closed, and
    call `on_parent_gone` if the channel closes.  Returns a function to call for each
    connection that closes (the protocol's manager calls it)."""
    loop = asyncio.get_running_loop()
    channel.setblocking(False)
    tasks: set[asyncio.Task[Any]] = set()

    def closed() -> None:
        with contextlib.suppress(OSError):
            channel.send(_CLOSED)

    async def adopt(sock: socket.socket) -> None:
        try:
            await loop.connect_accepted_socket(protocol_factory, sock)
        except Exception as e:  # noqa: BLE001 - one connection's failure, not the worker's
            log.warning("could not serve a handed-over connection: %s", e)
            sock.close()
            closed()

    def readable() -> None:
        while True:
            try:
                message, fds, _, _ = socket.recv_fds(channel, 16, _MAX_FDS)
            except BlockingIOError:
                return
            except OSError:
                message, fds = b"", []
            if not message and not fds:
                loop.remove_reader(channel.fileno())
                on_parent_gone()
                return
            for fd in fds:
                task = loop.create_task(adopt(socket.socket(fileno=fd)))
                tasks.add(task)  # held until done: the loop keeps weak references
                task.add_done_callback(tasks.discard)

    loop.add_reader(channel.fileno(), readable)
    channel.send(_READY)
    return closed
