"""`rekor-py shard list|rotate`: the log's shards, and rotating into a new one.

`rotate` freezes the active v1 tree and starts a new one (log/rotation.py),
while servers keep running: they move to the new tree on their next batch.
`--new-key` signs the new shard with a fresh ECDSA P-256 key, written to the
log-keys folder (Settings.log_keys_path, mode 0600) where this data dir's
servers look for keys they lack; `--new-key-file` puts a key of yours there.
Servers on other hosts need the same file in their own log-keys folder first.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rekor_py.cli.common import EXIT_OK, EXIT_USAGE, fail
from rekor_py.cli.serve import database_args, server_settings

if TYPE_CHECKING:
    from rekor_py.config import Settings
    from rekor_py.log.signer import LogSigner

__all__ = ["register", "run"]

EXIT_FAILED = 1


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("shard", help="list the log's shards, or rotate into a new one")
    actions = p.add_subparsers(dest="action", required=True)
    for name, text in (("list", "print every tree of the log, frozen and active"),
                       ("rotate", "freeze the active tree and start a new shard")):
        a = actions.add_parser(name, help=text)
        database_args(a)
        # Not type=Path: a pkcs11: URI must reach the settings as written (docs/keys.md).
        a.add_argument("--signing-key",
                       help="the log's key as `serve` has it, a PEM file or a key URI "
                            "(default: the data dir's)")
        a.add_argument("--json", action="store_true", help="print JSON")
        if name == "rotate":
            new = a.add_mutually_exclusive_group()
            new.add_argument("--new-key", action="store_true",
                             help="sign the new shard with a fresh ECDSA P-256 key")
            new.add_argument("--new-key-file", type=Path,
                             help="sign the new shard with this PEM private key")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    action, new_key = args.action, getattr(args, "new_key", False)
    new_key_file = getattr(args, "new_key_file", None)
    as_json = args.json
    settings = server_settings(args)
    if isinstance(settings, int):
        return settings
    from rekor_py.errors import StorageError
    from rekor_py.log.signer import KeyFileError

    try:
        result = asyncio.run(_run(settings, action, new_key, new_key_file))
    except (StorageError, KeyFileError, OSError) as e:
        return fail("shard", str(e), EXIT_FAILED)
    if isinstance(result, str):
        return fail("shard", result, EXIT_USAGE)
    print(json.dumps(result, indent=2) if as_json else _text(result))
    return EXIT_OK


def _text(result: dict[str, Any]) -> str:
    lines = []
    if "rotated" in result:
        lines.append(f"froze tree {result['rotated']['treeID']} at size "
                     f"{result['rotated']['treeSize']}; new active tree {result['active']}")
    lines.extend(f"tree {t['treeID']} {t['state']:6} first index {t['firstIndex']} "
                 f"size {t['treeSize']} key {t['logID'] or '(configured)'}"
                 for t in result["shards"])
    return "\n".join(lines)


async def _run(settings: Settings, action: str, new_key: bool,
               new_key_file: Path | None) -> dict[str, Any] | str:
    from rekor_py.log.rotation import rotate
    from rekor_py.server import load_keyring, load_signer, tree_checkpoint_name
    from rekor_py.storage import log_store
    from rekor_py.storage.db import create_pool
    from rekor_py.storage.embedded import EmbeddedPostgres

    embedded, dsn = None, settings.database_url
    if dsn is None:
        embedded = EmbeddedPostgres(settings.data_dir / "postgres")
        dsn = await asyncio.to_thread(embedded.start)  # attaches to a running server
    pool = await create_pool(dsn, min_size=1, max_size=2)
    try:
        out: dict[str, Any] = {}
        if action == "rotate":
            keyring = load_keyring(settings, load_signer(settings))
            new_signer = _new_signer(settings, new_key, new_key_file)
            async with pool.acquire() as conn:
                active = await log_store.get_active_tree(conn, 1)
            if active is None:
                return "the database holds no v1 tree yet: start the server once first"
            done = await rotate(pool, tree_checkpoint_name(active, settings), keyring,
                                new_signer)
            out["rotated"] = {"treeID": str(done.frozen.tree_id),
                              "treeSize": done.frozen.size}
            out["active"] = str(done.active.tree_id)
        async with pool.acquire() as conn:
            trees = await log_store.list_trees(conn, 1)
        out["shards"] = [{"treeID": str(t.tree_id), "state": t.state, "treeSize": t.size,
                          "firstIndex": t.virtual_offset,
                          "logID": t.log_id.hex() if t.log_id else None} for t in trees]
        return out
    finally:
        await pool.close()
        if embedded is not None and embedded.started:  # not a running server's
            await asyncio.to_thread(embedded.stop)


def _new_signer(settings: Settings, new_key: bool, new_key_file: Path | None
                ) -> LogSigner | None:
    """The new shard's key, saved in the log-keys folder; None: keep the key."""
    from rekor_py.log.signer import KeyFileError, LogSigner

    if not new_key and new_key_file is None:
        return None
    password = settings.signing_key_password()
    signer = (LogSigner.generate() if new_key_file is None
              else LogSigner.from_pem(new_key_file.read_bytes(), password))
    folder = settings.log_keys_path
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / f"{signer.log_id_hex[:16]}.pem"
    if not path.exists():
        from rekor_py.statefile import create_new_file

        create_new_file(path, signer.private_pem(password), 0o600)
    elif LogSigner.from_pem(path.read_bytes(), password).log_id != signer.log_id:
        raise KeyFileError(f"{path} holds another key")
    return signer
