"""`rekor-py monitor` across rotations of the v1 log (`rekor-py shard rotate`).

The monitor checks the frozen tree's end (its final checkpoint under the
pinned key, consistent with what it verified, and the entries in between
proven and scanned), then follows the new tree under the same keys, or under
a new log key that the pinned note key vouches for.  Watched entries are
reported at their log-wide index.  A frozen tree that ends before what the
monitor already verified is reported as an inconsistent log.
"""

from __future__ import annotations

import json
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from rekor_py import merkle
from rekor_py.log.checkpoint import Checkpoint, format_checkpoint, origin_for
from rekor_py.log.rotation import rotate
from rekor_py.log.signer import LogSigner
from rekor_py.server import load_keyring, load_signer
from tests.integration.logserver import RunningLog, log_settings, signed_hashedrekord, start_log
from tests.integration.test_monitor import _monitor, _post


async def _rotate(log: RunningLog, new_key: bool) -> None:
    settings = log.settings
    signer = None
    if new_key:
        signer = LogSigner.generate()
        settings.log_keys_path.mkdir(parents=True, exist_ok=True)
        (settings.log_keys_path / f"{signer.log_id_hex[:16]}.pem").write_bytes(signer.private_pem())
    await rotate(log.runtime.pool, log.runtime.service.checkpoint_name,
                 load_keyring(settings, load_signer(settings)), signer)


def _matches(out: str) -> list[str]:
    return [line.split()[1] for line in out.splitlines() if line.startswith("match:")]


@pytest.mark.parametrize("new_key", [False, True], ids=["same-key", "new-key"])
async def test_monitor_follows_rotations(new_key: bool, database_url: str, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    log = await start_log(log_settings(database_url, tmp_path / "log"))
    watched = ec.generate_private_key(ec.SECP256R1())
    key_file = tmp_path / "watched.pem"
    key_file.write_bytes(watched.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    state = tmp_path / "state.json"
    args = ["--url", log.url, "--state", str(state), "--watch-key", str(key_file)]
    try:
        await _post(log, signed_hashedrekord(b"a"), signed_hashedrekord(b"b", watched),
                    signed_hashedrekord(b"c"))
        code, out = await _monitor(capsys, *args)
        assert code == 0 and _matches(out) == ["log_index=1"], out
        # Two more in the first tree (one watched), which the monitor has not seen yet.
        await _post(log, signed_hashedrekord(b"d", watched), signed_hashedrekord(b"e"))
        await _rotate(log, new_key)
        await _post(log, signed_hashedrekord(b"f"), signed_hashedrekord(b"g", watched))
        code, out = await _monitor(capsys, *args)
        assert code == 0, out
        assert "frozen at size 5 (verified, 2 entries checked)" in out
        # Found in the frozen tree's tail, then in the new tree at its log-wide index.
        assert _matches(out) == ["log_index=3", "log_index=6"]
        saved = json.loads(state.read_text())
        assert saved["first_index"] == 5
        assert saved["origin"].endswith(f"/{log.runtime.service.tree_id}")
        # A second rotation, from a shard that is not the first.
        await _rotate(log, new_key)
        await _post(log, signed_hashedrekord(b"h", watched))
        code, out = await _monitor(capsys, *args)
        assert code == 0 and "frozen at size 2 (verified, 0 entries checked)" in out, out
        assert _matches(out) == ["log_index=7"]
        code, out = await _monitor(capsys, *args)
        assert code == 0 and "0 new entries" in out
    finally:
        await log.stop()


async def test_monitor_refuses_a_frozen_tree_that_went_back(
        database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The frozen tree's final checkpoint is validly signed but ends before the size
    the monitor verified: a rewrite of history, reported with both checkpoints."""
    log = await start_log(log_settings(database_url, tmp_path / "log"))
    state = tmp_path / "state.json"
    args = ["--url", log.url, "--state", str(state)]
    try:
        await _post(log, *(signed_hashedrekord(b"x%d" % i) for i in range(5)))
        code, out = await _monitor(capsys, *args)
        assert code == 0, out
        frozen_id = log.runtime.service.tree_id
        await _rotate(log, False)
        # The operator's key re-signs the frozen tree at 4 entries.
        conn = await asyncpg.connect(database_url)
        try:
            leaves = [bytes(r["leaf_hash"]) for r in await conn.fetch(
                "SELECT leaf_hash FROM entries WHERE tree_id = $1 ORDER BY leaf_index",
                frozen_id)]
            root = merkle.root_hash(leaves[:4])
            name = log.runtime.service.checkpoint_name
            signer = load_signer(log.settings)
            note = format_checkpoint(Checkpoint(origin_for(name, frozen_id), 4, root), signer,
                                     name)
            await conn.execute("UPDATE trees SET size = 4, root_hash = $2, checkpoint = $3 "
                               "WHERE tree_id = $1", frozen_id, root, note)
        finally:
            await conn.close()
        good = state.read_text()
        code, out = await _monitor(capsys, *args)
        assert code == 1, out
        assert "across a rotation: the frozen tree ends at 4, before the 5 entries" in out
        assert state.read_text() == good  # nothing saved
    finally:
        await log.stop()
