"""The intoto kind: a DSSE envelope verified with x509 keys (spec §4.6, §4.7).

Version modules register themselves; types/__init__.py imports them.
"""

from __future__ import annotations
