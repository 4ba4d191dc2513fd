"""A SoftHSM2 token for the tests: made once per test process in a temporary folder.

SoftHSM reads its configuration ($SOFTHSM2_CONF) and lists its tokens when the
module is first initialized in a process, and python-pkcs11 initializes a module
once per process: tokens made afterwards are not seen.  So the first call of
`softhsm_token()` makes the one folder, configuration and token that every test of
this process uses, with every key they need, before anything loads the module,
and points $SOFTHSM2_CONF at it (servers started as subprocesses inherit it).

The keys are generated inside the token with pkcs11-tool, as docs/keys.md tells
operators to, so the documented commands are what the tests run.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = ["SoftHsm", "module_path", "softhsm_token"]

LABEL = "rekor-py-test"
PIN = "2468"
SO_PIN = "13579"
_MODULE_CANDIDATES = ("/usr/lib/softhsm/libsofthsm2.so",
                      "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
                      "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
                      "/usr/local/lib/softhsm/libsofthsm2.so")

# label -> (id hex, pkcs11-tool --key-type); every one generated in the token,
# sensitive and not extractable (pkcs11-tool's defaults).
KEYS = {
    "log-p256": ("01", "EC:prime256v1"),
    "log-p384": ("02", "EC:secp384r1"),
    "note-ed25519": ("03", "EC:edwards25519"),
    "v2-ed25519": ("04", "EC:edwards25519"),
    "tsa-p256": ("05", "EC:prime256v1"),
    "log-rsa": ("06", "rsa:2048"),
    # Made with --extractable: the server must refuse it.
    "extractable-p256": ("07", "EC:prime256v1"),
}


def module_path() -> str | None:
    for candidate in _MODULE_CANDIDATES:
        if os.path.exists(candidate):
            return candidate
    return None


@dataclass(frozen=True)
class SoftHsm:
    folder: Path
    conf: Path
    module: str
    label: str = LABEL
    pin: str = PIN

    def uri(self, obj: str, *, pin: bool = True, module: bool = True, **extra: str) -> str:
        """pkcs11:token=<label>;object=<obj>[?module-path=...&pin-value=...]."""
        path = f"pkcs11:token={self.label};object={obj}"
        query = [f"module-path={self.module}"] if module else []
        if pin:
            query.append(f"pin-value={self.pin}")
        query += [f"{k.replace('_', '-')}={v}" for k, v in extra.items()]
        return path + ("?" + "&".join(query) if query else "")

    def tool(self, *args: str) -> subprocess.CompletedProcess[str]:
        """pkcs11-tool on our token, logged in."""
        return subprocess.run(["pkcs11-tool", "--module", self.module, "--token-label",
                               self.label, "--login", "--pin", self.pin, *args],
                              capture_output=True, text=True, check=True, timeout=60,
                              env={**os.environ, "SOFTHSM2_CONF": str(self.conf)})


_TOKEN: SoftHsm | None = None


def softhsm_token() -> SoftHsm:
    """The process's token (module docstring); skips when SoftHSM2 or pkcs11-tool is
    not installed (.ci/run installs both)."""
    global _TOKEN
    if _TOKEN is not None:
        return _TOKEN
    module = module_path()
    if module is None or shutil.which("softhsm2-util") is None:
        pytest.skip("SoftHSM2 is not installed (apt-get install softhsm2)")
    if shutil.which("pkcs11-tool") is None:
        pytest.skip("pkcs11-tool is not installed (apt-get install opensc)")
    folder = Path(tempfile.mkdtemp(prefix="rekor-py-softhsm-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    (folder / "tokens").mkdir()
    conf = folder / "softhsm2.conf"
    conf.write_text(textwrap.dedent(f"""\
        directories.tokendir = {folder / "tokens"}
        objectstore.backend = file
        log.level = ERROR
        """))
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", LABEL,
                    "--so-pin", SO_PIN, "--pin", PIN], check=True, capture_output=True,
                   timeout=60)
    hsm = SoftHsm(folder, conf, module)
    for label, (key_id, key_type) in KEYS.items():
        extra = ["--extractable"] if label.startswith("extractable") else []
        hsm.tool("--keypairgen", "--key-type", key_type, "--label", label, "--id", key_id,
                 "--usage-sign", *extra)
    _TOKEN = hsm
    return hsm
