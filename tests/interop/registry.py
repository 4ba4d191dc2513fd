"""A real OCI registry for the image tests: Debian's `docker-registry` (distribution 2.8)
on a free 127.0.0.1 port, plain HTTP, no auth, its config and storage in a temp folder.

cosign and crane treat `127.0.0.1:PORT` as an insecure (HTTP) registry only when told:
crane with `--insecure`, cosign with `--allow-http-registry`.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.integration.logserver import free_port

CONFIG = """\
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {storage}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
"""


@dataclass
class Registry:
    host: str  # "127.0.0.1:PORT", the registry part of an image reference
    proc: subprocess.Popen[bytes]
    folder: Path

    def output(self) -> str:
        return (self.folder / "registry.log").read_text(errors="replace")[-4000:]


@contextmanager
def running_registry(executable: Path) -> Iterator[Registry]:
    folder = Path(tempfile.mkdtemp(prefix="rekor-py-registry-"))
    port = free_port()
    (folder / "storage").mkdir()
    config = folder / "config.yml"
    config.write_text(CONFIG.format(storage=folder / "storage", port=port))
    with open(folder / "registry.log", "wb") as out:
        proc = subprocess.Popen([str(executable), "serve", str(config)],
                                stdout=out, stderr=subprocess.STDOUT)
    registry = Registry(f"127.0.0.1:{port}", proc, folder)
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"docker-registry exited {proc.returncode}:\n{registry.output()}")
            try:
                if requests.get(f"http://{registry.host}/v2/", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"docker-registry did not answer:\n{registry.output()}")
            time.sleep(0.1)
        yield registry
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


def push_image(crane: Path, registry: Registry, work: Path, name: str, content: bytes) -> str:
    """Pushes an image (one layer holding `content`, on an empty base) with crane and
    returns its reference by digest, `HOST/NAME@sha256:...`."""
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    layer_path = work / f"{name.replace('/', '-')}-layer.tar"
    layer_path.write_bytes(layer.getvalue())
    tag = f"{registry.host}/{name}:v1"
    pushed = subprocess.run([str(crane), "append", "--insecure", "-f", str(layer_path),
                             "-t", tag], capture_output=True, text=True, timeout=60, check=False)
    assert pushed.returncode == 0, pushed.stderr
    digest = subprocess.run([str(crane), "digest", "--insecure", tag], capture_output=True,
                            text=True, timeout=60, check=False)
    assert digest.returncode == 0 and digest.stdout.startswith("sha256:"), digest.stderr
    return f"{registry.host}/{name}@{digest.stdout.strip()}"
