/* rekor-py Merkle engine: subtrees [start, end) and their proofs.
 *
 * Source: the "Subtrees" section of the IETF Merkle Tree Certificates draft
 * (draft-ietf-plants-merkle-tree-certs), as implemented by transparency-dev/merkle
 * proof/proof.go and proof/verify.go at commit 417fb0c314750d94e53942e9f92e79b6d35915db,
 * whose testdata/subtree* vectors tests/unit/test_merkle_subtree_vectors.py replays.
 *
 * A subtree [start, end) is valid when start <= end and either start == 0,
 * start == end, or start is a multiple of BIT_CEIL(end - start).  Its hash is then
 * MTH(D[start:end]): the alignment makes every RFC 6962 split inside the range fall
 * where it falls in the whole tree.
 *
 * Built on merkle.h's public functions (verifiers, SHA-256) and the engine's
 * internal range helpers (ranges.h).
 */
#include <string.h>

#include "merkle.h"
#include "ranges.h"

#define HS MERKLE_HASH_SIZE

/* ---- validity ------------------------------------------------------------------ */

int merkle_subtree_check(uint64_t start, uint64_t end) {
    if (start > end) return MERKLE_E_SUBTREE;
    if (start == 0 || start == end) return MERKLE_OK;
    uint64_t len = end - start;
    /* BIT_CEIL(len) would be 2^64; start > 0 cannot be a multiple of it. */
    if (len > ((uint64_t)1 << 63)) return MERKLE_E_SUBTREE;
    uint64_t ceil = len == 1 ? 1 : (uint64_t)1 << (64 - __builtin_clzll(len - 1));
    return (start & (ceil - 1)) == 0 ? MERKLE_OK : MERKLE_E_SUBTREE;
}

/* ---- plans ------------------------------------------------------------------------ */

/* The draft's SUBTREE_PROOF(start, end, D[0:size], true), unrolled: descend from
 * [0, size) and record the half that does not hold [start, end).  A valid
 * subtree straddles a split only once it starts where the range does; from there
 * on this is RFC 6962 §2.1.2 SUBPROOF, and the subtree's own hash stops being the
 * one the verifier knows.  Requires a valid subtree with start < end <= size. */
static int consistency_spans(uint64_t start, uint64_t end, uint64_t size, range_list *r) {
    uint64_t a = 0, b = size;
    int known = 1;
    r->n = 0;
    while (!(start == a && end == b)) { /* b - a >= 2 here: one leaf would be equal */
        uint64_t mid = a + largest_pow2_below(b - a);
        if (end <= mid) {
            add_range(r, mid, b);
            b = mid;
        } else if (start >= mid) {
            add_range(r, a, mid);
            a = mid;
        } else {
            if (start != a) return MERKLE_E_SUBTREE; /* only an invalid range gets here */
            add_range(r, a, mid);
            a = start = mid;
            known = 0;
        }
    }
    if (!known) add_range(r, a, b);
    return MERKLE_OK;
}

int merkle_subtree_inclusion_plan(uint64_t index, uint64_t start, uint64_t end,
                                  merkle_node *nodes, size_t *n_nodes, uint8_t *counts,
                                  size_t *n_elems) {
    if (merkle_subtree_check(start, end) != MERKLE_OK) return MERKLE_E_SUBTREE;
    if (index < start || index >= end) return MERKLE_E_INDEX;
    /* The RFC 6962 path inside a tree of end - start leaves, moved right by start:
     * every node is at most BIT_CEIL(end - start) wide, and start is a multiple of that. */
    int st = merkle_inclusion_plan(index - start, end - start, nodes, n_nodes, counts, n_elems);
    if (st != MERKLE_OK) return st;
    for (size_t i = 0; i < *n_nodes; i++) nodes[i].index += start >> nodes[i].height;
    return MERKLE_OK;
}

int merkle_subtree_consistency_plan(uint64_t start, uint64_t end, uint64_t size,
                                    merkle_node *nodes, size_t *n_nodes, uint8_t *counts,
                                    size_t *n_elems) {
    if (merkle_subtree_check(start, end) != MERKLE_OK) return MERKLE_E_SUBTREE;
    if (end > size) return MERKLE_E_SIZE;
    range_list r = {.n = 0};
    if (start < end) { /* an empty subtree has an empty proof */
        int st = consistency_spans(start, end, size, &r);
        if (st != MERKLE_OK) return st;
    }
    return merkle_emit_plan(&r, nodes, n_nodes, counts, n_elems);
}

