"""The explorer's own unit tests (explorer/test, run by Node's test runner): its Merkle
verifiers against the same vectors as the C engine (tests/vectors/merkle), and its
note, vkey and cosignature checks under both engines (WebCrypto and noble)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

EXPLORER = Path(__file__).resolve().parents[2] / "explorer"


def test_explorer_unit_tests_pass() -> None:
    npm = shutil.which("npm")
    assert npm, "npm is needed to build and test the explorer (Node.js 20 with npm)"
    if not (EXPLORER / "node_modules").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=EXPLORER, check=True)
    run = subprocess.run([npm, "test", "--silent"], cwd=EXPLORER, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    passed = int(re.search(r"^# pass (\d+)$", run.stdout, re.M).group(1))  # type: ignore[union-attr]
    failed = int(re.search(r"^# fail (\d+)$", run.stdout, re.M).group(1))  # type: ignore[union-attr]
    # Every vector file is a test: far more than 190 of them.
    assert failed == 0 and passed > 190, run.stdout[-2000:]
