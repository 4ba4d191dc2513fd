"""Each JSON shape the server answers is exactly its model's dump (api/models.py).

For every response shape: the served bytes equal the model's dump of themselves
(so the model describes every field, its order, null vs absent, and integer
types), equal what json.dumps writes (the encoder the server used before the
models), and carry Rekor's field order.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pydantic import BaseModel, TypeAdapter

from rekor_py.api.models import ConsistencyProof, Error, LogEntry, LogInfo
from tests.integration.logserver import (
    RunningLog,
    log_settings,
    signed_hashedrekord,
    start_log,
)
from tests.integration.test_entry_kinds import dsse_entries

ENTRY_KEYS = ["body", "integratedTime", "logID", "logIndex", "verification"]
PROOF_KEYS = ["checkpoint", "hashes", "logIndex", "rootHash", "treeSize"]


@pytest.fixture(scope="module")
async def log(database_url_module: str, tmp_path_factory: pytest.TempPathFactory
              ) -> AsyncIterator[RunningLog]:
    server = await start_log(log_settings(database_url_module, tmp_path_factory.mktemp("shapes")))
    yield server
    await server.stop()


async def _raw(session: aiohttp.ClientSession, method: str, url: str,
               json_body: Any = None) -> tuple[int, bytes]:
    async with session.request(method, url, json=json_body) as r:
        assert r.headers["Content-Type"] == "application/json; charset=utf-8"
        return r.status, await r.read()


def _same_as_model(served: bytes, model: Any) -> Any:
    """The served bytes are the model's own dump, and what json.dumps would write."""
    adapter = TypeAdapter(model)
    parsed = adapter.validate_json(served)
    assert adapter.dump_json(parsed) + b"\n" == served
    decoded = json.loads(served)
    old_encoder = json.dumps(decoded, separators=(",", ":"), ensure_ascii=False) + "\n"
    assert old_encoder.encode() == served
    return decoded


def _check_entry(value: dict[str, Any], *, attestation: bool) -> None:
    assert list(value) == ENTRY_KEYS + (["attestation"] if attestation else [])
    assert list(value["verification"]) == ["inclusionProof", "signedEntryTimestamp"]
    assert list(value["verification"]["inclusionProof"]) == PROOF_KEYS
    for number in (value["integratedTime"], value["logIndex"],
                   value["verification"]["inclusionProof"]["treeSize"]):
        assert type(number) is int


async def test_every_served_shape_is_its_model(log: RunningLog, tmp_path: Path) -> None:
    intoto = next(e for e in dsse_entries(tmp_path) if e.name == "intoto-0.0.1")
    async with aiohttp.ClientSession() as s:
        entries_url = f"{log.url}/api/v1/log/entries"
        status, plain = await _raw(s, "POST", entries_url, signed_hashedrekord(b"shapes"))
        assert status == 201
        (plain_id, value), = _same_as_model(plain, LogEntry).items()
        _check_entry(value, attestation=False)
        status, attested = await _raw(s, "POST", entries_url, intoto.proposed)
        assert status == 201
        (attested_id, value), = _same_as_model(attested, LogEntry).items()
        _check_entry(value, attestation=True)
        assert list(value["attestation"]) == ["data"]

        for url in (f"{entries_url}/{plain_id}", f"{entries_url}?logIndex=0"):
            status, body = await _raw(s, "GET", url)
            assert status == 200
            _check_entry(_same_as_model(body, LogEntry)[plain_id], attestation=False)
        status, body = await _raw(s, "POST", f"{entries_url}/retrieve",
                                  {"entryUUIDs": [plain_id, attested_id]})
        assert status == 200
        assert [next(iter(e)) for e in _same_as_model(body, list[LogEntry])] == [plain_id,
                                                                                   attested_id]

        status, body = await _raw(s, "GET", f"{log.url}/api/v1/log")
        info = _same_as_model(body, LogInfo)
        assert list(info) == ["inactiveShards", "rootHash", "signedTreeHead", "treeID",
                              "treeSize"]
        assert info["inactiveShards"] is None and type(info["treeSize"]) is int
        assert type(info["treeID"]) is str

        status, body = await _raw(s, "GET", f"{log.url}/api/v1/log/proof?firstSize=1&lastSize=2")
        assert status == 200
        assert list(_same_as_model(body, ConsistencyProof)) == ["hashes", "rootHash"]

        status, body = await _raw(s, "POST", f"{log.url}/api/v1/index/retrieve",
                                  {"hash": intoto.artifact_hash})
        assert status == 200 and _same_as_model(body, list[str]) == [attested_id]

        for method, url, query, code in [
                ("GET", f"{log.url}/api/v1/nope", None, 404),
                ("POST", f"{log.url}/api/v1/index/retrieve", {"operator": "xor"}, 422),
                ("POST", f"{entries_url}/retrieve", {"entryUUIDs": ["\ud800"]}, 400)]:
            status, body = await _raw(s, method, url, query)
            assert status == code
            error = _same_as_model(body, Error)
            assert list(error) == ["code", "message"] and error["code"] == code


def test_models_omit_and_keep_what_rekor_does() -> None:
    """Without a server: attestation absent is omitted, inactiveShards absent is null."""
    info = LogInfo(rootHash="00", signedTreeHead="c", treeID="1", treeSize=0)
    assert info.model_dump_json() == ('{"inactiveShards":null,"rootHash":"00",'
                                      '"signedTreeHead":"c","treeID":"1","treeSize":0}')
    assert isinstance(info, BaseModel)
    assert Error(code=400, message="bad \ud800").model_dump_json() == (
        '{"code":400,"message":"bad \\\\ud800"}')
