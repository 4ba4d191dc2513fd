"""Running real log servers for the integration tests.

`start_log` opens a log on a test database and serves it over real HTTP on a
free loopback port (in this process, on the test's event loop);
`spawn_serve` runs `rekor-py serve` as a separate OS process.  Both use the
same data dir (so the same log key) when handed the same one.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from rekor_py.app import create_app
from rekor_py.config import Settings
from rekor_py.server import LogRuntime, open_log


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RunningLog:
    url: str
    settings: Settings
    runtime: LogRuntime
    runner: web.AppRunner

    async def stop(self) -> None:
        await self.runner.cleanup()
        await self.runtime.close()


def log_settings(database_url: str, data_dir: Path, **overrides: Any) -> Settings:
    port = free_port()
    base = Settings(host="127.0.0.1", port=port, data_dir=data_dir, database_url=database_url,
                    fsync=False, batch_max_delay_ms=2.0, pool_max_size=4)
    return base.replace(**overrides)


async def start_log(settings: Settings) -> RunningLog:
    runtime = await open_log(settings)
    runner = web.AppRunner(create_app(settings, runtime.service, runtime.v2), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.host, settings.port).start()
    return RunningLog(f"http://{settings.host}:{settings.port}", settings, runtime, runner)


def spawn_serve(database_url: str | None, data_dir: Path, port: int, *,
                log_dir: Path | None = None) -> subprocess.Popen[bytes]:
    """`python -m rekor_py serve` in its own process; waits until its port answers.
    No database_url: the embedded PostgreSQL in data_dir.  Its log goes to
    serve-<port>.log in log_dir (default data_dir)."""
    log_path = (log_dir or data_dir) / f"serve-{port}.log"
    database = [] if database_url is None else ["--database-url", database_url]
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "rekor_py", "serve", *database,
             "--data-dir", str(data_dir), "--port", str(port)],
            stdout=log_file, stderr=subprocess.STDOUT,
            env={**os.environ, "REKOR_PY_BATCH_MAX_DELAY_MS": "2"})
    try:
        wait_until(port_open(port), proc, log_path, "serve")
    except RuntimeError:
        proc.kill()
        raise
    return proc


def wait_until(ready: Callable[[], bool], proc: subprocess.Popen[bytes], log: Path, what: str,
               timeout: float = 60.0) -> None:
    """Poll `ready` until it holds; RuntimeError with the tail of `log` if `proc`
    exits first or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited: {log.read_text(errors='replace')[-3000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start within {timeout:.0f} s: "
                               f"{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.1)


def port_open(port: int) -> Callable[[], bool]:
    def check() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            return False
    return check


def http_ok(url: str) -> Callable[[], bool]:
    """Whether GET `url` answers 200."""
    def check() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return bool(r.status == 200)
        except OSError:
            return False
    return check


def signed_hashedrekord(artifact: bytes, key: ec.EllipticCurvePrivateKey | None = None
                        ) -> dict[str, Any]:
    """A valid hashedrekord 0.0.1 proposed entry: P-256 key, SHA-256 digest, DER signature."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    signature = key.sign(artifact, ec.ECDSA(hashes.SHA256()))
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    return {
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256",
                              "value": hashlib.sha256(artifact).hexdigest()}},
            "signature": {"content": base64.b64encode(signature).decode(),
                          "publicKey": {"content": base64.b64encode(pem).decode()}},
        },
    }


async def post_entry(session: aiohttp.ClientSession, url: str, proposed: Any
                     ) -> tuple[int, Any, aiohttp.typedefs.LooseHeaders]:
    async with session.post(f"{url}/api/v1/log/entries", json=proposed) as r:
        body = await r.json(content_type=None) if r.content_length != 0 else None
        return r.status, body, r.headers


async def wait_closed(proc: subprocess.Popen[bytes]) -> None:
    await asyncio.to_thread(proc.wait, 30)
