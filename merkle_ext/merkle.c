/* rekor-py Merkle engine: see merkle.h for the vocabulary and the contract.
 *
 * Sections: RFC 6962 hashes (with two-stream batching), perfect-subtree roots,
 * the compact range (appender), proof plans, folds, and RFC 9162 verifiers.
 */
#include "merkle.h"

#include <string.h>

#include "ranges.h"
#include "sha256.h"

#define HS MERKLE_HASH_SIZE

const char *merkle_strerror(int status) {
    switch (status) {
    case MERKLE_OK: return "ok";
    case MERKLE_E_ARGUMENT: return "invalid argument";
    case MERKLE_E_INDEX: return "index is not below the tree size";
    case MERKLE_E_SIZE: return "tree sizes out of range";
    case MERKLE_E_CAPACITY: return "output buffer too small";
    case MERKLE_E_PROOF_LENGTH: return "proof has the wrong number of hashes";
    case MERKLE_E_ROOT_MISMATCH: return "calculated root does not match the expected root";
    case MERKLE_E_ROOT1_MISMATCH: return "calculated old root does not match root1";
    case MERKLE_E_ROOT2_MISMATCH: return "calculated new root does not match root2";
    case MERKLE_E_TILE_MISSING: return "a tile needed by the plan was not supplied";
    case MERKLE_E_TILE_SHORT: return "a supplied tile is narrower than the plan needs";
    case MERKLE_E_EDGE: return "right edge does not match the tree size";
    case MERKLE_E_OVERFLOW: return "tree size would overflow 64 bits";
    case MERKLE_E_EMPTY_CONSISTENCY: return "consistency proof from an empty tree is meaningless";
    case MERKLE_E_EMPTY_ROOT: return "root of an empty tree must be SHA-256 of the empty string";
    case MERKLE_E_SUBTREE: return "start and end do not form a valid subtree";
    default: return "unknown status";
    }
}

int merkle_sha256_select(int wanted) { return sha256_select(wanted); }
int merkle_sha256_backend(void) { return sha256_backend(); }
uint64_t merkle_sha256_blocks(int backend) {
    return (backend == 0 || backend == 1) ? sha256_blocks_done[backend] : 0;
}

int merkle_sha256(const uint8_t *data, size_t len, uint8_t *out) {
    sha256_prefixed(-1, data, len, out);
    return MERKLE_OK;
}

/* ---- RFC 6962 §2.1 hashes -------------------------------------------------- */

int merkle_leaf_hash(const uint8_t *data, size_t len, uint8_t *out) {
    sha256_prefixed(0x00, data, len, out);
    return MERKLE_OK;
}

/* SHA-256(0x00 || a) and SHA-256(0x00 || b) for two entries of equal length,
 * compressed side by side.  Same block walk as sha256_prefixed. */
static void leaf_hash2(const uint8_t *a, const uint8_t *b, size_t len, uint8_t *out_a,
                       uint8_t *out_b) {
    uint32_t sa[8], sb[8];
    memcpy(sa, sha256_initial_state, sizeof sa);
    memcpy(sb, sha256_initial_state, sizeof sb);
    uint64_t bits = ((uint64_t)len + 1) * 8;
    uint8_t ba[2 * SHA256_BLOCK], bb[2 * SHA256_BLOCK];
    size_t tail = len + 1; /* bytes of (prefix || data) not yet compressed */
    const uint8_t *ta = a, *tb = b;
    if (len >= SHA256_BLOCK - 1) {
        ba[0] = bb[0] = 0x00;
        memcpy(ba + 1, a, SHA256_BLOCK - 1);
        memcpy(bb + 1, b, SHA256_BLOCK - 1);
        sha256_compress2(sa, ba, sb, bb, 1);
        size_t rest = len - (SHA256_BLOCK - 1), whole = rest / SHA256_BLOCK;
        a += SHA256_BLOCK - 1;
        b += SHA256_BLOCK - 1;
        if (whole) sha256_compress2(sa, a, sb, b, whole);
        ta = a + whole * SHA256_BLOCK;
        tb = b + whole * SHA256_BLOCK;
        tail = rest % SHA256_BLOCK;
        memset(ba, 0, sizeof ba);
        memset(bb, 0, sizeof bb);
        memcpy(ba, ta, tail);
        memcpy(bb, tb, tail);
    } else {
        memset(ba, 0, sizeof ba);
        memset(bb, 0, sizeof bb);
        ba[0] = bb[0] = 0x00;
        memcpy(ba + 1, a, len);
        memcpy(bb + 1, b, len);
    }
    ba[tail] = bb[tail] = 0x80;
    size_t nblocks = (tail + 1 + 8 > SHA256_BLOCK) ? 2 : 1;
    for (int i = 0; i < 8; i++) {
        ba[nblocks * SHA256_BLOCK - 1 - i] = (uint8_t)(bits >> (8 * i));
        bb[nblocks * SHA256_BLOCK - 1 - i] = (uint8_t)(bits >> (8 * i));
    }
    sha256_compress2(sa, ba, sb, bb, nblocks);
    sha256_state_to_digest(sa, out_a);
    sha256_state_to_digest(sb, out_b);
}

