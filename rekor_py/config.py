"""Settings: one frozen pydantic-settings model, loaded once at start-up.

Precedence, highest first: command-line flags, `REKOR_PY_<NAME>` environment
variables, a TOML config file (`--config FILE` or `REKOR_PY_CONFIG`), defaults.
Every field of `rekor_py.limits.Limits` is also a setting of the same name,
derived from the dataclass, so a new limit is configurable without a change here.

`Settings(...)` built directly (tests) reads its keyword arguments only, never
the environment: `load_settings` is the one place that reads the process's
environment and files, so one bad value gives one error naming its source.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import platformdirs
from pydantic import Field, ValidationError, create_model, field_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from rekor_py.limits import Limits

__all__ = ["CONFIG_ENV", "ENV_PREFIX", "Settings", "SettingsError", "load_settings"]

ENV_PREFIX = "REKOR_PY_"
# The config file's path, when not given with --config.
CONFIG_ENV = ENV_PREFIX + "CONFIG"


# A key setting is a file path or a key URI ("pkcs11:...", docs/keys.md): a scheme of
# two or more letters, so that no path (not even "C:...") reads as one.
_KEY_URI_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+:")
_KEY_SETTINGS = ("signing_key", "note_key", "v2_signing_key", "tsa_key")


class SettingsError(ValueError):
    """A setting that cannot be used; the message names it and where it came from."""


def _default_data_dir() -> Path:
    # As root, the embedded PostgreSQL runs as its own user, which cannot enter
    # root's 0700 home: use the system location instead.
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/lib/rekor-py")
    return Path(platformdirs.user_data_dir("rekor-py", appauthor=False))


def _limit_fields() -> dict[str, Any]:
    """Each Limits field as a pydantic field definition: its type and its default.

    A numeric limit must be >= 0 (a negative bound is always a typo)."""
    hints = typing.get_type_hints(Limits)
    out: dict[str, Any] = {}
    for f in dataclasses.fields(Limits):
        hint = hints[f.name]
        ge = 0 if hint in (int, float) else None
        if f.default_factory is not dataclasses.MISSING:
            out[f.name] = (hint, Field(default_factory=f.default_factory, ge=ge))
        else:
            out[f.name] = (hint, Field(default=f.default, ge=ge))
    return out


if TYPE_CHECKING:
    # What mypy sees: the Limits fields with their types, on Settings.
    _LimitSettings = Limits
else:
    # What runs: the same fields, generated from the dataclass.
    _LimitSettings = create_model("_LimitSettings", __base__=BaseSettings, **_limit_fields())


# ignore[misc]: mypy sees a frozen dataclass (Limits) under a pydantic model; at
# runtime the base is the generated _LimitSettings model above.
class Settings(_LimitSettings, BaseSettings):  # type: ignore[misc]
    """Everything `serve` needs to know; see README for each setting."""

    model_config = SettingsConfigDict(frozen=True, extra="forbid", env_prefix=ENV_PREFIX,
                                      validate_default=True)

    host: str = "127.0.0.1"
    port: int = Field(default=3000, ge=0, le=65535)
    data_dir: Path = Field(default_factory=_default_data_dir)
    # None: start the embedded PostgreSQL in data_dir/postgres.
    database_url: str | None = None
    # Migrations (DDL) run with this URL's role when given, else database_url's:
    # the server's own role then needs only SELECT, INSERT, UPDATE on the log's tables.
    migrate_database_url: str | None = None
    # None: data_dir/signing-key.pem, an ECDSA P-256 key created on first start.
    # Each key setting is a PEM file (a Path) or a key URI such as "pkcs11:token=...;
    # object=..." (a str; rekor_py/keys/, docs/keys.md).
    signing_key: Path | str | None = None
    # More v1 log keys, PEM files (same password), for shards that a rotation put
    # under a new key (log/shards.py); None: data_dir/log-keys.
    log_keys_dir: Path | None = None
    # The name of the environment variable that holds the key's password.
    signing_key_password_env: str = "REKOR_PY_SIGNING_KEY_PASSWORD"
    # The checkpoint name; None means host:port as clients reach the server
    # (sigstore-js rejects a checkpoint whose name is not part of the log URL).
    hostname: str | None = None
    # The sequencer closes a batch after this delay or at this many entries.
    batch_max_delay_ms: float = Field(default=5.0, ge=0)
    batch_max_size: int = Field(default=512, ge=1)
    # Pending entries beyond this answer 503 with Retry-After.
    max_pending: int = Field(default=20_000, ge=1)
    # Processes that parse and verify proposed entries, per server process
    # (log/verify_pool.py); 0: the cores divided by `workers`, at least 1.
    verify_workers: int = Field(default=0, ge=0)
    # "process" (spawned workers, killed past verify_deadline_s) or "thread"
    # (threads of the server process: no IPC, but not stoppable; for comparison).
    verify_pool: typing.Literal["process", "thread"] = "process"
    # A request body must arrive within this many seconds, or the request gets 408 and
    # its connection is closed: a client that trickles its body cannot hold a
    # connection (and its memory) forever.  0 turns the limit off.
    request_timeout_s: float = Field(default=30.0, ge=0)
    # Kinds POST may insert (reads serve every stored kind): all we implement,
    # as Rekor enables all its kinds by default.  NoDecode: the environment
    # gives them comma-separated ("hashedrekord,dsse"), not as JSON.
    insertable_kinds: Annotated[frozenset[str], NoDecode] = frozenset(
        {"hashedrekord", "rekord", "intoto", "dsse"})
    # intoto payloads up to this size are kept and served as `attestation.data`
    # (Rekor's --max_attestation_size default); larger ones are not kept, and
    # the entry is still accepted, as in Rekor.
    max_attestation_bytes: int = Field(default=100 * 1024, ge=0)
    pool_max_size: int = Field(default=10, ge=1)
    # Read the v1 tree's full tiles into each server process's proof cache at start,
    # in the background, while they fit (log/tile_warmup.py).
    warm_tile_cache: bool = True
    # Server processes sharing the port (rekor_py/balancer.py) and the database.
    workers: int = Field(default=1, ge=1)
    # Serve reads only: no migrations, no tree creation, writes refused.  For a
    # server on a PostgreSQL streaming replica, or to take load off the writers.
    read_only: bool = False
    # fsync in the embedded PostgreSQL; only tests turn it off.
    fsync: bool = True
    # The C2SP tile API (checkpoint, tiles, entry bundles) lives under this URL path
    # prefix: "" is the server root, else "/" followed by a path without a final "/".
    tile_prefix: str = ""
    # The web explorer (rekor_py/explorer/) is served under this path: "/" is the root,
    # else "/path/" with both slashes.  `explorer` false turns it off.
    explorer: bool = True
    explorer_prefix: str = Field(default="/", pattern=r"^/([A-Za-z0-9._~-]+/)*$")
    # None: data_dir/note-key-ed25519.pem, the Ed25519 key that co-signs C2SP
    # checkpoints (for public witnesses), created on first start (mode 0600).
    note_key: Path | str | None = None
    # Start on a database whose tree is behind (or beside) the head this server last
    # signed (log/head_record.py): a deliberate fork, for after a disaster.
    allow_rollback: bool = False
    # "text" (one line per event) or "json" (one JSON object per line, with the
    # request ID, and an access line per request): observability/logs.py.
    log_format: Literal["text", "json"] = "text"
    # Witnessing (rekor_py/witness/): a c2sp.org/tlog-policy file naming witnesses
    # with their URLs and the quorum.  None: no witnesses.  Each new head is sent
    # to them at most every witness_interval_ms; a request waits witness_timeout_s.
    # Fail-open (default) publishes a head whatever they answered; fail-closed
    # publishes only heads with the quorum, and a POST waits up to witness_wait_s
    # for one holding its entry, else 503.
    witness_policy: Path | None = None
    witness_fail_closed: bool = False
    witness_interval_ms: float = Field(default=1000.0, ge=10)
    witness_timeout_s: float = Field(default=5.0, gt=0)
    witness_wait_s: float = Field(default=10.0, gt=0)
    # Serve a Rekor v2 log beside the v1 log: its own tree, written through
    # POST /api/v2/log/entries, its tiles and checkpoint under /api/v2.
    rekor_v2: bool = True
    # None: data_dir/v2-log-key-ed25519.pem, the v2 log's Ed25519 checkpoint key
    # (as rekor-tiles signs), created on first start (mode 0600).
    v2_signing_key: Path | str | None = None
    # The RFC 3161 timestamp authority's ECDSA key and its PEM certificate chain (TSA
    # certificate first, root last).  None: data_dir/tsa-signing-key.pem and
    # data_dir/tsa-chain.pem, created on first start; a path given must exist.
    tsa_key: Path | str | None = None
    tsa_chain: Path | None = None
    # PKCS#11 keys: the module (shared library) when a URI has no module-path, and the
    # name of the environment variable holding the PIN when a URI has neither
    # pin-value nor pin-source.
    pkcs11_module: Path | None = None
    pkcs11_pin_env: str = "REKOR_PY_PKCS11_PIN"

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Keyword arguments only: load_settings gathers the other sources itself,
        # so that it can say which one a bad value came from.
        return (init_settings,)

    @field_validator(*_KEY_SETTINGS, mode="before")
    @classmethod
    def _key_location(cls, value: Any) -> Any:
        """A key URI stays text; anything else is a path."""
        if isinstance(value, str) and not _KEY_URI_RE.match(value):
            return Path(value)
        return value

    @field_validator("insertable_kinds", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return frozenset(k.strip() for k in value.split(",") if k.strip())
        return value

    @property
    def limits(self) -> Limits:
        """The input limits these settings set (for `rekor_py.limits.configure`)."""
        return Limits(**{f.name: getattr(self, f.name) for f in dataclasses.fields(Limits)})

    @property
    def verify_pool_size(self) -> int:
        """verify_workers, or the cores shared among the `workers` server processes."""
        if self.verify_workers > 0:
            return self.verify_workers
        cores = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                 else os.cpu_count())
        return max(1, (cores or 1) // max(1, self.workers))

    @property
    def checkpoint_name(self) -> str:
        return self.hostname or f"{self.host}:{self.port}"

    @property
    def signing_key_path(self) -> Path | str:
        """The log key's file, or its URI (a str)."""
        return self.signing_key or self.data_dir / "signing-key.pem"

    @property
    def signed_heads_path(self) -> Path:
        """Where the latest signed head of each tree is recorded (log/head_record.py)."""
        return self.data_dir / "signed-heads"

    @property
    def log_keys_path(self) -> Path:
        return self.log_keys_dir or self.data_dir / "log-keys"

    @property
    def note_key_path(self) -> Path | str:
        """The note key's file, or its URI (a str)."""
        return self.note_key or self.data_dir / "note-key-ed25519.pem"

    @property
    def v2_checkpoint_name(self) -> str:
        """The Rekor v2 log's origin: `hostname`, else the host without the port.
        sigstore-go names a v2 checkpoint's key by the log URL's host alone (no
        port), and sigstore-js and sigstore-python accept any name the URL holds."""
        return self.hostname or self.host

    @property
    def v2_signing_key_path(self) -> Path | str:
        """The v2 log key's file, or its URI (a str)."""
        return self.v2_signing_key or self.data_dir / "v2-log-key-ed25519.pem"

    @property
    def tsa_key_file(self) -> Path | None:
        """tsa_key when it is a file (None: the default file, or a URI)."""
        return self.tsa_key if isinstance(self.tsa_key, Path) else None

    def signing_key_password(self) -> bytes | None:
        value = os.environ.get(self.signing_key_password_env)
        return value.encode() if value else None

    def replace(self, **changes: Any) -> Settings:
        """A copy with `changes` applied and validated (dataclasses.replace, for a model)."""
        return type(self)(**{**self.model_dump(), **changes})


