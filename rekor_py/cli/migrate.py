"""`rekor-py migrate`: apply database migrations and exit (rekor_py/runner.py)."""

from __future__ import annotations

import argparse
from typing import Any

from rekor_py.cli.common import EXIT_OK
from rekor_py.cli.serve import database_args, server_settings

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("migrate", help="apply database migrations and exit")
    database_args(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rekor_py.runner import migrate

    settings = server_settings(args)
    if isinstance(settings, int):
        return settings
    migrate(settings)
    return EXIT_OK
