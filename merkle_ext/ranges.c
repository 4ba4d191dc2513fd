/* Leaf ranges and proof plans: see ranges.h. */
#include "ranges.h"

#include <string.h>

size_t merkle_decompose(uint64_t start, uint64_t end, merkle_node *nodes) {
    size_t n = 0;
    while (start < end) {
        unsigned h = 63 - (unsigned)__builtin_clzll(end - start);
        if (start) {
            unsigned tz = (unsigned)__builtin_ctzll(start);
            if (tz < h) h = tz;
        }
        nodes[n].height = h;
        nodes[n].index = start >> h;
        n++;
        start += (uint64_t)1 << h;
    }
    return n;
}

int merkle_emit_plan(const range_list *r, merkle_node *nodes, size_t *n_nodes,
                     uint8_t *counts, size_t *n_elems) {
    size_t total = 0;
    for (size_t i = r->n; i-- > 0;) {
        merkle_node tmp[64];
        size_t c = merkle_decompose(r->start[i], r->end[i], tmp);
        if (total + c > MERKLE_MAX_NODES) return MERKLE_E_CAPACITY;
        memcpy(nodes + total, tmp, c * sizeof *tmp);
        counts[r->n - 1 - i] = (uint8_t)c;
        total += c;
    }
    *n_nodes = total;
    *n_elems = r->n;
    return MERKLE_OK;
}
