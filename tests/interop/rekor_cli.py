"""Driving the real Go `rekor-cli` (github.com/sigstore/rekor/cmd/rekor-cli) against a log,
reading what it prints, and an independent RFC 6962 Merkle computation to check it.

rekor-cli prints its result on stdout and its messages and errors on stderr (exit code 1
on an error).  It has no flag for the log's public key: it reads the viper key
`rekor_server_public_key`, from the environment as `REKOR_REKOR_SERVER_PUBLIC_KEY` or from
`~/.rekor.yaml`, and holds the PEM itself (not a path); without it, it fetches
`GET /api/v1/log/publicKey?treeID=` from the server it is checking.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from tests.interop.conftest import client_env

__all__ = ["RekorCli", "UploadOutput", "parse_upload", "server_entry"]

PUBLIC_KEY_VARIABLE = "REKOR_REKOR_SERVER_PUBLIC_KEY"

_CREATED = re.compile(r"^Created entry at index (\d+), available at: (\S+)/api/v1/log/entries/([0-9a-f]+)\n\Z")
_EXISTS = re.compile(r"^Entry already exists; available at: (\S+)/api/v1/log/entries/([0-9a-f]+)\n\Z")


@dataclass(frozen=True)
class RekorCli:
    """One rekor-cli with its own HOME (~/.rekor/state.json lives there) and the log key
    it trusts (None: fetch it from the server, as rekor-cli does by default)."""

    exe: Path
    server: str
    home: Path
    log_key_pem: str | None

    def run(self, *args: str, cwd: Path | None = None, timeout: float = 120
            ) -> subprocess.CompletedProcess[str]:
        extra = {} if self.log_key_pem is None else {PUBLIC_KEY_VARIABLE: self.log_key_pem}
        return subprocess.run([str(self.exe), *args, "--rekor_server", self.server],
                              env=client_env(self.home, **extra), cwd=cwd, capture_output=True,
                              text=True, timeout=timeout, check=False)

    def with_key(self, pem: str | None, home: Path | None = None) -> RekorCli:
        return RekorCli(self.exe, self.server, home or self.home, pem)

    def state(self) -> dict[str, str]:
        """~/.rekor/state.json: tree ID and server URL -> the checkpoint text last verified."""
        path = self.home / ".rekor" / "state.json"
        if not path.exists():
            return {}
        state: dict[str, str] = json.loads(path.read_text())
        return state


@dataclass(frozen=True)
class UploadOutput:
    created: bool
    index: int | None  # only printed for a new entry
    base_url: str
    entry_id: str


def parse_upload(stdout: str) -> UploadOutput | None:
    """`rekor-cli upload`'s one line: a new entry or an existing one (the 409 path)."""
    if m := _CREATED.match(stdout):
        return UploadOutput(True, int(m[1]), m[2], m[3])
    if m := _EXISTS.match(stdout):
        return UploadOutput(False, None, m[1], m[2])
    return None


def server_entry(url: str, entry_id: str) -> tuple[str, dict[str, Any], bytes]:
    """The log entry as the server answers it: (entry ID key, LogEntry, canonical body)."""
    r = requests.get(f"{url}/api/v1/log/entries/{entry_id}", timeout=10)
    r.raise_for_status()
    ((key, entry),) = r.json().items()
    return key, entry, base64.b64decode(entry["body"])
