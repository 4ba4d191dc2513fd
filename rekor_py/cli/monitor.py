"""`rekor-py monitor`: follow a log's C2SP checkpoints and watch for keys and emails.

    rekor-py monitor --url URL --state FILE [--tiles-url URL] [--key PEM] [--vkey VKEY]
                     [--watch-email E ...] [--watch-key PEM ...] [--once | --interval S]

Each pass (rekor_py/monitor/check.py) verifies the checkpoint's signatures,
that it extends the last verified checkpoint in FILE, and every new entry
against the tiles; matches are printed as their entries are verified, and FILE
is saved atomically once the whole pass holds.

Trust on first use: without FILE, the keys come from --key (the log's PEM key)
and --vkey (a C2SP verifier key, e.g. the Ed25519 note key), or else from the
log itself (GET /api/v1/log/publicKey and <tiles>/checkpoint.vkeys), and are
pinned in FILE.  The origin is pinned from the first checkpoint.

Output: one "match: ..." line per watched entry and one "ok: ..." line per pass
on stdout; errors on stderr; a progress bar on stderr when it is a terminal.
Exit codes (cli/common.py): 0 consistent; 1 the log is inconsistent (the
evidence, both checkpoints, on stdout); 2 bad arguments or state file; 3 the
log could not be read.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rekor_py.cli.common import EXIT_FAILED, EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE, Progress, fail

# aiohttp's client and the crypto stack are imported in run(): other rekor-py
# commands should not pay for them at start-up.
if TYPE_CHECKING:
    from rekor_py.monitor.fetch import TileFetcher
    from rekor_py.monitor.state import MonitorState
    from rekor_py.monitor.watch import Match, Watchlist
    from rekor_py.witness.policy import WitnessPolicy

__all__ = ["register", "run", "run_monitor"]


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("monitor", help="verify a log's growth and watch for keys/emails")
    p.add_argument("--url", required=True, help="the log server (Rekor API) URL")
    p.add_argument("--tiles-url", help="the tile API prefix URL (default: --url, or "
                                       "--url/api/v2 with --api 2)")
    p.add_argument("--api", type=int, choices=(1, 2), default=1,
                   help="the log's Rekor API: 1 (default) or 2 (a Rekor v2 log: its "
                        "checkpoint carries only its Ed25519 line, no v1 log key)")
    p.add_argument("--state", required=True, type=Path, help="state file (JSON)")
    p.add_argument("--key", type=Path,
                   help="the log's PEM public key (default on first run: fetched from the log)")
    p.add_argument("--vkey", action="append", default=[],
                   help="a C2SP verifier key to require too (default on first run: "
                        "the log's Ed25519 key from <tiles>/checkpoint.vkeys)")
    p.add_argument("--witness-policy", type=Path, metavar="FILE",
                   help="accept a checkpoint only with cosignatures from a quorum of the "
                        "witnesses of this c2sp.org/tlog-policy file")
    p.add_argument("--watch-email", action="append", default=[], metavar="E")
    p.add_argument("--watch-key", action="append", default=[], type=Path, metavar="PEM")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--once", action="store_true", help="check once and exit (default)")
    mode.add_argument("--interval", type=float, metavar="S", help="check every S seconds")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rekor_py.monitor.watch import Watchlist
    from rekor_py.pki.base import PKIError
    from rekor_py.witness.policy import PolicyError, parse_policy

    try:
        watch = Watchlist(args.watch_email, [p.read_bytes() for p in args.watch_key])
        key_pem = args.key.read_bytes() if args.key is not None else None
        policy = (parse_policy(args.witness_policy.read_text())
                  if args.witness_policy is not None else None)
    except (OSError, PKIError, PolicyError, UnicodeDecodeError) as e:
        return fail("monitor", str(e), EXIT_USAGE)
    if args.api == 2 and key_pem is not None:
        return fail("monitor", "--key is the v1 log key; a Rekor v2 log is pinned by --vkey",
                    EXIT_USAGE)
    tiles_url = args.tiles_url
    if tiles_url is None and args.api == 2:
        tiles_url = args.url.rstrip("/") + "/api/v2"
    return asyncio.run(run_monitor(args.url, args.state, watch, tiles_url=tiles_url,
                                   key_pem=key_pem, vkeys=args.vkey,
                                   interval=args.interval, api=args.api, policy=policy))


async def run_monitor(url: str, state_path: Path, watch: Watchlist, *,
                      tiles_url: str | None = None, key_pem: bytes | None = None,
                      vkeys: list[str] | None = None, interval: float | None = None,
                      api: int = 1, policy: WitnessPolicy | None = None) -> int:
    """The command: one pass, or a pass every `interval` seconds until inconsistent."""
    from rekor_py.monitor.fetch import TileFetcher

    async with TileFetcher(url, tiles_url) as fetcher:
        while True:
            code = await _one_pass(fetcher, state_path, watch, key_pem, vkeys or [], api,
                                   policy)
            if interval is None or code in (EXIT_FAILED, EXIT_USAGE):
                return code
            await asyncio.sleep(interval)


async def _one_pass(fetcher: TileFetcher, state_path: Path, watch: Watchlist,
                    key_pem: bytes | None, vkeys: list[str], api: int,
                    policy: WitnessPolicy | None = None) -> int:
    from rekor_py.log.checkpoint import CheckpointError
    from rekor_py.log.signer import KeyFileError
    from rekor_py.monitor.check import LogInconsistent, check_log
    from rekor_py.monitor.fetch import FetchError
    from rekor_py.monitor.rotation import follow_rotation
    from rekor_py.monitor.state import MonitorState, load_state, save_state
    from rekor_py.monitor.witnesses import NotWitnessed
    from rekor_py.statefile import StateError

    try:
        state = load_state(state_path)
        if state is None:
            state = await _first_state(fetcher, key_pem, vkeys, api)
        elif key_pem is not None and not _pins(state, key_pem):
            raise StateError(f"--key is not the log key pinned in {state_path}")
    except (StateError, KeyFileError, CheckpointError) as e:
        return fail("monitor", str(e), EXIT_USAGE)
    except FetchError as e:
        return fail("monitor", str(e), EXIT_UNREACHABLE)
    bar: Progress | None = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = Progress(total)
        bar.update(done)

    matches = 0

    def report(match: Match) -> None:
        nonlocal matches
        matches += 1
        print(match.format(), flush=True)

    try:
        if api == 1:
            followed = await follow_rotation(fetcher, state, watch, report)
            if followed is not None:
                state, line = followed
                save_state(state_path, state)  # the frozen tree's end is checked
                print(line, flush=True)
        result = await check_log(fetcher, state, watch, progress, on_match=report,
                                 policy=policy)
    except StateError as e:
        return fail("monitor", str(e), EXIT_USAGE)
    except (LogInconsistent, NotWitnessed) as e:
        print(e.evidence(), end="")
        return EXIT_FAILED
    except FetchError as e:
        return fail("monitor", str(e), EXIT_UNREACHABLE)
    finally:
        if bar is not None:
            bar.finish()
    try:
        save_state(state_path, MonitorState(state.origin, state.verifiers, result.text,
                                            state.first_index))
    except StateError as e:
        return fail("monitor", str(e), EXIT_USAGE)
    cp = result.checkpoint
    witnessed = (f"; cosigned by {', '.join(result.witnesses)}" if policy is not None
                 else "")
    print(f"ok: {cp.origin} size {cp.size} ({result.new_entries} new entries verified, "
          f"{matches} matches{witnessed})", flush=True)
    return EXIT_OK


def _pins(state: MonitorState, key_pem: bytes) -> bool:
    from rekor_py.log.c2sp import SIG_ECDSA
    from rekor_py.log.signer import LogVerifier

    spki = LogVerifier.from_pem(key_pem).spki_der
    return any(v.sig_type == SIG_ECDSA and v.key == spki for v in state.verifiers)


async def _first_state(fetcher: TileFetcher, key_pem: bytes | None,
                       vkeys: list[str], api: int) -> MonitorState:
    """Pin the origin (from the current checkpoint) and the keys (flags, else the log's:
    for a v1 log its log key and the Ed25519 vkeys it serves, for a v2 log the
    vkeys alone)."""
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from rekor_py.log.c2sp import SIG_ECDSA, NoteVerifier
    from rekor_py.log.checkpoint import parse_checkpoint
    from rekor_py.log.signer import LogVerifier
    from rekor_py.monitor.state import MonitorState

    origin = parse_checkpoint(await fetcher.checkpoint()).checkpoint.origin
    verifiers = []
    if api == 1:
        log_key = LogVerifier.from_pem(key_pem or await fetcher.log_public_key())
        key = log_key.public_key
        verifiers.append(NoteVerifier.ed25519(origin, key)
                         if isinstance(key, ed25519.Ed25519PublicKey)
                         else NoteVerifier.ecdsa(origin, log_key))  # RSA: KeyFileError
    if not vkeys:
        served = [NoteVerifier.from_vkey(v) for v in await fetcher.vkeys()]
        verifiers += [v for v in served if v.name == origin and v.sig_type != SIG_ECDSA]
    verifiers += [NoteVerifier.from_vkey(v) for v in vkeys]
    return MonitorState(origin, tuple(dict.fromkeys(verifiers)), None)
