"""`rekor-py fsck`: check a log's storage for consistency, read-only.

This module owns the command line and the output: a human summary (or one JSON
object with --json) on stdout, progress on stderr when it is a terminal.  The
checks are rekor_py.audit's.  Exit status: 0 when every check holds, 1 at a
discrepancy (the first one, named precisely), 2 when fsck cannot run (no
database, unreadable key, no rekor-py schema).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from rekor_py.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, Progress, fail

# The database and crypto stack, and config (pydantic-settings), are imported in run(),
# not here: the parser imports every command module, and client commands should start fast.
if TYPE_CHECKING:
    from collections.abc import Sequence

    from cryptography.hazmat.primitives.asymmetric import ed25519

    from rekor_py.audit.fsck import Progress as FsckProgress
    from rekor_py.audit.report import FsckReport
    from rekor_py.config import Settings
    from rekor_py.log.signer import LogVerifier

__all__ = ["register", "run"]

def register(subparsers: Any) -> None:
    """Add `fsck` to the `rekor-py` command."""
    p = subparsers.add_parser(
        "fsck", help="check the stored log for consistency (read-only)",
        description="Recompute every leaf hash, tile and root from the stored entries and "
                    "check them, the tree rows, checkpoints and index keys. Read-only; safe "
                    "while a server runs. Exit 0: consistent; 1: the first discrepancy is "
                    "printed; 2: could not check.")
    p.add_argument("--data-dir", type=Path,
                   help="the log's data dir: its embedded database (attached to if running, "
                        "else started for the check) and signing-key.pem")
    p.add_argument("--database-url", help="postgresql://... instead of the embedded database")
    p.add_argument("--public-key", type=Path, action="append",
                   help="PEM public key of the log (default: the data dir's signing key); "
                        "repeat it for the keys of shards a rotation put under new keys "
                        "(default: also the keys in the data dir's log-keys folder)")
    p.add_argument("--signing-key", type=Path,
                   help="the log's PEM private key, as for serve (only its public half is used)")
    p.add_argument("--v2-public-key", type=Path,
                   help="PEM public key of the Rekor v2 log (default: the data dir's v2 log "
                        "key)")
    p.add_argument("--jobs", type=_jobs, default=None, metavar="N",
                   help="verify stored SETs in N worker processes (default: one per CPU "
                        "this process may use; 1: in fsck's own process)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=run)


def _jobs(text: str) -> int:
    jobs = int(text)
    if jobs < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {jobs}")
    return jobs


def _default_jobs() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)


def run(args: argparse.Namespace) -> int:
    """The handler: returns the exit status."""
    import asyncpg  # type: ignore[import-untyped]

    from rekor_py.audit.set_check import WorkerLost
    from rekor_py.audit.source import (
        SourceError,
        load_more_keys,
        load_v2_key,
        load_verifier,
    )
    from rekor_py.config import load_settings

    try:
        settings = load_settings({"data_dir": args.data_dir, "database_url": args.database_url,
                                  "signing_key": args.signing_key})
        named = args.public_key or []
        key = load_verifier(settings, named[0] if named else None)
        more = load_more_keys(settings, named[1:])
        v2_key, v2_note = load_v2_key(settings, args.v2_public_key)
    except (ValueError, SourceError) as e:
        return _cannot_check(str(e), args.json)
    progress = _TreeProgress() if sys.stderr.isatty() else None
    try:
        report = asyncio.run(_check(settings, key.verifier, v2_key, progress, more,
                                    args.jobs or _default_jobs()))
    except (SourceError, WorkerLost) as e:
        return _cannot_check(str(e), args.json)
    except asyncpg.UndefinedTableError as e:
        return _cannot_check(f"the database has no rekor-py schema ({e}); run rekor-py migrate",
                             args.json)
    except asyncpg.PostgresError as e:
        return _cannot_check(f"the database refused a query: {e}", args.json)
    finally:
        if progress is not None:
            progress.finish()
    report.key_note = f"{key.note}; {v2_note}"
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        _print_report(report, sys.stdout)
    return EXIT_OK if report.ok else EXIT_FAILED


async def _check(settings: Settings, verifier: LogVerifier | None,
                 v2_key: ed25519.Ed25519PublicKey | None,
                 progress: FsckProgress | None,
                 more_keys: Sequence[LogVerifier] = (), jobs: int = 1) -> FsckReport:
    from rekor_py.audit.fsck import fsck
    from rekor_py.audit.source import open_database

    async with open_database(settings) as conn:
        return await fsck(conn, verifier, progress=progress, v2_key=v2_key,
                          more_keys=more_keys, jobs=jobs)


def _cannot_check(message: str, as_json: bool) -> int:
    if as_json:
        print(json.dumps({"ok": False, "error": message}))
    return fail("fsck", message, EXIT_USAGE)


def _print_report(report: FsckReport, out: TextIO) -> None:
    for t in report.trees:
        print(f"tree {t.tree_id} ({t.state}, origin {t.origin!r}): size {t.size}, "
              f"{t.entries_checked} entries ({t.sets_verified} stored SETs verified) and "
              f"{t.tiles_checked} tiles checked, "
              f"root {t.root_hash or '-'}", file=out)
    print(f"key: {report.key_note}", file=out)
    print(f"checked {report.entries_checked} entries and {report.tiles_checked} tiles of "
          f"{len(report.trees)} tree(s) in {report.elapsed_seconds:.2f} s "
          f"({report.entries_per_second:,.0f} entries/s)", file=out)
    problem = report.problem
    if problem is None:
        print("OK: the log is consistent", file=out)
        return
    print(f"FAILED [{problem.check}] at {problem.where}: {problem.message}", file=out)
    if problem.expected is not None:
        print(f"  expected: {problem.expected}", file=out)
    if problem.found is not None:
        print(f"  found:    {problem.found}", file=out)


class _TreeProgress:
    """fsck's progress callback: one bar per tree, on stderr."""

    def __init__(self) -> None:
        self._tree: int | None = None
        self._bar: Progress | None = None

    def __call__(self, tree_id: int, done: int, size: int) -> None:
        if tree_id != self._tree or self._bar is None:
            self.finish()
            self._tree, self._bar = tree_id, Progress(size, label=f"entries of tree {tree_id}")
        self._bar.update(done)

    def finish(self) -> None:
        if self._bar is not None:
            self._bar.finish()
