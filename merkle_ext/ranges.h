/* Internal to the engine: leaf ranges, their split into perfect subtrees, and
 * turning the ranges a proof walk collects into a plan.  Shared by merkle.c
 * (RFC 6962 proofs) and subtree.c (subtree proofs); not part of the cffi API. */
#ifndef REKOR_PY_MERKLE_RANGES_H
#define REKOR_PY_MERKLE_RANGES_H

#include <stddef.h>
#include <stdint.h>

#include "merkle.h"

/* Ranges [start[i], end[i]) in the order a descent from the root meets them. */
typedef struct {
    uint64_t start[MERKLE_MAX_ELEMS];
    uint64_t end[MERKLE_MAX_ELEMS];
    size_t n;
} range_list;

static inline uint64_t largest_pow2_below(uint64_t n) { /* requires n >= 2 */
    return (uint64_t)1 << (63 - __builtin_clzll(n - 1));
}

static inline void add_range(range_list *r, uint64_t start, uint64_t end) {
    r->start[r->n] = start;
    r->end[r->n] = end;
    r->n++;
}

/* Greedy split of an aligned range into perfect subtrees, left to right (at most
 * 64); their right-to-left fold is the range's MTH (RFC 6962 §2.1's split rule). */
size_t merkle_decompose(uint64_t start, uint64_t end, merkle_node *nodes);

/* Ranges collected root-first become a plan in proof order, which is leaf-first. */
int merkle_emit_plan(const range_list *r, merkle_node *nodes, size_t *n_nodes,
                     uint8_t *counts, size_t *n_elems);

#endif
