"""Real clients written by others (rekor-cli, cosign, crane, sigstore-go, sigstore-js)
against a real `rekor-py serve` on a real PostgreSQL.

`interop_tools` runs install-clients.sh once per session (it builds each tool at a pinned
version into a cache, so later runs only look); `interop_log` serves one log per test
module in its own process.  Nothing here skips: a tool that cannot be installed fails the
tests that need it, with the installer's output.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

# The integration tests' PostgreSQL fixtures, shared by name (pytest finds fixtures
# through the conftest that imports them).
from tests.integration.conftest import (  # noqa: F401
    database_url_module,
    postgres_admin_dsn,
)
from tests.integration.logserver import free_port, spawn_serve

INSTALLER = Path(__file__).with_name("install-clients.sh")


@pytest.fixture(scope="session")
def interop_tools() -> dict[str, Path]:
    """Each client's name -> its executable (or, for sigstore-js, its install folder)."""
    done = subprocess.run(["bash", str(INSTALLER)], capture_output=True, text=True,
                          timeout=3600, check=False)
    if done.returncode != 0:
        pytest.fail(f"install-clients.sh failed ({done.returncode}):\n{done.stderr[-4000:]}")
    tools = {}
    for line in done.stdout.splitlines():
        name, _, path = line.partition("=")
        tools[name] = Path(path)
    return tools


@dataclass
class InteropLog:
    """A `rekor-py serve` process and what clients need to trust it."""

    url: str
    port: int
    data_dir: Path
    public_key_pem: Path  # the log's public key, as served at /api/v1/log/publicKey
    proc: subprocess.Popen[bytes]

    def log_info(self) -> dict[str, object]:
        r = requests.get(f"{self.url}/api/v1/log", timeout=10)
        r.raise_for_status()
        info: dict[str, object] = r.json()
        return info

    def tree_size(self) -> int:
        return int(str(self.log_info()["treeSize"]))

    def server_log(self) -> str:
        """What the server printed (for failure messages)."""
        return (self.data_dir / f"serve-{self.port}.log").read_text(errors="replace")[-4000:]


@pytest.fixture(scope="module")
def interop_log(database_url_module: str) -> Iterator[InteropLog]:  # noqa: F811
    data_dir = Path(tempfile.mkdtemp(prefix="rekor-py-interop-"))
    port = free_port()
    proc = spawn_serve(database_url_module, data_dir, port)
    url = f"http://127.0.0.1:{port}"
    try:
        pem = requests.get(f"{url}/api/v1/log/publicKey", timeout=10)
        pem.raise_for_status()
        key_path = data_dir / "rekor.pub"
        key_path.write_bytes(pem.content)
        yield InteropLog(url, port, data_dir, key_path, proc)
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(data_dir, ignore_errors=True)


def client_env(home: Path, **extra: str) -> dict[str, str]:
    """An environment for a Go or Node client: its own HOME (rekor-cli keeps state in
    ~/.rekor, cosign its TUF cache in ~/.sigstore), no proxy, and `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(HOME=str(home), **extra)
    return env
