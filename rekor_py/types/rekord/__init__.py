"""The rekord kind: a detached signature over a whole artifact (docs/rekor-compat.md#rekord).

Version modules register themselves; types/__init__.py imports them.
"""

from __future__ import annotations
