"""`rekor-py fsck`: check a log's storage for consistency, read-only (issue 5).

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
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

# The database and crypto stack, and config (pydantic-settings), are imported in run(),
# not here: cli.py imports every command module to build its parser, and client
# commands should start fast.
if TYPE_CHECKING:
    from rekor_py.audit.fsck import Progress
    from rekor_py.audit.report import FsckReport
    from rekor_py.config import Settings
    from rekor_py.log.signer import LogVerifier

__all__ = ["register", "run"]

EXIT_OK, EXIT_DISCREPANCY, EXIT_CANNOT_CHECK = 0, 1, 2


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
    p.add_argument("--public-key", type=Path,
                   help="PEM public key of the log (default: the data dir's signing key)")
    p.add_argument("--signing-key", type=Path,
                   help="the log's PEM private key, as for serve (only its public half is used)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """The handler: returns the exit status."""
    import asyncpg  # type: ignore[import-untyped]

    from rekor_py.audit.source import SourceError, load_verifier
    from rekor_py.config import load_settings

    try:
        settings = load_settings({"data_dir": args.data_dir, "database_url": args.database_url,
                                  "signing_key": args.signing_key})
        key = load_verifier(settings, args.public_key)
    except (ValueError, SourceError) as e:
        return _cannot_check(str(e), args.json)
    progress = _TtyProgress(sys.stderr) if sys.stderr.isatty() else None
    try:
        report = asyncio.run(_check(settings, key.verifier, progress))
    except SourceError as e:
        return _cannot_check(str(e), args.json)
    except asyncpg.UndefinedTableError as e:
        return _cannot_check(f"the database has no rekor-py schema ({e}); run rekor-py migrate",
                             args.json)
    except asyncpg.PostgresError as e:
        return _cannot_check(f"the database refused a query: {e}", args.json)
    finally:
        if progress is not None:
            progress.clear()
    report.key_note = key.note
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        _print_report(report, sys.stdout)
    return EXIT_OK if report.ok else EXIT_DISCREPANCY


async def _check(settings: Settings, verifier: LogVerifier | None,
                 progress: Progress | None) -> FsckReport:
    from rekor_py.audit.fsck import fsck
    from rekor_py.audit.source import open_database

    async with open_database(settings) as conn:
        return await fsck(conn, verifier, progress=progress)


def _cannot_check(message: str, as_json: bool) -> int:
    if as_json:
        print(json.dumps({"ok": False, "error": message}))
    print(f"rekor-py fsck: {message}", file=sys.stderr)
    return EXIT_CANNOT_CHECK


def _print_report(report: FsckReport, out: TextIO) -> None:
    for t in report.trees:
        print(f"tree {t.tree_id} ({t.state}, origin {t.origin!r}): size {t.size}, "
              f"{t.entries_checked} entries and {t.tiles_checked} tiles checked, "
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


class _TtyProgress:
    """Rewrites one status line on a terminal, at most a few times a second."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._started = time.monotonic()
        self._last = 0.0
        self._shown = False

    def __call__(self, tree_id: int, done: int, size: int) -> None:
        now = time.monotonic()
        if now - self._last < 0.2 and done < size:
            return
        self._last = now
        rate = done / max(now - self._started, 1e-9)
        pct = 100.0 * done / size if size else 100.0
        self._out.write(f"\rtree {tree_id}: {done:,}/{size:,} entries ({pct:.1f}%, "
                        f"{rate:,.0f}/s)\x1b[K")
        self._out.flush()
        self._shown = True

    def clear(self) -> None:
        if self._shown:
            self._out.write("\r\x1b[K")
            self._out.flush()
