/* crc32c: CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of Kafka's record
 * batch v2. Slicing-by-8 tables built once; with SSE4.2 and PCLMULQDQ, the crc32 instruction on
 * three interleaved streams. */
#include "sluice/core.h"

#define CRC32C_POLY 0x82F63B78u

static uint32_t table[8][256];
static int table_ready;

static void table_build(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t crc = i;
        for (int k = 0; k < 8; k++)
            crc = (crc & 1) ? (crc >> 1) ^ CRC32C_POLY : crc >> 1;
        table[0][i] = crc;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xff];
    table_ready = 1;
}

#if defined(__x86_64__)
#include <immintrin.h>

/* The crc32 instruction takes 3 cycles but can start one every cycle, so one dependent chain of
 * 8-byte steps uses a third of it. Three independent chains over three adjacent blocks keep it
 * busy; their CRCs are then joined: crc(A || B || C) = shift(crc A, |B| + |C|) ^ shift(crc B, |C|)
 * ^ crc C, where shift(c, n) = c * x^(8n) mod P. With the reflected operands of the instruction
 * set, pclmulqdq(c, x^(8n-33) mod P) is c * x^(8n-32) as a 64-bit value, and crc32q(0, v) is
 * v * x^32 mod P, so one multiply and one crc32q shift a CRC by n bytes (both blocks' shifts are
 * added before the crc32q, which is linear). Measured in docs/performance.md ("CRC-32C"). */
typedef struct {
    size_t block_bytes;   /* one chain's share; a multiple of 8 */
    uint32_t shift_block; /* x^(8 * block_bytes - 33) mod P, reflected */
    uint32_t shift_two;   /* x^(16 * block_bytes - 33) mod P, reflected */
} crc32c_tier_t;

/* Large blocks for large batches (less joining), small ones so that a 1 KiB batch still runs three
 * chains. tests/unit/core checks the constants against a bit-at-a-time computation. */
static const crc32c_tier_t crc32c_tiers[] = {
    {8192, 0x54a86326u, 0x1dc403ccu},
    {1024, 0x170076fau, 0xa51b6135u},
    {128, 0x0d3b6092u, 0xb9e02b86u},
};

__attribute__((target("sse4.2,pclmul"))) static uint64_t crc32c_shift_join(uint64_t a, uint64_t b,
                                                                           const crc32c_tier_t *t)
{
    __m128i pa = _mm_clmulepi64_si128(_mm_cvtsi32_si128((int)(uint32_t)a),
                                      _mm_cvtsi32_si128((int)t->shift_two), 0);
    __m128i pb = _mm_clmulepi64_si128(_mm_cvtsi32_si128((int)(uint32_t)b),
                                      _mm_cvtsi32_si128((int)t->shift_block), 0);
    return _mm_crc32_u64(0, (uint64_t)_mm_cvtsi128_si64(_mm_xor_si128(pa, pb)));
}

__attribute__((target("sse4.2,pclmul"))) static uint32_t crc32c_hw(uint32_t crc, const uint8_t *p,
                                                                   size_t len)
{
    uint64_t c = crc;
    for (size_t i = 0; i < sizeof crc32c_tiers / sizeof crc32c_tiers[0]; i++) {
        const crc32c_tier_t *t = &crc32c_tiers[i];
        size_t block = t->block_bytes;
        while (len >= 3 * block) {
            uint64_t a = c, b = 0, d = 0;
            for (const uint8_t *end = p + block; p < end; p += 8) {
                uint64_t wa, wb, wd;
                __builtin_memcpy(&wa, p, 8);
                __builtin_memcpy(&wb, p + block, 8);
                __builtin_memcpy(&wd, p + 2 * block, 8);
                a = _mm_crc32_u64(a, wa);
                b = _mm_crc32_u64(b, wb);
                d = _mm_crc32_u64(d, wd);
            }
            c = crc32c_shift_join(a, b, t) ^ d;
            p += 2 * block;
            len -= 3 * block;
        }
    }
    while (len >= 8) {
        uint64_t word;
        __builtin_memcpy(&word, p, 8);
        c = _mm_crc32_u64(c, word);
        p += 8;
        len -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (len-- > 0)
        c32 = _mm_crc32_u8(c32, *p++);
    return c32;
}
#endif

static uint32_t crc32c_sw(uint32_t crc, const uint8_t *p, size_t len)
{
    if (!table_ready)
        table_build();
    while (len >= 8) {
        uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                             (uint32_t)p[3] << 24);
        crc = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^ table[5][(lo >> 16) & 0xff] ^
              table[4][lo >> 24] ^ table[3][p[4]] ^ table[2][p[5]] ^ table[1][p[6]] ^
              table[0][p[7]];
        p += 8;
        len -= 8;
    }
    while (len-- > 0)
        crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
    return crc;
}

uint32_t sl_crc32c(uint32_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;
    crc = ~crc;
#if defined(__x86_64__)
    if (__builtin_cpu_supports("sse4.2") && __builtin_cpu_supports("pclmul"))
        return ~crc32c_hw(crc, p, len);
#endif
    return ~crc32c_sw(crc, p, len);
}
