"""types layer of rekor-py (see ../shared/DESIGN.md)."""
