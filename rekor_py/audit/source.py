"""Where fsck reads from: the database (a URL, or the data dir's embedded cluster) and the key.

This module owns attaching to the embedded PostgreSQL without disturbing a
server that uses it: when a postmaster runs on the cluster (its postmaster.pid
names a live process), we connect to its port with the cluster's superuser
password and leave it running; when none runs, we start one for the check and
stop it afterwards.  EmbeddedPostgres.start decides which under the cluster's
lock, so there is never a second postmaster on one data dir.  We never create
a cluster: fsck on a data dir without one is an error.

Loading the key: only its public half is needed.  --public-key (a PEM
SubjectPublicKeyInfo) wins, then --signing-key, then DATA_DIR/signing-key.pem;
with none, signatures are not checked and the note says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from rekor_py.config import Settings
from rekor_py.log.signer import KeyFileError, LogSigner, LogVerifier
from rekor_py.storage.audit_queries import other_clients
from rekor_py.storage.embedded import EmbeddedPostgres

__all__ = ["SourceError", "load_v2_key", "load_verifier", "open_database"]


class SourceError(Exception):
    """fsck cannot start: no database, no such key file, a key that does not load."""


@dataclass(frozen=True)
class KeySource:
    verifier: LogVerifier | None
    note: str


def load_verifier(settings: Settings, public_key: Path | None) -> KeySource:
    """The log's public key and where it came from (verifier None: not found, say so).

    Raises SourceError for a named key file that is missing or does not load.
    """
    try:
        if public_key is not None:
            verifier = LogVerifier.from_pem(_read(public_key))
            return KeySource(verifier, f"public key {public_key}")
        path = settings.signing_key_path
        if isinstance(path, str):  # a key URI: the token holds the public key too
            from rekor_py.keys import open_uri_key, redact
            return KeySource(LogVerifier(open_uri_key(path, settings, "--signing-key")
                                         .public_key), f"log key {redact(path)}")
        if settings.signing_key is None and not path.exists():
            return KeySource(None, f"no log key ({path} does not exist; pass --public-key PEM): "
                                   f"checkpoint signatures NOT checked")
        signer = LogSigner.from_pem(_read(path), settings.signing_key_password())
        return KeySource(signer.verifier, f"log key {path}")
    except KeyFileError as e:
        raise SourceError(str(e)) from e


def load_more_keys(settings: Settings, public_keys: Sequence[Path]) -> list[LogVerifier]:
    """Keys of shards a rotation put under new keys: the named PEM public keys, and
    the public halves of the log-keys folder's private keys (log/shards.py).
    Raises SourceError for a named file that does not load."""
    try:
        keys = [LogVerifier.from_pem(_read(p)) for p in public_keys]
    except KeyFileError as e:
        raise SourceError(str(e)) from e
    folder = settings.log_keys_path
    for path in sorted(folder.glob("*.pem")) if folder.is_dir() else []:
        try:
            keys.append(LogSigner.from_pem(_read(path), settings.signing_key_password()).verifier)
        except (KeyFileError, SourceError):
            continue  # a private key this command cannot open: name it with --public-key
    return keys


def load_v2_key(settings: Settings, public_key: Path | None
                ) -> tuple[ed25519.Ed25519PublicKey | None, str]:
    """The Rekor v2 log's Ed25519 public key (--v2-public-key, else the data dir's
    v2 log key) and a note saying where it came from, or None: not found.

    Raises SourceError for a named file that is missing or holds another key type."""
    location = public_key or settings.v2_signing_key_path
    if isinstance(location, str):  # a key URI: the token holds the public key too
        from rekor_py.keys import open_note_key, redact
        try:
            key_in_token = open_note_key(settings, location, "REKOR_PY_V2_SIGNING_KEY")
        except KeyFileError as e:
            raise SourceError(str(e)) from e
        assert isinstance(key_in_token.public_key, ed25519.Ed25519PublicKey)  # open_note_key
        return key_in_token.public_key, f"v2 log key {redact(location)}"
    path = location
    if public_key is None and not path.exists():
        return None, f"no v2 log key ({path} does not exist): v2 checkpoints NOT checked"
    data = _read(path)
    try:
        key: Any = (serialization.load_pem_public_key(data) if public_key is not None
                    else serialization.load_pem_private_key(data, None).public_key())
    except (ValueError, TypeError) as e:
        raise SourceError(f"{path} is not a PEM key: {e}") from e
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise SourceError(f"{path} is not an Ed25519 key")
    return key, f"v2 log key {path}"


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise SourceError(f"cannot read {path}: {e.strerror}") from e


@contextlib.asynccontextmanager
async def open_database(settings: Settings) -> AsyncIterator[Any]:
    """An asyncpg connection to the log's database; with no URL, the embedded cluster's.

    An embedded server we started is stopped on exit, unless other clients
    connected meanwhile (a `serve` that started during the check): stopping
    would cut them off, so it is left running with a note on stderr.
    Raises SourceError when there is no embedded cluster, or it cannot start.
    """
    if settings.database_url is not None:
        conn = await _connect(settings.database_url)
        try:
            yield conn
        finally:
            await conn.close()
        return
    cluster = settings.data_dir / "postgres"
    if not (cluster / "pgdata" / "PG_VERSION").exists():
        raise SourceError(f"no embedded database in {cluster} (pass --data-dir or --database-url)")
    embedded = EmbeddedPostgres(cluster)
    try:
        dsn = await asyncio.to_thread(embedded.start)
    except Exception as e:
        raise SourceError(f"cannot start or attach to the embedded PostgreSQL: {e}") from e
    stop = embedded.started
    try:
        conn = await _connect(dsn)
        try:
            yield conn
            if stop and await other_clients(conn):
                stop = False
                print(f"fsck: leaving the embedded PostgreSQL in {cluster} running: other "
                      f"clients connected to it during the check", file=sys.stderr)
        finally:
            await conn.close()
    finally:
        if stop:
            await asyncio.to_thread(embedded.stop)


async def _connect(dsn: str) -> Any:
    try:
        return await asyncpg.connect(dsn, command_timeout=None, server_settings={
            "application_name": "rekor-py-fsck",
            "jit": "off",  # scans of a few indexed ranges: compiling them only costs
        })
    except (OSError, asyncpg.PostgresError) as e:
        # Never echo the DSN: it may carry a password.
        raise SourceError(f"cannot connect to the database: {e}") from e

