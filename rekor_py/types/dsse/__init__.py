"""The dsse kind: a DSSE envelope, every signature verified, nothing stored (spec §4.8).

Version modules register themselves; types/__init__.py imports them.
"""

from __future__ import annotations