int merkle_leaf_hashes(const uint8_t *data, size_t data_len, const uint64_t *lengths,
                       size_t n, uint8_t *out) {
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (lengths[i] > data_len - total) return MERKLE_E_ARGUMENT;
        total += lengths[i];
    }
    if (total != data_len) return MERKLE_E_ARGUMENT;
    size_t i = 0;
    while (i < n) {
        /* Pair up neighbours of equal length (log entries of one kind often
         * are) so the two-stream compressor can take them together. */
        if (i + 1 < n && lengths[i + 1] == lengths[i]) {
            leaf_hash2(data, data + lengths[i], lengths[i], out + i * HS, out + (i + 1) * HS);
            data += 2 * lengths[i];
            i += 2;
        } else {
            sha256_prefixed(0x00, data, lengths[i], out + i * HS);
            data += lengths[i];
            i += 1;
        }
    }
    return MERKLE_OK;
}

/* 0x01 || left || right is 65 bytes: two blocks.  Byte 64 (the first of block
 * two) is right[31]; the rest of block two is constant padding, so a buffer set
 * up once by node_template() needs only the 64 bytes of children copied in. */
static inline void node_template(uint8_t blocks[128]) {
    memset(blocks, 0, 128);
    blocks[0] = 0x01;
    blocks[65] = 0x80;
    blocks[126] = 0x02; /* 65 * 8 = 520 = 0x0208 bits */
    blocks[127] = 0x08;
}

static inline void node_fill(uint8_t blocks[128], const uint8_t *left, const uint8_t *right) {
    memcpy(blocks + 1, left, HS);
    memcpy(blocks + 1 + HS, right, HS);
}

static inline void hash_node(const uint8_t *left, const uint8_t *right, uint8_t *out) {
    uint8_t blocks[128];
    uint32_t s[8];
    node_template(blocks);
    node_fill(blocks, left, right);
    memcpy(s, sha256_initial_state, sizeof s);
    sha256_compress(s, blocks, 2);
    sha256_state_to_digest(s, out);
}

int merkle_node_hash(const uint8_t *left, const uint8_t *right, uint8_t *out) {
    hash_node(left, right, out);
    return MERKLE_OK;
}

/* Parents of n child pairs, two at a time on the two-stream compressor.  Inputs
 * are copied into the block buffers before any output is written, and output i
 * never lies past input pair i, so out may equal children (in-place levels). */
static void hash_level(const uint8_t *children, size_t n, uint8_t *out) {
    uint8_t ba[128], bb[128];
    node_template(ba);
    node_template(bb);
    size_t i = 0;
    for (; i + 2 <= n; i += 2) {
        uint32_t sa[8], sb[8];
        node_fill(ba, children + 2 * i * HS, children + (2 * i + 1) * HS);
        node_fill(bb, children + (2 * i + 2) * HS, children + (2 * i + 3) * HS);
        memcpy(sa, sha256_initial_state, sizeof sa);
        memcpy(sb, sha256_initial_state, sizeof sb);
        sha256_compress2(sa, ba, sb, bb, 2);
        sha256_state_to_digest(sa, out + i * HS);
        sha256_state_to_digest(sb, out + (i + 1) * HS);
    }
    if (i < n) {
        uint8_t tmp[HS];
        hash_node(children + 2 * i * HS, children + (2 * i + 1) * HS, tmp);
        memcpy(out + i * HS, tmp, HS);
    }
}

