/* rekor-py Merkle engine: RFC 6962 hashing, compact ranges, proofs over tiles.
 *
 * Arithmetic and hashing only: no I/O, no allocation handed to the caller, no
 * callbacks.  Every function takes pointers and lengths, writes into buffers the
 * caller allocated, and returns MERKLE_OK or an error status that
 * merkle_strerror() names.  All hashes are 32 bytes.
 *
 * Vocabulary.  A node (height h, index k) is the perfect subtree over leaves
 * [k * 2^h, (k+1) * 2^h).  A proof element is the hash of an aligned range of
 * leaves; it is the right-to-left fold of `count` consecutive nodes (one node
 * for a perfect range, several for a range that ends at the ragged right edge).
 * C2SP tile level L stores the nodes of height 8L, 256 to a tile.
 */
#ifndef REKOR_PY_MERKLE_H
#define REKOR_PY_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#define MERKLE_HASH_SIZE 32
#define MERKLE_TILE_HEIGHT 8
#define MERKLE_TILE_WIDTH 256
/* Tile levels needed for 2^64 leaves. */
#define MERKLE_MAX_TILE_LEVELS 8
/* A right edge holds one hash per set bit of the tree size. */
#define MERKLE_MAX_EDGE 64
/* Upper bounds for any proof plan of a tree with fewer than 2^64 leaves:
 * at most 65 elements, of which at most one is ragged (up to 64 nodes). */
#define MERKLE_MAX_ELEMS 72
#define MERKLE_MAX_NODES 144
/* Distinct tiles a plan can touch. */
#define MERKLE_MAX_TILES 144

enum merkle_status {
    MERKLE_OK = 0,
    MERKLE_E_ARGUMENT = 1,       /* a length or pointer that cannot be right */
    MERKLE_E_INDEX = 2,          /* index >= size */
    MERKLE_E_SIZE = 3,           /* size1 > size2, size 0, or sizes beyond the leaves */
    MERKLE_E_CAPACITY = 4,       /* caller's output buffer too small */
    MERKLE_E_PROOF_LENGTH = 5,   /* proof has the wrong number of hashes */
    MERKLE_E_ROOT_MISMATCH = 6,  /* calculated root differs from the expected root */
    MERKLE_E_ROOT1_MISMATCH = 7, /* consistency: calculated old root differs */
    MERKLE_E_ROOT2_MISMATCH = 8, /* consistency: calculated new root differs */
    MERKLE_E_TILE_MISSING = 9,   /* a node's tile was not supplied */
    MERKLE_E_TILE_SHORT = 10,    /* a supplied tile is narrower than a node needs */
    MERKLE_E_EDGE = 11,          /* right edge hash count != popcount(size) */
    MERKLE_E_OVERFLOW = 12,      /* the tree would reach 2^64 leaves */
    MERKLE_E_EMPTY_CONSISTENCY = 13, /* consistency from size 0 to a non-empty tree */
    MERKLE_E_EMPTY_ROOT = 14,    /* a size-0 tree whose root is not SHA-256("") */
    MERKLE_E_SUBTREE = 15,       /* [start, end) is not a valid subtree (see subtree.c) */
};

typedef struct {
    uint64_t height;
    uint64_t index;
} merkle_node;

typedef struct {
    uint64_t level;
    uint64_t index;
    uint64_t width; /* 1..256; 256 means a full tile */
} merkle_tile;

/* A tile handed to a fold: `width` hashes at `data` (a tile only grows, so a
 * wider copy than the plan asked for is fine).  With `expanded` set, `data` is
 * the tile's expansion (see merkle_expand_tile), so nodes are read, not rebuilt. */
typedef struct {
    uint64_t level;
    uint64_t index;
    uint64_t width;
    uint64_t expanded;
    const uint8_t *data;
} merkle_tile_ref;

/* Hashes in the expansion of a tile of `width` stored hashes: sum of width >> r
 * for r = 0..8 (511 for a full tile). */
#define MERKLE_EXPANDED_FULL 511

const char *merkle_strerror(int status);

/* SHA-256 backend: 1 = SHA extensions, 0 = portable.  select(-1) picks the best. */
int merkle_sha256_select(int wanted);
int merkle_sha256_backend(void);
/* Blocks compressed on the calling thread by backend 0 (portable) or 1. */
uint64_t merkle_sha256_blocks(int backend);
int merkle_sha256(const uint8_t *data, size_t len, uint8_t *out);

/* RFC 6962 §2.1 hashes.  Batch forms: leaf_hashes hashes n entries laid end
 * to end in data (entry i is lengths[i] bytes, summing to data_len); node_hashes turns n
 * pairs of concatenated children into n parents (out may equal children). */
int merkle_leaf_hash(const uint8_t *data, size_t len, uint8_t *out);
int merkle_leaf_hashes(const uint8_t *data, size_t data_len, const uint64_t *lengths,
                       size_t n, uint8_t *out);
int merkle_node_hash(const uint8_t *left, const uint8_t *right, uint8_t *out);
int merkle_node_hashes(const uint8_t *children, size_t n, uint8_t *out);

