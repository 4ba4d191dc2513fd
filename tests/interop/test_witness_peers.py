"""`rekor-py witness` cosigns a log written by others: rekor-tiles (Rekor v2 on
Tessera's POSIX backend), which sends its checkpoints to the witnesses of its
policy (`--witness-policy-path`) and publishes their cosignatures once it has
verified them with the policy's keys.  Our cosignature in its published
checkpoint has thus passed Tessera's verifier, and passes ours.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from rekor_py.log.c2sp import NoteVerifier
from rekor_py.log.checkpoint import parse_checkpoint
from rekor_py.witness.cosignature import CosignatureVerifier
from tests.integration.conftest import scratch_database
from tests.integration.logserver import free_port, wait_until
from tests.integration.test_rekor_v2 import v2_request

ORIGIN = "rekor-tiles.test"


def _answers(url: str) -> Callable[[], bool]:
    """Whether `url` answers at all (rekor-tiles' /healthz, our witness's 404 at /)."""
    def check() -> bool:
        try:
            requests.get(url, timeout=1)
            return True
        except requests.RequestException:
            return False
    return check


def _run_peer(tiles: Path, tmp: Path, database_url: str) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    (tmp / "tiles-key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    log_vkey = NoteVerifier.ed25519(ORIGIN, key.public_key()).vkey
    (tmp / "logs.policy").write_text(f"log {log_vkey}\nquorum none\n")
    witness_cmd = [sys.executable, "-m", "rekor_py", "witness", "--name", "witness.test/ours",
                   "--logs", str(tmp / "logs.policy"), "--data-dir", str(tmp / "witness")]
    vkey = subprocess.run([*witness_cmd, "--print-vkey"], capture_output=True, text=True,
                          timeout=60, check=True).stdout.strip()
    wport = free_port()
    wlog = tmp / "witness.log"
    with open(wlog, "wb") as out:
        witness = subprocess.Popen([*witness_cmd, "--listen", f"127.0.0.1:{wport}",
                                    "--database-url", database_url], stdout=out,
                                   stderr=subprocess.STDOUT)
    (tmp / "witnesses.policy").write_text(
        f"witness ours {vkey} http://127.0.0.1:{wport}\nquorum ours\n")
    port, tlog = free_port(), tmp / "rekor-tiles.log"
    with open(tlog, "wb") as out:
        peer = subprocess.Popen(
            [str(tiles), "serve", f"--storage-dir={tmp / 'tiles'}",
             f"--signer-filepath={tmp / 'tiles-key.pem'}", f"--hostname={ORIGIN}",
             "--http-address=127.0.0.1", f"--http-port={port}", "--grpc-address=127.0.0.1",
             f"--grpc-port={free_port()}", f"--http-metrics-port={free_port()}",
             "--checkpoint-interval=1s", f"--witness-policy-path={tmp / 'witnesses.policy'}"],
            stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until(_answers(f"http://127.0.0.1:{wport}/"), witness, wlog, "rekor-py witness")
        wait_until(_answers(f"http://127.0.0.1:{port}/healthz"), peer, tlog, "rekor-tiles")
        for i in range(3):
            r = requests.post(f"http://127.0.0.1:{port}/api/v2/log/entries",
                              json=v2_request(f"peer {i}".encode()), timeout=60)
            assert r.status_code in (200, 201), r.text
        verifier = CosignatureVerifier.from_vkey(vkey)
        deadline = time.monotonic() + 30
        text = ""
        while time.monotonic() < deadline:
            path = tmp / "tiles" / "checkpoint"
            text = path.read_text() if path.exists() else ""
            if text:
                cp = parse_checkpoint(text).checkpoint
                if cp.size >= 3 and verifier.find(text, cp.body()) is not None:
                    break
            time.sleep(0.2)
        else:
            raise AssertionError(f"rekor-tiles published no checkpoint cosigned by us:\n{text}\n"
                                 f"{tlog.read_text()[-2000:]}\n{wlog.read_text()[-2000:]}")
        assert cp.origin == ORIGIN
    finally:
        peer.terminate()
        witness.terminate()
        peer.wait(30)
        witness.wait(30)


async def test_our_witness_cosigns_rekor_tiles(interop_tools: dict[str, Path],
                                              postgres_admin_dsn: str, tmp_path: Path) -> None:
    async with scratch_database(postgres_admin_dsn) as db:
        await asyncio.to_thread(_run_peer, interop_tools["rekor-tiles"], tmp_path, db)
