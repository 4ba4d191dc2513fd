/* SHA-256 compression with the Intel SHA extensions (SHA-NI), x86 only.
 *
 * Each function carries target attributes, so the file builds with the default
 * compiler flags and the instructions run only after sha256_cpu_has_shani() said
 * the CPU has them.  Register layout follows the instruction set: the eight state
 * words live in two registers as (A,B,E,F) and (C,D,G,H); sha256rnds2 does two
 * rounds, taking the message words plus round constants in the low 64 bits.
 */
#if defined(__x86_64__) || defined(__i386__)

#include "sha256.h"

#include <cpuid.h>
#include <immintrin.h>

#define SHANI_TARGET __attribute__((target("sha,sse4.1,ssse3")))

int sha256_cpu_has_shani(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    int ssse3 = (c >> 9) & 1, sse41 = (c >> 19) & 1;
    if (__get_cpuid_max(0, 0) < 7) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    int sha = (b >> 29) & 1;
    return sha && ssse3 && sse41;
}

/* (a,b,c,d),(e,f,g,h) in memory order -> the (A,B,E,F),(C,D,G,H) register pair. */
SHANI_TARGET static inline void load_state(const uint32_t s[8], __m128i *abef, __m128i *cdgh) {
    __m128i dcba = _mm_loadu_si128((const __m128i *)&s[0]);
    __m128i hgfe = _mm_loadu_si128((const __m128i *)&s[4]);
    __m128i badc = _mm_shuffle_epi32(dcba, 0xB1);  /* swap within pairs */
    __m128i efgh = _mm_shuffle_epi32(hgfe, 0x1B);  /* reverse the four words */
    *abef = _mm_alignr_epi8(badc, efgh, 8);
    *cdgh = _mm_blend_epi16(efgh, badc, 0xF0);
}

SHANI_TARGET static inline void store_state(uint32_t s[8], __m128i abef, __m128i cdgh) {
    __m128i feba = _mm_shuffle_epi32(abef, 0x1B);
    __m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);
    _mm_storeu_si128((__m128i *)&s[0], _mm_blend_epi16(feba, dchg, 0xF0));
    _mm_storeu_si128((__m128i *)&s[4], _mm_alignr_epi8(dchg, feba, 8));
}

/* Big-endian message words: byte-swap each 32-bit lane. */
#define BSWAP_MASK _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL)

/* Four rounds on message group `g` (W[4g..4g+3] in w); then, for groups 0-11,
 * extend the schedule so w_next0 holds W[4g+16..4g+19].  The four message
 * registers rotate: m[g%4] is replaced by the group 4 ahead. */
#define QUAD_ROUNDS(abef, cdgh, m, g)                                               \
    do {                                                                             \
        __m128i wk = _mm_add_epi32(m[(g) & 3], _mm_load_si128((const __m128i *)&sha256_round_constants[4 * (g)])); \
        cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);                               \
        abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(wk, 0x0E));      \
        if ((g) < 12) {                                                              \
            __m128i t = _mm_sha256msg1_epu32(m[(g) & 3], m[((g) + 1) & 3]);           \
            t = _mm_add_epi32(t, _mm_alignr_epi8(m[((g) + 3) & 3], m[((g) + 2) & 3], 4)); \
            m[(g) & 3] = _mm_sha256msg2_epu32(t, m[((g) + 3) & 3]);                   \
        }                                                                            \
    } while (0)

/* Unrolled by hand: with a constant group number the four message registers
 * stay in registers and the schedule test folds away.  Left to the compiler, -O2
 * keeps the loop and runs about 40% slower. */
#define QUADS_AT(G0, STEP) { enum { G = (G0) }; STEP; }
#define SIXTEEN_QUADS(STEP)                                                           \
    QUADS_AT(0, STEP) QUADS_AT(1, STEP) QUADS_AT(2, STEP) QUADS_AT(3, STEP)         \
    QUADS_AT(4, STEP) QUADS_AT(5, STEP) QUADS_AT(6, STEP) QUADS_AT(7, STEP)         \
    QUADS_AT(8, STEP) QUADS_AT(9, STEP) QUADS_AT(10, STEP) QUADS_AT(11, STEP)       \
    QUADS_AT(12, STEP) QUADS_AT(13, STEP) QUADS_AT(14, STEP) QUADS_AT(15, STEP)

SHANI_TARGET void sha256_compress_shani(uint32_t state[8], const uint8_t *blocks, size_t nblocks) {
    __m128i abef, cdgh;
    sha256_blocks_done[1] += nblocks;
    load_state(state, &abef, &cdgh);
    const __m128i mask = BSWAP_MASK;
    for (; nblocks > 0; nblocks--, blocks += SHA256_BLOCK) {
        __m128i save_abef = abef, save_cdgh = cdgh;
        __m128i m[4];
        for (int i = 0; i < 4; i++)
            m[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(blocks + 16 * i)), mask);
        SIXTEEN_QUADS(QUAD_ROUNDS(abef, cdgh, m, G));
        abef = _mm_add_epi32(abef, save_abef);
        cdgh = _mm_add_epi32(cdgh, save_cdgh);
    }
    store_state(state, abef, cdgh);
}

/* Two independent streams, round by round: each sha256rnds2 waits on the one
 * before it in its own stream, so alternating the streams keeps the unit busy. */
SHANI_TARGET void sha256_compress2_shani(uint32_t state_a[8], const uint8_t *blocks_a,
                                         uint32_t state_b[8], const uint8_t *blocks_b,
                                         size_t nblocks) {
    __m128i abef_a, cdgh_a, abef_b, cdgh_b;
    sha256_blocks_done[1] += 2 * nblocks;
    load_state(state_a, &abef_a, &cdgh_a);
    load_state(state_b, &abef_b, &cdgh_b);
    const __m128i mask = BSWAP_MASK;
    for (; nblocks > 0; nblocks--, blocks_a += SHA256_BLOCK, blocks_b += SHA256_BLOCK) {
        __m128i sa0 = abef_a, sa1 = cdgh_a, sb0 = abef_b, sb1 = cdgh_b;
        __m128i ma[4], mb[4];
        for (int i = 0; i < 4; i++) {
            ma[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(blocks_a + 16 * i)), mask);
            mb[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(blocks_b + 16 * i)), mask);
        }
        SIXTEEN_QUADS(QUAD_ROUNDS(abef_a, cdgh_a, ma, G); QUAD_ROUNDS(abef_b, cdgh_b, mb, G));
        abef_a = _mm_add_epi32(abef_a, sa0);
        cdgh_a = _mm_add_epi32(cdgh_a, sa1);
        abef_b = _mm_add_epi32(abef_b, sb0);
        cdgh_b = _mm_add_epi32(cdgh_b, sb1);
    }
    store_state(state_a, abef_a, cdgh_a);
    store_state(state_b, abef_b, cdgh_b);
}

#endif /* x86 */
