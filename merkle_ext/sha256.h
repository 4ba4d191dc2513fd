/* SHA-256 for the Merkle engine: compression functions and run-time dispatch.
 *
 * Only what RFC 6962 hashing needs: a compression function over whole 64-byte
 * blocks, chosen once at run time (Intel SHA extensions when the CPU has them,
 * portable C otherwise), and a one-shot hash with a one-byte domain prefix.
 */
#ifndef REKOR_PY_SHA256_H
#define REKOR_PY_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_BLOCK 64
#define SHA256_DIGEST 32

/* Compress `nblocks` consecutive 64-byte blocks into `state`. */
typedef void (*sha256_compress_fn)(uint32_t state[8], const uint8_t *blocks, size_t nblocks);

/* Compress two independent messages of the same block count at once.  With the
 * SHA extensions two interleaved streams hide the latency of sha256rnds2, which
 * is where batch node hashing gets its speed. */
typedef void (*sha256_compress2_fn)(uint32_t state_a[8], const uint8_t *blocks_a,
                                    uint32_t state_b[8], const uint8_t *blocks_b,
                                    size_t nblocks);

extern const uint32_t sha256_initial_state[8];
extern const uint32_t sha256_round_constants[64];

void sha256_compress_portable(uint32_t state[8], const uint8_t *blocks, size_t nblocks);
#if defined(__x86_64__) || defined(__i386__)
void sha256_compress_shani(uint32_t state[8], const uint8_t *blocks, size_t nblocks);
void sha256_compress2_shani(uint32_t state_a[8], const uint8_t *blocks_a,
                            uint32_t state_b[8], const uint8_t *blocks_b, size_t nblocks);
int sha256_cpu_has_shani(void);
#endif

/* Blocks each compressor has processed on the calling thread, [0] portable and
 * [1] SHA extensions: counted by the compressors themselves, so a test can tell
 * which one really ran (not just which one sha256_backend() names).  Per thread,
 * so parallel hashing shares no counter cache line. */
extern _Thread_local uint64_t sha256_blocks_done[2]
    __attribute__((tls_model("initial-exec")));

/* The active implementation, selected by sha256_select(). */
extern sha256_compress_fn sha256_compress;
extern sha256_compress2_fn sha256_compress2;

/* Select a backend: 1 = SHA extensions, 0 = portable, -1 = best available.
 * Returns the backend now in use (1 or 0).  Not thread-safe; call at import. */
int sha256_select(int wanted);
int sha256_backend(void);

/* SHA-256(prefix || data[0:len]); prefix < 0 means no prefix byte. */
void sha256_prefixed(int prefix, const uint8_t *data, size_t len, uint8_t out[SHA256_DIGEST]);

/* Store the state words big-endian: the digest. */
void sha256_state_to_digest(const uint32_t state[8], uint8_t out[SHA256_DIGEST]);

#endif
