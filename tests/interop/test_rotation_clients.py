"""The real rekor-cli against a log that rotated into a new shard under a new key.

rekor-cli uploads to the active shard, gets and verifies entries of both shards
(it fetches each shard's key by the tree ID in the entry's UUID), and counts
the whole log in `loginfo` ("Total Tree Size" adds the inactive shards).
Pinned to the new key alone, it refuses an entry of the frozen shard: it does
check what it prints.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.integration.logserver import free_port, spawn_serve
from tests.interop.conftest import client_env
from tests.interop.rekor_cli import RekorCli, parse_upload


@pytest.fixture
def rotating_log(database_url_module: str) -> Iterator[tuple[str, Path]]:
    data_dir = Path(tempfile.mkdtemp(prefix="rekor-py-rotation-"))
    port = free_port()
    proc = spawn_serve(database_url_module, data_dir, port)
    try:
        yield f"http://127.0.0.1:{port}", data_dir
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(data_dir, ignore_errors=True)


def _upload(cli: RekorCli, work: Path, name: str, key: ec.EllipticCurvePrivateKey) -> int:
    artifact = work / name
    artifact.write_bytes(f"artifact {name}".encode())
    (work / f"{name}.sig").write_bytes(key.sign(artifact.read_bytes(), ec.ECDSA(hashes.SHA256())))
    done = cli.run("upload", "--artifact", str(artifact), "--signature", str(work / f"{name}.sig"),
                   "--public-key", str(work / "key.pub"), "--pki-format", "x509")
    assert done.returncode == 0, done.stderr
    parsed = parse_upload(done.stdout)
    assert parsed is not None and parsed.index is not None, done.stdout
    return parsed.index


def test_rekor_cli_reads_and_verifies_both_shards(interop_tools: dict[str, Path],
                                                  rotating_log: tuple[str, Path],
                                                  database_url_module: str,
                                                  tmp_path: Path) -> None:
    url, data_dir = rotating_log
    cli = RekorCli(interop_tools["rekor-cli"], url, tmp_path / "home", None)
    (tmp_path / "home").mkdir()
    key = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "key.pub").write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    assert [_upload(cli, tmp_path, f"a{i}", key) for i in range(2)] == [0, 1]
    old_key = requests.get(f"{url}/api/v1/log/publicKey", timeout=10).text

    rotated = subprocess.run(
        [sys.executable, "-m", "rekor_py", "shard", "rotate", "--new-key", "--data-dir",
         str(data_dir), "--database-url", database_url_module],
        capture_output=True, text=True, timeout=120, check=False)
    assert rotated.returncode == 0, rotated.stderr
    assert [_upload(cli, tmp_path, f"b{i}", key) for i in range(2)] == [2, 3]
    new_key = requests.get(f"{url}/api/v1/log/publicKey", timeout=10).text
    assert new_key != old_key

    for index in range(4):
        got = cli.run("get", "--log-index", str(index))
        assert got.returncode == 0, got.stderr
        assert re.search(rf"^Index: {index}$", got.stdout, re.M), got.stdout
    info = cli.run("loginfo")
    assert info.returncode == 0, info.stderr
    assert re.search(r"^Active Tree Size:\s+2$", info.stdout, re.M), info.stdout
    assert re.search(r"^Total Tree Size:\s+4$", info.stdout, re.M), info.stdout

    # Our own client does the same (it fetches each shard's key by tree ID too).
    for index in (0, 3):
        ours = subprocess.run([sys.executable, "-m", "rekor_py", "get", "--log-index", str(index),
                               "--rekor-server", url], capture_output=True, text=True,
                              timeout=60, check=False, env=client_env(tmp_path / "home"))
        assert ours.returncode == 0, ours.stderr

    # Trusting only the new key, rekor-cli refuses the frozen shard's entry.
    pinned = cli.with_key(new_key)
    assert pinned.run("get", "--log-index", "3").returncode == 0
    refused = pinned.run("get", "--log-index", "0")
    assert refused.returncode != 0 and "Index: 0" not in refused.stdout, refused.stdout
    assert "verif" in refused.stderr.lower() or "signature" in refused.stderr.lower(), \
        refused.stderr
