"""A witness written by others cosigns rekor-py's logs: litewitness (filippo.io/torchwood).

rekor-py sends each new head of its v1 tree and of its Rekor v2 tree to
litewitness (c2sp.org/tlog-witness), verifies the cosignature it answers with
(c2sp.org/tlog-cosignature) and serves it in the checkpoint; `rekor-py monitor
--witness-policy` accepts that checkpoint only with the quorum.  Failure modes
with a real witness: one that lost its latest state (restored from an old
copy), a log that shows it a fork, a witness that is down with fail-closed
witnessing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
import requests

from rekor_py import cli
from rekor_py.log.c2sp import NoteVerifier, load_or_create_note_key
from rekor_py.log.checkpoint import parse_checkpoint
from tests.integration.conftest import scratch_database
from tests.integration.load import ServeProcess
from tests.integration.logserver import free_port, signed_hashedrekord
from tests.integration.test_rekor_v2 import v2_request
from tests.interop.litewitness import Litewitness, copy_state, start_litewitness

HOST = "witnessed.test"
V1_ORIGIN = f"{HOST}/tlog"  # the tile API of the v1 tree, under --tile-prefix /tlog
V2_ORIGIN = HOST


@pytest.fixture
def litewitness(interop_tools: dict[str, Path], tmp_path: Path) -> Iterator[Litewitness]:
    witness = start_litewitness(interop_tools, tmp_path / "litewitness")
    try:
        yield witness
    finally:
        witness.close()


def _log_keys(data_dir: Path) -> tuple[str, str]:
    """The data dir's note key and v2 key (made now, as the server would on first
    start), as the verifier keys a witness is told."""
    data_dir.mkdir(parents=True, exist_ok=True)
    note = load_or_create_note_key(data_dir / "note-key-ed25519.pem").public_key
    v2 = load_or_create_note_key(data_dir / "v2-log-key-ed25519.pem").public_key
    return NoteVerifier.ed25519(V1_ORIGIN, note).vkey, NoteVerifier.ed25519(V2_ORIGIN, v2).vkey


def _policy(path: Path, witnesses: dict[str, tuple[str, str]], quorum: str) -> Path:
    path.write_text("".join(f"witness {name} {vkey} {url}\n"
                            for name, (vkey, url) in witnesses.items()) + f"quorum {quorum}\n")
    return path


def _serve(database_url: str, data_dir: Path, policy: Path, **env: str) -> ServeProcess:
    server = ServeProcess(database_url, data_dir, free_port(), hostname=HOST,
                          extra_args=("--tile-prefix", "/tlog"),
                          env={"REKOR_PY_WITNESS_POLICY": str(policy),
                               "REKOR_PY_WITNESS_INTERVAL_MS": "50", **env})
    server.start()
    return server


def _upload(server: ServeProcess, n: int, tag: str, v2: int = 0) -> list[int]:
    statuses = []
    with requests.Session() as s:
        for i in range(n):
            r = s.post(f"{server.url}/api/v1/log/entries",
                       json=signed_hashedrekord(f"{tag} {i}".encode()), timeout=30)
            statuses.append(r.status_code)
        for i in range(v2):
            r = s.post(f"{server.url}/api/v2/log/entries",
                       json=v2_request(f"{tag} v2 {i}".encode()), timeout=30)
            statuses.append(r.status_code)
    return statuses


def _text(url: str) -> str:
    return requests.get(url, timeout=10).text


def _cosigned(url: str, witness: Litewitness, size: int, timeout: float = 20) -> str:
    """The served checkpoint once it is at least `size` and cosigned by `witness`."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = requests.get(url, timeout=10).text
        body = parse_checkpoint(text).checkpoint
        if body.size >= size and witness.verifier.find(text, body.body()) is not None:
            return text
        time.sleep(0.05)
    raise AssertionError(f"no checkpoint of size {size} cosigned by {witness.name}:\n{text}")


