"""`rekor-py witness`: cosign the checkpoints of the logs in a list (rekor_py/witness/).

    rekor-py witness --name witness.example/w1 --logs logs.policy
        [--listen 127.0.0.1:7380] [--prefix /PATH] [--data-dir DIR | --database-url URL]
        [--key PEM|URI] [--print-vkey]

`--logs` is a c2sp.org/tlog-policy file whose `log <vkey>` lines are the logs to
witness (the vkey's name is the log's origin); other lines are allowed and
ignored.  The Ed25519 key is `--key`, a PEM file or a key URI such as
`pkcs11:token=...;object=...` (docs/keys.md; REKOR_PY_PKCS11_MODULE and
REKOR_PY_PKCS11_PIN apply as for `serve`), else DATA_DIR/witness-key-ed25519.pem,
created on first start (mode 0600).  State lives in the `witness` schema of the
embedded PostgreSQL in DATA_DIR, or of `--database-url`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from pathlib import Path
from typing import Any

from rekor_py.cli.common import EXIT_OK, EXIT_USAGE, fail

__all__ = ["register", "run"]

KEY_FILE = "witness-key-ed25519.pem"


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("witness", help="cosign other logs' checkpoints "
                                              "(c2sp.org/tlog-witness)")
    p.add_argument("--name", required=True, help="the witness's name, URL-like "
                                                 "(e.g. witness.example/w1)")
    p.add_argument("--logs", required=True, type=Path,
                   help="tlog-policy file: its `log <vkey>` lines are the logs to witness")
    p.add_argument("--listen", default="127.0.0.1:7380", help="host:port (default %(default)s)")
    p.add_argument("--prefix", default="", help="URL path before /add-checkpoint")
    p.add_argument("--data-dir", type=Path, default=Path("rekor-py-witness"),
                   help="the key and the embedded database (default ./rekor-py-witness)")
    p.add_argument("--database-url", help="postgresql://... instead of the embedded database")
    p.add_argument("--key", help=f"Ed25519 PEM key file, or a key URI such as pkcs11:... "
                                 f"(default DATA_DIR/{KEY_FILE})")
    p.add_argument("--print-vkey", action="store_true", help="print the verifier key and exit")
    p.set_defaults(run=run)


def _open_key(key: str | None, default: Path) -> Any:
    """The witness's Ed25519 Signer: a key URI's, or a PEM file (created if absent).
    Settings tells a URI from a path the same way as for `serve`'s key settings."""
    import os

    from rekor_py.config import Settings
    from rekor_py.keys import open_note_key

    module = os.environ.get("REKOR_PY_PKCS11_MODULE")
    settings = Settings(note_key=key or default, pkcs11_module=Path(module) if module else None)
    assert settings.note_key is not None
    return open_note_key(settings, settings.note_key, "--key")


def run(args: argparse.Namespace) -> int:
    from rekor_py.log.signer import KeyFileError
    from rekor_py.witness.cosignature import CosignatureSigner
    from rekor_py.witness.policy import PolicyError, parse_policy
    from rekor_py.witness.server import log_keys

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: "
                                                   "%(message)s")
    try:
        if args.key is None:
            args.data_dir.mkdir(parents=True, exist_ok=True)
        signer = CosignatureSigner(args.name, _open_key(args.key, args.data_dir / KEY_FILE))
        logs = log_keys(parse_policy(args.logs.read_text()).logs)
        host, _, port = args.listen.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"--listen {args.listen!r} is not host:port")
    except (OSError, KeyFileError, PolicyError, ValueError) as e:
        return fail("witness", str(e), EXIT_USAGE)
    if args.print_vkey:
        print(signer.verifier.vkey)
        return EXIT_OK
    if not logs:
        return fail("witness", f"{args.logs} lists no log", EXIT_USAGE)
    asyncio.run(_serve(args, signer, logs, host, int(port)))
    return EXIT_OK


async def _serve(args: argparse.Namespace, signer: Any, logs: Any, host: str,
                 port: int) -> None:
    from aiohttp import web

    from rekor_py.storage.db import create_pool
    from rekor_py.storage.embedded import EmbeddedPostgres
    from rekor_py.witness.server import Witness, witness_app
    from rekor_py.witness.store import WitnessStore

    log = logging.getLogger("rekor_py.witness")
    embedded, dsn = None, args.database_url
    if dsn is None:
        embedded = EmbeddedPostgres(args.data_dir / "postgres")
        dsn = await asyncio.to_thread(embedded.start)
    pool = await create_pool(dsn, min_size=1, max_size=4)
    runner = None
    try:
        store = WitnessStore(pool)
        await store.create()
        runner = web.AppRunner(witness_app(Witness(signer, logs, store), args.prefix))
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        log.info("witness %s serving %d logs on http://%s:%d%s/add-checkpoint; vkey %s",
                 signer.verifier.name, len(logs), host, port, args.prefix.rstrip("/"),
                 signer.verifier.vkey)
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        if runner is not None:
            await runner.cleanup()
        await pool.close()
        if embedded is not None and embedded.started:
            await asyncio.to_thread(embedded.stop)
