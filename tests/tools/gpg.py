"""Real GnuPG in a throw-away GNUPGHOME, for making keys and detached signatures in tests."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["GnuPG"]

# Unprotected keys and no agent prompts: tests only, never for real keys.
_BATCH = ["--batch", "--yes", "--pinentry-mode", "loopback", "--passphrase", ""]


@dataclass
class GnuPG:
    home: Path

    @classmethod
    def create(cls, home: Path) -> GnuPG:
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        return cls(home)

    def run(self, *args: str, stdin: bytes = b"", faked_time: str | None = None) -> bytes:
        extra = ["--faked-system-time", faked_time] if faked_time else []
        env = dict(os.environ, GNUPGHOME=str(self.home))
        done = subprocess.run(
            ["gpg", "--no-tty", *_BATCH, *extra, *args], input=stdin, env=env, capture_output=True,
            check=False, timeout=60
        )
        if done.returncode != 0:
            raise RuntimeError(f"gpg {' '.join(args)} failed: {done.stderr.decode(errors='replace')}")
        return done.stdout

    def generate(self, uid: str, algo: str, usage: str = "default", expire: str = "never",
                 faked_time: str | None = None) -> str:
        """Make a key and return its fingerprint."""
        self.run("--quick-gen-key", uid, algo, usage, expire, faked_time=faked_time)
        listing = self.run("--with-colons", "--list-keys", uid).decode()
        return next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))

    def export(self, fpr: str, armor: bool = True) -> bytes:
        return self.run(*(["--armor"] if armor else []), "--export", fpr)

    def export_secret(self, fpr: str) -> bytes:
        return self.run("--armor", "--export-secret-keys", fpr)

    def sign(self, fpr: str, data: bytes, armor: bool, faked_time: str | None = None,
             ignore_time_conflict: bool = False) -> bytes:
        flags = (["--armor"] if armor else []) + (["--ignore-time-conflict"] if ignore_time_conflict else [])
        return self.run("--local-user", fpr, *flags, "--detach-sign", stdin=data, faked_time=faked_time)

    def import_key(self, key: bytes) -> bytes:
        """gpg --import; returns gpg's status output (stderr is checked by the return code)."""
        return self.run("--import", "--status-fd", "1", stdin=key)
