"""The facade over the C Merkle engine (``rekor_py._merkle``, built from merkle_ext/).

It owns RFC 6962 hashing, in-memory trees, the compact-range appender and proofs
planned over and folded from C2SP tiles.  It checks every argument before the C
call, turns C status codes into Python exceptions and hands back only ``bytes``,
ints and tuples: no cdata leaves this module.  Storage, HTTP and signing are
other modules' business.  The API is documented in docs/merkle-api.md.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
from array import array
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from rekor_py._merkle import ffi, lib

__all__ = [
    "EMPTY_ROOT",
    "ExpandedTile",
    "HASH_SIZE",
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "AppendResult",
    "ProofError",
    "ProofPlan",
    "RightEdge",
    "TileID",
    "TileWrite",
    "append_leaves",
    "consistency_plan",
    "consistency_proof",
    "edge_plan",
    "fold_edge",
    "fold_proof",
    "inclusion_plan",
    "inclusion_proof",
    "leaf_hash",
    "leaf_hashes",
    "leaf_hashes_packed",
    "node_hash",
    "node_hashes",
    "root_hash",
    "set_sha256_backend",
    "sha256_backend",
    "tile_for",
    "verify_consistency",
    "verify_inclusion",
    # subtrees [start, end)
    "is_valid_subtree",
    "subtree_consistency_plan",
    "subtree_consistency_proof",
    "subtree_inclusion_plan",
    "subtree_inclusion_proof",
    "verify_subtree_consistency",
    "verify_subtree_inclusion",
]

HASH_SIZE: int = lib.MERKLE_HASH_SIZE
TILE_HEIGHT: int = lib.MERKLE_TILE_HEIGHT
TILE_WIDTH: int = lib.MERKLE_TILE_WIDTH
EMPTY_ROOT: bytes = hashlib.sha256(b"").digest()

_U64_LIMIT = 1 << 64
_MAX_TILE_LEVELS: int = lib.MERKLE_MAX_TILE_LEVELS

# Scratch buffers the C code fills completely before we read them: skip zeroing.
_scratch = ffi.new_allocator(should_clear_after_alloc=False)

# Pick the SHA-256 backend once, at import: the CPU cannot change under us.
lib.merkle_sha256_select(-1)


class ProofError(ValueError):
    """A proof did not verify; the message says what did not match."""


def sha256_backend() -> str:
    """Name of the SHA-256 implementation in use: "sha-ni" or "portable"."""
    return "sha-ni" if lib.merkle_sha256_backend() == 1 else "portable"


def set_sha256_backend(name: str) -> str:
    """Switch SHA-256 implementation ("sha-ni", "portable" or "auto"), for tests
    and benchmarks; returns the one now in use ("sha-ni" only if the CPU has it).
    Not thread-safe: call it while no other thread hashes."""
    wanted = {"portable": 0, "sha-ni": 1, "auto": -1}.get(name)
    if wanted is None:
        raise ValueError(f"unknown SHA-256 backend {name!r}")
    lib.merkle_sha256_select(wanted)
    return sha256_backend()


# ---- argument checks ---------------------------------------------------------------


def _u64(name: str, value: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{name} must be an int, got {type(value).__name__}")
    if not 0 <= value < _U64_LIMIT:
        raise ValueError(f"{name} must be in [0, 2**64), got {value}")
    return value


def _hash(name: str, value: bytes) -> bytes:
    if not isinstance(value, bytes):
        raise ValueError(f"{name} must be bytes, got {type(value).__name__}")
    if len(value) != HASH_SIZE:
        raise ValueError(f"{name} must be {HASH_SIZE} bytes, got {len(value)}")
    return value


LeafHashes = bytes | Sequence[bytes]
"""Leaf hashes as a sequence of 32-byte values, or packed: concatenated in one bytes."""


def _hashes(name: str, values: LeafHashes) -> bytes:
    """One C buffer of 32-byte hashes, from a packed bytes or a checked sequence."""
    if isinstance(values, bytes):
        if len(values) % HASH_SIZE:
            raise ValueError(f"packed {name} must be a multiple of {HASH_SIZE} bytes, "
                             f"got {len(values)}")
        return values
    joined = b"".join(values)
    if len(joined) != HASH_SIZE * len(values) or set(map(len, values)) - {HASH_SIZE}:
        bad = next(i for i, v in enumerate(values) if len(v) != HASH_SIZE)
        raise ValueError(f"{name}[{bad}] must be {HASH_SIZE} bytes, got {len(values[bad])}")
    return joined


def _split(buf: bytes) -> list[bytes]:
    return [buf[i : i + HASH_SIZE] for i in range(0, len(buf), HASH_SIZE)]


def _message(status: int) -> str:
    return str(ffi.string(lib.merkle_strerror(status)).decode())


def _check(status: int, what: str) -> None:
    if status != lib.MERKLE_OK:
        raise ValueError(f"{what}: {_message(status)}")


# ---- RFC 6962 §2.1 hashes -----------------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data)."""
    out = _scratch("char[32]")
    lib.merkle_leaf_hash(data, len(data), out)
    return bytes(ffi.unpack(out, HASH_SIZE))


