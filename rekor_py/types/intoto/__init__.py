"""The intoto kind: a DSSE envelope verified with x509 keys
(docs/rekor-compat.md#intoto-001, #intoto-002).

Version modules register themselves; types/__init__.py imports them.
"""

from __future__ import annotations
