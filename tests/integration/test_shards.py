"""Rotating the v1 log into shards, as Rekor does, without stopping the servers.

After `rekor-py shard rotate` the frozen tree keeps its final checkpoint and
its entries: `logIndex` is the virtual index across shards, each proof is
against the entry's own shard, signed by that shard's key (a rotation may
bring a new one), and sigstore-python's verifier accepts entries of both
shards.  Under load from two server processes, a rotation fails no request,
loses no acknowledged entry and leaves no gap in the virtual index; fsck
checks every shard.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg  # type: ignore[import-untyped]
import pytest
from sigstore._internal.trust import Keyring
from sigstore.models import TransparencyLogEntry
from sigstore_models.common import v1 as common_v1

from rekor_py import merkle
from rekor_py.log.checkpoint import verify_checkpoint
from rekor_py.log.rotation import rotate
from rekor_py.log.set import verify_set
from rekor_py.log.signer import LogSigner, LogVerifier
from rekor_py.server import load_keyring, load_signer
from tests.integration.load import Ledger, ServeProcess, run_load
from tests.integration.logserver import (
    RunningLog,
    free_port,
    log_settings,
    post_entry,
    signed_hashedrekord,
    start_log,
)


async def _get(session: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    async with session.get(url) as r:
        body = await r.read()
        return r.status, (json.loads(body) if r.content_type == "application/json" else body)


async def _key(session: aiohttp.ClientSession, url: str, tree_id: str) -> LogVerifier:
    status, pem = await _get(session, f"{url}/api/v1/log/publicKey?treeID={tree_id}")
    assert status == 200
    return LogVerifier.from_pem(pem)


async def _check_entry(session: aiohttp.ClientSession, url: str, value: dict[str, Any],
                       shard: dict[str, Any], key: LogVerifier) -> None:
    """A LogEntry value of `shard`: proof at the shard's head, key, checkpoint, SET."""
    body = base64.b64decode(value["body"])
    proof = value["verification"]["inclusionProof"]
    assert proof["logIndex"] == value["logIndex"] - shard["firstIndex"]
    assert (proof["treeSize"], proof["rootHash"]) == (shard["treeSize"], shard["rootHash"])
    merkle.verify_inclusion(merkle.leaf_hash(body), proof["logIndex"], proof["treeSize"],
                            [bytes.fromhex(h) for h in proof["hashes"]],
                            bytes.fromhex(proof["rootHash"]))
    assert value["logID"] == key.log_id_hex
    verify_checkpoint(proof["checkpoint"], key)
    verify_set(key, base64.b64decode(value["verification"]["signedEntryTimestamp"]), body,
               value["integratedTime"], key.log_id_hex, value["logIndex"])


def _sigstore_keyring(*keys: LogVerifier) -> Keyring:
    return Keyring([common_v1.PublicKey(
        raw_bytes=base64.b64encode(k.spki_der),
        key_details=common_v1.PublicKeyDetails.PKIX_ECDSA_P256_SHA_256,
        valid_for=common_v1.TimeRange(start=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)),
    ) for k in keys])


def _sigstore_entry(value: dict[str, Any]) -> TransparencyLogEntry:
    """sigstore-python's own model of a Rekor v1 answer (as its client builds it)."""
    return TransparencyLogEntry._from_v1_response(value)  # type: ignore[attr-defined]


async def _rotate_with_new_key(server: RunningLog) -> tuple[LogSigner, Any]:
    """What `rekor-py shard rotate --new-key` does, in this process."""
    settings = server.settings
    new = LogSigner.generate()
    folder = settings.log_keys_path
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "next.pem").write_bytes(new.private_pem())
    keyring = load_keyring(settings, load_signer(settings))
    done = await rotate(server.runtime.pool, server.runtime.service.checkpoint_name, keyring,
                        new)
    return new, done