int merkle_node_hashes(const uint8_t *children, size_t n, uint8_t *out) {
    hash_level(children, n, out);
    return MERKLE_OK;
}

/* ---- perfect subtrees and the compact range -------------------------------- */

/* Root of the perfect subtree over 2^height consecutive hashes, height <= 8. */
static void perfect_root(const uint8_t *hashes, unsigned height, uint8_t *out) {
    if (height == 0) {
        memcpy(out, hashes, HS);
        return;
    }
    uint8_t buf[(MERKLE_TILE_WIDTH / 2) * HS];
    size_t n = (size_t)1 << (height - 1);
    hash_level(hashes, n, buf);
    for (; n > 1; n /= 2) hash_level(buf, n / 2, buf);
    memcpy(out, buf, HS);
}

/* Where an append writes the stored hashes (nodes of height 8L) it creates. */
typedef struct {
    uint8_t *out;
    size_t base[MERKLE_MAX_TILE_LEVELS]; /* first slot of each level in out */
    uint64_t first[MERKLE_MAX_TILE_LEVELS]; /* index of the first new node per level */
    uint64_t count[MERKLE_MAX_TILE_LEVELS];
} stored_sink;

/* The right edge: perfect subtrees for the set bits of size, largest first. */
typedef struct {
    uint64_t size;
    size_t count;
    unsigned height[MERKLE_MAX_EDGE];
    uint8_t hash[MERKLE_MAX_EDGE][HS];
    stored_sink *sink; /* NULL when nothing is stored */
} compact_range;

static inline void sink_put(stored_sink *sink, unsigned height, uint64_t index, const uint8_t *h) {
    if (!sink || height % MERKLE_TILE_HEIGHT) return;
    unsigned level = height / MERKLE_TILE_HEIGHT;
    memcpy(sink->out + (sink->base[level] + (index - sink->first[level])) * HS, h, HS);
}

/* Push a perfect subtree of `height` covering the next 2^height leaves, merging
 * equal heights as a binary counter carries.  Requires size % 2^height == 0. */
static void cr_push(compact_range *cr, const uint8_t *hash, unsigned height) {
    uint64_t end = cr->size + ((uint64_t)1 << height);
    uint8_t cur[HS];
    memcpy(cur, hash, HS);
    sink_put(cr->sink, height, (end >> height) - 1, cur);
    while (cr->count > 0 && cr->height[cr->count - 1] == height) {
        cr->count--;
        hash_node(cr->hash[cr->count], cur, cur);
        height++;
        sink_put(cr->sink, height, (end >> height) - 1, cur);
    }
    memcpy(cr->hash[cr->count], cur, HS);
    cr->height[cr->count++] = height;
    cr->size = end;
}

static void cr_root(const compact_range *cr, uint8_t *out) {
    if (cr->count == 0) {
        sha256_prefixed(-1, NULL, 0, out);
        return;
    }
    uint8_t acc[HS];
    memcpy(acc, cr->hash[cr->count - 1], HS);
    for (size_t i = cr->count - 1; i-- > 0;) hash_node(cr->hash[i], acc, acc);
    memcpy(out, acc, HS);
}

static int cr_load(compact_range *cr, const uint8_t *edge, size_t edge_count, uint64_t size) {
    if ((size_t)__builtin_popcountll(size) != edge_count) return MERKLE_E_EDGE;
    cr->size = size;
    cr->count = 0;
    cr->sink = NULL;
    for (int h = 63; h >= 0; h--) {
        if (!((size >> h) & 1)) continue;
        cr->height[cr->count] = (unsigned)h;
        memcpy(cr->hash[cr->count], edge + cr->count * HS, HS);
        cr->count++;
    }
    return MERKLE_OK;
}