def leaf_hashes(entries: Sequence[bytes]) -> list[bytes]:
    """Leaf hashes of many entries, hashed in C in batches."""
    return _split(leaf_hashes_packed(entries))


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
    _check(status, "leaf_hashes")


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
    out = _scratch("char[32]")
    lib.merkle_node_hash(_hash("left", left), _hash("right", right), out)
    return bytes(ffi.unpack(out, HASH_SIZE))


def node_hashes(children: bytes) -> bytes:
    """Parents of n concatenated child pairs (2n hashes in, n hashes out)."""
    if len(children) % (2 * HASH_SIZE):
        raise ValueError(f"children must be a multiple of {2 * HASH_SIZE} bytes")
    n = len(children) // (2 * HASH_SIZE)
    out = _scratch("char[]", max(n, 1) * HASH_SIZE)  # C writes every byte we return
    lib.merkle_node_hashes(children, n, out)
    return bytes(ffi.buffer(out, n * HASH_SIZE))


# ---- in-memory trees ---------------------------------------------------------------


def root_hash(leaf_hashes: LeafHashes) -> bytes:
    """RFC 6962 MTH over the leaf hashes (a sequence or packed); EMPTY_ROOT for none."""
    joined = _hashes("leaf_hashes", leaf_hashes)
    out = ffi.new("uint8_t[32]")
    lib.merkle_root(joined, len(joined) // HASH_SIZE, out)
    return bytes(ffi.buffer(out))


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int, size: int) -> list[bytes]:
    """Audit path for leaf `index` in the tree of the first `size` leaves.

    Requires 0 <= index < size <= len(leaf_hashes); raises ValueError otherwise.
    """
    _within("size", _u64("size", size), len(leaf_hashes))
    plan = inclusion_plan(index, size)
    return _fold_leaves(plan, _hashes("leaf_hashes", leaf_hashes[:size]))


def consistency_proof(leaf_hashes: Sequence[bytes], size1: int, size2: int) -> list[bytes]:
    """RFC 6962 §2.1.2 proof that the first size1 leaves prefix the first size2.

    Requires 0 <= size1 <= size2 <= len(leaf_hashes); [] if size1 is 0 or size2.
    """
    _within("size2", _u64("size2", size2), len(leaf_hashes))
    plan = consistency_plan(size1, size2)
    return _fold_leaves(plan, _hashes("leaf_hashes", leaf_hashes[:size2]))


def _within(name: str, size: int, available: int) -> None:
    if size > available:
        raise ValueError(f"{name} {size} is beyond the {available} leaf hashes given")


# ---- verifiers (RFC 9162 §2.1.3.2 and §2.1.4.2) -------------------------------------


def _proof_hash(name: str, value: bytes) -> bytes:
    try:
        return _hash(name, value)
    except ValueError as e:
        raise ProofError(str(e)) from None


def _proof_bytes(proof: Sequence[bytes]) -> bytes:
    for i, h in enumerate(proof):
        _proof_hash(f"proof[{i}]", h)
    return b"".join(proof)


