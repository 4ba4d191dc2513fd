"""Build glue only: cffi compiles merkle_ext/ into rekor_py._merkle.

Everything else about the package lives in pyproject.toml; setuptools has no
pyproject key for ``cffi_modules``, hence this file.
"""

from setuptools import setup

setup(cffi_modules=["merkle_ext/build_ffi.py:ffibuilder"])