/* Push n consecutive hashes (tile-level 0 leaves) starting at an arbitrary size:
 * one at a time until 256-aligned, then whole 256-leaf subtrees in batches. */
static void cr_push_leaves(compact_range *cr, const uint8_t *leaves, uint64_t n) {
    uint64_t i = 0;
    while (i < n) {
        if (cr->size % MERKLE_TILE_WIDTH == 0 && n - i >= MERKLE_TILE_WIDTH) {
            uint8_t root[HS];
            if (cr->sink) /* level-0 stored hashes are the leaves themselves */
                memcpy(cr->sink->out + (cr->sink->base[0] + (cr->size - cr->sink->first[0])) * HS,
                       leaves + i * HS, (size_t)MERKLE_TILE_WIDTH * HS);
            perfect_root(leaves + i * HS, MERKLE_TILE_HEIGHT, root);
            cr_push(cr, root, MERKLE_TILE_HEIGHT);
            i += MERKLE_TILE_WIDTH;
        } else {
            cr_push(cr, leaves + i * HS, 0);
            i++;
        }
    }
}

/* MTH of n consecutive hashes, by the same compact-range walk. */
static void range_root(const uint8_t *leaves, uint64_t n, uint8_t *out) {
    compact_range cr = {.size = 0, .count = 0, .sink = NULL};
    cr_push_leaves(&cr, leaves, n);
    cr_root(&cr, out);
}

int merkle_root(const uint8_t *leaf_hashes, uint64_t n, uint8_t *out) {
    range_root(leaf_hashes, n, out);
    return MERKLE_OK;
}

int merkle_edge_root(const uint8_t *edge, size_t edge_count, uint64_t size, uint8_t *out) {
    compact_range cr;
    int st = cr_load(&cr, edge, edge_count, size);
    if (st != MERKLE_OK) return st;
    cr_root(&cr, out);
    return MERKLE_OK;
}

int merkle_append(const uint8_t *edge, size_t edge_count, uint64_t size,
                  const uint8_t *leaf_hashes, uint64_t k,
                  uint8_t *new_edge, size_t *new_edge_count, uint8_t *root_out,
                  uint8_t *stored, size_t stored_cap, uint64_t *stored_counts) {
    compact_range cr;
    int st = cr_load(&cr, edge, edge_count, size);
    if (st != MERKLE_OK) return st;
    if (k > UINT64_MAX - size) return MERKLE_E_OVERFLOW;
    uint64_t end = size + k;
    stored_sink sink;
    size_t total = 0;
    for (unsigned L = 0; L < MERKLE_MAX_TILE_LEVELS; L++) {
        unsigned shift = L * MERKLE_TILE_HEIGHT;
        sink.first[L] = size >> shift;
        sink.count[L] = (end >> shift) - (size >> shift);
        sink.base[L] = total;
        total += sink.count[L];
    }
    if (total > stored_cap) return MERKLE_E_CAPACITY;
    sink.out = stored;
    cr.sink = &sink;
    cr_push_leaves(&cr, leaf_hashes, k);
    for (size_t i = 0; i < cr.count; i++) memcpy(new_edge + i * HS, cr.hash[i], HS);
    *new_edge_count = cr.count;
    cr_root(&cr, root_out);
    for (unsigned L = 0; L < MERKLE_MAX_TILE_LEVELS; L++) stored_counts[L] = sink.count[L];
    return MERKLE_OK;
}

/* ---- proof plans ------------------------------------------------------------- */

/* RFC 6962 §2.1.1 PATH(m, D[a:b]), unrolled: each step keeps the half that holds
 * the leaf and records the other half. */
static void inclusion_ranges(uint64_t index, uint64_t size, range_list *r) {
    uint64_t a = 0, b = size;
    r->n = 0;
    while (b - a > 1) {
        uint64_t k = largest_pow2_below(b - a);
        if (index - a < k) {
            add_range(r, a + k, b);
            b = a + k;
        } else {
            add_range(r, a, a + k);
            a += k;
        }
    }
}