def verify_inclusion(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes],
                     root: bytes) -> None:
    """Check that `leaf_hash` is at `index` in the tree of `size` with `root`.

    Raises ProofError saying what did not match.
    """
    _proof_hash("leaf_hash", leaf_hash)
    _proof_hash("root", root)
    joined = _proof_bytes(proof)
    _u64("index", index)
    _u64("size", size)
    calc = ffi.new("uint8_t[32]")
    status = lib.merkle_verify_inclusion(leaf_hash, index, size, joined, len(proof), root, calc)
    if status == lib.MERKLE_OK:
        return
    if status == lib.MERKLE_E_INDEX:
        raise ProofError(f"index {index} is not below tree size {size}")
    if status == lib.MERKLE_E_PROOF_LENGTH:
        want = len(inclusion_plan(index, size).counts)
        raise ProofError(f"inclusion proof has {len(proof)} hashes, want {want}")
    if status == lib.MERKLE_E_ROOT_MISMATCH:
        raise ProofError(
            f"calculated root {bytes(ffi.buffer(calc)).hex()} does not match "
            f"expected root {root.hex()}"
        )
    raise ProofError(_message(status))


def verify_consistency(size1: int, size2: int, proof: Sequence[bytes], root1: bytes,
                       root2: bytes) -> None:
    """Check that the tree (size1, root1) is a prefix of the tree (size2, root2).

    Raises ProofError saying what did not match.
    """
    _proof_hash("root1", root1)
    _proof_hash("root2", root2)
    joined = _proof_bytes(proof)
    _u64("size1", size1)
    _u64("size2", size2)
    calc1, calc2 = ffi.new("uint8_t[32]"), ffi.new("uint8_t[32]")
    status = lib.merkle_verify_consistency(size1, size2, joined, len(proof), root1, root2,
                                           calc1, calc2)
    if status == lib.MERKLE_OK:
        return
    if status == lib.MERKLE_E_SIZE:
        raise ProofError(f"size1 {size1} is greater than size2 {size2}")
    if status == lib.MERKLE_E_PROOF_LENGTH:
        want = 0 if size1 == size2 else len(consistency_plan(size1, size2).counts)
        raise ProofError(f"consistency proof has {len(proof)} hashes, want {want}")
    if status == lib.MERKLE_E_ROOT_MISMATCH:
        raise ProofError(f"trees of equal size {size1} have different roots "
                         f"{root1.hex()} and {root2.hex()}")
    if status in (lib.MERKLE_E_ROOT1_MISMATCH, lib.MERKLE_E_ROOT2_MISMATCH):
        which, calc, expected = ((1, calc1, root1) if status == lib.MERKLE_E_ROOT1_MISMATCH
                                 else (2, calc2, root2))
        raise ProofError(f"calculated root{which} {bytes(ffi.buffer(calc)).hex()} does not "
                         f"match expected root{which} {expected.hex()}")
    raise ProofError(_message(status))


# ---- C2SP tiles -----------------------------------------------------------------------

_TILE_PATH = re.compile(r"tile/(0|[1-9][0-9]?)/((?:x[0-9]{3}/)*[0-9]{3})(?:\.p/([0-9]{1,3}))?")


def _encode_index(index: int) -> str:
    digits = str(index)
    digits = "0" * (-len(digits) % 3) + digits
    groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    return "/".join([f"x{g}" for g in groups[:-1]] + groups[-1:])


@dataclass(frozen=True, order=True, slots=True)
class TileID:
    """A C2SP tlog-tiles tile: `width` hashes (256 = full) of tile `index` at `level`."""

    level: int
    index: int
    width: int

    @property
    def is_full(self) -> bool:
        return self.width == TILE_WIDTH

    @property
    def path(self) -> str:
        """`tile/<L>/<N>[.p/<W>]`, N in x-prefixed three-digit groups."""
        suffix = "" if self.is_full else f".p/{self.width}"
        return f"tile/{self.level}/{_encode_index(self.index)}{suffix}"

    @classmethod
    def parse(cls, path: str) -> TileID:
        """Inverse of `path`; accepts only the canonical spelling."""
        m = _TILE_PATH.fullmatch(path)
        if not m:
            raise ValueError(f"not a tile path: {path[:80]!r}")
        level, width = int(m[1]), int(m[3]) if m[3] else TILE_WIDTH
        tile = cls(level, int(m[2].replace("x", "").replace("/", "")), width)
        if level > 63 or not 1 <= width <= TILE_WIDTH or tile.path != path:
            raise ValueError(f"not a canonical tile path: {path[:80]!r}")
        return tile


