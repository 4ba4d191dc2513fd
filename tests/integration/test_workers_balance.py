"""serve --workers 2 shares the connections out evenly, whatever their addresses.

The parent accepts and hands each connection to the worker holding the fewest
(rekor_py/balancer.py).  Which worker holds a connection is read from the kernel:
/proc/net/tcp names each established socket's ports and inode, /proc/PID/fd which
process holds that inode.  With SO_REUSEPORT (the kernel hashing each connection's
ports), 16 connections split 8/8 only about one time in five.
"""

from __future__ import annotations

import http.client
import os
import time
from pathlib import Path

from tests.integration.load import ServeProcess
from tests.integration.logserver import free_port

_LISTEN = "0A"


def _workers(parent: int) -> list[int]:
    """The serving workers of a `serve --workers` parent (not multiprocessing's
    resource tracker)."""
    found = []
    for child in Path(f"/proc/{parent}/task/{parent}/children").read_text().split():
        try:
            if b"resource_tracker" not in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(int(child))
        except FileNotFoundError:
            continue
    return found


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except FileNotFoundError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def _held(pids: list[int], port: int) -> dict[int, set[int]]:
    """For each pid, the client ports of the connections to `port` it holds open (in
    any state: one the client closed stays in CLOSE_WAIT until the worker closes it)."""
    by_inode: dict[str, int] = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
        if state != _LISTEN and int(local.split(":")[1], 16) == port:
            by_inode[inode] = int(remote.split(":")[1], 16)
    return {pid: {by_inode[i] for i in _socket_inodes(pid) if i in by_inode} for pid in pids}


def _open(port: int) -> tuple[http.client.HTTPConnection, int]:
    """A kept-alive connection that has had one answer; its client port."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/api/v1/log")
    response = conn.getresponse()
    response.read()
    assert response.status == 200
    assert conn.sock is not None
    return conn, conn.sock.getsockname()[1]


def _until(check: object, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_connections_are_shared_evenly_and_refill_the_emptier_worker(
        database_url: str, tmp_path: Path) -> None:
    port = free_port()
    server = ServeProcess(database_url, tmp_path, port, extra_args=("--workers", "2"))
    conns: dict[int, http.client.HTTPConnection] = {}
    try:
        server.start()
        assert server.proc is not None
        _until(lambda: server.log_path.read_text().count("rekor-py serving tree") == 2,
               "both workers serving")
        workers = _workers(server.proc.pid)
        assert len(workers) == 2
        for _ in range(16):
            conn, client_port = _open(port)
            conns[client_port] = conn
        held = _held(workers, port)
        assert set().union(*held.values()) == set(conns)
        assert sorted(len(h) for h in held.values()) == [8, 8], held
        # Five of one worker's connections close: the next five all go to it.
        emptier, fuller = workers
        for client_port in sorted(held[emptier])[:5]:
            conns.pop(client_port).close()
        _until(lambda: len(_held(workers, port)[emptier]) == 3, "the worker closed them")
        time.sleep(1.0)  # the parent reads the worker's "closed" note, sent at the close
        fresh = set()
        for _ in range(5):
            conn, client_port = _open(port)
            conns[client_port] = conn
            fresh.add(client_port)
        held = _held(workers, port)
        assert fresh <= held[emptier], held
        assert len(held[emptier]) == len(held[fuller]) == 8
    finally:
        for conn in conns.values():
            conn.close()
        server.stop()
