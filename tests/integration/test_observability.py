"""Metrics, readiness and logs, as an operator reads them from a running server.

/metrics is parsed with prometheus-client's own parser; the counters follow
the uploads and refusals made here.  With --workers 2 every scrape, whichever
worker answers it, sums both processes.  /readyz turns 503 while the database
is stopped and 200 once it is back, with no restart.  --log-format json writes
one JSON object per line, each request's lines carrying its X-Request-ID.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from rekor_py.storage.embedded import EmbeddedPostgres
from tests.integration.conftest import postgres_scratch_dir
from tests.integration.logserver import (
    free_port,
    log_settings,
    post_entry,
    signed_hashedrekord,
    start_log,
)


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def _value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str,
           **labels: str) -> float:
    return sum(v for (n, ls), v in samples.items()
               if n == name and all(dict(ls).get(k) == w for k, w in labels.items()))


async def _scrape(session: aiohttp.ClientSession, url: str
                  ) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with session.get(f"{url}/metrics") as r:
        assert r.status == 200 and r.content_type == "text/plain"
        return _samples(await r.text())


async def test_metrics_follow_uploads_and_refusals(database_url: str, tmp_path: Path) -> None:
    log = await start_log(log_settings(database_url, tmp_path, rekor_v2=False))
    try:
        async with aiohttp.ClientSession() as session:
            before = await _scrape(session, log.url)
            for i in range(5):
                status, _, _ = await post_entry(session, log.url,
                                                signed_hashedrekord(b"m%d" % i))
                assert status == 201
            status, _, _ = await post_entry(session, log.url, {"kind": "nonsense"})
            assert status == 422
            after = await _scrape(session, log.url)
        # This process may have served other tests' logs: count what this test added.

        def grew(name: str, **labels: str) -> float:
            return _value(after, name, **labels) - _value(before, name, **labels)

        assert grew("rekor_entries_appended_total", api="v1", kind="hashedrekord") == 5
        assert _value(after, "rekor_tree_size", api="v1") == 5
        assert grew("rekor_batch_entries_count", api="v1") >= 1
        assert grew("rekor_rejections_total", status="422") >= 1
        assert grew("rekor_http_request_duration_seconds_count", route="/api/v1/log/entries",
                    method="POST", status="2xx") == 5
        assert _value(after, "rekor_db_pool_connections") >= 1
        assert ("rekor_verify_queue", ()) in after  # idle now: 0, but exported
    finally:
        await log.stop()


def _spawn(data_dir: Path, port: int, *args: str) -> subprocess.Popen[bytes]:
    """`rekor-py serve` on its own embedded PostgreSQL; its log in data_dir/serve.log."""
    data_dir.chmod(0o755)  # the embedded PostgreSQL's user enters it
    with open(data_dir / "serve.log", "wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "rekor_py", "serve", "--data-dir", str(data_dir), "--port",
             str(port), *args], stdout=subprocess.DEVNULL, stderr=log,
            env={**os.environ, "REKOR_PY_FSYNC": "false", "REKOR_PY_REKOR_V2": "false"})


async def _ready(session: aiohttp.ClientSession, url: str, proc: subprocess.Popen[bytes],
                 data_dir: Path) -> None:
    for _ in range(600):
        if proc.poll() is not None:
            raise AssertionError(f"serve exited: {(data_dir / 'serve.log').read_text()[-3000:]}")
        try:
            async with session.get(f"{url}/readyz") as r:
                if r.status == 200:
                    return
        except aiohttp.ClientConnectionError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError("not ready in 60 s")


async def test_workers_share_one_scrape_and_readiness_follows_the_database() -> None:
    data_dir = postgres_scratch_dir()  # the embedded PostgreSQL's user must enter it
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = _spawn(data_dir, port, "--workers", "2")
    try:
        async with aiohttp.ClientSession() as session:
            await _ready(session, url, proc, data_dir)
            # New connections spread over both workers (the parent shares them out).
            for i in range(20):
                async with aiohttp.ClientSession() as fresh:
                    status, _, _ = await post_entry(fresh, url, signed_hashedrekord(b"w%d" % i))
                    assert status == 201
            totals = set()
            for _ in range(8):
                async with aiohttp.ClientSession() as fresh:
                    totals.add(_value(await _scrape(fresh, url),
                                      "rekor_entries_appended_total", api="v1"))
            assert totals == {20.0}, totals
            # The database goes away and comes back: not ready, then ready again.
            pg = EmbeddedPostgres(data_dir / "postgres")
            await asyncio.to_thread(pg.stop)
            async with session.get(f"{url}/readyz") as r:
                assert r.status == 503 and r.headers["Retry-After"] == "1"
                assert "database" in (await r.json())["message"]
            async with session.get(f"{url}/healthz") as r:
                assert r.status == 200  # liveness: the process lives without its database
            await asyncio.to_thread(pg.start)
            await _ready(session, url, proc, data_dir)
    finally:
        proc.terminate()
        proc.wait(60)
        shutil.rmtree(data_dir, ignore_errors=True)


async def test_json_logs_carry_the_request_id() -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    data_dir = postgres_scratch_dir()
    proc = _spawn(data_dir, port, "--log-format", "json")
    try:
        async with aiohttp.ClientSession() as session:
            await _ready(session, url, proc, data_dir)
            async with session.post(f"{url}/api/v1/log/entries", json={"kind": "nonsense"},
                                    headers={"X-Request-ID": "trace-me-42"}) as r:
                assert r.status == 422 and r.headers["X-Request-ID"] == "trace-me-42"
            async with session.get(f"{url}/api/v1/log",
                                   headers={"X-Request-ID": "bad id\twith tab"}) as r:
                generated = r.headers["X-Request-ID"]
                assert generated != "bad id\twith tab" and len(generated) == 32
    finally:
        proc.terminate()
        proc.wait(60)
    err = (data_dir / "serve.log").read_text()
    shutil.rmtree(data_dir, ignore_errors=True)
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]
    assert all({"time", "level", "logger", "message"} <= set(x) for x in lines)
    mine = [x for x in lines if x.get("request_id") == "trace-me-42"]
    # The refusal's warning and the access line, both with the ID.
    assert any(x["logger"] == "rekor_py.access" and x["status"] == 422 for x in mine), mine
    assert any(x["level"] == "warning" for x in mine), mine
    assert not any("Context impl" in x["message"] for x in lines)
