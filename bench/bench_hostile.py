"""Hostile requests in flight: how fast the server still answers /ping and honest uploads.

Starts `rekor-py serve` (embedded PostgreSQL, fsync on, a fresh data dir) from
--server-dir (default: this checkout), keeps --hostile of the hostile requests
of tests/integration/test_hostile.py in flight for --seconds (each sender posts
its body again as soon as it is answered), and meanwhile every 0.2 s times a
GET /ping and a POST of a fresh honest entry.  Reports their latencies, the
answers to both, and the hostile requests answered.

    python bench/bench_hostile.py [--seconds 20] [--hostile 12] [--server-dir DIR]
    REKOR_PY_VERIFY_POOL=thread python bench/bench_hostile.py   # the thread pool
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench_server import free_port, presign

from tests.integration.test_hostile import hostile_bodies


def start_server(server_dir: Path, data_dir: Path, port: int, log: Path | None) -> Any:
    import subprocess

    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "rekor_py", "serve", "--data-dir", str(data_dir),
         "--port", str(port)], cwd=server_dir, stdout=out, stderr=subprocess.STDOUT,
        env={**os.environ, "REKOR_PY_INSERTABLE_KINDS": "hashedrekord,dsse"})
    import socket

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("serve did not start")


def summary(xs: list[float]) -> str:
    if not xs:
        return "none"
    xs = sorted(xs)
    p90 = xs[int(len(xs) * 0.9)] if len(xs) > 1 else xs[0]
    return (f"n={len(xs)} p50={statistics.median(xs) * 1000:.0f} ms "
            f"p90={p90 * 1000:.0f} ms max={xs[-1] * 1000:.0f} ms")


async def run(url: str, seconds: float, hostile: int, honest_bodies: list[bytes]
              ) -> dict[str, Any]:
    bodies = hostile_bodies()
    names = list(bodies)
    hostile_answers: dict[int, int] = {}
    honest_answers: dict[int, int] = {}
    pings: list[float] = []
    uploads: list[float] = []
    stop = time.monotonic() + seconds
    timeout = aiohttp.ClientTimeout(total=120)

    async def attacker(body: bytes) -> None:
        async with aiohttp.ClientSession(timeout=timeout) as s:
            while time.monotonic() < stop:
                try:
                    async with s.post(f"{url}/api/v1/log/entries", data=io.BytesIO(body),
                                      headers={"Content-Type": "application/json"}) as r:
                        await r.read()
                        hostile_answers[r.status] = hostile_answers.get(r.status, 0) + 1
                except aiohttp.ClientError:
                    hostile_answers[-1] = hostile_answers.get(-1, 0) + 1

    async def prober() -> None:
        async with aiohttp.ClientSession(timeout=timeout) as s:
            await asyncio.sleep(1.0)
            i = 0
            while time.monotonic() < stop:
                t0 = time.monotonic()
                async with s.get(f"{url}/ping") as r:
                    await r.read()
                pings.append(time.monotonic() - t0)
                t0 = time.monotonic()
                async with s.post(f"{url}/api/v1/log/entries", data=honest_bodies[i],
                                  headers={"Content-Type": "application/json"}) as r:
                    await r.read()
                    honest_answers[r.status] = honest_answers.get(r.status, 0) + 1
                uploads.append(time.monotonic() - t0)
                i += 1
                await asyncio.sleep(0.2)

    # The attack and the probe in separate threads with their own loops: the
    # client's own work must not delay the probe's clock.
    attack = [asyncio.to_thread(asyncio.run, attacker(bodies[names[i % len(names)]]))
              for i in range(hostile)]
    await asyncio.gather(asyncio.to_thread(asyncio.run, prober()), *attack)
    return {"ping": summary(pings), "honest_upload": summary(uploads),
            "honest_answers": honest_answers, "hostile_answers": hostile_answers}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--hostile", type=int, default=12)
    parser.add_argument("--server-dir", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--server-log", type=Path, help="write the server's log here")
    args = parser.parse_args()
    honest = presign(1000)
    with tempfile.TemporaryDirectory(prefix="rekor-py-bench-") as tmp:
        os.chmod(tmp, 0o755)  # as root the embedded PostgreSQL runs as its own user
        port = free_port()
        proc = start_server(args.server_dir, Path(tmp), port, args.server_log)
        try:
            result = asyncio.run(run(f"http://127.0.0.1:{port}", args.seconds, args.hostile,
                                     honest))
        finally:
            proc.terminate()
            proc.wait(60)
    result["server"] = str(args.server_dir)
    result["verify_pool"] = os.environ.get("REKOR_PY_VERIFY_POOL", "default")
    for k, v in result.items():
        print(f"  {k:15} {v}")


if __name__ == "__main__":
    main()