async def test_rotation_serves_every_shard_with_its_own_key(database_url: str,
                                                            tmp_path: Path) -> None:
    server = await start_log(log_settings(database_url, tmp_path))
    try:
        async with aiohttp.ClientSession() as session:
            url = server.url
            first = [signed_hashedrekord(f"before {i}".encode()) for i in range(5)]
            for proposed in first:
                assert (await post_entry(session, url, proposed))[0] == 201
            old_key = await _key(session, url, str(server.runtime.service.tree_id))
            new_signer, done = await _rotate_with_new_key(server)
            for i in range(3):
                status, created, _ = await post_entry(
                    session, url, signed_hashedrekord(f"after {i}".encode()))
                assert status == 201
                (value,) = created.values()
                assert value["logIndex"] == 5 + i  # virtual: after the 5 frozen entries
                assert value["verification"]["inclusionProof"]["logIndex"] == i
                assert value["logID"] == new_signer.log_id_hex

            status, info = await _get(session, f"{url}/api/v1/log")
            assert status == 200
            assert (info["treeID"], info["treeSize"]) == (str(done.active.tree_id), 3)
            (frozen,) = info["inactiveShards"]
            assert (frozen["treeID"], frozen["treeSize"]) == (str(done.frozen.tree_id), 5)
            assert verify_checkpoint(frozen["signedTreeHead"], old_key).size == 5
            new_key = await _key(session, url, info["treeID"])
            assert new_key.log_id == new_signer.log_id != old_key.log_id
            assert (await _key(session, url, frozen["treeID"])).log_id == old_key.log_id

            shards = {frozen["treeID"]: ({**frozen, "firstIndex": 0}, old_key),
                      info["treeID"]: ({**info, "firstIndex": 5}, new_key)}
            keyring = _sigstore_keyring(old_key, new_key)
            for index in range(8):
                status, entry = await _get(session, f"{url}/api/v1/log/entries?logIndex={index}")
                assert status == 200, entry
                ((uuid, value),) = entry.items()
                assert value["logIndex"] == index
                shard, key = shards[str(int(uuid[:16], 16))]
                await _check_entry(session, url, value, shard, key)
                _sigstore_entry(entry)._verify(keyring)  # sigstore-python's own checks
                status, again = await _get(session, f"{url}/api/v1/log/entries/{uuid}")
                assert status == 200 and list(again) == [uuid]
                # (each answer signs its SET anew: ECDSA signatures differ)
                assert again[uuid]["verification"]["inclusionProof"] == \
                    value["verification"]["inclusionProof"]
            with pytest.raises(Exception, match="(?i)verif|signature|key"):
                _sigstore_entry(entry)._verify(_sigstore_keyring(old_key))
            status, missing = await _get(session, f"{url}/api/v1/log/entries?logIndex=8")
            assert status == 404

            # Consistency inside the frozen shard, up to its final size only.
            base = f"{url}/api/v1/log/proof?treeID={frozen['treeID']}"
            status, proof = await _get(session, f"{base}&firstSize=2&lastSize=5")
            assert status == 200 and proof["rootHash"] == frozen["rootHash"]
            status, too_far = await _get(session, f"{base}&firstSize=2&lastSize=6")
            assert status == 400 and too_far["code"] == 400
            status, unknown = await _get(session, f"{url}/api/v1/log/publicKey?treeID=12345")
            assert status == 400 and "12345" in unknown["message"]

            # Duplicates are per shard, as with Rekor on Trillian: the new shard takes it.
            status, again, _ = await post_entry(session, url, first[0])
            assert status == 201
            assert next(iter(again.values()))["logIndex"] == 8

            # Clients learn both keys; the old one ends at the rotation.
            status, trust = await _get(session, f"{url}/api/v1/trustConfig")
            tlogs = [t for t in trust["trustedRoot"]["tlogs"]
                     if t["logId"]["keyId"] in {base64.b64encode(k.log_id).decode()
                                                for k in (old_key, new_key)}]
            assert len(tlogs) == 2
            ends = [t["publicKey"]["validFor"].get("end") for t in tlogs]
            assert ends.count(None) == 1
            assert [s for s in trust["signingConfig"]["rekorTlogUrls"]
                    if s["majorApiVersion"] == 1] and len(
                        [s for s in trust["signingConfig"]["rekorTlogUrls"]
                         if s["majorApiVersion"] == 1]) == 1

            # The tile API is the active shard's: a new C2SP log, named by its tree.
            status, text = await _get(session, f"{url}/checkpoint")
            assert status == 200
            lines = text.decode().splitlines()
            assert lines[0].endswith(f"/{info['treeID']}") and lines[1] == "4"
    finally:
        await server.stop()


def _rekor_py(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rekor_py", *args], capture_output=True,
                          text=True, timeout=120, check=False)


