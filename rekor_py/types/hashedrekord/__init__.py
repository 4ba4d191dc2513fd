"""The hashedrekord kind: a signature over a supplied digest (docs/rekor-compat.md#hashedrekord).

Version modules register themselves; types/__init__.py imports them.
"""

from __future__ import annotations
