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

static const uint32_t K[64] __attribute__((aligned(16))) = {
    0x428a2f98u, 0x71374491u, 0xb5c0fbcfu, 0xe9b5dba5u, 0x3956c25bu, 0x59f111f1u,
    0x923f82a4u, 0xab1c5ed5u, 0xd807aa98u, 0x12835b01u, 0x243185beu, 0x550c7dc3u,
    0x72be5d74u, 0x80deb1feu, 0x9bdc06a7u, 0xc19bf174u, 0xe49b69c1u, 0xefbe4786u,
    0x0fc19dc6u, 0x240ca1ccu, 0x2de92c6fu, 0x4a7484aau, 0x5cb0a9dcu, 0x76f988dau,
    0x983e5152u, 0xa831c66du, 0xb00327c8u, 0xbf597fc7u, 0xc6e00bf3u, 0xd5a79147u,
    0x06ca6351u, 0x14292967u, 0x27b70a85u, 0x2e1b2138u, 0x4d2c6dfcu, 0x53380d13u,
    0x650a7354u, 0x766a0abbu, 0x81c2c92eu, 0x92722c85u, 0xa2bfe8a1u, 0xa81a664bu,
    0xc24b8b70u, 0xc76c51a3u, 0xd192e819u, 0xd6990624u, 0xf40e3585u, 0x106aa070u,
    0x19a4c116u, 0x1e376c08u, 0x2748774cu, 0x34b0bcb5u, 0x391c0cb3u, 0x4ed8aa4au,
    0x5b9cca4fu, 0x682e6ff3u, 0x748f82eeu, 0x78a5636fu, 0x84c87814u, 0x8cc70208u,
    0x90befffau, 0xa4506cebu, 0xbef9a3f7u, 0xc67178f2u,
};

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
        __m128i wk = _mm_add_epi32(m[(g) & 3], _mm_load_si128((const __m128i *)&K[4 * (g)])); \
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
