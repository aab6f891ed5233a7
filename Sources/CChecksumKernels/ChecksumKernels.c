// See include/CChecksumKernels.h. Written from the instruction definitions in the Intel SDM (SHA256RNDS2,
// SHA256MSG1, SHA256MSG2, CRC32) and FIPS 180-4; checked against Python's hashlib and crc32c in the tests.
#include "CChecksumKernels.h"

#include <string.h>

static const uint32_t round_constants[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

const uint32_t *modscope_sha256_round_constants(void) { return round_constants; }

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>


int modscope_sha256_hardware_supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("sha") && __builtin_cpu_supports("sse4.1") && __builtin_cpu_supports("ssse3") ? 1 : 0;
}

int modscope_crc32c_hardware_supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2") ? 1 : 0;
}

// SHA256RNDS2 keeps the working variables in two registers, named by their dwords from high to low:
// "abef" = (a, b, e, f) and "cdgh" = (c, d, g, h). Two rounds per instruction, taking W[t] + K[t] for both rounds
// from the low two dwords of the third operand.
__attribute__((target("sha,sse4.1,ssse3")))
void modscope_sha256_hardware_blocks(uint32_t state[8], const uint8_t *data, size_t blocks) {
    const __m128i byte_swap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
    __m128i low = _mm_loadu_si128((const __m128i *)&state[0]);   // dwords a b c d (low to high)
    __m128i high = _mm_loadu_si128((const __m128i *)&state[4]);  // dwords e f g h
    low = _mm_shuffle_epi32(low, 0xB1);                          // b a d c
    high = _mm_shuffle_epi32(high, 0x1B);                        // h g f e
    __m128i abef = _mm_alignr_epi8(low, high, 8);                // f e b a
    __m128i cdgh = _mm_blend_epi16(high, low, 0xF0);             // h g d c

    for (size_t block = 0; block < blocks; block++, data += 64) {
        const __m128i abef_before = abef, cdgh_before = cdgh;
        __m128i w[4];  // w[q % 4] holds message words 4q .. 4q+3 of quad q
        for (int quad = 0; quad < 16; quad++) {
            __m128i *current = &w[quad & 3];
            if (quad < 4) {
                *current = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 16 * quad)), byte_swap);
            } else {
                // W[t] = σ1(W[t-2]) + W[t-7] + σ0(W[t-15]) + W[t-16] for t = 4·quad .. 4·quad+3; *current still
                // holds quad-4, w[(quad+1)&3] quad-3, w[(quad+2)&3] quad-2, w[(quad+3)&3] quad-1.
                __m128i sum = _mm_sha256msg1_epu32(*current, w[(quad + 1) & 3]);
                sum = _mm_add_epi32(sum, _mm_alignr_epi8(w[(quad + 3) & 3], w[(quad + 2) & 3], 4));
                *current = _mm_sha256msg2_epu32(sum, w[(quad + 3) & 3]);
            }
            __m128i wk = _mm_add_epi32(*current, _mm_loadu_si128((const __m128i *)&round_constants[4 * quad]));
            cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);  // rounds 4q, 4q+1: now holds the new abef
            wk = _mm_shuffle_epi32(wk, 0x0E);
            abef = _mm_sha256rnds2_epu32(abef, cdgh, wk);  // rounds 4q+2, 4q+3
        }
        abef = _mm_add_epi32(abef, abef_before);
        cdgh = _mm_add_epi32(cdgh, cdgh_before);
    }

    __m128i reversed = _mm_shuffle_epi32(abef, 0x1B);  // a b e f
    __m128i swapped = _mm_shuffle_epi32(cdgh, 0xB1);   // g h c d
    _mm_storeu_si128((__m128i *)&state[0], _mm_blend_epi16(reversed, swapped, 0xF0));  // a b c d
    _mm_storeu_si128((__m128i *)&state[4], _mm_alignr_epi8(swapped, reversed, 8));     // e f g h
}

__attribute__((target("sse4.2")))
uint32_t modscope_crc32c_hardware_update(uint32_t crc, const uint8_t *data, size_t count) {
#if defined(__x86_64__)
    uint64_t wide = crc;
    while (count >= 8) {
        uint64_t word;
        memcpy(&word, data, 8);
        wide = _mm_crc32_u64(wide, word);
        data += 8;
        count -= 8;
    }
    crc = (uint32_t)wide;
#endif
    while (count > 0) {
        crc = _mm_crc32_u8(crc, *data++);
        count--;
    }
    return crc;
}

#else

int modscope_sha256_hardware_supported(void) { return 0; }
int modscope_crc32c_hardware_supported(void) { return 0; }
void modscope_sha256_hardware_blocks(uint32_t state[8], const uint8_t *data, size_t blocks) {
    (void)state; (void)data; (void)blocks;
}
uint32_t modscope_crc32c_hardware_update(uint32_t crc, const uint8_t *data, size_t count) {
    (void)data; (void)count;
    return crc;
}

#endif
