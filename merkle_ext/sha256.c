/* SHA-256 (FIPS 180-4): portable compression, backend dispatch, one-shot hashing.
 *
 * The SHA-extension compressor lives in sha256_shani.c, compiled with its own
 * target attributes so this file stays portable C.
 */
#include "sha256.h"

#include <string.h>

const uint32_t sha256_initial_state[8] = {
    0x6a09e667u, 0xbb67ae85u, 0x3c6ef372u, 0xa54ff53au,
    0x510e527fu, 0x9b05688cu, 0x1f83d9abu, 0x5be0cd19u,
};

/* FIPS 180-4 §4.2.2; 16-byte aligned for the SHA-extension loads. */
const uint32_t sha256_round_constants[64] __attribute__((aligned(16))) = {
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

static inline uint32_t ror32(uint32_t x, unsigned n) { return (x >> n) | (x << (32 - n)); }

static inline uint32_t load_be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

_Thread_local uint64_t sha256_blocks_done[2] __attribute__((tls_model("initial-exec")));

void sha256_compress_portable(uint32_t state[8], const uint8_t *blocks, size_t nblocks) {
    uint32_t w[64];
    sha256_blocks_done[0] += nblocks;
    for (; nblocks > 0; nblocks--, blocks += SHA256_BLOCK) {
        for (int t = 0; t < 16; t++) w[t] = load_be32(blocks + 4 * t);
        for (int t = 16; t < 64; t++) {
            uint32_t s0 = ror32(w[t - 15], 7) ^ ror32(w[t - 15], 18) ^ (w[t - 15] >> 3);
            uint32_t s1 = ror32(w[t - 2], 17) ^ ror32(w[t - 2], 19) ^ (w[t - 2] >> 10);
            w[t] = w[t - 16] + s0 + w[t - 7] + s1;
        }
        uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
        uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
        for (int t = 0; t < 64; t++) {
            uint32_t t1 = h + (ror32(e, 6) ^ ror32(e, 11) ^ ror32(e, 25)) +
                          ((e & f) ^ (~e & g)) + sha256_round_constants[t] + w[t];
            uint32_t t2 = (ror32(a, 2) ^ ror32(a, 13) ^ ror32(a, 22)) +
                          ((a & b) ^ (a & c) ^ (b & c));
            h = g; g = f; f = e; e = d + t1;
            d = c; c = b; b = a; a = t1 + t2;
        }
        state[0] += a; state[1] += b; state[2] += c; state[3] += d;
        state[4] += e; state[5] += f; state[6] += g; state[7] += h;
    }
}

/* Portable two-stream form: no interleaving benefit, just the same interface. */
static void sha256_compress2_portable(uint32_t state_a[8], const uint8_t *blocks_a,
                                      uint32_t state_b[8], const uint8_t *blocks_b,
                                      size_t nblocks) {
    sha256_compress_portable(state_a, blocks_a, nblocks);
    sha256_compress_portable(state_b, blocks_b, nblocks);
}

sha256_compress_fn sha256_compress = sha256_compress_portable;
sha256_compress2_fn sha256_compress2 = sha256_compress2_portable;
static int active_backend = 0;

int sha256_select(int wanted) {
    int have_shani = 0;
#if defined(__x86_64__) || defined(__i386__)
    have_shani = sha256_cpu_has_shani();
#endif
    int use = (wanted < 0) ? have_shani : (wanted == 1 && have_shani);
#if defined(__x86_64__) || defined(__i386__)
    if (use) {
        sha256_compress = sha256_compress_shani;
        sha256_compress2 = sha256_compress2_shani;
        active_backend = 1;
        return 1;
    }
#endif
    sha256_compress = sha256_compress_portable;
    sha256_compress2 = sha256_compress2_portable;
    active_backend = 0;
    return 0;
}

int sha256_backend(void) { return active_backend; }

void sha256_state_to_digest(const uint32_t state[8], uint8_t out[SHA256_DIGEST]) {
    for (int i = 0; i < 8; i++) {
        uint32_t be = __builtin_bswap32(state[i]); /* digest words are big-endian */
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        be = state[i];
#endif
        memcpy(out + 4 * i, &be, 4);
    }
}

/* Pad the final `tail_len` (< 64) bytes of a message of `total` bytes and
 * compress the one or two blocks that result. */
static void sha256_finish(uint32_t state[8], const uint8_t *tail, size_t tail_len,
                          uint64_t total) {
    uint8_t buf[2 * SHA256_BLOCK];
    memset(buf, 0, sizeof buf);
    if (tail_len) memcpy(buf, tail, tail_len);
    buf[tail_len] = 0x80;
    size_t nblocks = (tail_len + 1 + 8 > SHA256_BLOCK) ? 2 : 1;
    uint64_t bits = total * 8;
    for (int i = 0; i < 8; i++) buf[nblocks * SHA256_BLOCK - 1 - i] = (uint8_t)(bits >> (8 * i));
    sha256_compress(state, buf, nblocks);
}

void sha256_prefixed(int prefix, const uint8_t *data, size_t len, uint8_t out[SHA256_DIGEST]) {
    uint32_t state[8];
    memcpy(state, sha256_initial_state, sizeof state);
    uint64_t total = (uint64_t)len + (prefix >= 0);
    uint8_t first[SHA256_BLOCK];
    if (prefix >= 0) {
        if (len < SHA256_BLOCK - 1) {
            /* The whole message fits in the tail. */
            first[0] = (uint8_t)prefix;
            if (len) memcpy(first + 1, data, len);
            sha256_finish(state, first, len + 1, total);
            sha256_state_to_digest(state, out);
            return;
        }
        /* The prefix and the first 63 bytes make block 0; the rest of `data`
         * is then block-aligned in place, so no copy of the body is needed. */
        first[0] = (uint8_t)prefix;
        memcpy(first + 1, data, SHA256_BLOCK - 1);
        sha256_compress(state, first, 1);
        data += SHA256_BLOCK - 1;
        len -= SHA256_BLOCK - 1;
    }
    size_t whole = len / SHA256_BLOCK;
    if (whole) sha256_compress(state, data, whole);
    sha256_finish(state, data + whole * SHA256_BLOCK, len % SHA256_BLOCK, total);
    sha256_state_to_digest(state, out);
}
