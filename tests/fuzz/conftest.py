"""Fuzzing fixtures: how many cases to run, and a real `rekor-py serve` to aim at.

The case counts are bounded for CI; REKOR_PY_FUZZ_EXAMPLES=N raises every
property test and every schemathesis operation to N examples (the README's
long run).  The server is a separate OS process (`python -m rekor_py serve`)
on a database of the integration tests' embedded PostgreSQL, reached over real
HTTP: schemathesis calls it synchronously, which an in-process server on the
test's own event loop could not answer.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

# The integration tests' PostgreSQL fixtures, shared by name (pytest finds
# fixtures through the conftest that imports them).
from tests.integration.conftest import (  # noqa: F401
    database_url_module,
    postgres_admin_dsn,
)
from tests.integration.logserver import free_port, spawn_serve

FUZZ_EXAMPLES_ENV = "REKOR_PY_FUZZ_EXAMPLES"


def fuzz_examples(ci_default: int) -> int:
    """`ci_default`, or $REKOR_PY_FUZZ_EXAMPLES when set (the long run)."""
    raw = os.environ.get(FUZZ_EXAMPLES_ENV)
    return int(raw) if raw else ci_default


@dataclass
class FuzzServer:
    """A running `rekor-py serve` and what the tests saw it acknowledge."""

    url: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    seeded: int = 0  # valid entries posted before fuzzing
    # (operation, status) -> how many fuzz calls got that answer
    answers: dict[tuple[str, int], int] = field(default_factory=dict)

    def saw(self, operation: str, status: int) -> None:
        key = (operation, status)
        self.answers[key] = self.answers.get(key, 0) + 1

    def tree_size(self, session: requests.Session) -> int:
        r = session.get(f"{self.url}/api/v1/log", timeout=10)
        assert r.status_code == 200, r.text
        size = r.json()["treeSize"]
        assert isinstance(size, int)
        return size

    def count(self, status: int | None = None) -> int:
        """Fuzz calls answered with `status` (all calls when None)."""
        return sum(n for (_, s), n in self.answers.items() if status is None or s == status)

    def summary(self) -> str:
        return "\n".join(f"  {op} -> {status}: {n}" for (op, status), n in sorted(self.answers.items()))


@pytest.fixture(scope="module")
def fuzz_server(database_url_module: str,  # noqa: F811  the imported fixture, by name
                tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[FuzzServer]:
    data_dir = tmp_path_factory.mktemp("fuzz-serve")
    port = free_port()
    proc = spawn_serve(database_url_module, data_dir, port)
    try:
        yield FuzzServer(f"http://127.0.0.1:{port}", proc, data_dir / f"serve-{port}.log")
    finally:
        proc.terminate()
        proc.wait(30)
