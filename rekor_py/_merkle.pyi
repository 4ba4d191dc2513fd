# Type stub for the cffi-built engine.  Only rekor_py/merkle/_engine.py imports it, and
# checks every argument and status itself, so cdata stays untyped here.
from typing import Any

ffi: Any
lib: Any
