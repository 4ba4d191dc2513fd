"""`serve --read-only`: reads answered from the shared database, writes refused."""

from __future__ import annotations

import base64
from pathlib import Path

import aiohttp
import pytest

from rekor_py import merkle
from rekor_py.errors import StorageError
from rekor_py.server import open_log
from tests.integration.logserver import log_settings, post_entry, signed_hashedrekord, start_log


async def test_read_only_server_serves_reads_and_refuses_writes(database_url: str,
                                                                tmp_path: Path) -> None:
    writer = await start_log(log_settings(database_url, tmp_path))
    reader = await start_log(log_settings(database_url, tmp_path, read_only=True))
    try:
        async with aiohttp.ClientSession() as session:
            for i in range(5):
                status, _, _ = await post_entry(session, writer.url,
                                                signed_hashedrekord(f"ro{i}".encode()))
                assert status == 201
            status, body, _ = await post_entry(session, reader.url, signed_hashedrekord(b"no"))
            assert status == 405
            assert body == {"code": 405, "message": "this log server is read-only: send "
                                                    "writes to a writable server"}
            async with session.get(f"{reader.url}/api/v1/log") as r:
                info = await r.json()
            assert info["treeSize"] == 5  # the refused entry was not written
            root = bytes.fromhex(info["rootHash"])
            async with session.get(f"{reader.url}/api/v1/log/entries",
                                   params={"logIndex": "3"}) as r:
                (entry,) = (await r.json()).values()
            proof = entry["verification"]["inclusionProof"]
            merkle.verify_inclusion(merkle.leaf_hash(base64.b64decode(entry["body"])), 3, 5,
                                    [bytes.fromhex(h) for h in proof["hashes"]], root)
    finally:
        await reader.stop()
        await writer.stop()


async def test_read_only_start_needs_an_existing_tree(empty_database_url: str,
                                                      tmp_path: Path) -> None:
    # No migrations and no tree creation in read-only mode: nothing may be written.
    with pytest.raises(StorageError, match="rekor-py migrate"):
        await open_log(log_settings(empty_database_url, tmp_path, read_only=True))