# ---- loading --------------------------------------------------------------------------


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _env_layer(environ: Mapping[str, str]) -> dict[str, Any]:
    source = EnvSettingsSource(Settings, env_prefix=ENV_PREFIX, case_sensitive=False)
    # The source reads os.environ when built; read `environ` instead (tests pass
    # their own).  Names are matched case-insensitively, as the source does.
    source.env_vars = {k.lower(): v for k, v in environ.items()}
    return source()


def _config_layer(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise SettingsError(f"{path}: config file not found")
    try:
        values = TomlConfigSettingsSource(Settings, toml_file=path).toml_data
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise SettingsError(f"{path}: not a readable TOML file: {e}") from None
    unknown = sorted(set(values) - set(Settings.model_fields))
    if unknown:
        raise SettingsError(f"{path}: unknown setting {unknown[0]!r}")
    return dict(values)


def load_settings(overrides: Mapping[str, Any] | None = None,
                  environ: Mapping[str, str] | None = None,
                  config_file: Path | str | None = None) -> Settings:
    """Flags (`overrides`; None values ignored) over REKOR_PY_<NAME> variables over
    the config file (`config_file`, else $REKOR_PY_CONFIG, else none) over defaults.

    Raises SettingsError naming the first bad setting and its source, e.g.
    "REKOR_PY_PORT: input should be a valid integer".
    """
    env = os.environ if environ is None else environ
    if config_file is None:
        config_file = env.get(CONFIG_ENV) or None
    flags = {k: v for k, v in (overrides or {}).items() if v is not None}
    # Lowest precedence first; each layer remembers how to name its source.
    layers: list[tuple[dict[str, Any], Any]] = []
    if config_file is not None:
        path = Path(config_file)
        layers.append((_config_layer(path), lambda name: f"{path}: {name}"))
    layers.append((_env_layer(env), lambda name: ENV_PREFIX + name.upper()))
    layers.append((flags, _flag))
    values: dict[str, Any] = {}
    for layer, _ in layers:
        values.update(layer)
    try:
        return Settings(**values)
    except ValidationError as e:
        raise SettingsError(_describe(e, layers)) from None


def _describe(error: ValidationError, layers: list[tuple[dict[str, Any], Any]]) -> str:
    """`<source>: <pydantic's message>` for the first error."""
    first = error.errors(include_url=False)[0]
    name = str(first["loc"][0]) if first["loc"] else ""
    message = first["msg"]
    if first["type"] == "extra_forbidden":
        message = "not a setting"
    message = message[:1].lower() + message[1:]
    for layer, label in reversed(layers):
        if name in layer:
            return f"{label(name)}: {message}"
    return f"{name}: {message}"
