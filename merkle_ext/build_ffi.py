"""cffi builder for the Merkle engine: compiles merkle_ext/*.c into rekor_py._merkle.

Run by setuptools (``cffi_modules`` in setup.py) during ``pip install``.  The
cdef below mirrors merkle.h; constants come in as ``...`` so the C header stays
their single source.  Only a C compiler and the Python headers are needed.
"""

from __future__ import annotations

import os
import sys

from cffi import FFI

CDEF = """
#define MERKLE_HASH_SIZE ...
#define MERKLE_TILE_HEIGHT ...
#define MERKLE_TILE_WIDTH ...
#define MERKLE_MAX_TILE_LEVELS ...
#define MERKLE_MAX_EDGE ...
#define MERKLE_MAX_ELEMS ...
#define MERKLE_MAX_NODES ...
#define MERKLE_MAX_TILES ...

enum merkle_status {
    MERKLE_OK, MERKLE_E_ARGUMENT, MERKLE_E_INDEX, MERKLE_E_SIZE, MERKLE_E_CAPACITY,
    MERKLE_E_PROOF_LENGTH, MERKLE_E_ROOT_MISMATCH, MERKLE_E_ROOT1_MISMATCH,
    MERKLE_E_ROOT2_MISMATCH, MERKLE_E_TILE_MISSING, MERKLE_E_TILE_SHORT, MERKLE_E_EDGE,
    MERKLE_E_OVERFLOW, MERKLE_E_EMPTY_CONSISTENCY, MERKLE_E_EMPTY_ROOT, MERKLE_E_SUBTREE, ...
};

typedef struct { uint64_t height; uint64_t index; } merkle_node;
typedef struct { uint64_t level; uint64_t index; uint64_t width; } merkle_tile;
typedef struct { uint64_t level; uint64_t index; uint64_t width; uint64_t expanded;
                 const uint8_t *data; } merkle_tile_ref;
#define MERKLE_EXPANDED_FULL ...
int merkle_expand_tile(const uint8_t *hashes, uint64_t width, uint8_t *out, size_t out_cap);

const char *merkle_strerror(int status);
int merkle_sha256_select(int wanted);
int merkle_sha256_backend(void);
uint64_t merkle_sha256_blocks(int backend);
int merkle_sha256(const uint8_t *data, size_t len, uint8_t *out);

int merkle_leaf_hash(const uint8_t *data, size_t len, uint8_t *out);
int merkle_leaf_hashes(const uint8_t *data, size_t data_len, const uint64_t *lengths,
                       size_t n, uint8_t *out);
int merkle_node_hash(const uint8_t *left, const uint8_t *right, uint8_t *out);
int merkle_node_hashes(const uint8_t *children, size_t n, uint8_t *out);
int merkle_root(const uint8_t *leaf_hashes, uint64_t n, uint8_t *out);

int merkle_append(const uint8_t *edge, size_t edge_count, uint64_t size,
                  const uint8_t *leaf_hashes, uint64_t k,
                  uint8_t *new_edge, size_t *new_edge_count, uint8_t *root_out,
                  uint8_t *stored, size_t stored_cap, uint64_t *stored_counts);
int merkle_edge_root(const uint8_t *edge, size_t edge_count, uint64_t size, uint8_t *out);

int merkle_inclusion_plan(uint64_t index, uint64_t size, merkle_node *nodes, size_t *n_nodes,
                          uint8_t *counts, size_t *n_elems);
int merkle_consistency_plan(uint64_t size1, uint64_t size2, merkle_node *nodes,
                            size_t *n_nodes, uint8_t *counts, size_t *n_elems);
int merkle_edge_plan(uint64_t size, merkle_node *nodes, size_t *n_nodes);
int merkle_tiles_for_nodes(const merkle_node *nodes, size_t n_nodes, uint64_t size,
                           merkle_tile *tiles, size_t *n_tiles);
int merkle_fold_tiles(const merkle_node *nodes, size_t n_nodes, const uint8_t *counts,
                      size_t n_elems, const merkle_tile_ref *tiles, size_t n_tiles,
                      uint8_t *out);
int merkle_fold_leaves(const merkle_node *nodes, size_t n_nodes, const uint8_t *counts,
                       size_t n_elems, const uint8_t *leaf_hashes, uint64_t n_leaves,
                       uint8_t *out);
int merkle_verify_inclusion(const uint8_t *leaf_hash, uint64_t index, uint64_t size,
                            const uint8_t *proof, size_t n_proof, const uint8_t *root,
                            uint8_t *calc);
int merkle_verify_consistency(uint64_t size1, uint64_t size2, const uint8_t *proof,
                              size_t n_proof, const uint8_t *root1, const uint8_t *root2,
                              uint8_t *calc1, uint8_t *calc2);

/* subtrees [start, end) (subtree.c) */
int merkle_subtree_check(uint64_t start, uint64_t end);
int merkle_subtree_inclusion_plan(uint64_t index, uint64_t start, uint64_t end,
                                  merkle_node *nodes, size_t *n_nodes, uint8_t *counts,
                                  size_t *n_elems);
int merkle_subtree_consistency_plan(uint64_t start, uint64_t end, uint64_t size,
                                    merkle_node *nodes, size_t *n_nodes, uint8_t *counts,
                                    size_t *n_elems);
int merkle_verify_subtree_inclusion(const uint8_t *leaf_hash, uint64_t index, uint64_t start,
                                    uint64_t end, const uint8_t *proof, size_t n_proof,
                                    const uint8_t *root, uint8_t *calc);
int merkle_verify_subtree_consistency(uint64_t start, uint64_t end, uint64_t size,
                                      const uint8_t *proof, size_t n_proof,
                                      const uint8_t *root1, const uint8_t *root2,
                                      uint8_t *calc1, uint8_t *calc2);
"""

SOURCES = ["merkle.c", "ranges.c", "sha256.c", "sha256_shani.c", "subtree.c"]


def _compile_args() -> list[str]:
    if sys.platform == "win32":
        return ["/O2"]
    args = ["-O3", "-std=c11", "-Wall", "-Wextra", "-fno-strict-aliasing"]
    # REKOR_PY_SANITIZE=1 builds with AddressSanitizer and UBSan (see merkle_ext/Makefile).
    if os.environ.get("REKOR_PY_SANITIZE"):
        args += ["-O1", "-g", "-fsanitize=address,undefined", "-fno-omit-frame-pointer"]
    return args


def _link_args() -> list[str]:
    if os.environ.get("REKOR_PY_SANITIZE"):
        return ["-fsanitize=address,undefined"]
    return []


ffibuilder = FFI()
ffibuilder.cdef(CDEF)
ffibuilder.set_source(
    "rekor_py._merkle",
    '#include "merkle.h"',
    # setuptools runs builders from the project root and wants relative paths.
    sources=[f"merkle_ext/{name}" for name in SOURCES],
    include_dirs=["merkle_ext"],
    extra_compile_args=_compile_args(),
    extra_link_args=_link_args(),
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
