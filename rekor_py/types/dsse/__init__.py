"""The dsse kind: a DSSE envelope, every signature verified, nothing stored
(docs/rekor-compat.md#dsse).

Version modules register themselves; types/__init__.py imports them.
"""

from __future__ import annotations
