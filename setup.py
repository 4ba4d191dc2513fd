"""Build glue only: cffi compiles merkle_ext/ into rekor_py._merkle, and npm builds
the web explorer (explorer/) into rekor_py/explorer/static.

Everything else about the package lives in pyproject.toml; setuptools has no
pyproject key for ``cffi_modules`` or for a build step of its own, hence this file.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
EXPLORER = ROOT / "explorer"
STATIC = ROOT / "rekor_py" / "explorer" / "static"
BUILT = ("index.html", "explorer.js", "explorer.css")


def _newest(paths: list[Path]) -> float:
    return max((p.stat().st_mtime for p in paths if p.is_file()), default=0.0)


def build_explorer() -> None:
    """npm ci (when the lock file is newer than node_modules) and the esbuild step (when
    a source is newer than the built files).  Without npm the package is still built:
    the server then says at / that the explorer is missing, and the API works as ever."""
    if not (EXPLORER / "package.json").is_file():
        return  # an sdist already holds the built files
    sources = [*EXPLORER.glob("src/*"), EXPLORER / "build.mjs", EXPLORER / "package-lock.json"]
    built = [STATIC / n for n in BUILT]
    if all(p.is_file() for p in built) and _newest(sources) <= min(p.stat().st_mtime for p in built):
        return
    npm = shutil.which("npm")
    if npm is None or os.environ.get("REKOR_PY_SKIP_EXPLORER_BUILD"):
        print("warning: npm not found; the web explorer is not built (see docs/explorer.md)",
              file=sys.stderr)
        return
    modules = EXPLORER / "node_modules"
    if not modules.is_dir() or (EXPLORER / "package-lock.json").stat().st_mtime > modules.stat().st_mtime:
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=EXPLORER, check=True)
        modules.touch()
    subprocess.run([npm, "run", "--silent", "build"], cwd=EXPLORER, check=True)


class BuildPy(build_py):
    def run(self) -> None:
        build_explorer()
        super().run()


setup(cffi_modules=["merkle_ext/build_ffi.py:ffibuilder"], cmdclass={"build_py": BuildPy})
