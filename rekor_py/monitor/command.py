"""The monitor command's implementation: flags parsed by rekor_py/commands/monitor.py."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519

from rekor_py.log.c2sp import SIG_ECDSA, NoteVerifier
from rekor_py.log.checkpoint import CheckpointError, parse_checkpoint
from rekor_py.log.signer import KeyFileError, LogVerifier
from rekor_py.monitor.check import LogInconsistent, check_log
from rekor_py.monitor.fetch import FetchError, TileFetcher
from rekor_py.monitor.progress import Progress
from rekor_py.monitor.state import MonitorState, StateError, load_state, save_state
from rekor_py.monitor.watch import Watchlist
from rekor_py.pki.base import PKIError

__all__ = ["main", "run_monitor"]

EXIT_OK, EXIT_INCONSISTENT, EXIT_USAGE, EXIT_FETCH = 0, 1, 2, 3


def main(args: argparse.Namespace) -> int:
    try:
        watch = Watchlist(args.watch_email, [p.read_bytes() for p in args.watch_key])
        key_pem = args.key.read_bytes() if args.key is not None else None
    except (OSError, PKIError) as e:
        print(f"rekor-py monitor: {e}", file=sys.stderr)
        return EXIT_USAGE
    return asyncio.run(run_monitor(args.url, args.state, watch, tiles_url=args.tiles_url,
                                   key_pem=key_pem, vkeys=args.vkey,
                                   interval=args.interval))


async def run_monitor(url: str, state_path: Path, watch: Watchlist, *,
                      tiles_url: str | None = None, key_pem: bytes | None = None,
                      vkeys: list[str] | None = None, interval: float | None = None) -> int:
    """The command: one pass, or a pass every `interval` seconds until inconsistent."""
    async with TileFetcher(url, tiles_url) as fetcher:
        while True:
            code = await _one_pass(fetcher, state_path, watch, key_pem, vkeys or [])
            if interval is None or code in (EXIT_INCONSISTENT, EXIT_USAGE):
                return code
            await asyncio.sleep(interval)


async def _one_pass(fetcher: TileFetcher, state_path: Path, watch: Watchlist,
                    key_pem: bytes | None, vkeys: list[str]) -> int:
    try:
        state = load_state(state_path)
        if state is None:
            state = await _first_state(fetcher, key_pem, vkeys)
        elif key_pem is not None and not _pins(state, key_pem):
            raise StateError(f"--key is not the log key pinned in {state_path}")
    except (StateError, KeyFileError, CheckpointError) as e:
        print(f"rekor-py monitor: {e}", file=sys.stderr)
        return EXIT_USAGE
    except FetchError as e:
        print(f"rekor-py monitor: {e}", file=sys.stderr)
        return EXIT_FETCH
    bar: Progress | None = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = Progress(total)
        bar.update(done)

    try:
        result = await check_log(fetcher, state, watch, progress)
    except LogInconsistent as e:
        print(e.evidence(), end="")
        return EXIT_INCONSISTENT
    except FetchError as e:
        print(f"rekor-py monitor: {e}", file=sys.stderr)
        return EXIT_FETCH
    finally:
        if bar is not None:
            bar.finish()
    for match in result.matches:
        print(match.format())
    try:
        save_state(state_path, MonitorState(state.origin, state.verifiers, result.text))
    except StateError as e:
        print(f"rekor-py monitor: {e}", file=sys.stderr)
        return EXIT_USAGE
    cp = result.checkpoint
    print(f"ok: {cp.origin} size {cp.size} ({result.new_entries} new entries verified, "
          f"{len(result.matches)} matches)", flush=True)
    return EXIT_OK


def _pins(state: MonitorState, key_pem: bytes) -> bool:
    spki = LogVerifier.from_pem(key_pem).spki_der
    return any(v.sig_type == SIG_ECDSA and v.key == spki for v in state.verifiers)


async def _first_state(fetcher: TileFetcher, key_pem: bytes | None,
                       vkeys: list[str]) -> MonitorState:
    """Pin the origin (from the current checkpoint) and the keys (flags, else the log's)."""
    origin = parse_checkpoint(await fetcher.checkpoint()).checkpoint.origin
    log_key = LogVerifier.from_pem(key_pem or await fetcher.log_public_key())
    key = log_key.public_key
    verifiers = [NoteVerifier.ed25519(origin, key) if isinstance(key, ed25519.Ed25519PublicKey)
                 else NoteVerifier.ecdsa(origin, log_key)]  # RSA: KeyFileError (no C2SP type)
    if not vkeys:
        served = [NoteVerifier.from_vkey(v) for v in await fetcher.vkeys()]
        verifiers += [v for v in served if v.name == origin and v.sig_type != SIG_ECDSA]
    verifiers += [NoteVerifier.from_vkey(v) for v in vkeys]
    return MonitorState(origin, tuple(dict.fromkeys(verifiers)), None)