def tile_for(level: int, index: int, size: int) -> TileID:
    """Tile (level, index) as it is at tree size `size`: full or partial.

    Raises ValueError if the tile holds no hash yet at that size.
    """
    _u64("level", level)
    _u64("index", index)
    complete = _u64("size", size) >> (TILE_HEIGHT * level) if level < 8 else 0
    width = min(complete - index * TILE_WIDTH, TILE_WIDTH)
    if width <= 0:
        raise ValueError(f"tile {level}/{index} is empty at tree size {size}")
    return TileID(level, index, width)


# ---- proof plans and folds --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProofPlan:
    """Which perfect subtrees (nodes) a proof needs, and which tiles hold them.

    Proof element i is the right-to-left fold of the next `counts[i]` nodes.
    Tile widths are as of `size`, the tree size the proof is against.
    """

    size: int
    nodes: tuple[tuple[int, int], ...]
    counts: tuple[int, ...]
    tiles: tuple[TileID, ...]


def _plan_from(size: int, c_nodes: object, n_nodes: int, counts: tuple[int, ...]) -> ProofPlan:
    tiles_out = _scratch("merkle_tile[]", lib.MERKLE_MAX_TILES)
    n_tiles = ffi.new("size_t *")
    _check(lib.merkle_tiles_for_nodes(c_nodes, n_nodes, size, tiles_out, n_tiles), "plan")
    # Both structs are plain uint64 fields: read each array out in one unpack.
    flat = ffi.unpack(ffi.cast("uint64_t *", c_nodes), 2 * n_nodes)
    tile_flat = ffi.unpack(ffi.cast("uint64_t *", tiles_out), 3 * n_tiles[0])
    return ProofPlan(
        size=size,
        nodes=tuple(zip(flat[0::2], flat[1::2])),
        counts=counts,
        tiles=tuple(TileID(*t) for t in zip(tile_flat[0::3], tile_flat[1::3], tile_flat[2::3])),
    )


def inclusion_plan(index: int, size: int) -> ProofPlan:
    """Plan the inclusion proof of leaf `index` in a tree of `size`.

    Requires 0 <= index < size.
    """
    _u64("index", index)
    _u64("size", size)
    if index >= size:
        raise ValueError(f"index {index} is not below tree size {size}")
    nodes = _scratch("merkle_node[]", lib.MERKLE_MAX_NODES)
    counts = _scratch("uint8_t[]", lib.MERKLE_MAX_ELEMS)
    n_nodes, n_elems = ffi.new("size_t *"), ffi.new("size_t *")
    _check(lib.merkle_inclusion_plan(index, size, nodes, n_nodes, counts, n_elems),
           "inclusion_plan")
    return _plan_from(size, nodes, n_nodes[0], tuple(ffi.unpack(counts, n_elems[0])))


def consistency_plan(size1: int, size2: int) -> ProofPlan:
    """Plan the consistency proof from size1 to size2.

    Requires 0 <= size1 <= size2; the plan is empty if size1 is 0 or size2.
    """
    _u64("size1", size1)
    _u64("size2", size2)
    if size1 > size2:
        raise ValueError(f"size1 {size1} is greater than size2 {size2}")
    nodes = _scratch("merkle_node[]", lib.MERKLE_MAX_NODES)
    counts = _scratch("uint8_t[]", lib.MERKLE_MAX_ELEMS)
    n_nodes, n_elems = ffi.new("size_t *"), ffi.new("size_t *")
    _check(lib.merkle_consistency_plan(size1, size2, nodes, n_nodes, counts, n_elems),
           "consistency_plan")
    return _plan_from(size2, nodes, n_nodes[0], tuple(ffi.unpack(counts, n_elems[0])))


def edge_plan(size: int) -> ProofPlan:
    """Plan reading the right edge (compact range) of a tree of `size` from tiles."""
    _u64("size", size)
    nodes = _scratch("merkle_node[]", lib.MERKLE_MAX_EDGE)
    n_nodes = ffi.new("size_t *")
    _check(lib.merkle_edge_plan(size, nodes, n_nodes), "edge_plan")
    return _plan_from(size, nodes, n_nodes[0], (1,) * n_nodes[0])