/* RFC 6962 §2.1.2 SUBPROOF(m, D[a:b], flag), unrolled the same way. */
static void consistency_ranges(uint64_t size1, uint64_t size2, range_list *r) {
    uint64_t a = 0, b = size2, m = size1;
    int known = 1; /* the subtree [a, b) is a root the verifier already has */
    r->n = 0;
    if (size1 == 0 || size1 == size2) return;
    while (m != b - a) {
        uint64_t k = largest_pow2_below(b - a);
        if (m <= k) {
            add_range(r, a + k, b);
            b = a + k;
        } else {
            add_range(r, a, a + k);
            a += k;
            m -= k;
            known = 0;
        }
    }
    if (!known) add_range(r, a, b);
}

int merkle_inclusion_plan(uint64_t index, uint64_t size, merkle_node *nodes, size_t *n_nodes,
                          uint8_t *counts, size_t *n_elems) {
    if (index >= size) return MERKLE_E_INDEX;
    range_list r;
    inclusion_ranges(index, size, &r);
    return merkle_emit_plan(&r, nodes, n_nodes, counts, n_elems);
}

int merkle_consistency_plan(uint64_t size1, uint64_t size2, merkle_node *nodes,
                            size_t *n_nodes, uint8_t *counts, size_t *n_elems) {
    if (size1 > size2) return MERKLE_E_SIZE;
    range_list r;
    consistency_ranges(size1, size2, &r);
    return merkle_emit_plan(&r, nodes, n_nodes, counts, n_elems);
}

int merkle_edge_plan(uint64_t size, merkle_node *nodes, size_t *n_nodes) {
    *n_nodes = merkle_decompose(0, size, nodes);
    return MERKLE_OK;
}

/* ---- tiles and folds ----------------------------------------------------------- */

/* The tile holding node (h, k) and the span of stored hashes the node covers. */
static inline void node_tile(const merkle_node *nd, uint64_t *level, uint64_t *tile,
                             uint64_t *pos, uint64_t *span) {
    unsigned r = (unsigned)(nd->height % MERKLE_TILE_HEIGHT);
    uint64_t first = nd->index << r; /* index of its first hash at height 8L */
    *level = nd->height / MERKLE_TILE_HEIGHT;
    *tile = first / MERKLE_TILE_WIDTH;
    *pos = first % MERKLE_TILE_WIDTH;
    *span = (uint64_t)1 << r;
}

static int check_node(const merkle_node *nd, uint64_t size) {
    if (nd->height > 63) return MERKLE_E_ARGUMENT;
    if (nd->index >= (size >> nd->height)) return MERKLE_E_SIZE; /* not complete at size */
    return MERKLE_OK;
}

int merkle_tiles_for_nodes(const merkle_node *nodes, size_t n_nodes, uint64_t size,
                           merkle_tile *tiles, size_t *n_tiles) {
    size_t n = 0;
    for (size_t i = 0; i < n_nodes; i++) {
        int st = check_node(&nodes[i], size);
        if (st != MERKLE_OK) return st;
        uint64_t level, tile, pos, span;
        node_tile(&nodes[i], &level, &tile, &pos, &span);
        size_t j = 0;
        while (j < n && !(tiles[j].level == level && tiles[j].index == tile)) j++;
        if (j < n) continue;
        if (n == MERKLE_MAX_TILES) return MERKLE_E_CAPACITY;
        /* Hashes complete at this level for `size`; the last tile may be partial. */
        uint64_t at_level = size >> (level * MERKLE_TILE_HEIGHT);
        uint64_t width = at_level - tile * MERKLE_TILE_WIDTH;
        tiles[n].level = level;
        tiles[n].index = tile;
        tiles[n].width = width > MERKLE_TILE_WIDTH ? MERKLE_TILE_WIDTH : width;
        n++;
    }
    *n_tiles = n;
    return MERKLE_OK;
}

/* Fold consecutive node hashes right to left into each proof element. */
static void fold_elements(const uint8_t *node_hashes, const uint8_t *counts, size_t n_elems,
                          uint8_t *out) {
    size_t at = 0;
    for (size_t e = 0; e < n_elems; e++) {
        size_t c = counts[e];
        uint8_t acc[HS];
        memcpy(acc, node_hashes + (at + c - 1) * HS, HS);
        for (size_t i = c - 1; i-- > 0;) hash_node(node_hashes + (at + i) * HS, acc, acc);
        memcpy(out + e * HS, acc, HS);
        at += c;
    }
}

