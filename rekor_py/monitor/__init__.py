"""`rekor-py monitor`: follow a log over its C2SP tile API and watch for keys and emails.

- state.py: the last verified checkpoint and the pinned keys, saved atomically.
- fetch.py: HTTP reads of the checkpoint, tiles and entry bundles (one connection).
- check.py: verify a new checkpoint, that it extends the state's, and every new
  entry, in bounded chunks; raise LogInconsistent with both checkpoints as evidence.
- watch.py: match hashedrekord entries against watched keys and emails.

The command (flags, output, exit codes) is rekor_py/cli/monitor.py.
"""

from __future__ import annotations

from rekor_py.monitor.check import CheckResult, LogInconsistent, check_log
from rekor_py.monitor.fetch import FetchError, TileFetcher
from rekor_py.monitor.state import MonitorState, load_state, save_state
from rekor_py.monitor.watch import Match, Watchlist

__all__ = [
    "CheckResult",
    "FetchError",
    "LogInconsistent",
    "Match",
    "MonitorState",
    "TileFetcher",
    "Watchlist",
    "check_log",
    "load_state",
    "save_state",
]
