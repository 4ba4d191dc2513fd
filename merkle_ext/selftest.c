/* Self-test driver for the Merkle engine, meant to run under AddressSanitizer,
 * UBSan and valgrind (see the Makefile).  It calls every entry point, including
 * the error paths, on many tree sizes and cross-checks the results: proofs from
 * leaves and from tiles agree and verify, the appender agrees with merkle_root,
 * both SHA-256 backends agree.  Exit status 0 means every check held.
 * Correctness against an independent reference is the Python suite's job.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "merkle.h"

#define HS MERKLE_HASH_SIZE
#define MAX_LEAVES 5000

static int failures = 0;
#define CHECK(cond, ...)                                  \
    do {                                                  \
        if (!(cond)) {                                    \
            failures++;                                   \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__);                 \
            fprintf(stderr, "\n");                        \
        }                                                 \
    } while (0)

static uint8_t leaves[MAX_LEAVES][HS];
/* Tiles as the appender wrote them: levels 0 and 1 suffice below 65,536. */
static uint8_t tiles0[(MAX_LEAVES + 255) / 256][256][HS];
static uint8_t tiles1[1][256][HS];

static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static uint64_t rng(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Build the leaves by appending in random batches; check roots as we go. */
static void build(uint64_t n) {
    uint8_t edge[MERKLE_MAX_EDGE * HS], new_edge[MERKLE_MAX_EDGE * HS], root[HS], want[HS];
    static uint8_t stored[2 * MAX_LEAVES * HS];
    size_t edge_count = 0;
    uint64_t size = 0;
    while (size < n) {
        uint64_t k = 1 + rng() % 600;
        if (k > n - size) k = n - size;
        uint64_t counts[MERKLE_MAX_TILE_LEVELS];
        size_t new_count;
        int st = merkle_append(edge, edge_count, size, &leaves[size][0], k, new_edge, &new_count,
                               root, stored, sizeof stored / HS, counts);
        CHECK(st == MERKLE_OK, "append status %d", st);
        /* Scatter the stored hashes into the tile arrays. */
        size_t at = 0;
        for (unsigned L = 0; L < MERKLE_MAX_TILE_LEVELS; L++) {
            uint64_t first = size >> (8 * L);
            for (uint64_t j = 0; j < counts[L]; j++, at++) {
                uint64_t idx = first + j;
                CHECK(L <= 1, "stored hash at level %u below 65,536 leaves", L);
                uint8_t(*t)[256][HS] = L == 0 ? tiles0 : tiles1;
                memcpy(t[idx / 256][idx % 256], stored + at * HS, HS);
            }
        }
        memcpy(edge, new_edge, new_count * HS);
        edge_count = new_count;
        size += k;
        merkle_root(&leaves[0][0], size, want);
        CHECK(memcmp(root, want, HS) == 0, "append root != merkle_root at %llu",
              (unsigned long long)size);
        uint8_t edge_root[HS];
        CHECK(merkle_edge_root(edge, edge_count, size, edge_root) == MERKLE_OK, "edge_root");
        CHECK(memcmp(edge_root, want, HS) == 0, "edge root at %llu", (unsigned long long)size);
    }
}

static size_t tile_refs(const merkle_node *nodes, size_t n_nodes, uint64_t size,
                        merkle_tile_ref *refs) {
    merkle_tile tiles[MERKLE_MAX_TILES];
    size_t n_tiles = 0;
    int st = merkle_tiles_for_nodes(nodes, n_nodes, size, tiles, &n_tiles);
    CHECK(st == MERKLE_OK, "tiles_for_nodes %d", st);
    for (size_t i = 0; i < n_tiles; i++) {
        refs[i].level = tiles[i].level;
        refs[i].index = tiles[i].index;
        refs[i].width = tiles[i].width;
        refs[i].expanded = 0;
        refs[i].data = tiles[i].level == 0 ? &tiles0[tiles[i].index][0][0]
                                           : &tiles1[tiles[i].index][0][0];
    }
    return n_tiles;
}

static void check_inclusion(uint64_t index, uint64_t size) {
    merkle_node nodes[MERKLE_MAX_NODES];
    uint8_t counts[MERKLE_MAX_ELEMS], a[MERKLE_MAX_ELEMS * HS], b[MERKLE_MAX_ELEMS * HS];
    size_t n_nodes, n_elems;
    CHECK(merkle_inclusion_plan(index, size, nodes, &n_nodes, counts, &n_elems) == MERKLE_OK,
          "inclusion_plan");
    CHECK(merkle_fold_leaves(nodes, n_nodes, counts, n_elems, &leaves[0][0], size, a) == MERKLE_OK,
          "fold_leaves");
    merkle_tile_ref refs[MERKLE_MAX_TILES];
    size_t n_refs = tile_refs(nodes, n_nodes, size, refs);
    CHECK(merkle_fold_tiles(nodes, n_nodes, counts, n_elems, refs, n_refs, b) == MERKLE_OK,
          "fold_tiles");
    CHECK(memcmp(a, b, n_elems * HS) == 0, "tile and leaf proofs differ");
    static uint8_t expanded[MERKLE_MAX_TILES][MERKLE_EXPANDED_FULL * HS];
    for (size_t i = 0; i < n_refs; i++) {
        CHECK(merkle_expand_tile(refs[i].data, refs[i].width, expanded[i],
                                 MERKLE_EXPANDED_FULL) == MERKLE_OK, "expand_tile");
        refs[i].data = expanded[i];
        refs[i].expanded = 1;
    }
    CHECK(merkle_fold_tiles(nodes, n_nodes, counts, n_elems, refs, n_refs, b) == MERKLE_OK,
          "fold expanded tiles");
    CHECK(memcmp(a, b, n_elems * HS) == 0, "expanded-tile and leaf proofs differ");
    uint8_t root[HS], calc[HS];
    merkle_root(&leaves[0][0], size, root);
    int st = merkle_verify_inclusion(leaves[index], index, size, a, n_elems, root, calc);
    CHECK(st == MERKLE_OK, "inclusion %llu/%llu: %s", (unsigned long long)index,
          (unsigned long long)size, merkle_strerror(st));
    if (n_elems) {
        a[rng() % (n_elems * HS)] ^= 1;
        st = merkle_verify_inclusion(leaves[index], index, size, a, n_elems, root, calc);
        CHECK(st == MERKLE_E_ROOT_MISMATCH, "flipped bit accepted");
        st = merkle_verify_inclusion(leaves[index], index, size, a, n_elems - 1, root, calc);
        CHECK(st == MERKLE_E_PROOF_LENGTH, "short proof accepted");
    }
}

static void check_consistency(uint64_t size1, uint64_t size2) {
    merkle_node nodes[MERKLE_MAX_NODES];
    uint8_t counts[MERKLE_MAX_ELEMS], a[MERKLE_MAX_ELEMS * HS], b[MERKLE_MAX_ELEMS * HS];
    size_t n_nodes, n_elems;
    CHECK(merkle_consistency_plan(size1, size2, nodes, &n_nodes, counts, &n_elems) == MERKLE_OK,
          "consistency_plan");
    CHECK(merkle_fold_leaves(nodes, n_nodes, counts, n_elems, &leaves[0][0], size2, a) ==
              MERKLE_OK, "fold_leaves");
    merkle_tile_ref refs[MERKLE_MAX_TILES];
    size_t n_refs = tile_refs(nodes, n_nodes, size2, refs);
    CHECK(merkle_fold_tiles(nodes, n_nodes, counts, n_elems, refs, n_refs, b) == MERKLE_OK,
          "fold_tiles");
    CHECK(memcmp(a, b, n_elems * HS) == 0, "tile and leaf proofs differ");
    uint8_t r1[HS], r2[HS], c1[HS], c2[HS];
    merkle_root(&leaves[0][0], size1, r1);
    merkle_root(&leaves[0][0], size2, r2);
    int st = merkle_verify_consistency(size1, size2, a, n_elems, r1, r2, c1, c2);
    CHECK(st == MERKLE_OK, "consistency %llu..%llu: %s", (unsigned long long)size1,
          (unsigned long long)size2, merkle_strerror(st));
    if (n_elems) {
        a[rng() % (n_elems * HS)] ^= 0x80;
        st = merkle_verify_consistency(size1, size2, a, n_elems, r1, r2, c1, c2);
        CHECK(st != MERKLE_OK, "flipped bit accepted");
    }
}

static void check_errors(void) {
    merkle_node nodes[MERKLE_MAX_NODES];
    uint8_t counts[MERKLE_MAX_ELEMS], out[MERKLE_MAX_ELEMS * HS], h[HS] = {0};
    size_t n_nodes, n_elems;
    CHECK(merkle_inclusion_plan(5, 5, nodes, &n_nodes, counts, &n_elems) == MERKLE_E_INDEX, "idx");
    CHECK(merkle_consistency_plan(6, 5, nodes, &n_nodes, counts, &n_elems) == MERKLE_E_SIZE, "sz");
    CHECK(merkle_verify_consistency(0, 3, NULL, 0, h, h, out, out) == MERKLE_E_EMPTY_CONSISTENCY,
          "empty consistency");
    CHECK(merkle_verify_consistency(0, 0, NULL, 0, h, h, out, out) == MERKLE_E_EMPTY_ROOT,
          "empty root");
    /* A plan at the largest size: 64 nodes in its ragged element. */
    CHECK(merkle_inclusion_plan(0, UINT64_MAX, nodes, &n_nodes, counts, &n_elems) == MERKLE_OK,
          "huge inclusion plan");
    CHECK(merkle_consistency_plan(1, UINT64_MAX, nodes, &n_nodes, counts, &n_elems) == MERKLE_OK,
          "huge consistency plan");
    merkle_tile tiles[MERKLE_MAX_TILES];
    size_t n_tiles;
    CHECK(merkle_tiles_for_nodes(nodes, n_nodes, UINT64_MAX, tiles, &n_tiles) == MERKLE_OK,
          "huge tiles");
    /* A fold whose tile is missing or too narrow must refuse, not read past it. */
    merkle_inclusion_plan(300, 600, nodes, &n_nodes, counts, &n_elems);
    merkle_tile_ref refs[1] = {{0, 1, 10, 0, &tiles0[1][0][0]}};
    int st = merkle_fold_tiles(nodes, n_nodes, counts, n_elems, refs, 1, out);
    CHECK(st == MERKLE_E_TILE_MISSING || st == MERKLE_E_TILE_SHORT, "bad tiles accepted: %d", st);
    CHECK(merkle_fold_leaves(nodes, n_nodes, counts, n_elems, &leaves[0][0], 599, out) ==
              MERKLE_E_SIZE, "fold beyond leaves");
    uint64_t lengths[2] = {3, 5};
    CHECK(merkle_leaf_hashes((const uint8_t *)"abcdefg", 7, lengths, 2, out) == MERKLE_E_ARGUMENT,
          "lengths past data");
    uint8_t edge[HS];
    CHECK(merkle_edge_root(edge, 1, 3, out) == MERKLE_E_EDGE, "edge count");
}

int main(int argc, char **argv) {
    /* Random trials per backend; fewer under valgrind, which is ~50x slower. */
    int trials = argc > 1 ? atoi(argv[1]) : 2000;
    for (int backend = 1; backend >= 0; backend--) {
        int got = merkle_sha256_select(backend);
        printf("backend %s\n", got ? "sha-ni" : "portable");
        for (uint64_t i = 0; i < MAX_LEAVES; i++) {
            uint8_t entry[700];
            size_t len = (size_t)(i * 37 % 700);
            for (size_t j = 0; j < len; j++) entry[j] = (uint8_t)(i + j);
            merkle_leaf_hash(entry, len, leaves[i]);
        }
        rng_state = 0x9e3779b97f4a7c15u;
        build(MAX_LEAVES);
        uint8_t root[HS];
        merkle_root(&leaves[0][0], MAX_LEAVES, root);
        printf("root of %d leaves: ", MAX_LEAVES);
        for (int i = 0; i < HS; i++) printf("%02x", root[i]);
        printf("\n");
        for (uint64_t size = 1; size <= 300; size++)
            for (uint64_t x = 0; x < size; x += 1 + size / 16) {
                check_inclusion(x, size);
                check_consistency(x + 1, size);
            }
        for (int t = 0; t < trials; t++) {
            uint64_t size = 1 + rng() % MAX_LEAVES;
            check_inclusion(rng() % size, size);
            check_consistency(1 + rng() % size, size);
        }
        check_errors();
    }
    printf("%s: %d failures\n", failures ? "FAILED" : "ok", failures);
    return failures ? 1 : 0;
}
