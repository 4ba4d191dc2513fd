"""`rekor-py monitor` against real logs over HTTP on real PostgreSQL.

The command runs through rekor_py.cli.main in a worker thread (it owns its event
loop), against servers on the test's loop.  Covered: watched key and email
reported once, state resumes; a fork (two databases, one data dir: same keys and
origin, different histories) and a rewritten entry body exit 1 with both
checkpoints; a checkpoint signed by another key exits 1; the state file is
replaced atomically.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import os
from pathlib import Path

import aiohttp
import asyncpg  # type: ignore[import-untyped]
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from rekor_py import cli
from rekor_py.monitor import state as state_mod
from rekor_py.storage.body_codec import decode_body, encode_body
from rekor_py.storage.migrate import migrate
from tests.integration.conftest import scratch_database
from tests.integration.logserver import (
    RunningLog,
    log_settings,
    post_entry,
    signed_hashedrekord,
    start_log,
)


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def _cert_entry(artifact: bytes, email: str) -> dict[str, object]:
    """A hashedrekord signed with a self-signed certificate carrying `email` as SAN."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "monitor test")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(email)]), False)
            .sign(key, hashes.SHA256()))
    entry = signed_hashedrekord(artifact, key)
    import base64
    entry["spec"]["signature"]["publicKey"]["content"] = base64.b64encode(  # type: ignore[index]
        cert.public_bytes(serialization.Encoding.PEM)).decode()
    return entry


def _dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


async def _post(log: RunningLog, *entries: dict[str, object]) -> None:
    async with aiohttp.ClientSession() as session:
        for entry in entries:
            status, body, _ = await post_entry(session, log.url, entry)
            assert status == 201, body


async def _monitor(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = await asyncio.to_thread(cli.main, ["monitor", "--once", *args])
    return code, capsys.readouterr().out


async def test_monitor_reports_watched_entries_and_resumes(
        database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = await start_log(log_settings(database_url, _dir(tmp_path / "log")))
    watched = ec.generate_private_key(ec.SECP256R1())
    key_file = tmp_path / "watched.pem"
    key_file.write_bytes(_pem(watched))
    state = tmp_path / "state.json"
    args = ["--url", log.url, "--state", str(state), "--watch-key", str(key_file),
            "--watch-email", "Alice@Example.com"]
    try:
        await _post(log, signed_hashedrekord(b"a"), signed_hashedrekord(b"b", watched),
                    _cert_entry(b"c", "alice@example.com"), signed_hashedrekord(b"d"))
        code, out = await _monitor(capsys, *args)
        assert code == 0, out
        matches = [line for line in out.splitlines() if line.startswith("match:")]
        assert len(matches) == 2
        assert "log_index=1 " in matches[0] and " key " in matches[0]
        assert "log_index=2 " in matches[1] and "email alice@example.com" in matches[1]
        saved = json.loads(state.read_text())
        assert saved["checkpoint"].split("\n")[1] == "4" and len(saved["verifiers"]) == 2
        # No temporary state file left behind.
        assert [p.name for p in tmp_path.iterdir()  # noqa: ASYNC240  a small local directory
                if p.name.startswith(".")] == []
        # Resume: only the new entries are walked and reported.
        await _post(log, signed_hashedrekord(b"e"), signed_hashedrekord(b"f", watched))
        code, out = await _monitor(capsys, *args)
        assert code == 0, out
        assert [line.split()[1] for line in out.splitlines() if line.startswith("match:")] \
            == ["log_index=5"]
        assert "size 6 (2 new entries verified" in out
        code, out = await _monitor(capsys, *args)
        assert code == 0 and "0 new entries" in out
    finally:
        await log.stop()


async def test_monitor_catches_a_fork(postgres_admin_dsn: str, database_url: str,
                                      tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                      ) -> None:
    data_dir = _dir(tmp_path / "shared-data-dir")  # one log key and note key for both logs
    state = tmp_path / "state.json"
    log_a = await start_log(log_settings(database_url, data_dir, hostname="fork.test"))
    try:
        await _post(log_a, *(signed_hashedrekord(b"a%d" % i) for i in range(3)))
        code, out = await _monitor(capsys, "--url", log_a.url, "--state", str(state))
        assert code == 0, out
        good = state.read_text()
    finally:
        await log_a.stop()
    async with scratch_database(postgres_admin_dsn) as other_db:
        await migrate(other_db)
        log_b = await start_log(log_settings(other_db, data_dir, hostname="fork.test"))
        try:
            await _post(log_b, *(signed_hashedrekord(b"b%d" % i) for i in range(5)))
            code, out = await _monitor(capsys, "--url", log_b.url, "--state", str(state))
            assert code == 1
            assert "INCONSISTENT LOG: no valid consistency proof from 3 to 5" in out
            old, new = out.split("--- new checkpoint ---\n")
            assert "fork.test\n3\n" in old and new.startswith("fork.test\n5\n")
            assert state.read_text() == good  # nothing saved from the forked log
        finally:
            await log_b.stop()
    # A log with the same origin but another key: the signature does not verify.  (A
    # server refuses to sign the first log's tree with a key it was not created with.)
    async with scratch_database(postgres_admin_dsn) as third_db:
        await migrate(third_db)
        log_c = await start_log(log_settings(third_db, _dir(tmp_path / "other-keys"),
                                             hostname="fork.test"))
        try:
            code, out = await _monitor(capsys, "--url", log_c.url, "--state", str(state))
            assert code == 1 and "checkpoint does not verify" in out
        finally:
            await log_c.stop()


async def test_monitor_catches_a_rewritten_entry(database_url: str, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    log = await start_log(log_settings(database_url, _dir(tmp_path / "log")))
    state = tmp_path / "state.json"
    try:
        await _post(log, *(signed_hashedrekord(b"x%d" % i) for i in range(5)))
        code, out = await _monitor(capsys, "--url", log.url, "--state", str(state))
        assert code == 0, out
        await _post(log, *(signed_hashedrekord(b"y%d" % i) for i in range(5)))
        conn = await asyncpg.connect(database_url)
        try:
            # The stored form is body_codec's: rewrite the canonical body it holds.
            stored = await conn.fetchval("SELECT body FROM entries WHERE leaf_index = 7")
            body = decode_body(stored).replace(b"sha256", b"SHA256")
            changed = await conn.fetch("UPDATE entries SET body = $1 WHERE leaf_index = 7 "
                                       "RETURNING 1", encode_body(body))
            assert len(changed) == 1
        finally:
            await conn.close()
        code, out = await _monitor(capsys, "--url", log.url, "--state", str(state))
        assert code == 1
        assert "entry 7 does not hash to its leaf hash in tile/0/000.p/10" in out
        assert "--- last verified checkpoint ---\n127.0.0.1" in out
        assert json.loads(state.read_text())["checkpoint"].split("\n")[1] == "5"
    finally:
        await log.stop()


def test_state_is_replaced_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from rekor_py.log.c2sp import NoteVerifier
    v = NoteVerifier.ed25519("o", ed25519.Ed25519PrivateKey.generate().public_key())
    path = tmp_path / "state.json"
    state_mod.save_state(path, state_mod.MonitorState("o", (v,), None))
    before = path.read_bytes()
    assert state_mod.load_state(path) == state_mod.MonitorState("o", (v,), None)

    def broken(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(state_mod.StateError):
        state_mod.save_state(path, state_mod.MonitorState("o", (v,), "x"))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]
    assert hashlib.sha256(before).digest()  # unchanged, still loadable
    assert state_mod.load_state(path) is not None