static int check_counts(size_t n_nodes, const uint8_t *counts, size_t n_elems) {
    if (n_nodes > MERKLE_MAX_NODES || n_elems > MERKLE_MAX_ELEMS) return MERKLE_E_ARGUMENT;
    size_t sum = 0;
    for (size_t e = 0; e < n_elems; e++) {
        if (counts[e] == 0) return MERKLE_E_ARGUMENT;
        sum += counts[e];
    }
    return sum == n_nodes ? MERKLE_OK : MERKLE_E_ARGUMENT;
}

static size_t expanded_size(uint64_t width) {
    size_t n = 0;
    for (unsigned r = 0; r <= MERKLE_TILE_HEIGHT; r++) n += (size_t)(width >> r);
    return n;
}

int merkle_expand_tile(const uint8_t *hashes, uint64_t width, uint8_t *out, size_t out_cap) {
    if (width == 0 || width > MERKLE_TILE_WIDTH) return MERKLE_E_ARGUMENT;
    if (out_cap < expanded_size(width)) return MERKLE_E_CAPACITY;
    memcpy(out, hashes, (size_t)width * HS);
    uint8_t *level = out;
    for (uint64_t w = width; w > 1; w >>= 1) {
        uint8_t *next = level + w * HS;
        hash_level(level, (size_t)(w / 2), next); /* an odd last hash has no parent yet */
        level = next;
    }
    return MERKLE_OK;
}

/* Node hash from a tile: read from an expansion, or rebuilt from 2^r hashes. */
static void tile_node(const merkle_tile_ref *t, uint64_t pos, unsigned r, uint8_t *out) {
    if (!t->expanded) {
        perfect_root(t->data + pos * HS, r, out);
        return;
    }
    size_t at = 0;
    for (unsigned j = 0; j < r; j++) at += (size_t)(t->width >> j);
    memcpy(out, t->data + (at + (pos >> r)) * HS, HS);
}

int merkle_fold_tiles(const merkle_node *nodes, size_t n_nodes, const uint8_t *counts,
                      size_t n_elems, const merkle_tile_ref *tiles, size_t n_tiles,
                      uint8_t *out) {
    int st = check_counts(n_nodes, counts, n_elems);
    if (st != MERKLE_OK) return st;
    uint8_t hashes[MERKLE_MAX_NODES][HS];
    for (size_t i = 0; i < n_nodes; i++) {
        if (nodes[i].height > 63) return MERKLE_E_ARGUMENT;
        uint64_t level, tile, pos, span;
        node_tile(&nodes[i], &level, &tile, &pos, &span);
        const merkle_tile_ref *t = NULL;
        for (size_t j = 0; j < n_tiles && !t; j++)
            if (tiles[j].level == level && tiles[j].index == tile) t = &tiles[j];
        if (!t) return MERKLE_E_TILE_MISSING;
        if (t->width > MERKLE_TILE_WIDTH || pos + span > t->width) return MERKLE_E_TILE_SHORT;
        tile_node(t, pos, (unsigned)(nodes[i].height % MERKLE_TILE_HEIGHT), hashes[i]);
    }
    fold_elements(&hashes[0][0], counts, n_elems, out);
    return MERKLE_OK;
}

int merkle_fold_leaves(const merkle_node *nodes, size_t n_nodes, const uint8_t *counts,
                       size_t n_elems, const uint8_t *leaf_hashes, uint64_t n_leaves,
                       uint8_t *out) {
    int st = check_counts(n_nodes, counts, n_elems);
    if (st != MERKLE_OK) return st;
    uint8_t hashes[MERKLE_MAX_NODES][HS];
    for (size_t i = 0; i < n_nodes; i++) {
        st = check_node(&nodes[i], n_leaves);
        if (st != MERKLE_OK) return st;
        uint64_t width = (uint64_t)1 << nodes[i].height;
        range_root(leaf_hashes + nodes[i].index * width * HS, width, hashes[i]);
    }
    fold_elements(&hashes[0][0], counts, n_elems, out);
    return MERKLE_OK;
}

