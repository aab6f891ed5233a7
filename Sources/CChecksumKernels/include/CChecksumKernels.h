// Hardware checksum kernels for BatchRuntime: SHA-256 with the x86 SHA extensions and CRC-32C with the SSE4.2
// crc32 instruction. Each has a "supported" query (CPUID at run time); callers fall back to their portable Swift
// code when it returns 0 (other CPUs, other architectures). No state, thread-safe.
#pragma once
#include <stddef.h>
#include <stdint.h>

/// The 64 round constants K of FIPS 180-4 §4.2.2 (shared with the portable Swift code).
const uint32_t *modscope_sha256_round_constants(void);

/// 1 when this CPU has the SHA extensions (and SSE4.1/SSSE3), else 0.
int modscope_sha256_hardware_supported(void);

/// Compresses `blocks` consecutive 64-byte blocks of `data` into `state` (the eight working words h0..h7 of
/// FIPS 180-4, in order). Only call when `modscope_sha256_hardware_supported()` returned 1.
void modscope_sha256_hardware_blocks(uint32_t state[8], const uint8_t *data, size_t blocks);

/// 1 when this CPU has SSE4.2 (the crc32 instruction, CRC-32C polynomial), else 0.
int modscope_crc32c_hardware_supported(void);

/// Continues a raw (not pre- or post-inverted) reflected CRC-32C register over `count` bytes. Only call when
/// `modscope_crc32c_hardware_supported()` returned 1.
uint32_t modscope_crc32c_hardware_update(uint32_t crc, const uint8_t *data, size_t count);
