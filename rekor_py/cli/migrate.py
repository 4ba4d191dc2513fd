"""`rekor-py migrate`: apply database migrations and exit (rekor_py/runner.py)."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from rekor_py.cli.common import EXIT_OK, EXIT_USAGE, fail
from rekor_py.cli.serve import database_args, settings_from

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("migrate", help="apply database migrations and exit")
    database_args(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rekor_py.runner import LOG_FORMAT, migrate

    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    try:
        settings = settings_from(args)
    except ValueError as e:
        return fail(args.command, str(e), EXIT_USAGE)
    migrate(settings)
    return EXIT_OK
