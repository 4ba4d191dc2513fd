"""The package as users get it: a wheel built from the sdist, installed in a fresh venv.

The rest of the suite imports rekor_py from the checkout, which hides a file
the wheel forgot (the migrations, the OpenAPI document, ...).  Here
`python -m build` makes the sdist and, from it, the wheel; a new venv (no
system site-packages, so not the editable install either) gets the wheel and
its dependencies; and its `rekor-py migrate` and `rekor-py serve` run with the
working directory outside the checkout, against a test database, over real HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest

from rekor_py.storage.migrate import head_revision
from tests.integration.logserver import free_port, signed_hashedrekord

CHECKOUT = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    """The caller's environment without anything that would find the checkout's sources."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _run(args: list[str | Path], cwd: Path, timeout: float) -> str:
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=_env(), capture_output=True,
                          text=True, timeout=timeout, check=False)
    output = f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert done.returncode == 0, f"{args}: exit {done.returncode}\n{output}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`python -m build` of the checkout: sdist first, then the wheel built from the sdist."""
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--outdir", out, CHECKOUT], cwd=out, timeout=300)
    (whl,) = out.glob("rekor_py-*.whl")
    return whl


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding the wheel and its dependencies; returns its bin directory."""
    root = tmp_path_factory.mktemp("venv")
    _run([sys.executable, "-m", "venv", root], cwd=root, timeout=120)
    bin_dir = root / "bin"
    _run([bin_dir / "python", "-m", "pip", "install", "-q", wheel], cwd=root, timeout=600)
    return bin_dir


def test_wheel_carries_what_runs_and_the_license(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in ("rekor_py/py.typed", "rekor_py/_merkle.pyi", "rekor_py/api/openapi.yaml",
                 "rekor_py/migrations/env.py", "rekor_py/migrations/script.py.mako",
                 "rekor_py/migrations/versions/0001_initial.py",
                 # The web explorer, built by npm when the wheel was built: no Node at install.
                 "rekor_py/explorer/static/index.html", "rekor_py/explorer/static/explorer.js",
                 "rekor_py/explorer/static/explorer.css"):
        assert path in names, path
    assert any(n.startswith("rekor_py/_merkle.") and n.endswith(".so") for n in names), names
    (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    assert "License-Expression: Apache-2.0" in text.splitlines()
    (license_file,) = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
    license_text = zipfile.ZipFile(wheel).read(license_file)
    assert b"Apache License\n                           Version 2.0" in license_text


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A working directory that is not the checkout nor inside it."""
    assert not tmp_path.is_relative_to(CHECKOUT) and not CHECKOUT.is_relative_to(tmp_path)
    return tmp_path


async def test_installed_wheel_migrates_and_serves(venv: Path, outside: Path,
                                                  empty_database_url: str) -> None:
    # The venv imports its own copy, not the checkout's.
    code = "import rekor_py; print(rekor_py.__file__)"
    where = await asyncio.to_thread(_run, [venv / "python", "-c", code], outside, 30)
    assert Path(where.strip()).is_relative_to(venv.parent), where

    migrate = [venv / "rekor-py", "migrate", "--database-url", empty_database_url,
               "--data-dir", outside / "data"]
    await asyncio.to_thread(_run, migrate, outside, 120)
    conn = await asyncpg.connect(empty_database_url)
    try:
        assert await conn.fetchval("SELECT version_num FROM alembic_version") == head_revision()
    finally:
        await conn.close()

    await asyncio.to_thread(_serve_and_log_one, venv, outside, empty_database_url)


def _serve_and_log_one(venv: Path, cwd: Path, dsn: str) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with _serve(venv, cwd, dsn, port):
        status, info = _http("GET", f"{url}/api/v1/log")
        assert status == 200 and info["treeSize"] == 0, info
        status, entry = _http("POST", f"{url}/api/v1/log/entries",
                              signed_hashedrekord(b"an artifact from the installed wheel"))
        assert status == 201, entry
        (logged,) = entry.values()
        assert logged["logIndex"] == 0
        status, info = _http("GET", f"{url}/api/v1/log")
        assert status == 200 and info["treeSize"] == 1, info
        # Package data the server reads at run time.
        with urllib.request.urlopen(f"{url}/api/v1/openapi.yaml", timeout=30) as r:
            assert r.status == 200 and b"swagger:" in r.read()
        with urllib.request.urlopen(f"{url}/", timeout=30) as r:
            page = r.read()
            assert r.status == 200 and b'src="explorer.js"' in page and b"explorer-config" in page
        with urllib.request.urlopen(f"{url}/explorer.js", timeout=30) as r:
            assert r.status == 200 and len(r.read()) > 10_000


@contextlib.contextmanager
def _serve(venv: Path, cwd: Path, dsn: str, port: int) -> Iterator[None]:
    """`rekor-py serve` from the venv, cwd outside the checkout, until it answers /ping;
    stopped with SIGTERM afterwards, which it must survive with exit status 0."""
    log_path = cwd / "serve.log"
    (cwd / "data").mkdir(exist_ok=True)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [venv / "rekor-py", "serve", "--database-url", dsn, "--data-dir", cwd / "data",
             "--port", str(port)], cwd=cwd, env=_env(), stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not _answers(f"http://127.0.0.1:{port}/ping"):
            assert proc.poll() is None, log_path.read_text()[-3000:]
            assert time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.1)
        yield
    finally:
        proc.terminate()
        status = proc.wait(30)
    assert status == 0, log_path.read_text()[-3000:]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def _http(method: str, url: str, body: object = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())