/* ---- verifiers ------------------------------------------------------------------ */

int merkle_verify_subtree_inclusion(const uint8_t *leaf_hash, uint64_t index, uint64_t start,
                                    uint64_t end, const uint8_t *proof, size_t n_proof,
                                    const uint8_t *root, uint8_t *calc) {
    if (merkle_subtree_check(start, end) != MERKLE_OK) return MERKLE_E_SUBTREE;
    if (index < start || index >= end) return MERKLE_E_INDEX;
    /* A valid subtree is shaped like a whole tree of end - start leaves. */
    return merkle_verify_inclusion(leaf_hash, index - start, end - start, proof, n_proof, root,
                                   calc);
}

/* Elements in a plan, or 0 when the planner refuses (callers rule that out). */
static size_t consistency_len(uint64_t size1, uint64_t size2) {
    merkle_node nodes[MERKLE_MAX_NODES];
    uint8_t counts[MERKLE_MAX_ELEMS];
    size_t n_nodes = 0, n_elems = 0;
    if (merkle_consistency_plan(size1, size2, nodes, &n_nodes, counts, &n_elems) != MERKLE_OK)
        return 0;
    return n_elems;
}

static size_t inclusion_len(uint64_t index, uint64_t size) {
    merkle_node nodes[MERKLE_MAX_NODES];
    uint8_t counts[MERKLE_MAX_ELEMS];
    size_t n_nodes = 0, n_elems = 0;
    if (merkle_inclusion_plan(index, size, nodes, &n_nodes, counts, &n_elems) != MERKLE_OK)
        return 0;
    return n_elems;
}

/* The proof splits where consistency_spans enters its second phase, at the range
 * [start, start + top): the largest node of the whole tree that begins at start
 * (height ctz(start), cut at size; the whole tree when start is 0).
 *  1. Its first part is the RFC 6962 consistency proof from end - start to top
 *     leaves inside that node: it checks root1 and yields the node's hash.
 *  2. The rest is the RFC 6962 inclusion proof of that node among the nodes of its
 *     height (the last one possibly cut short): it yields root2.
 * Above that height the tree of size leaves splits exactly as a tree of
 * ceil(size / 2^height) nodes does, so merkle_verify_inclusion applies unchanged. */
int merkle_verify_subtree_consistency(uint64_t start, uint64_t end, uint64_t size,
                                      const uint8_t *proof, size_t n_proof,
                                      const uint8_t *root1, const uint8_t *root2,
                                      uint8_t *calc1, uint8_t *calc2) {
    if (merkle_subtree_check(start, end) != MERKLE_OK) return MERKLE_E_SUBTREE;
    if (end > size) return MERKLE_E_SIZE;
    memcpy(calc1, root1, HS);
    if (start == end) {
        /* An empty subtree commits to nothing, so it is consistent with every tree
         * that reaches it; root2 is not examined (upstream VerifySubtreeConsistency). */
        uint8_t empty[HS];
        memcpy(calc2, root2, HS);
        if (n_proof != 0) return MERKLE_E_PROOF_LENGTH;
        merkle_sha256(NULL, 0, empty);
        return memcmp(root1, empty, HS) == 0 ? MERKLE_OK : MERKLE_E_EMPTY_ROOT;
    }
    uint64_t index = 0, count = 1, top = size;
    if (start != 0) {
        unsigned h = (unsigned)__builtin_ctzll(start);
        uint64_t span = (uint64_t)1 << h;
        top = size - start < span ? size - start : span;
        index = start >> h;
        count = ((size - 1) >> h) + 1;
    }
    uint64_t width = end - start;
    size_t n_inner = width == top ? 0 : consistency_len(width, top);
    size_t n_outer = inclusion_len(index, count);
    if (n_proof != n_inner + n_outer) return MERKLE_E_PROOF_LENGTH;

    uint8_t node[HS];
    memcpy(node, root1, HS);
    if (n_inner) {
        /* root2 of the inner proof is unknown: pass root1 and keep the calculated
         * one, which merkle_verify_consistency writes once root1 has matched. */
        int st = merkle_verify_consistency(width, top, proof, n_inner, root1, root1, calc1, node);
        if (st != MERKLE_OK && st != MERKLE_E_ROOT2_MISMATCH) return st;
    }
    int st = merkle_verify_inclusion(node, index, count, proof + n_inner * HS, n_outer, root2,
                                     calc2);
    return st == MERKLE_E_ROOT_MISMATCH ? MERKLE_E_ROOT2_MISMATCH : st;
}
