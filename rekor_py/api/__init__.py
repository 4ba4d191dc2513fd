"""api layer of rekor-py (see docs/architecture.md)."""
