"""minisign keys and signatures made by the real `minisign` tool (Debian package)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MinisignKey", "minisign_key"]


@dataclass(frozen=True)
class MinisignKey:
    secret: Path
    public_file: bytes  # minisign.pub: "untrusted comment: ...\n<b64>\n"

    def sign(self, artifact: Path, legacy: bool = False) -> bytes:
        """A .minisig over the file: prehashed `ED` (minisign's default) or legacy `Ed` (-l)."""
        out = artifact.with_name(artifact.name + ".minisig")
        subprocess.run(["minisign", "-S", "-s", str(self.secret), "-m", str(artifact), "-x", str(out),
                        *(["-l"] if legacy else [])], check=True, capture_output=True, timeout=60)
        return out.read_bytes()


def minisign_key(workdir: Path, name: str) -> MinisignKey:
    """A new key pair without a password (`minisign -G -W`)."""
    public, secret = workdir / f"{name}.pub", workdir / f"{name}.key"
    subprocess.run(["minisign", "-G", "-W", "-f", "-p", str(public), "-s", str(secret)],
                   check=True, capture_output=True, timeout=60)
    return MinisignKey(secret, public.read_bytes())
