"""The rekord kind: a detached signature over a whole artifact (spec §4.5).

Version modules register themselves; types/__init__.py imports them.
"""

from __future__ import annotations
