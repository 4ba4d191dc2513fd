"""Running litewitness (filippo.io/torchwood), a C2SP tlog-witness written by others.

litewitness keeps its state in SQLite and signs with an Ed25519 key held by an
ssh-agent; `witnessctl add-log` / `add-key` tell it which logs (origin and
verifier key) to witness.  Its cosignature key is computed here from the SSH
public key (name ‖ 0x0A ‖ 0x04 ‖ key) and compared with the vkey it prints, so
the two implementations agree on key IDs before a test relies on them.
"""

from __future__ import annotations

import base64
import re
import shutil
import struct
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ed25519

from rekor_py.witness.cosignature import CosignatureVerifier
from tests.integration.logserver import free_port, port_open, wait_until

__all__ = ["Litewitness", "start_litewitness"]

_VKEY_LINE = re.compile(r'msg="verifier key" vkey=(\S+)')


@dataclass
class Litewitness:
    exe: Path
    ctl: Path
    workdir: Path
    name: str
    port: int
    verifier: CosignatureVerifier
    agent: subprocess.Popen[bytes]
    fingerprint: str
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def db(self) -> Path:
        return self.workdir / "witness.db"

    def add_log(self, origin: str, vkey: str) -> None:
        for args in (["add-log", "-origin", origin], ["add-key", "-origin", origin, "-key", vkey]):
            done = subprocess.run([str(self.ctl), *args, "-db", str(self.db)],
                                  capture_output=True, text=True, timeout=30, check=False)
            assert done.returncode == 0, done.stderr

    def start(self) -> None:
        with open(self.workdir / "litewitness.log", "ab") as log:  # the child keeps its copy
            self.proc = subprocess.Popen(
                [str(self.exe), "-db", str(self.db), "-key", self.fingerprint, "-name",
                 self.name, "-listen", f"127.0.0.1:{self.port}",
                 "-ssh-agent", str(self.workdir / "agent.sock")],
                stdout=log, stderr=subprocess.STDOUT)
        wait_until(port_open(self.port), self.proc, self.workdir / "litewitness.log",
                   "litewitness", timeout=30)
        printed = _VKEY_LINE.search((self.workdir / "litewitness.log").read_text())
        assert printed is not None and printed[1] == self.verifier.vkey, \
            f"litewitness prints {printed and printed[1]}, we compute {self.verifier.vkey}"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)
        self.proc = None

    def close(self) -> None:
        self.stop()
        self.agent.terminate()
        self.agent.wait(30)


def start_litewitness(tools: dict[str, Path], workdir: Path,
                      name: str = "witness.test/litewitness") -> Litewitness:
    """An ssh-agent holding a fresh Ed25519 key, and litewitness (its log list empty)."""
    workdir.mkdir(parents=True, exist_ok=True)
    key = workdir / "witness-key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    sock = workdir / "agent.sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not sock.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    subprocess.run(["ssh-add", "-q", str(key)], check=True, env={"SSH_AUTH_SOCK": str(sock)},
                   capture_output=True)
    fingerprint = subprocess.run(["ssh-keygen", "-lf", f"{key}.pub"], check=True,
                                 capture_output=True, text=True).stdout.split()[1]
    raw = _ssh_ed25519_key(Path(f"{key}.pub").read_text())
    verifier = CosignatureVerifier.of(name, ed25519.Ed25519PublicKey.from_public_bytes(raw))
    witness = Litewitness(tools["litewitness"], tools["witnessctl"], workdir, name, free_port(),
                          verifier, agent, fingerprint)
    witness.start()
    return witness


def _ssh_ed25519_key(line: str) -> bytes:
    """The 32-byte key of an `ssh-ed25519 <base64> comment` public key line."""
    blob = base64.b64decode(line.split()[1])
    (n,) = struct.unpack(">I", blob[:4])
    assert blob[4:4 + n] == b"ssh-ed25519"
    (m,) = struct.unpack(">I", blob[4 + n:8 + n])
    return blob[8 + n:8 + n + m]


def copy_state(witness: Litewitness, to: Path) -> None:
    """A copy of the witness's SQLite state (taken while it is stopped)."""
    for suffix in ("", "-wal", "-shm"):
        src = Path(f"{witness.db}{suffix}")
        if src.exists():
            shutil.copy2(src, Path(f"{to}{suffix}"))