/* ---- RFC 9162 verifiers ------------------------------------------------------- */

int merkle_verify_inclusion(const uint8_t *leaf_hash, uint64_t index, uint64_t size,
                            const uint8_t *proof, size_t n_proof, const uint8_t *root,
                            uint8_t *calc) {
    if (index >= size) return MERKLE_E_INDEX;
    range_list r;
    inclusion_ranges(index, size, &r);
    if (n_proof != r.n) return MERKLE_E_PROOF_LENGTH;
    /* RFC 9162 §2.1.3.2: fn is the leaf's position, sn the last position at each level. */
    uint64_t fn = index, sn = size - 1;
    uint8_t acc[HS];
    memcpy(acc, leaf_hash, HS);
    for (size_t i = 0; i < n_proof; i++) {
        const uint8_t *p = proof + i * HS;
        if (sn == 0) return MERKLE_E_PROOF_LENGTH;
        if ((fn & 1) || fn == sn) {
            hash_node(p, acc, acc);
            if (!(fn & 1))
                while (!(fn & 1) && fn != 0) { fn >>= 1; sn >>= 1; }
        } else {
            hash_node(acc, p, acc);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0) return MERKLE_E_PROOF_LENGTH;
    memcpy(calc, acc, HS);
    return memcmp(acc, root, HS) == 0 ? MERKLE_OK : MERKLE_E_ROOT_MISMATCH;
}

int merkle_verify_consistency(uint64_t size1, uint64_t size2, const uint8_t *proof,
                              size_t n_proof, const uint8_t *root1, const uint8_t *root2,
                              uint8_t *calc1, uint8_t *calc2) {
    if (size1 > size2) return MERKLE_E_SIZE;
    if (size1 == size2) {
        if (n_proof != 0) return MERKLE_E_PROOF_LENGTH;
        if (size1 == 0) {
            uint8_t empty[HS];
            sha256_prefixed(-1, NULL, 0, empty);
            if (memcmp(root1, empty, HS) != 0 || memcmp(root2, empty, HS) != 0)
                return MERKLE_E_EMPTY_ROOT;
        }
        memcpy(calc1, root1, HS);
        memcpy(calc2, root1, HS);
        return memcmp(root1, root2, HS) == 0 ? MERKLE_OK : MERKLE_E_ROOT_MISMATCH;
    }
    if (size1 == 0) return MERKLE_E_EMPTY_CONSISTENCY;
    range_list r;
    consistency_ranges(size1, size2, &r);
    if (n_proof != r.n) return MERKLE_E_PROOF_LENGTH;
    /* RFC 9162 §2.1.4.2: when size1 is a power of two its root is the proof's seed. */
    int seeded = (size1 & (size1 - 1)) == 0;
    const uint8_t *first = seeded ? root1 : proof;
    size_t next = seeded ? 0 : 1;
    uint64_t fn = size1 - 1, sn = size2 - 1;
    while (fn & 1) { fn >>= 1; sn >>= 1; }
    uint8_t fr[HS], sr[HS];
    memcpy(fr, first, HS);
    memcpy(sr, first, HS);
    for (size_t i = next; i < n_proof; i++) {
        const uint8_t *c = proof + i * HS;
        if (sn == 0) return MERKLE_E_PROOF_LENGTH;
        if ((fn & 1) || fn == sn) {
            hash_node(c, fr, fr);
            hash_node(c, sr, sr);
            if (!(fn & 1))
                while (!(fn & 1) && fn != 0) { fn >>= 1; sn >>= 1; }
        } else {
            hash_node(sr, c, sr);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0) return MERKLE_E_PROOF_LENGTH;
    memcpy(calc1, fr, HS);
    memcpy(calc2, sr, HS);
    if (memcmp(fr, root1, HS) != 0) return MERKLE_E_ROOT1_MISMATCH;
    if (memcmp(sr, root2, HS) != 0) return MERKLE_E_ROOT2_MISMATCH;
    return MERKLE_OK;
}
