"""rekor-py: a Rekor v1 compatible transparency log."""

__version__ = "0.1.0"
