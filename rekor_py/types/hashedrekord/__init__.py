"""The hashedrekord kind: a signature over a supplied digest (spec §4.4).

Version modules register themselves; types/__init__.py imports them.
"""

from __future__ import annotations
