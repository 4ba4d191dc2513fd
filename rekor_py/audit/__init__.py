"""Auditing a log's own storage: `rekor-py fsck`.

fsck.py drives the check over one read-only snapshot; tiles.py recomputes the
tiles and root from the leaf hashes; its read-only SQL is storage/audit_queries.py;
source.py finds the database (a URL, or the data dir's embedded PostgreSQL,
attached to or started for the check) and the log's public key; report.py
holds the results.
"""

from __future__ import annotations

from rekor_py.audit.fsck import fsck
from rekor_py.audit.report import Discrepancy, FsckReport, TreeSummary

__all__ = ["Discrepancy", "FsckReport", "TreeSummary", "fsck"]
