"""A slow, obviously-correct RFC 6962 Merkle tree: the test oracle for rekor_py.merkle.

Everything here is written straight from the recursive definitions of RFC 6962 §2.1
(and the verification algorithms of RFC 9162 §2.1.3.2 / §2.1.4.2), with hashlib only.
It favours readability over speed: lists are sliced, subtrees are rehashed.  Do not
use it outside tests.

Trees are given by their *leaf hashes* (`leaves`, a sequence of 32-byte values), so
MTH of a single leaf is that leaf hash itself.  `Tree` adds the subtree proofs of the
Merkle Tree Certificates draft ("Subtrees") over leaf ranges.  This is the only
oracle of the tests; tests/reference/merkle_vectors.py is the only vector loader.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence

HASH_SIZE = 32  # SHA-256
TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT  # 256 hashes per full tile
EMPTY_ROOT = hashlib.sha256(b"").digest()  # RFC 6962 §2.1: MTH({}) = SHA-256()


# ---- RFC 6962 §2.1: the hashes ------------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 §2.1: MTH({d(0)}) = SHA-256(0x00 || d(0))."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 §2.1: an interior node is SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split_point(n: int) -> int:
    """RFC 6962 §2.1: k is the largest power of two smaller than n (n > 1)."""
    assert n > 1
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaves: Sequence[bytes]) -> bytes:
    """RFC 6962 §2.1 Merkle Tree Hash over leaf hashes.

    MTH({})      = SHA-256()
    MTH({d(0)})  = the leaf hash
    MTH(D[n])    = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))
    """
    n = len(leaves)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaves[0]
    k = _split_point(n)
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


# ---- RFC 6962 §2.1.1: audit paths ---------------------------------------------------


def path(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    """RFC 6962 §2.1.1 PATH(m, D[n]), the inclusion proof of leaf m (0 <= m < n).

    PATH(0, {d(0)}) = {}
    PATH(m, D[n])   = PATH(m, D[0:k]) : MTH(D[k:n])        for m < k
    PATH(m, D[n])   = PATH(m - k, D[k:n]) : MTH(D[0:k])    for m >= k
    """
    n = len(leaves)
    if not 0 <= m < n:
        raise ValueError(f"leaf {m} is not in a tree of {n}")
    if n == 1:
        return []
    k = _split_point(n)
    if m < k:
        return path(m, leaves[:k]) + [mth(leaves[k:])]
    return path(m - k, leaves[k:]) + [mth(leaves[:k])]


# ---- RFC 6962 §2.1.2: consistency proofs ----------------------------------------------


def proof(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    """RFC 6962 §2.1.2 PROOF(m, D[n]) = SUBPROOF(m, D[n], true), for 0 <= m <= n.

    Returns [] for m == 0 (nothing to prove for an empty tree) and for m == n.
    """
    n = len(leaves)
    if not 0 <= m <= n:
        raise ValueError(f"size {m} is not within a tree of {n}")
    if m == 0:
        return []
    return _subproof(m, leaves, True)


def _subproof(m: int, leaves: Sequence[bytes], b: bool) -> list[bytes]:
    """RFC 6962 §2.1.2 SUBPROOF(m, D[n], b).

    SUBPROOF(m, D[m], true)  = {}
    SUBPROOF(m, D[m], false) = {MTH(D[m])}
    for m < n, k the largest power of two smaller than n:
    SUBPROOF(m, D[n], b) = SUBPROOF(m, D[0:k], b) : MTH(D[k:n])          if m <= k
    SUBPROOF(m, D[n], b) = SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])  if m > k
    """
    n = len(leaves)
    if m == n:
        return [] if b else [mth(leaves)]
    k = _split_point(n)
    if m <= k:
        return _subproof(m, leaves[:k], b) + [mth(leaves[k:])]
    return _subproof(m - k, leaves[k:], False) + [mth(leaves[:k])]


# ---- RFC 9162 §2.1.3.2: verifying an inclusion proof -------------------------------------
#
# Both verifiers take every hash to be a value of the tree's hash algorithm (RFC 9162
# §2.1.3.1 / §2.1.4.1 inputs), so anything that is not a 32-byte SHA-256 output fails.


def _all_hashes(*hashes: bytes) -> bool:
    return all(isinstance(h, bytes) and len(h) == HASH_SIZE for h in hashes)


def verify_inclusion(leaf: bytes, index: int, size: int, inclusion_path: Sequence[bytes],
                     root: bytes) -> bool:
    """RFC 9162 §2.1.3.2, step by step."""
    if not _all_hashes(leaf, root, *inclusion_path):
        return False
    # 1. leaf_index must be below tree_size.
    if not 0 <= index < size:
        return False
    # 2. fn = leaf_index, sn = tree_size - 1.  3. r = hash.
    fn, sn, r = index, size - 1, leaf
    # 4. For each p in inclusion_path:
    for p in inclusion_path:
        # a. If sn is 0, stop and fail.
        if sn == 0:
            return False
        # b. If LSB(fn) is set, or fn == sn:
        if fn & 1 or fn == sn:
            # i. r = HASH(0x01 || p || r)
            r = node_hash(p, r)
            # ii. If LSB(fn) is not set, right-shift fn and sn until LSB(fn) is set or fn is 0.
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            # otherwise i. r = HASH(0x01 || r || p)
            r = node_hash(r, p)
        # c. Right-shift fn and sn once.
        fn >>= 1
        sn >>= 1
    # 5. sn must be 0 and r must equal root_hash.
    return sn == 0 and r == root


# ---- RFC 9162 §2.1.4.2: verifying a consistency proof -------------------------------------


def verify_consistency(size1: int, size2: int, consistency_path: Sequence[bytes],
                       root1: bytes, root2: bytes) -> bool:
    """RFC 9162 §2.1.4.2, step by step.

    The RFC's algorithm covers 0 < first < second.  Outside it (as in
    docs/merkle-api.md): size1 > size2 fails; size1 == size2 needs an empty proof
    and root1 == root2 (and EMPTY_ROOT at size 0); size1 == 0 < size2 fails,
    since an empty tree has nothing to be consistent with.
    """
    if not _all_hashes(root1, root2, *consistency_path):
        return False
    if size1 > size2 or size1 < 0:
        return False
    if size1 == size2:
        if consistency_path or root1 != root2:
            return False
        return size1 != 0 or root1 == EMPTY_ROOT
    if size1 == 0:
        return False
    # 1. If consistency_path is empty, stop and fail.
    if not consistency_path:
        return False
    path_ = list(consistency_path)
    # 2. If first is an exact power of 2, prepend first_hash to consistency_path.
    if size1 & (size1 - 1) == 0:
        path_.insert(0, root1)
    # 3. fn = first - 1, sn = second - 1.
    fn, sn = size1 - 1, size2 - 1
    # 4. If LSB(fn) is set, right-shift fn and sn equally until LSB(fn) is not set.
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # 5. fr = sr = the first value of consistency_path.
    fr = sr = path_[0]
    # 6. For each subsequent value c:
    for c in path_[1:]:
        # a. If sn is 0, stop and fail.
        if sn == 0:
            return False
        # b. If LSB(fn) is set, or fn == sn:
        if fn & 1 or fn == sn:
            # i. fr = HASH(0x01 || c || fr); ii. sr = HASH(0x01 || c || sr)
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            # iii. If LSB(fn) is not set, right-shift fn and sn until LSB(fn) is set or fn is 0.
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            # otherwise i. sr = HASH(0x01 || sr || c)
            sr = node_hash(sr, c)
        # c. Right-shift fn and sn once.
        fn >>= 1
        sn >>= 1
    # 7. fr == first_hash, sr == second_hash and sn == 0.
    return fr == root1 and sr == root2 and sn == 0


# ---- perfect subtrees, right edges, tiles ---------------------------------------------------


def subtree_hash(leaves: Sequence[bytes], height: int, index: int) -> bytes:
    """MTH of the perfect subtree over leaves [index * 2^height, (index + 1) * 2^height).

    For a perfect (power-of-two) range the RFC 6962 §2.1 split always halves it, so
    this is exactly the interior node at that height and index of every tree that
    contains the whole range.
    """
    start, end = index << height, (index + 1) << height
    if end > len(leaves):
        raise ValueError(f"subtree {height}/{index} needs {end} leaves, have {len(leaves)}")
    return mth(leaves[start:end])


def right_edge(leaves: Sequence[bytes], size: int) -> tuple[bytes, ...]:
    """The compact range of the first `size` leaves: the perfect subtree roots for
    the set bits of `size`, largest (leftmost) first."""
    out, start = [], 0
    for height in reversed(range(size.bit_length())):
        if size >> height & 1:
            out.append(subtree_hash(leaves, height, start >> height))
            start += 1 << height
    return tuple(out)


def tiles_at(leaves: Sequence[bytes], size: int) -> dict[tuple[int, int], bytes]:
    """The C2SP tlog-tiles content of the tree of the first `size` leaves.

    Tile level L holds the hashes of the perfect subtrees of height 8L; tile N at
    level L holds positions N*256 .. N*256+255 of that level.  The rightmost tile
    of a level is partial, of width floor(size / 256^L) mod 256, and absent if that
    is 0 (c2sp.org/tlog-tiles).

    Level L+1 is built from level L: a perfect subtree of height 8(L+1) is the MTH
    of its 256 consecutive perfect subtrees of height 8L (RFC 6962 §2.1 halves a
    power-of-two range at every step), so each level costs one pass over the one
    below instead of rehashing from the leaves.
    """
    if not 0 <= size <= len(leaves):
        raise ValueError(f"size {size} is not within {len(leaves)} leaves")
    tiles: dict[tuple[int, int], bytes] = {}
    level, hashes = 0, list(leaves[:size])  # level 0: the leaf hashes themselves
    while hashes:
        for n in range(0, len(hashes), TILE_WIDTH):
            tiles[(level, n // TILE_WIDTH)] = b"".join(hashes[n : n + TILE_WIDTH])
        # Only full groups of 256 make a perfect subtree on the level above;
        # partial tiles are never hashed upwards.
        full = len(hashes) // TILE_WIDTH * TILE_WIDTH
        hashes = [mth(hashes[n : n + TILE_WIDTH]) for n in range(0, full, TILE_WIDTH)]
        level += 1
    return tiles


# ---- subtrees [start, end) (the Merkle Tree Certificates draft, "Subtrees") ---------


def _largest_power_below(n: int) -> int:
    """Largest power of two smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class Tree:
    """MTH, PATH and subtree proofs over fixed leaf hashes, by leaf range, straight
    from the definitions; MTH of a range is memoized so large trees stay usable."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self.leaves = tuple(leaves)
        self.mth = functools.cache(self._mth)

    def _mth(self, lo: int, hi: int) -> bytes:
        """RFC 6962 MTH(D[lo:hi])."""
        if hi == lo:
            return EMPTY_ROOT
        if hi - lo == 1:
            return self.leaves[lo]
        k = lo + _largest_power_below(hi - lo)
        return node_hash(self.mth(lo, k), self.mth(k, hi))

    def path(self, m: int, lo: int, hi: int) -> list[bytes]:
        """RFC 6962 PATH(m, D[lo:hi]), m relative to lo."""
        if hi - lo <= 1:
            return []
        k = _largest_power_below(hi - lo)
        if m < k:
            return self.path(m, lo, lo + k) + [self.mth(lo + k, hi)]
        return self.path(m - k, lo + k, hi) + [self.mth(lo, lo + k)]

    def subtree_inclusion(self, index: int, start: int, end: int) -> list[bytes]:
        """The draft: the inclusion proof of index in [start, end) is
        PATH(index - start, D[start:end])."""
        return self.path(index - start, start, end)

    def subtree_consistency(self, start: int, end: int, lo: int, hi: int,
                            known: bool = True) -> list[bytes]:
        """The draft's SUBTREE_PROOF(start, end, D[lo:hi], known); start and end
        are relative to lo."""
        n = hi - lo
        if start == end:
            return []
        if start == 0 and end == n:
            return [] if known else [self.mth(lo, hi)]
        k = _largest_power_below(n)
        if end <= k:
            return self.subtree_consistency(start, end, lo, lo + k, known) + [self.mth(lo + k, hi)]
        if k <= start:
            return (self.subtree_consistency(start - k, end - k, lo + k, hi, known)
                    + [self.mth(lo, lo + k)])
        assert start == 0, "a valid subtree straddles a split only at its start"
        return self.subtree_consistency(0, end - k, lo + k, hi, False) + [self.mth(lo, lo + k)]


def valid_subtree(start: int, end: int) -> bool:
    """The draft: start <= end, and start is 0, end, or a multiple of BIT_CEIL(end - start)."""
    if start > end:
        return False
    if start in (0, end):
        return True
    return start % (1 << (end - start - 1).bit_length()) == 0