def _c_plan(plan: ProofPlan) -> tuple[object, bytes]:
    if len(plan.nodes) > lib.MERKLE_MAX_NODES or len(plan.counts) > lib.MERKLE_MAX_ELEMS:
        raise ValueError("plan is larger than any proof can be")
    flat = array("Q", itertools.chain.from_iterable(plan.nodes))
    return ffi.from_buffer("merkle_node[]", flat), bytes(plan.counts)


@dataclass(frozen=True, slots=True)
class ExpandedTile:
    """Every subtree hash a tile of `width` hashes determines (511 for a full
    tile), so that folding reads nodes instead of rebuilding them.  Full tiles
    never change: a server computes this once per tile and caches it."""

    width: int
    data: bytes

    @classmethod
    def from_tile(cls, tile: bytes) -> ExpandedTile:
        """Expand tile bytes (1 to 256 hashes)."""
        width, rest = divmod(len(tile), HASH_SIZE)
        if rest or not 1 <= width <= TILE_WIDTH:
            raise ValueError(f"a tile is 1 to {TILE_WIDTH} hashes, got {len(tile)} bytes")
        count = sum(width >> r for r in range(TILE_HEIGHT + 1))
        out = bytearray(count * HASH_SIZE)
        _check(lib.merkle_expand_tile(tile, width, ffi.from_buffer(out), count), "expand_tile")
        return cls(width, bytes(out))

    @property
    def tile(self) -> bytes:
        """The stored hashes themselves (the first level of the expansion)."""
        return self.data[: self.width * HASH_SIZE]


TileData = bytes | ExpandedTile
"""A tile's bytes as stored, or its expansion."""


def fold_proof(plan: ProofPlan, tiles: Mapping[tuple[int, int], TileData]) -> list[bytes]:
    """Fold the tiles a plan named into its proof hashes.

    `tiles` maps (level, index) to tile bytes or an ExpandedTile, either of which
    may be wider than the plan needs (tiles only grow).  Raises ValueError for a
    missing or short tile.
    """
    refs = _scratch("merkle_tile_ref[]", len(plan.tiles))
    keep = []  # buffers must outlive the C call
    for i, tile in enumerate(plan.tiles):
        found = tiles.get((tile.level, tile.index))
        if found is None:
            raise ValueError(f"tile {tile.path} is missing")
        expanded = isinstance(found, ExpandedTile)
        data = found.data if isinstance(found, ExpandedTile) else found
        width = found.width if isinstance(found, ExpandedTile) else len(data) // HASH_SIZE
        if (not expanded and len(data) % HASH_SIZE) or width < tile.width:
            raise ValueError(f"tile {tile.path} has {width} hashes, needs {tile.width}")
        buf = ffi.from_buffer(data)
        keep.append(buf)
        refs[i] = (tile.level, tile.index, min(width, TILE_WIDTH), expanded, buf)
    nodes, counts = _c_plan(plan)
    out = bytearray(HASH_SIZE * len(plan.counts))
    status = lib.merkle_fold_tiles(nodes, len(plan.nodes), counts, len(plan.counts), refs,
                                   len(plan.tiles), ffi.from_buffer(out))
    _check(status, "fold_proof")
    return _split(bytes(out))