async def _monitor(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = await asyncio.to_thread(cli.main, ["monitor", "--once", *args])
    return code, capsys.readouterr().out


async def test_litewitness_cosigns_both_trees_and_the_monitor_checks(
        litewitness: Litewitness, postgres_admin_dsn: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    async with scratch_database(postgres_admin_dsn) as db:
        data_dir = tmp_path / "log"
        v1_vkey, v2_vkey = _log_keys(data_dir)
        litewitness.add_log(V1_ORIGIN, v1_vkey)
        litewitness.add_log(V2_ORIGIN, v2_vkey)
        dead = f"http://127.0.0.1:{free_port()}"  # a witness that is down: fail-open goes on
        other = start_other_key(tmp_path)
        policy = _policy(tmp_path / "policy", {"lw": (litewitness.verifier.vkey, litewitness.url),
                                               "gone": (other, dead)}, "lw")
        server = _serve(db, data_dir, policy)
        try:
            assert set(await asyncio.to_thread(_upload, server, 5, "a", 3)) == {201}
            v1 = await asyncio.to_thread(_cosigned, f"{server.url}/tlog/checkpoint",
                                         litewitness, 5)
            v2 = await asyncio.to_thread(_cosigned, f"{server.url}/api/v2/checkpoint",
                                         litewitness, 3)
            assert parse_checkpoint(v1).checkpoint.origin == V1_ORIGIN
            assert parse_checkpoint(v2).checkpoint.origin == V2_ORIGIN
            # Beside the v1 tree head too.
            beside = await asyncio.to_thread(_text, f"{server.url}/api/v1/log/checkpoint")
            assert litewitness.verifier.find(beside, parse_checkpoint(beside).checkpoint.body())

            monitor_policy = _policy(tmp_path / "monitor-policy",
                                     {"lw": (litewitness.verifier.vkey, "")}, "lw")
            state = tmp_path / "state.json"
            args = ["--url", server.url, "--tiles-url", f"{server.url}/tlog", "--state",
                    str(state), "--witness-policy", str(monitor_policy)]
            code, out = await _monitor(capsys, *args)
            assert code == 0 and "cosigned by lw" in out, out
            # A policy that wants a witness that never cosigned: not accepted, not saved.
            strict = _policy(tmp_path / "strict", {"lw": (litewitness.verifier.vkey, ""),
                                                   "gone": (other, "")}, "gone")
            saved = state.read_text()
            code, out = await _monitor(capsys, *args[:-1], str(strict))
            assert code == 1 and "NOT WITNESSED" in out and "cosigned by lw" in out, out
            assert state.read_text() == saved
        finally:
            server.stop()


def start_other_key(tmp_path: Path) -> str:
    """A cosignature vkey nobody answers for."""
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from rekor_py.witness.cosignature import CosignatureVerifier

    return CosignatureVerifier.of("witness.test/gone",
                                  ed25519.Ed25519PrivateKey.generate().public_key()).vkey


async def test_a_witness_restored_from_an_old_copy_is_caught_up(
        litewitness: Litewitness, postgres_admin_dsn: str, tmp_path: Path) -> None:
    """litewitness loses its latest state: it answers 409 with its older size, and
    the log sends the proof from there."""
    async with scratch_database(postgres_admin_dsn) as db:
        data_dir = tmp_path / "log"
        v1_vkey, v2_vkey = _log_keys(data_dir)
        litewitness.add_log(V1_ORIGIN, v1_vkey)
        policy = _policy(tmp_path / "policy", {"lw": (litewitness.verifier.vkey,
                                                      litewitness.url)}, "lw")
        server = _serve(db, data_dir, policy, REKOR_PY_REKOR_V2="false")
        try:
            await asyncio.to_thread(_upload, server, 3, "old")
            await asyncio.to_thread(_cosigned, f"{server.url}/tlog/checkpoint", litewitness, 3)
            litewitness.stop()
            copy_state(litewitness, tmp_path / "old.db")
            litewitness.start()
            await asyncio.to_thread(_upload, server, 4, "newer")
            await asyncio.to_thread(_cosigned, f"{server.url}/tlog/checkpoint", litewitness, 7)
            litewitness.stop()
            copy_state_back(tmp_path / "old.db", litewitness)  # back to size 3
            litewitness.start()
            await asyncio.to_thread(_upload, server, 2, "after")
            text = await asyncio.to_thread(_cosigned, f"{server.url}/tlog/checkpoint",
                                           litewitness, 9)
            assert parse_checkpoint(text).checkpoint.size == 9
        finally:
            server.stop()


def copy_state_back(source: Path, witness: Litewitness) -> None:
    for suffix in ("", "-wal", "-shm"):
        target = Path(f"{witness.db}{suffix}")
        target.unlink(missing_ok=True)
        src = Path(f"{source}{suffix}")
        if src.exists():
            target.write_bytes(src.read_bytes())


async def test_a_forked_log_gets_one_branch_cosigned(
        litewitness: Litewitness, postgres_admin_dsn: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Two databases, one set of keys and one origin: the log shows two histories.
    litewitness cosigns the first it sees and refuses the other; the monitor,
    given the fork's checkpoint, finds no quorum."""
    data_dir = tmp_path / "log"
    v1_vkey, _ = _log_keys(data_dir)
    litewitness.add_log(V1_ORIGIN, v1_vkey)
    policy = _policy(tmp_path / "policy", {"lw": (litewitness.verifier.vkey,
                                                  litewitness.url)}, "lw")
    async with scratch_database(postgres_admin_dsn) as db_a, \
            scratch_database(postgres_admin_dsn) as db_b:
        a = _serve(db_a, data_dir, policy, REKOR_PY_REKOR_V2="false")
        try:
            await asyncio.to_thread(_upload, a, 3, "branch a")
            await asyncio.to_thread(_cosigned, f"{a.url}/tlog/checkpoint", litewitness, 3)
        finally:
            a.stop()
        b = _serve(db_b, data_dir, policy, REKOR_PY_REKOR_V2="false")
        try:
            await asyncio.to_thread(_upload, b, 5, "branch b")
            with pytest.raises(AssertionError, match="no checkpoint of size 5 cosigned"):
                await asyncio.to_thread(_cosigned, f"{b.url}/tlog/checkpoint", litewitness, 5,
                                        3)
            log = (data_dir / f"serve-{b.port}.log").read_text()
            assert "witness lw: refused: HTTP 422" in log or "witness lw: fork" in log, log[-2000:]
            monitor_policy = _policy(tmp_path / "monitor-policy",
                                     {"lw": (litewitness.verifier.vkey, "")}, "lw")
            code, out = await _monitor(capsys, "--url", b.url, "--tiles-url", f"{b.url}/tlog",
                                       "--state", str(tmp_path / "state.json"),
                                       "--witness-policy", str(monitor_policy))
            assert code == 1 and "NOT WITNESSED" in out, out
        finally:
            b.stop()


async def test_fail_closed_waits_for_the_quorum(
        litewitness: Litewitness, postgres_admin_dsn: str, tmp_path: Path) -> None:
    """Fail-closed: a POST is acknowledged once a checkpoint holding it has the
    quorum; with the quorum's witness down, it gets 503 with Rekor's body."""
    async with scratch_database(postgres_admin_dsn) as db:
        data_dir = tmp_path / "log"
        v1_vkey, _ = _log_keys(data_dir)
        litewitness.add_log(V1_ORIGIN, v1_vkey)
        policy = _policy(tmp_path / "policy", {"lw": (litewitness.verifier.vkey,
                                                      litewitness.url)}, "lw")
        server = _serve(db, data_dir, policy, REKOR_PY_REKOR_V2="false",
                        REKOR_PY_WITNESS_FAIL_CLOSED="true", REKOR_PY_WITNESS_WAIT_S="2")
        try:
            async with aiohttp.ClientSession() as s:
                async with s.post(f"{server.url}/api/v1/log/entries",
                                  json=signed_hashedrekord(b"closed 1")) as r:
                    assert r.status == 201
                    size = (await r.json())
                text = await asyncio.to_thread(_text, f"{server.url}/tlog/checkpoint")
                body = parse_checkpoint(text).checkpoint
                proof = next(iter(size.values()))["verification"]["inclusionProof"]
                assert body.size >= proof["treeSize"]
                assert litewitness.verifier.find(text, body.body()) is not None
                litewitness.stop()
                entry = signed_hashedrekord(b"closed 2")
                async with s.post(f"{server.url}/api/v1/log/entries", json=entry) as r:
                    assert r.status == 503 and r.headers["Retry-After"] == "1"
                    assert (await r.json())["code"] == 503
                async with s.post(f"{server.url}/api/v1/log/entries", json=entry) as r:
                    assert r.status == 409  # logged all the same: a retry finds it
        finally:
            server.stop()
