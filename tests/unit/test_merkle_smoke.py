"""The C engine loads and answers the basics."""

from __future__ import annotations

import hashlib


def test_import_and_constants() -> None:
    from rekor_py import merkle

    assert merkle.HASH_SIZE == 32
    assert merkle.TILE_HEIGHT == 8
    assert merkle.TILE_WIDTH == 256
    assert merkle.EMPTY_ROOT == hashlib.sha256(b"").digest()  # noqa: SIM300  the value under test stays on the left


def test_empty_root() -> None:
    from rekor_py import merkle

    root = merkle.root_hash([])
    assert root.hex().startswith("e3b0c442")
    assert root == merkle.EMPTY_ROOT


def test_sha256_backend() -> None:
    from rekor_py import merkle

    assert merkle.sha256_backend() in {"sha-ni", "portable"}


def test_leaf_hash_known_value() -> None:
    from rekor_py import merkle

    # RFC 6962 leaf hash of the empty entry: SHA-256(0x00).
    assert merkle.leaf_hash(b"").hex() == (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )
