"""Where the write path's CPU goes: a py-spy profile of the server, sorted into stages.

`bench_server.py --profile` runs `py-spy record --subprocesses --format raw` on the
server while the load runs and reads each process's CPU time from /proc before and
after.  This module turns those into a table: for each stage, its share of the samples
of the process class it runs in (server process, verification worker), times that
class's CPU seconds, divided by the entries logged = CPU microseconds per entry.

A sample belongs to the innermost stage whose marker appears in its stack (so "SQL"
inside the sequencer's commit counts as SQL, not as sequencer).  Samples in which a
process only waits (a verification worker blocked reading its pipe, an idle executor
thread) are dropped: py-spy reports some blocking reads as active.  PostgreSQL's own
CPU is measured from /proc, not profiled.
"""

from __future__ import annotations

import collections
import re
from dataclasses import dataclass
from pathlib import Path

# (stage, markers): frames are named "function dir/file.py" (see _matches).  The
# innermost frame that matches a stage decides.
STAGES: list[tuple[str, tuple[str, ...]]] = [
    ("http", ("RequestHandler.", "StreamWriter.", "StreamResponse.", "Response.",
              "BaseRequest.", "aiohttp/web_protocol.py", "aiohttp/http_writer.py",
              "aiohttp/web_response.py",
              "body_limit", "body_deadline", "error_middleware", "Application._handle")),
    ("parse", ("parse_entry ", "decode_json ", "loads json_limits.py", "from_spec ",
               "_parse ", "_parse_certificate ", "decode_pem ", "from_bytes ")),
    ("verify", ("verify_digest ", "_verify_prehashed ", "_verify_ecdsa ", "_verify_rsa",
                "verify_signature")),
    ("canonicalize", ("canonicalize ", "canonical_json ", "_canonical ", "encode_pem ",
                      "index_keys ", "signer_index_keys ", "leaf_hash ",
                      # an entry type's own methods (hashedrekord writes its body itself)
                      ".canonicalize ", ".index_keys ", "._canonical ")),
    # The body's stored form, made in the worker (storage/body_codec.py).
    ("deflate", ("encode_body ",)),
    ("verify-pool IPC", ("ProcessVerifyPool.", "multiprocessing/connection.py",
                         "ForkingPickler.", "log/verify_pool.py")),
    ("sequencer", ("Sequencer.", "append_leaves ")),
    ("SQL", ("asyncpg/connection.py", "asyncpg/pool.py", "asyncpg/transaction.py",
             "asyncpg/prepared_stmt.py", "storage/log_store.py", "storage/batch_write.py")),
    ("proof", ("inclusion_proof ", "fold_proof ", "inclusion_plan ", "TileCache.")),
    ("SET signing", ("sign_set ", "set_payload ")),
    ("checkpoint signing", ("_sign_head ", "format_checkpoint ")),
    ("response", ("log_entry ", "json_response ", "to_json_body ", "BaseModel.")),
    # Outermost: what the event loop does in its own C code (uvloop: sockets, timers,
    # callbacks), or asyncio's task glue, when no stage above is on the stack.
    ("event loop", ("Runner.run asyncio/runners.py", "asyncio/tasks.py")),
    ("request glue", ("create_entry api/entries.py", "LogService.create_entry ")),
]

# Frames that mean "waiting", whatever py-spy thought.
IDLE = ("Connection._recv multiprocessing/connection.py", "_worker futures/thread.py",
        "main multiprocessing/resource_tracker.py")
# Start-up work in a (re)spawned worker: imports.
STARTUP = "_find_and_load "

_FRAME = re.compile(r"(.*?) \((.*?):\d+\)$")


def _name(frame: str) -> str:
    m = _FRAME.match(frame)
    # The function and the last two parts of its file's path: multiprocessing's and
    # asyncpg's connection.py differ only there.
    return f"{m.group(1)} {'/'.join(m.group(2).rsplit('/', 2)[-2:])}" if m else frame


def _matches(name: str, marker: str) -> bool:
    """A marker names a function (a prefix of "function dir/file.py"), a method of any
    class (".method "), or, with a "/", the end of a file's path."""
    if "/" in marker:
        return name.endswith(marker)
    if marker.startswith("."):
        return marker in name.split(" ", 1)[0] + " "
    return name.startswith(marker)


def _stage(names: list[str]) -> str:
    if any(name.startswith(i) for name in names[-1:] for i in IDLE):
        return "idle"
    if any(name.startswith(STARTUP) for name in names):
        return "startup"
    for name in reversed(names):
        for stage, markers in STAGES:
            if any(_matches(name, m) for m in markers):
                return stage
    return "other"


@dataclass
class Profile:
    """Samples per process class ('server', 'worker') and stage."""

    samples: dict[str, collections.Counter[str]]

    @classmethod
    def read(cls, path: Path) -> Profile:
        samples: dict[str, collections.Counter[str]] = collections.defaultdict(
            collections.Counter)
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            frames = stack.split(";")
            procs = [i for i, f in enumerate(frames) if f.startswith("process ")]
            if not procs:
                continue
            names = [_name(f) for f in frames[procs[-1] + 1:]]
            # By what runs, not by depth: `serve --workers N` nests server processes
            # under a supervisor, and verification workers under those.
            role = "worker" if any(n.startswith("_worker_main ") for n in names) else "server"
            samples[role][_stage(names)] += int(count)
        return cls(dict(samples))

    def table(self, cpu_s: dict[str, float], entries: int) -> list[tuple[str, str, float, float]]:
        """(process class, stage, share of that class's busy samples, CPU us/entry)."""
        rows = []
        for role, counts in sorted(self.samples.items()):
            busy = sum(n for stage, n in counts.items() if stage not in ("idle", "startup"))
            if not busy:
                continue
            for stage, n in counts.most_common():
                if stage in ("idle", "startup"):
                    continue
                share = n / busy
                rows.append((role, stage, share,
                             share * cpu_s.get(role, 0.0) * 1e6 / max(entries, 1)))
        return rows


def format_table(rows: list[tuple[str, str, float, float]], cpu_s: dict[str, float],
                 entries: int) -> str:
    out = [f"{'process':8} {'stage':20} {'share':>6} {'us/entry':>9}"]
    for role, stage, share, us in rows:
        out.append(f"{role:8} {stage:20} {share:6.1%} {us:9.0f}")
    for role, seconds in sorted(cpu_s.items()):
        out.append(f"{role:8} {'(all CPU)':20} {'':6} {seconds * 1e6 / max(entries, 1):9.0f}")
    return "\n".join(out)
