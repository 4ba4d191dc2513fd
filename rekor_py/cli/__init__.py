"""The `rekor-py` command: one module per subcommand, each with
`register(subparsers)` (its flags) and `run(args) -> int` (the exit code, see
cli/common.py) over a library function.

Command modules import the server stack (aiohttp, asyncpg, SQLAlchemy) and the
crypto they need inside `run`, so that building the parser stays cheap and
client commands start in a fraction of the time.
"""

from __future__ import annotations

import argparse
import importlib

__all__ = ["main"]

COMMANDS = ("serve", "migrate", "upload", "get", "verify", "search", "loginfo", "logproof",
            "monitor", "fsck", "trust_config", "shard", "keys", "witness")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rekor-py", description="A Rekor-compatible transparency log: the server, "
        "its maintenance commands, a client and a monitor.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"rekor_py.cli.{name}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    raise SystemExit(main())