def _fold_leaves(plan: ProofPlan, leaves: bytes) -> list[bytes]:
    nodes, counts = _c_plan(plan)
    out = bytearray(HASH_SIZE * len(plan.counts))
    status = lib.merkle_fold_leaves(nodes, len(plan.nodes), counts, len(plan.counts), leaves,
                                    len(leaves) // HASH_SIZE, ffi.from_buffer(out))
    _check(status, "fold")
    return _split(bytes(out))


# ---- the appender -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RightEdge:
    """Compact range of a tree: the perfect-subtree roots for the set bits of
    `size`, largest (leftmost) first.  Enough to append and to compute the root."""

    size: int
    hashes: tuple[bytes, ...]

    def __post_init__(self) -> None:
        _u64("size", self.size)
        if len(self.hashes) != self.size.bit_count():
            raise ValueError(f"a right edge at size {self.size} has {self.size.bit_count()} "
                             f"hashes, got {len(self.hashes)}")
        for i, h in enumerate(self.hashes):
            _hash(f"hashes[{i}]", h)

    @classmethod
    def empty(cls) -> RightEdge:
        return cls(0, ())

    def root_hash(self) -> bytes:
        out = ffi.new("uint8_t[32]")
        _check(lib.merkle_edge_root(b"".join(self.hashes), len(self.hashes), self.size, out),
               "root_hash")
        return bytes(ffi.buffer(out))


def fold_edge(plan: ProofPlan, tiles: Mapping[tuple[int, int], TileData]) -> RightEdge:
    """The right edge at `plan.size`, from a plan made by `edge_plan`."""
    return RightEdge(plan.size, tuple(fold_proof(plan, tiles)))


@dataclass(frozen=True, slots=True)
class TileWrite:
    """New hashes for tile (level, index) at positions start, start+1, ..."""

    level: int
    index: int
    start: int
    hashes: bytes


@dataclass(frozen=True, slots=True)
class AppendResult:
    """What an append changed: the new edge and root, and exactly the new stored hashes."""

    edge: RightEdge
    root_hash: bytes
    tiles: tuple[TileWrite, ...]

    def stored_hashes(self) -> Iterator[tuple[int, int, int, bytes]]:
        """Each new stored hash as (level, tile index, position, hash)."""
        for w in self.tiles:
            for i in range(len(w.hashes) // HASH_SIZE):
                yield w.level, w.index, w.start + i, w.hashes[i * HASH_SIZE : (i + 1) * HASH_SIZE]


def _tile_writes(level: int, first: int, hashes: memoryview) -> Iterator[TileWrite]:
    """Split the new hashes of one level, global positions first.., by tile."""
    pos, end = first, first + len(hashes) // HASH_SIZE
    while pos < end:
        stop = min(end, (pos // TILE_WIDTH + 1) * TILE_WIDTH)
        chunk = bytes(hashes[(pos - first) * HASH_SIZE : (stop - first) * HASH_SIZE])
        yield TileWrite(level, pos // TILE_WIDTH, pos % TILE_WIDTH, chunk)
        pos = stop


def append_leaves(edge: RightEdge, leaf_hashes: LeafHashes) -> AppendResult:
    """Append leaf hashes (a sequence or packed) to the tree whose right edge is `edge`.

    Raises ValueError for a hash that is not 32 bytes or a size past 2**64 - 1.
    """
    joined = _hashes("leaf_hashes", leaf_hashes)
    k, size = len(joined) // HASH_SIZE, edge.size
    if size + k >= _U64_LIMIT:
        raise ValueError("tree size would overflow 64 bits")
    firsts = [size >> (TILE_HEIGHT * L) for L in range(_MAX_TILE_LEVELS)]
    total = sum(((size + k) >> (TILE_HEIGHT * L)) - firsts[L] for L in range(_MAX_TILE_LEVELS))
    stored = bytearray(total * HASH_SIZE)
    new_edge = ffi.new("uint8_t[]", lib.MERKLE_MAX_EDGE * HASH_SIZE)
    n_edge = ffi.new("size_t *")
    root = ffi.new("uint8_t[32]")
    counts = ffi.new("uint64_t[]", _MAX_TILE_LEVELS)
    status = lib.merkle_append(b"".join(edge.hashes), len(edge.hashes), size, joined, k,
                               new_edge, n_edge, root, ffi.from_buffer(stored), total, counts)
    _check(status, "append_leaves")
    writes: list[TileWrite] = []
    at, view = 0, memoryview(stored)
    for level in range(_MAX_TILE_LEVELS):
        n = counts[level]
        writes.extend(_tile_writes(level, firsts[level], view[at * HASH_SIZE : (at + n) * HASH_SIZE]))
        at += n
    edge_bytes = bytes(ffi.buffer(new_edge, n_edge[0] * HASH_SIZE))
    return AppendResult(
        edge=RightEdge(size + k, tuple(_split(edge_bytes))),
        root_hash=bytes(ffi.buffer(root)),
        tiles=tuple(writes),
    )


# ---- subtrees [start, end) (Merkle Tree Certificates draft) -----------------------------
# A subtree is an aligned leaf range whose hash a log can sign or a certificate can
# carry: valid when start <= end and start is 0, equal to end, or a multiple of
# BIT_CEIL(end - start); its hash is then root_hash(leaf_hashes[start:end]).  The
# rules and proofs are the draft's (draft-ietf-plants-merkle-tree-certs, "Subtrees"),
# as transparency-dev/merkle implements them; the C side is merkle_ext/subtree.c.


def is_valid_subtree(start: int, end: int) -> bool:
    """Whether [start, end) is a valid subtree (either bound outside [0, 2**64): False)."""
    try:
        _u64("start", start)
        _u64("end", end)
    except ValueError:
        return False
    return bool(lib.merkle_subtree_check(start, end) == lib.MERKLE_OK)


def _subtree_message(start: int, end: int) -> str:
    if start > end:
        why = "start is after end"
    else:
        ceil = 1 << (end - start - 1).bit_length()
        why = f"start must be 0 or a multiple of {ceil}"
    return f"[{start}, {end}) is not a valid subtree: {why}"


def _subtree_plan(what: str, status: int, *, start: int, end: int, index: int | None = None,
                  size: int | None = None) -> None:
    """Raise the ValueError a subtree planner's status stands for."""
    if status == lib.MERKLE_E_SUBTREE:
        raise ValueError(_subtree_message(start, end))
    if status == lib.MERKLE_E_INDEX:
        raise ValueError(f"index {index} is not in the subtree [{start}, {end})")
    if status == lib.MERKLE_E_SIZE:
        raise ValueError(f"subtree end {end} is beyond tree size {size}")
    _check(status, what)


def subtree_inclusion_plan(index: int, start: int, end: int) -> ProofPlan:
    """Plan the inclusion proof of leaf `index` in the subtree [start, end).

    Requires a valid subtree and start <= index < end; raises ValueError otherwise.
    The nodes are complete at tree size `end`, the plan's `size`.
    """
    _u64("index", index)
    _u64("start", start)
    _u64("end", end)
    nodes = _scratch("merkle_node[]", lib.MERKLE_MAX_NODES)
    counts = _scratch("uint8_t[]", lib.MERKLE_MAX_ELEMS)
    n_nodes, n_elems = ffi.new("size_t *"), ffi.new("size_t *")
    status = lib.merkle_subtree_inclusion_plan(index, start, end, nodes, n_nodes, counts, n_elems)
    _subtree_plan("subtree_inclusion_plan", status, start=start, end=end, index=index)
    return _plan_from(end, nodes, n_nodes[0], tuple(ffi.unpack(counts, n_elems[0])))


def subtree_consistency_plan(start: int, end: int, size: int) -> ProofPlan:
    """Plan the proof that the subtree [start, end) is part of the tree of `size`.

    Requires a valid subtree and end <= size; the plan is empty if start == end,
    or if [start, end) is the whole tree.  Raises ValueError otherwise.
    """
    _u64("start", start)
    _u64("end", end)
    _u64("size", size)
    nodes = _scratch("merkle_node[]", lib.MERKLE_MAX_NODES)
    counts = _scratch("uint8_t[]", lib.MERKLE_MAX_ELEMS)
    n_nodes, n_elems = ffi.new("size_t *"), ffi.new("size_t *")
    status = lib.merkle_subtree_consistency_plan(start, end, size, nodes, n_nodes, counts,
                                                 n_elems)
    _subtree_plan("subtree_consistency_plan", status, start=start, end=end, size=size)
    return _plan_from(size, nodes, n_nodes[0], tuple(ffi.unpack(counts, n_elems[0])))


def subtree_inclusion_proof(leaf_hashes: Sequence[bytes], index: int, start: int,
                            end: int) -> list[bytes]:
    """Inclusion proof of leaf `index` in the subtree [start, end) of leaf_hashes.

    Requires a valid subtree, start <= index < end <= len(leaf_hashes).
    """
    _within("end", _u64("end", end), len(leaf_hashes))
    plan = subtree_inclusion_plan(index, start, end)
    return _fold_leaves(plan, _hashes("leaf_hashes", leaf_hashes[:end]))


def subtree_consistency_proof(leaf_hashes: Sequence[bytes], start: int, end: int,
                              size: int) -> list[bytes]:
    """Proof that the subtree [start, end) is part of the tree of the first `size` leaves.

    Requires a valid subtree and end <= size <= len(leaf_hashes).
    """
    _within("size", _u64("size", size), len(leaf_hashes))
    plan = subtree_consistency_plan(start, end, size)
    return _fold_leaves(plan, _hashes("leaf_hashes", leaf_hashes[:size]))


def _mismatch(which: str, calc: object, expected: bytes) -> ProofError:
    return ProofError(f"calculated {which} {bytes(ffi.buffer(calc)).hex()} does not match "
                      f"expected {which} {expected.hex()}")


def verify_subtree_inclusion(leaf_hash: bytes, index: int, start: int, end: int,
                             proof: Sequence[bytes], root: bytes) -> None:
    """Check that `leaf_hash` is at `index` in the subtree [start, end) with hash `root`.

    Raises ProofError saying what did not match (including an invalid subtree or
    an index outside it).
    """
    _proof_hash("leaf_hash", leaf_hash)
    _proof_hash("root", root)
    joined = _proof_bytes(proof)
    _u64("index", index)
    _u64("start", start)
    _u64("end", end)
    calc = ffi.new("uint8_t[32]")
    status = lib.merkle_verify_subtree_inclusion(leaf_hash, index, start, end, joined,
                                                 len(proof), root, calc)
    if status == lib.MERKLE_OK:
        return
    if status == lib.MERKLE_E_SUBTREE:
        raise ProofError(_subtree_message(start, end))
    if status == lib.MERKLE_E_INDEX:
        raise ProofError(f"index {index} is not in the subtree [{start}, {end})")
    if status == lib.MERKLE_E_PROOF_LENGTH:
        want = len(subtree_inclusion_plan(index, start, end).counts)
        raise ProofError(f"subtree inclusion proof has {len(proof)} hashes, want {want}")
    if status == lib.MERKLE_E_ROOT_MISMATCH:
        raise _mismatch("root", calc, root)
    raise ProofError(_message(status))


def verify_subtree_consistency(start: int, end: int, size: int, proof: Sequence[bytes],
                               root1: bytes, root2: bytes) -> None:
    """Check that the subtree [start, end) with hash root1 is part of the tree
    (size, root2).

    An empty subtree (start == end <= size) needs an empty proof and root1 ==
    EMPTY_ROOT, and proves nothing about root2, which is not examined.  Raises
    ProofError saying what did not match.
    """
    _proof_hash("root1", root1)
    _proof_hash("root2", root2)
    joined = _proof_bytes(proof)
    _u64("start", start)
    _u64("end", end)
    _u64("size", size)
    calc1, calc2 = ffi.new("uint8_t[32]"), ffi.new("uint8_t[32]")
    status = lib.merkle_verify_subtree_consistency(start, end, size, joined, len(proof), root1,
                                                   root2, calc1, calc2)
    if status == lib.MERKLE_OK:
        return
    if status == lib.MERKLE_E_SUBTREE:
        raise ProofError(_subtree_message(start, end))
    if status == lib.MERKLE_E_SIZE:
        raise ProofError(f"subtree end {end} is beyond tree size {size}")
    if status == lib.MERKLE_E_PROOF_LENGTH:
        want = len(subtree_consistency_plan(start, end, size).counts)
        raise ProofError(f"subtree consistency proof has {len(proof)} hashes, want {want}")
    if status == lib.MERKLE_E_EMPTY_ROOT:
        raise ProofError(f"root1 of the empty subtree [{start}, {end}) must be EMPTY_ROOT "
                         f"{EMPTY_ROOT.hex()}, got {root1.hex()}")
    if status == lib.MERKLE_E_ROOT1_MISMATCH:
        raise _mismatch("root1", calc1, root1)
    if status == lib.MERKLE_E_ROOT2_MISMATCH:
        raise _mismatch("root2", calc2, root2)
    raise ProofError(_message(status))