/* MTH over n leaf hashes (n = 0 gives SHA-256 of the empty string). */
int merkle_root(const uint8_t *leaf_hashes, uint64_t n, uint8_t *out);

/* Append k leaf hashes to the compact range (`edge`, popcount(size) hashes,
 * largest subtree first).  Writes the new edge and its count, the new root, and
 * every new stored hash: for tile level L the new nodes of height 8L in index
 * order, levels one after another; `stored_counts[L]` says how many per level. */
int merkle_append(const uint8_t *edge, size_t edge_count, uint64_t size,
                  const uint8_t *leaf_hashes, uint64_t k,
                  uint8_t *new_edge, size_t *new_edge_count, uint8_t *root_out,
                  uint8_t *stored, size_t stored_cap, uint64_t *stored_counts);
/* Root of a compact range without appending. */
int merkle_edge_root(const uint8_t *edge, size_t edge_count, uint64_t size, uint8_t *out);

/* Proof plans: the nodes each element folds (elements in proof order). */
int merkle_inclusion_plan(uint64_t index, uint64_t size, merkle_node *nodes, size_t *n_nodes,
                          uint8_t *counts, size_t *n_elems);
int merkle_consistency_plan(uint64_t size1, uint64_t size2, merkle_node *nodes,
                            size_t *n_nodes, uint8_t *counts, size_t *n_elems);
/* The nodes of the right edge at `size` (one element per node). */
int merkle_edge_plan(uint64_t size, merkle_node *nodes, size_t *n_nodes);
/* The distinct tiles, with widths as of `size`, that hold the given nodes. */
int merkle_tiles_for_nodes(const merkle_node *nodes, size_t n_nodes, uint64_t size,
                           merkle_tile *tiles, size_t *n_tiles);

/* Every subtree hash a tile determines: for r = 0..8, the width >> r hashes of
 * height 8L + r, levels one after another (r = 0 is the tile itself).  Caching
 * this for immutable full tiles turns proof folding into lookups. */
int merkle_expand_tile(const uint8_t *hashes, uint64_t width, uint8_t *out, size_t out_cap);

/* Fold a plan into n_elems hashes at `out`, from tiles or from leaf hashes. */
int merkle_fold_tiles(const merkle_node *nodes, size_t n_nodes, const uint8_t *counts,
                      size_t n_elems, const merkle_tile_ref *tiles, size_t n_tiles,
                      uint8_t *out);
int merkle_fold_leaves(const merkle_node *nodes, size_t n_nodes, const uint8_t *counts,
                       size_t n_elems, const uint8_t *leaf_hashes, uint64_t n_leaves,
                       uint8_t *out);

/* RFC 9162 §2.1.3.2 and §2.1.4.2.  The calculated root(s) are written to
 * calc/calc1/calc2 (when the proof had the right length) for error messages. */
int merkle_verify_inclusion(const uint8_t *leaf_hash, uint64_t index, uint64_t size,
                            const uint8_t *proof, size_t n_proof, const uint8_t *root,
                            uint8_t *calc);
int merkle_verify_consistency(uint64_t size1, uint64_t size2, const uint8_t *proof,
                              size_t n_proof, const uint8_t *root1, const uint8_t *root2,
                              uint8_t *calc1, uint8_t *calc2);

/* ---- subtrees [start, end) (subtree.c) -----------------------------------------
 * From the IETF Merkle Tree Certificates draft, as transparency-dev/merkle proof/
 * implements it.  [start, end) is a valid subtree when start <= end and start is 0,
 * equal to end, or a multiple of BIT_CEIL(end - start); its hash is MTH(D[start:end]).
 * Invalid ranges give MERKLE_E_SUBTREE; index outside [start, end) MERKLE_E_INDEX;
 * end > size MERKLE_E_SIZE. */
int merkle_subtree_check(uint64_t start, uint64_t end);
/* Plans in the form of merkle_inclusion_plan; the inclusion plan's nodes are
 * complete at tree size end, the consistency plan's at size (empty if start == end). */
int merkle_subtree_inclusion_plan(uint64_t index, uint64_t start, uint64_t end,
                                  merkle_node *nodes, size_t *n_nodes, uint8_t *counts,
                                  size_t *n_elems);
int merkle_subtree_consistency_plan(uint64_t start, uint64_t end, uint64_t size,
                                    merkle_node *nodes, size_t *n_nodes, uint8_t *counts,
                                    size_t *n_elems);
/* Verifiers; calc/calc1/calc2 as for merkle_verify_inclusion/_consistency.  An
 * empty subtree (start == end <= size) needs an empty proof and root1 == SHA-256("")
 * and says nothing about root2, which is not examined. */
int merkle_verify_subtree_inclusion(const uint8_t *leaf_hash, uint64_t index, uint64_t start,
                                    uint64_t end, const uint8_t *proof, size_t n_proof,
                                    const uint8_t *root, uint8_t *calc);
int merkle_verify_subtree_consistency(uint64_t start, uint64_t end, uint64_t size,
                                      const uint8_t *proof, size_t n_proof,
                                      const uint8_t *root1, const uint8_t *root2,
                                      uint8_t *calc1, uint8_t *calc2);

#endif
