"""Settings: one frozen dataclass, loaded once from flags and REKOR_PY_* variables.

A flag beats its environment variable, which beats the default.  Nothing else
in the package reads the environment, so a test can build Settings directly.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import platformdirs

from rekor_py.limits import Limits, from_mapping

__all__ = ["Settings", "load_settings"]

ENV_PREFIX = "REKOR_PY_"


def _default_data_dir() -> Path:
    # As root, the embedded PostgreSQL runs as its own user, which cannot enter
    # root's 0700 home: use the system location instead.
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/lib/rekor-py")
    return Path(platformdirs.user_data_dir("rekor-py", appauthor=False))


@dataclass(frozen=True)
class Settings:
    """Everything `serve` needs to know; see README for each setting."""

    host: str = "127.0.0.1"
    port: int = 3000
    data_dir: Path = field(default_factory=_default_data_dir)
    # None: start the embedded PostgreSQL in data_dir/postgres.
    database_url: str | None = None
    # Migrations (DDL) run with this URL's role when given, else database_url's:
    # the server's own role then needs only SELECT, INSERT, UPDATE on the log's tables.
    migrate_database_url: str | None = None
    # None: data_dir/signing-key.pem, an ECDSA P-256 key created on first start.
    signing_key: Path | None = None
    # The name of the environment variable that holds the key's password.
    signing_key_password_env: str = "REKOR_PY_SIGNING_KEY_PASSWORD"
    # The checkpoint name; None means host:port as clients reach the server
    # (sigstore-js rejects a checkpoint whose name is not part of the log URL).
    hostname: str | None = None
    # The sequencer closes a batch after this delay or at this many entries.
    batch_max_delay_ms: float = 5.0
    batch_max_size: int = 512
    # Pending entries beyond this answer 503 with Retry-After.
    max_pending: int = 20_000
    # Input limits (rekor_py.limits.Limits) that the server sets itself; the
    # others keep their defaults.  See `limits`.
    max_body_bytes: int = Limits.max_body_bytes
    verify_deadline_s: float = Limits.verify_deadline_s
    max_verify_queue: int = Limits.max_verify_queue
    # Processes that parse and verify proposed entries, per server process;
    # 0: the cores divided by `workers`, at least 1.
    verify_workers: int = 0
    # "process" (spawned workers, killed past verify_deadline_s) or "thread"
    # (threads of the server process: no IPC, but not stoppable; for comparison).
    verify_pool: str = "process"
    # A request body must arrive within this many seconds, or the request gets 408 and
    # its connection is closed: a client that trickles its body cannot hold a
    # connection (and its memory) forever.  0 turns the limit off.
    request_timeout_s: float = 30.0
    # Kinds POST may insert (reads serve every stored kind): all we implement,
    # as Rekor enables all its kinds by default.
    insertable_kinds: frozenset[str] = frozenset({"hashedrekord", "rekord", "intoto", "dsse"})
    # intoto payloads up to this size are kept and served as `attestation.data`
    # (Rekor's --max_attestation_size default); larger ones are not kept, and
    # the entry is still accepted, as in Rekor.
    max_attestation_bytes: int = 100 * 1024
    pool_max_size: int = 10
    # Server processes sharing the port (SO_REUSEPORT) and the database.
    workers: int = 1
    # Serve reads only: no migrations, no tree creation, writes refused.  For a
    # server on a PostgreSQL streaming replica, or to take load off the writers.
    read_only: bool = False
    # fsync in the embedded PostgreSQL; only tests turn it off.
    fsync: bool = True
    # The C2SP tile API (checkpoint, tiles, entry bundles) lives under this URL path
    # prefix: "" is the server root, else "/" followed by a path without a final "/".
    tile_prefix: str = ""
    # None: data_dir/note-key-ed25519.pem, the Ed25519 key that co-signs C2SP
    # checkpoints (for public witnesses), created on first start (mode 0600).
    note_key: Path | None = None

    @property
    def limits(self) -> Limits:
        """The input limits in force: Limits with every field that Settings also has."""
        return from_mapping({f.name: getattr(self, f.name) for f in fields(self)})

    @property
    def verify_pool_size(self) -> int:
        """verify_workers, or the cores shared among the `workers` server processes."""
        if self.verify_workers > 0:
            return self.verify_workers
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        return max(1, (cores or 1) // max(1, self.workers))

    @property
    def checkpoint_name(self) -> str:
        return self.hostname or f"{self.host}:{self.port}"

    @property
    def signing_key_path(self) -> Path:
        return self.signing_key or self.data_dir / "signing-key.pem"

    @property
    def note_key_path(self) -> Path:
        return self.note_key or self.data_dir / "note-key-ed25519.pem"

    def signing_key_password(self) -> bytes | None:
        value = os.environ.get(self.signing_key_password_env)
        return value.encode() if value else None


def _convert(name: str, raw: str, like: Any) -> Any:
    """Turn an environment string into the type of the field's default."""
    if isinstance(like, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(like, int):
        return int(raw)
    if isinstance(like, float):
        return float(raw)
    if isinstance(like, frozenset):
        return frozenset(k.strip() for k in raw.split(",") if k.strip())
    if name in {"data_dir", "signing_key", "note_key"}:
        return Path(raw)
    return raw


def load_settings(overrides: Mapping[str, Any] | None = None,
                  environ: Mapping[str, str] | None = None) -> Settings:
    """Defaults, then REKOR_PY_<NAME> variables, then `overrides` (flags; None ignored)."""
    env = os.environ if environ is None else environ
    base = Settings()
    values: dict[str, Any] = {}
    for f in fields(Settings):
        raw = env.get(ENV_PREFIX + f.name.upper())
        if raw is not None:
            try:
                values[f.name] = _convert(f.name, raw, getattr(base, f.name))
            except ValueError as e:
                raise ValueError(f"{ENV_PREFIX}{f.name.upper()}: {e}") from None
    for key, value in (overrides or {}).items():
        if value is not None:
            values[key] = value
    return replace(base, **values)
