"""`rekor-py monitor`: follow a log's C2SP checkpoints and watch for keys and emails.

    rekor-py monitor --url URL --state FILE [--tiles-url URL] [--key PEM] [--vkey VKEY]
                     [--watch-email E ...] [--watch-key PEM ...] [--once | --interval S]

Each pass (rekor_py/monitor/check.py) verifies the checkpoint's signatures,
its consistency with the last verified checkpoint in FILE, and every new entry
against the tiles; then it prints matches and saves FILE atomically.

Trust on first use: without FILE, the keys come from --key (the log's PEM key)
and --vkey (a C2SP verifier key, e.g. the Ed25519 note key), or else from the
log itself (GET /api/v1/log/publicKey and <tiles>/checkpoint.vkeys), and are
pinned in FILE.  The origin is pinned from the first checkpoint.

Output: one "match: ..." line per watched entry and one "ok: ..." line per pass
on stdout; errors on stderr; a progress bar on stderr when it is a terminal.
Exit codes: 0 consistent; 1 the log is inconsistent (both checkpoints printed
on stdout); 2 bad arguments or state file; 3 the log could not be read.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["register"]


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("monitor", help="verify a log's growth and watch for keys/emails")
    p.add_argument("--url", required=True, help="the log server (Rekor API) URL")
    p.add_argument("--tiles-url", help="the tile API prefix URL (default: --url)")
    p.add_argument("--state", required=True, type=Path, help="state file (JSON)")
    p.add_argument("--key", type=Path,
                   help="the log's PEM public key (default on first run: fetched from the log)")
    p.add_argument("--vkey", action="append", default=[],
                   help="a C2SP verifier key to require too (default on first run: "
                        "the log's Ed25519 key from <tiles>/checkpoint.vkeys)")
    p.add_argument("--watch-email", action="append", default=[], metavar="E")
    p.add_argument("--watch-key", action="append", default=[], type=Path, metavar="PEM")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--once", action="store_true", help="check once and exit (default)")
    mode.add_argument("--interval", type=float, metavar="S", help="check every S seconds")
    p.set_defaults(handler=_main)


def _main(args: argparse.Namespace) -> int:
    # Imported here: the monitor pulls in aiohttp's client, which other
    # rekor-py commands should not pay for at start-up.
    from rekor_py.monitor.command import main

    return main(args)
