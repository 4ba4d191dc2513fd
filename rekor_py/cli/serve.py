"""`rekor-py serve`: serve a Rekor v1 compatible log (rekor_py/runner.py)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rekor_py.cli.common import EXIT_FAILED, EXIT_USAGE, fail

if TYPE_CHECKING:  # pydantic-settings takes 0.3 s to import: client commands do not need it
    from rekor_py.config import Settings

__all__ = ["database_args", "register", "run", "server_settings", "settings_from"]


def database_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", type=Path, help="where the key and embedded database live")
    p.add_argument("--database-url", help="postgresql://... (default: embedded PostgreSQL)")
    p.add_argument("--migrate-database-url",
                   help="postgresql://... of a role that may change the schema, for "
                        "migrations (default: --database-url)")
    p.add_argument("--config", type=Path, help="TOML settings file (default $REKOR_PY_CONFIG)")


def register(subparsers: Any) -> None:
    serve = subparsers.add_parser("serve", help="serve a Rekor v1 compatible log")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 3000)")
    serve.add_argument("--hostname",
                       help="checkpoint name; default host:port as clients reach the server")
    database_args(serve)
    # Not type=Path: a key URI ("pkcs11:...;object=...?module-path=/...") must reach
    # the settings as written (Path would fold its "//" and read it as a path).
    serve.add_argument("--signing-key",
                       help="PEM private key (password from $REKOR_PY_SIGNING_KEY_PASSWORD), "
                            "or a PKCS#11 URI 'pkcs11:token=...;object=...' (docs/keys.md)")
    serve.add_argument("--tile-prefix",
                       help="URL prefix of the C2SP tile API, e.g. /tlog (default: the root)")
    serve.add_argument("--explorer-prefix",
                       help="URL path of the web explorer, e.g. /explorer/ (default: /)")
    serve.add_argument("--read-only", action="store_const", const=True, default=None,
                       help="serve reads only (e.g. on a streaming replica); writes get 405")
    serve.add_argument("--allow-rollback", action="store_const", const=True, default=None,
                       help="start even if the database is behind the head this server last "
                            "signed (a deliberate fork, after restoring an old backup)")
    serve.add_argument("--log-format", choices=("text", "json"),
                       help="text (default) or json: one JSON object per line, with request IDs")
    serve.add_argument("--workers", type=int,
                       help="server processes sharing the port and the database (default 1)")
    serve.set_defaults(run=run)


def settings_from(args: argparse.Namespace) -> Settings:
    """The flags given (None: not given) over the environment and defaults;
    raises ValueError."""
    from rekor_py.config import Settings, load_settings

    # Only the flags that are settings: a command's own flags (shard's --new-key, ...)
    # are its business.
    overrides = {k: v for k, v in vars(args).items() if k in Settings.model_fields}
    return load_settings(overrides, config_file=args.config)


def server_settings(args: argparse.Namespace) -> Settings | int:
    """What `serve` and `migrate` start with: logging set up, and the settings, or
    the exit code of a bad setting (its one error line already printed)."""
    from rekor_py.runner import LOG_FORMAT

    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    try:
        settings = settings_from(args)
    except ValueError as e:
        return fail(args.command, str(e), EXIT_USAGE)
    from rekor_py.observability.logs import configure_logging

    configure_logging(settings.log_format)
    return settings


def run(args: argparse.Namespace) -> int:
    from rekor_py.keys import check_uri_keys
    from rekor_py.log.head_record import RollbackDetected
    from rekor_py.log.signer import KeyFileError
    from rekor_py.runner import serve

    settings = server_settings(args)
    if isinstance(settings, int):
        return settings
    try:
        # Keys in a token first: a wrong PIN or a missing key is one line, before the
        # database starts.  A key file that cannot be loaded fails the same way.
        check_uri_keys(settings)
        return serve(settings)
    except KeyFileError as e:
        return fail(args.command, str(e), EXIT_USAGE)
    except RollbackDetected as e:
        # A refusal by design (log/head_record.py): one line, not a traceback.
        return fail(args.command, str(e), EXIT_FAILED)
