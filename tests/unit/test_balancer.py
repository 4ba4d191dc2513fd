"""The parent's connection balancer (rekor_py/balancer.py) with real sockets: worker
channels are socketpairs held by this test, clients are real TCP connections."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from rekor_py.balancer import Balancer, channel_pair, open_listeners

_WAIT = 5.0


class _Worker:
    """A worker's end of its channel, as the test plays it."""

    def __init__(self, balancer: Balancer, slot: int, *, ready: bool = True) -> None:
        ours, self.channel = channel_pair()
        self.channel.settimeout(_WAIT)
        balancer.attach(slot, ours)
        self.held: list[socket.socket] = []
        self._balancer, self._slot = balancer, slot
        if ready:
            self.ready()

    def ready(self) -> None:
        """Say "ready", and wait until the balancer (in its thread) has read it."""
        self.channel.send(b"r")
        assert _eventually(lambda: self._slot in self._balancer.ready_slots())

    def take(self) -> socket.socket:
        """The next connection the parent hands over."""
        message, fds, _, _ = socket.recv_fds(self.channel, 16, 32)
        assert message == b"c" and len(fds) == 1
        conn = socket.socket(fileno=fds[0])
        self.held.append(conn)
        return conn

    def nothing_handed(self) -> bool:
        self.channel.settimeout(0.3)
        try:
            socket.recv_fds(self.channel, 16, 32)
        except TimeoutError:
            return True
        finally:
            self.channel.settimeout(_WAIT)
        return False

    def close_one(self) -> None:
        self.held.pop().close()
        self.channel.send(b"x1")


@pytest.fixture
def balancer() -> Iterator[tuple[Balancer, int]]:
    listeners = open_listeners("127.0.0.1", 0)
    port = listeners[0].getsockname()[1]
    b = Balancer(listeners, 2)
    thread = threading.Thread(target=b.run, daemon=True)
    thread.start()
    yield b, port
    b.close()
    thread.join(_WAIT)
    assert not thread.is_alive()


def _connect(port: int, clients: list[socket.socket]) -> socket.socket:
    """A client connection; the port listens once the balancer has read a worker's
    "ready", which it does in its own thread."""
    deadline = time.monotonic() + _WAIT
    while True:
        try:
            client = socket.create_connection(("127.0.0.1", port), timeout=_WAIT)
        except ConnectionRefusedError:
            assert time.monotonic() < deadline
            time.sleep(0.01)
            continue
        clients.append(client)
        return client


def _close(clients: list[socket.socket], *workers: _Worker | None) -> None:
    for s in clients:
        s.close()
    for w in workers:
        if w is not None:
            for s in w.held:
                s.close()
            w.channel.close()


def _eventually(check: Callable[[], bool]) -> bool:
    """Whether `check` holds within _WAIT: the balancer acts in its own thread."""
    deadline = time.monotonic() + _WAIT
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def _counts(b: Balancer, expected: list[int]) -> bool:
    """Whether the balancer comes to count `expected` open connections."""
    return _eventually(lambda: b.open_connections() == expected)


def _peer_of(server_side: socket.socket) -> int:
    return int(server_side.getpeername()[1])


def test_connections_go_to_the_worker_with_fewest(balancer: tuple[Balancer, int]) -> None:
    b, port = balancer
    workers = [_Worker(b, 0), _Worker(b, 1)]
    clients: list[socket.socket] = []
    try:
        # Alternating: each new connection goes where fewer are open.
        for i in range(8):
            client = _connect(port, clients)
            got = workers[i % 2].take()
            assert _peer_of(got) == client.getsockname()[1]
        assert _counts(b, [4, 4])
        # The handed-over socket is the client's connection itself.
        clients[0].sendall(b"ping")
        assert workers[0].held[0].recv(4) == b"ping"
        # Worker 1 closes three: the next three connections all go to it.
        for _ in range(3):
            workers[1].close_one()
        assert _counts(b, [4, 1])
        for _ in range(3):
            _connect(port, clients)
            workers[1].take()
        assert workers[0].nothing_handed()
        assert _counts(b, [4, 4])
    finally:
        _close(clients, *workers)


def test_clients_are_refused_until_a_worker_is_ready(balancer: tuple[Balancer, int]) -> None:
    """As by a server not yet up: a client waiting for the port to answer knows that
    it is served once it connects."""
    b, port = balancer
    late = _Worker(b, 0, ready=False)
    clients: list[socket.socket] = []
    try:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=_WAIT).close()
        assert late.nothing_handed()
        late.ready()
        client = _connect(port, clients)
        assert _peer_of(late.take()) == client.getsockname()[1]
    finally:
        _close(clients, late)


def test_a_dead_worker_gets_no_connections_and_its_successor_does(
        balancer: tuple[Balancer, int]) -> None:
    b, port = balancer
    first, other = _Worker(b, 0), _Worker(b, 1)
    successor = None
    clients: list[socket.socket] = []
    try:
        _connect(port, clients)
        first.take()
        first.channel.close()  # the worker died
        assert _eventually(lambda: b.ready_slots() == [1])  # it reads the channel's end
        for _ in range(3):
            _connect(port, clients)
            other.take()
        successor = _Worker(b, 0)
        for _ in range(3):  # the successor holds none: it takes the next three
            _connect(port, clients)
            successor.take()
        assert _counts(b, [3, 3])
    finally:
        _close(clients, first, other, successor)


def test_a_taken_port_is_an_error_at_once() -> None:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    try:
        with pytest.raises(OSError):
            open_listeners("127.0.0.1", holder.getsockname()[1])
    finally:
        holder.close()


def test_a_stopping_worker_gets_none_and_closes_may_come_in_bulk(
        balancer: tuple[Balancer, int]) -> None:
    b, port = balancer
    first, second = _Worker(b, 0), _Worker(b, 1)
    clients: list[socket.socket] = []
    try:
        for i in range(4):
            _connect(port, clients)
            (first, second)[i % 2].take()
        first.channel.send(b"x2")  # two closes told at once
        assert _counts(b, [0, 2])
        first.channel.send(b"s")  # it stops: the emptier worker gets nothing more
        assert _eventually(lambda: b.ready_slots() == [1])
        for _ in range(2):
            _connect(port, clients)
            second.take()
        assert first.nothing_handed()
    finally:
        _close(clients, first, second)


def test_connections_wait_in_the_parent_for_the_next_ready_worker(
        balancer: tuple[Balancer, int]) -> None:
    """Accepted while a worker was ready, left with none (it stops, or dies): the
    connection is not dropped but handed to the next worker that is ready."""
    b, port = balancer
    only = _Worker(b, 0)
    successor = None
    clients: list[socket.socket] = []
    try:
        _connect(port, clients)
        only.take()
        only.channel.send(b"s")
        deadline = time.monotonic() + _WAIT
        while b.ready_slots():
            assert time.monotonic() < deadline
            time.sleep(0.005)
        waiting = _connect(port, clients)  # the port still listens: the backlog holds it
        assert only.nothing_handed()
        successor = _Worker(b, 1)
        assert _peer_of(successor.take()) == waiting.getsockname()[1]
    finally:
        _close(clients, only, successor)


def test_port_zero_is_one_port_for_every_address() -> None:
    listeners = open_listeners("", 0)  # every local address: IPv4 and, where there is one, IPv6
    try:
        assert len({s.getsockname()[1] for s in listeners}) == 1
        assert listeners[0].getsockname()[1] != 0
    finally:
        for s in listeners:
            s.close()
