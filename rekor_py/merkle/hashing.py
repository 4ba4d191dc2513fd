"""RFC 6962 hashes (leaf and node), one at a time or in batches, and the choice
of SHA-256 implementation in C."""

from __future__ import annotations

import os
from array import array
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from rekor_py.merkle._engine import HASH_SIZE, check, check_hash, ffi, lib, scratch, split

__all__ = [
    "leaf_hash",
    "leaf_hashes",
    "leaf_hashes_packed",
    "node_hash",
    "node_hashes",
    "set_sha256_backend",
    "sha256_backend",
    "sha256_blocks",
]

# Pick the SHA-256 backend once, at import: the CPU cannot change under us.
lib.merkle_sha256_select(-1)

_BACKENDS = {"portable": 0, "sha-ni": 1}


def sha256_backend() -> str:
    """Name of the SHA-256 implementation in use: "sha-ni" or "portable"."""
    return "sha-ni" if lib.merkle_sha256_backend() == 1 else "portable"


def set_sha256_backend(name: str) -> str:
    """Switch SHA-256 implementation ("sha-ni", "portable" or "auto"), for tests
    and benchmarks; returns the one now in use ("sha-ni" only if the CPU has it).
    Not thread-safe: call it while no other thread hashes."""
    wanted = {**_BACKENDS, "auto": -1}.get(name)
    if wanted is None:
        raise ValueError(f"unknown SHA-256 backend {name!r}")
    lib.merkle_sha256_select(wanted)
    return sha256_backend()


def sha256_blocks(name: str) -> int:
    """SHA-256 blocks the named backend's compressor has processed on this thread.

    A count kept by each compressor itself, so tests can tell which one really
    ran, not which one the engine says is selected."""
    backend = _BACKENDS.get(name)
    if backend is None:
        raise ValueError(f"unknown SHA-256 backend {name!r}")
    return int(lib.merkle_sha256_blocks(backend))


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data)."""
    out = scratch("char[32]")
    lib.merkle_leaf_hash(data, len(data), out)
    return bytes(ffi.unpack(out, HASH_SIZE))


def leaf_hashes(entries: Sequence[bytes]) -> list[bytes]:
    """Leaf hashes of many entries, hashed in C in batches."""
    return split(leaf_hashes_packed(entries))


# Big batches are hashed CHUNK entries per C call: each join is then a few MB of
# recycled heap instead of one huge fresh allocation (page faults cost more than
# the copy), and chunks can run on several cores, as cffi releases the GIL.
_CHUNK = 2048
_PARALLEL_MIN = 16 * _CHUNK
_pool: ThreadPoolExecutor | None = None


def _hash_chunk(entries: Sequence[bytes], out: memoryview) -> None:
    data = b"".join(entries)
    lengths = array("Q", map(len, entries))
    status = lib.merkle_leaf_hashes(data, len(data), ffi.from_buffer("uint64_t[]", lengths),
                                    len(entries), ffi.from_buffer(out))
    check(status, "leaf_hashes")


def leaf_hashes_packed(entries: Sequence[bytes], *, parallel: bool = True) -> bytes:
    """Leaf hashes of many entries, concatenated (32 bytes each, in order).

    With `parallel`, batches of more than 32,768 entries use one thread per core.
    """
    global _pool
    n = len(entries)
    out = bytearray(HASH_SIZE * n)
    view = memoryview(out)
    spans = [(i, min(i + _CHUNK, n)) for i in range(0, n, _CHUNK)]
    jobs = [(entries[a:b], view[a * HASH_SIZE : b * HASH_SIZE]) for a, b in spans]
    cores = os.cpu_count() or 1
    if parallel and n >= _PARALLEL_MIN and cores > 1:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=cores, thread_name_prefix="merkle")
        for future in [_pool.submit(_hash_chunk, *job) for job in jobs]:
            future.result()
    else:
        for job in jobs:
            _hash_chunk(*job)
    return bytes(out)


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right); both must be 32 bytes."""
    out = scratch("char[32]")
    lib.merkle_node_hash(check_hash("left", left), check_hash("right", right), out)
    return bytes(ffi.unpack(out, HASH_SIZE))


def node_hashes(children: bytes) -> bytes:
    """Parents of n concatenated child pairs (2n hashes in, n hashes out)."""
    if len(children) % (2 * HASH_SIZE):
        raise ValueError(f"children must be a multiple of {2 * HASH_SIZE} bytes")
    n = len(children) // (2 * HASH_SIZE)
    out = scratch("char[]", max(n, 1) * HASH_SIZE)  # C writes every byte we return
    lib.merkle_node_hashes(children, n, out)
    return bytes(ffi.buffer(out, n * HASH_SIZE))
