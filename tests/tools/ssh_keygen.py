"""SSH keys and SSHSIG signatures made by the real `ssh-keygen`, as `ssh-keygen -Y sign` users do."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SSHKey", "ssh_keygen"]


@dataclass(frozen=True)
class SSHKey:
    private: Path
    public_line: bytes  # the .pub file: "<type> <b64> <comment>\n"

    def sign(self, artifact: Path, namespace: str = "file", hash_alg: str | None = None) -> bytes:
        """An armored SSHSIG over the file (`ssh-keygen -Y sign -n NAMESPACE`)."""
        extra = ["-O", f"hashalg={hash_alg}"] if hash_alg else []
        subprocess.run(["ssh-keygen", "-q", "-Y", "sign", "-n", namespace, "-f", str(self.private), *extra,
                        str(artifact)], check=True, capture_output=True, timeout=60)
        signature = artifact.with_name(artifact.name + ".sig")
        data = signature.read_bytes()
        signature.unlink()  # ssh-keygen refuses to overwrite it next time
        return data


def ssh_keygen(workdir: Path, key_type: str, comment: str, bits: int | None = None) -> SSHKey:
    """A new unencrypted key (`ssh-keygen -t TYPE -C COMMENT -N ''`) in `workdir`."""
    private = workdir / f"id_{key_type}_{bits or 'default'}_{abs(hash(comment)) % 10_000}"
    size = ["-b", str(bits)] if bits else []
    subprocess.run(["ssh-keygen", "-q", "-t", key_type, *size, "-C", comment, "-N", "", "-f", str(private)],
                   check=True, capture_output=True, timeout=60)
    return SSHKey(private, Path(f"{private}.pub").read_bytes())
