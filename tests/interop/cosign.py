"""Running the real cosign binary against a test log, offline.

cosign normally trusts public Sigstore through TUF; this machine (and a private deployment)
has no route there, so every call gets what a private deployment gives it instead:
`--rekor-url` pointing at our log, `SIGSTORE_REKOR_PUBLIC_KEY` (our log's key, for the old
bundle and image flows) or a `--trusted-root` file naming our log, and a HOME of its own
(cosign keeps its TUF cache in ~/.sigstore, which stays empty).
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.interop.conftest import client_env

# cosign reads the key password from COSIGN_PASSWORD (no terminal in the tests).
PASSWORD = "interop-test-password"


@dataclass
class Result:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def describe(self) -> str:
        return (f"$ {' '.join(self.argv)}\n-> exit {self.returncode}\n"
                f"stdout:\n{self.stdout[-3000:]}\nstderr:\n{self.stderr[-3000:]}")


@dataclass
class Cosign:
    """One cosign executable with its own HOME and a working folder."""

    exe: Path
    home: Path
    env: dict[str, str] = field(default_factory=dict)

    def run(self, *args: str | Path, env: Mapping[str, str] | None = None,
            timeout: float = 120) -> Result:
        argv = [str(self.exe), *map(str, args)]
        extra = {"COSIGN_PASSWORD": PASSWORD, **self.env, **(env or {})}
        # An empty value means "unset" (SIGSTORE_REKOR_PUBLIC_KEY="" would otherwise count).
        full = {k: v for k, v in client_env(self.home, **extra).items() if v != ""}
        done = subprocess.run(argv, capture_output=True, text=True, env=full, cwd=self.home,
                              timeout=timeout, check=False)
        return Result(argv, done.returncode, done.stdout, done.stderr)

    def ok(self, *args: str | Path, env: Mapping[str, str] | None = None) -> Result:
        result = self.run(*args, env=env)
        assert result.returncode == 0, result.describe()
        return result

    def fails(self, *args: str | Path, env: Mapping[str, str] | None = None) -> Result:
        result = self.run(*args, env=env)
        assert result.returncode != 0, result.describe()
        return result

    def generate_key_pair(self, prefix: str) -> tuple[Path, Path]:
        """`cosign generate-key-pair`: an encrypted private key and its PEM public key."""
        self.ok("generate-key-pair", "--output-key-prefix", prefix)
        return self.home / f"{prefix}.key", self.home / f"{prefix}.pub"

    def import_key_pair(self, key_pem: bytes, prefix: str) -> tuple[Path, Path]:
        """`cosign import-key-pair` of a PKCS#8 PEM key (cosign signs only with its own
        encrypted key format)."""
        source = self.home / f"{prefix}-plain.pem"
        source.write_bytes(key_pem)
        self.ok("import-key-pair", "--key", source, "--output-key-prefix", prefix)
        return self.home / f"{prefix}.key", self.home / f"{prefix}.pub"


def fresh_public_key_pem(path: Path) -> Path:
    """A new ECDSA P-256 public key that signed nothing: a wrong log key."""
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    path.write_bytes(key.public_bytes(serialization.Encoding.PEM,
                                      serialization.PublicFormat.SubjectPublicKeyInfo))
    return path


def rekor_body(entry_body_b64: str) -> dict[str, Any]:
    """The Rekor entry a bundle carries, decoded (kind, apiVersion, spec)."""
    body: dict[str, Any] = json.loads(base64.b64decode(entry_body_b64))
    return body


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
