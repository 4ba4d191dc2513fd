"""Signed entry timestamps stored when an entry is logged (log/set.py).

Every read of an entry serves the SET its write returned, byte for byte: ECDSA
signatures are randomized, so a SET signed again for the read would differ.  A row
without one (logged before revision 0006) gets one signed for the read.  fsck
verifies each stored SET and names the entry whose SET is wrong.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import aiohttp
import asyncpg  # type: ignore[import-untyped]
import pytest

from rekor_py.audit import fsck
from rekor_py.log.set import set_from_stored, verify_set
from rekor_py.log.signer import LogVerifier

from .logserver import RunningLog, post_entry, signed_hashedrekord

ENTRIES = 12


@pytest.fixture
def log(running_log: RunningLog) -> RunningLog:
    return running_log


def _verifier(log: RunningLog) -> LogVerifier:
    return log.runtime.service.signer.verifier


async def _post_many(log: RunningLog) -> dict[str, dict[str, Any]]:
    """ENTRIES entries posted at once (so that they share batches), by UUID."""
    async with aiohttp.ClientSession() as s:
        answers = await asyncio.gather(*(
            post_entry(s, log.url, signed_hashedrekord(b"stored set %d" % i))
            for i in range(ENTRIES)))
    posted = {}
    for status, body, _ in answers:
        assert status == 201, body
        (uuid, value), = body.items()
        posted[uuid] = value
    return posted


def _set_of(value: dict[str, Any]) -> str:
    return str(value["verification"]["signedEntryTimestamp"])


def _check_set(verifier: LogVerifier, value: dict[str, Any]) -> None:
    verify_set(verifier, base64.b64decode(_set_of(value)), base64.b64decode(value["body"]),
               value["integratedTime"], value["logID"], value["logIndex"])


async def test_every_read_serves_the_set_the_write_returned(log: RunningLog,
                                                            database_url: str) -> None:
    verifier = _verifier(log)
    posted = await _post_many(log)
    async with aiohttp.ClientSession() as s:
        for uuid, value in posted.items():
            _check_set(verifier, value)
            async with s.get(f"{log.url}/api/v1/log/entries",
                             params={"logIndex": str(value["logIndex"])}) as r:
                (got_uuid, by_index), = (await r.json()).items()
            async with s.get(f"{log.url}/api/v1/log/entries/{uuid}") as r:
                (_, by_uuid), = (await r.json()).items()
            assert got_uuid == uuid
            assert _set_of(by_index) == _set_of(by_uuid) == _set_of(value)
        some = list(posted)[:10]  # Rekor's limit for one retrieve
        async with s.post(f"{log.url}/api/v1/log/entries/retrieve",
                          json={"entryUUIDs": some}) as r:
            assert r.status == 200
            retrieved = {u: v for one in await r.json() for u, v in one.items()}
        assert {u: _set_of(v) for u, v in retrieved.items()} == {
            u: _set_of(posted[u]) for u in some}

    # Stored in the compact form: r || s, 64 bytes for the P-256 log key.
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT leaf_index, signed_entry_timestamp FROM entries")
    finally:
        await conn.close()
    by_index = {v["logIndex"]: v for v in posted.values()}
    assert sorted(r["leaf_index"] for r in rows) == sorted(by_index)
    for r in rows:
        stored = bytes(r["signed_entry_timestamp"])
        assert len(stored) == 64
        assert set_from_stored(verifier, stored) == base64.b64decode(
            _set_of(by_index[r["leaf_index"]]))


@pytest.mark.parametrize("stored", [None, b"\x01" * 63], ids=["none", "unreadable"])
async def test_a_row_without_a_good_stored_set_gets_one_signed_for_the_read(
        log: RunningLog, database_url: str, stored: bytes | None) -> None:
    """No SET stored (a row logged before revision 0006), or one no P-256 key makes (a
    damaged row, which fsck names): the read answers a good SET signed for it."""
    verifier = _verifier(log)
    posted = await _post_many(log)
    first = next(v for v in posted.values() if v["logIndex"] == 0)
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("UPDATE entries SET signed_entry_timestamp = $1 WHERE leaf_index = 0",
                           stored)
    finally:
        await conn.close()
    async with aiohttp.ClientSession() as s, s.get(f"{log.url}/api/v1/log/entries",
                                                   params={"logIndex": "0"}) as r:
        assert r.status == 200
        (_, value), = (await r.json()).items()
    _check_set(verifier, value)
    assert _set_of(value) != _set_of(first)  # signed anew, not the one stored before


@pytest.mark.parametrize("jobs", [1, 2], ids=["in-process", "2 workers"])
@pytest.mark.parametrize("damage", ["flipped", "another entry's", "truncated"])
async def test_fsck_verifies_stored_sets_and_names_a_wrong_one(
        log: RunningLog, database_url: str, damage: str, jobs: int) -> None:
    verifier = _verifier(log)
    await _post_many(log)
    conn = await asyncpg.connect(database_url)
    try:
        report = await fsck(conn, verifier, jobs=jobs)
        assert report.ok, report.problem
        v1 = next(t for t in report.trees if t.api_major == 1)
        assert v1.sets_verified == ENTRIES
        unkeyed = await fsck(conn, None, jobs=jobs)  # no key, no SET checked
        assert [t.sets_verified for t in unkeyed.trees] == [0] * len(unkeyed.trees)

        stored = bytes(await conn.fetchval(
            "SELECT signed_entry_timestamp FROM entries WHERE leaf_index = 5"))
        other = bytes(await conn.fetchval(
            "SELECT signed_entry_timestamp FROM entries WHERE leaf_index = 6"))
        wrong = {"flipped": stored[:10] + bytes([stored[10] ^ 1]) + stored[11:],
                 "another entry's": other, "truncated": stored[:-1]}[damage]
        await conn.execute("UPDATE entries SET signed_entry_timestamp = $1 WHERE leaf_index = 5",
                           wrong)
        report = await fsck(conn, verifier, jobs=jobs)
    finally:
        await conn.close()
    assert report.problem is not None
    assert (report.problem.check, report.problem.where) == ("entry_set", "entry 5")


# (what is damaged at which entry) -> the discrepancy fsck must name: the first in
# entry order, although with workers the later one is found first.
_FIRST_OF_TWO = {
    "SET 2, leaf hash 9": ("entry_set", "entry 2"),
    "SET 2, SET 9": ("entry_set", "entry 2"),
    "leaf hash 2, SET 9": ("leaf_hash", "entry 2"),
    "SET 9, root": ("entry_set", "entry 9"),
}


@pytest.mark.parametrize("damage", list(_FIRST_OF_TWO))
async def test_fsck_with_workers_names_the_first_discrepancy(
        log: RunningLog, database_url: str, damage: str) -> None:
    """Pages of one entry: each page's SET is a chunk of its own, verified in a worker
    while fsck goes on with the next pages, and more chunks than two workers may have
    outstanding, so fsck also waits for the oldest.  It must still report what a
    check in order reports first."""
    verifier = _verifier(log)
    await _post_many(log)
    conn = await asyncpg.connect(database_url)
    try:
        for part in damage.split(", "):
            what, _, index = part.partition(" ")
            if what == "SET":
                await conn.execute("UPDATE entries SET signed_entry_timestamp = "
                                   "'\\x00'::bytea || signed_entry_timestamp "
                                   "WHERE leaf_index = $1", int(index))
            elif what == "leaf":
                await conn.execute("UPDATE entries SET leaf_hash = sha256(leaf_hash) "
                                   "WHERE leaf_index = $1", int(index.split()[-1]))
            else:  # the trees row's root: found after every entry
                await conn.execute("UPDATE trees SET root_hash = sha256(root_hash) "
                                   "WHERE api_major = 1 AND size > 0")
        in_order = await fsck(conn, verifier, page_size=1)
        with_workers = await fsck(conn, verifier, page_size=1, jobs=2)
    finally:
        await conn.close()
    assert in_order.problem is not None and with_workers.problem is not None
    assert (in_order.problem.check, in_order.problem.where) == _FIRST_OF_TWO[damage]
    assert with_workers.problem == in_order.problem