async def test_rotation_under_load_loses_nothing(database_url: str, tmp_path: Path) -> None:
    """Two server processes take uploads while the log rotates three times (twice to
    a new key); every request gets 201, and the acknowledgements tile the virtual
    index with no gap."""
    server = ServeProcess(database_url, tmp_path, free_port(), extra_args=("--workers", "2"))
    server.start()
    try:
        ledger = Ledger()
        stop = asyncio.Event()
        load = asyncio.create_task(run_load([server.url], ledger, seconds=120,
                                            max_requests=100_000, concurrency=8, until=stop))
        rotations = []
        for new_key in ("--new-key", None, "--new-key"):
            await asyncio.sleep(1.5)
            args = ["shard", "rotate", "--database-url", database_url, "--data-dir",
                    str(tmp_path), "--json", *([new_key] if new_key else [])]
            done = await asyncio.to_thread(_rekor_py, *args)
            assert done.returncode == 0, done.stderr
            rotations.append(json.loads(done.stdout))
        await asyncio.sleep(1.5)
        stop.set()
        await load
    finally:
        server.stop()
    assert set(ledger.statuses) == {"201"}, ledger.summary()
    indexes = sorted(a.log_index for a in ledger.acks)
    listed = await asyncio.to_thread(_rekor_py, "shard", "list", "--database-url", database_url,
                                     "--data-dir", str(tmp_path), "--json")
    assert listed.returncode == 0, listed.stderr
    shards = json.loads(listed.stdout)["shards"]
    assert [s["treeID"] for s in shards] == [s["treeID"] for s in rotations[-1]["shards"]]
    total = shards[-1]["firstIndex"] + shards[-1]["treeSize"]
    assert indexes == list(range(total)), "acknowledged entries do not tile the log"
    assert [s["state"] for s in shards] == ["frozen"] * 3 + ["active"]
    assert all(s["treeSize"] > 0 for s in shards), shards
    times = sorted(a.at for a in ledger.acks)
    gap = max(b - a for a, b in zip(times, times[1:], strict=False))
    print(f"{len(ledger.acks)} entries over {len(shards)} shards; longest pause between "
          f"acknowledgements {gap * 1000:.0f} ms")

    # Every shard, its key and its entries, as fsck reads them from the database.
    server.start()
    try:
        fsck = await asyncio.to_thread(_rekor_py, "fsck", "--database-url", database_url,
                                       "--data-dir", str(tmp_path), "--json")
        assert fsck.returncode == 0, fsck.stdout + fsck.stderr
        report = json.loads(fsck.stdout)
        assert report["entries_checked"] == total
        assert sum(t["checkpoint_verified"] for t in report["trees"]
                   if t["api_major"] == 1) == 4
        # After a restart each acknowledgement is where it was promised.
        async with aiohttp.ClientSession() as session:
            for ack in ledger.acks[:: max(1, len(ledger.acks) // 50)]:
                status, entry = await _get(
                    session, f"{server.url}/api/v1/log/entries?logIndex={ack.log_index}")
                assert status == 200 and next(iter(entry)) == ack.entry_uuid
    finally:
        server.stop()


async def test_fsck_sees_a_shard_that_does_not_start_where_the_last_ended(
        database_url: str, tmp_path: Path) -> None:
    server = await start_log(log_settings(database_url, tmp_path))
    try:
        async with aiohttp.ClientSession() as session:
            for i in range(3):
                status, _, _ = await post_entry(session, server.url,
                                                signed_hashedrekord(f"x{i}".encode()))
                assert status == 201
        await _rotate_with_new_key(server)
    finally:
        await server.stop()
    ok = await asyncio.to_thread(_rekor_py, "fsck", "--database-url", database_url,
                                 "--data-dir", str(tmp_path), "--json")
    assert ok.returncode == 0, ok.stdout
    assert await _fsck_with_offset(database_url, tmp_path, 2) == "shard_offset"
    # Without the new shard's key, fsck says which key it lacks.
    (tmp_path / "log-keys" / "next.pem").unlink()
    assert await _fsck_with_offset(database_url, tmp_path, 3) == "checkpoint_key"


async def _fsck_with_offset(database_url: str, data_dir: Path, offset: int) -> str:
    """The check fsck fails after the active tree's first log index is set to `offset`."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("UPDATE trees SET virtual_offset = $1 WHERE state = 'active' "
                           "AND api_major = 1", offset)
    finally:
        await conn.close()
    done = await asyncio.to_thread(_rekor_py, "fsck", "--database-url", database_url,
                                   "--data-dir", str(data_dir), "--json")
    assert done.returncode == 1, done.stdout
    check: str = json.loads(done.stdout)["problem"]["check"]
    return check
