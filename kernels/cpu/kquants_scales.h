/* kquants_scales.h - the K-quants' packed 6-bit scales unpacked to one byte
 * each with 32-bit masks: plain C shared by the AVX2, AVX-512 and NEON
 * kernel files (the layouts are the reference's, engine/quant_ref_kquants*.c). */
#ifndef QLM_CPU_KQUANTS_SCALES_H
#define QLM_CPU_KQUANTS_SCALES_H

#include <stdint.h>
#include <string.h>

/* Q4_K/Q5_K's 12 scale bytes as 8 scales (out[0], out[1]: bytes sc[0..7])
 * and 8 minimums (out[2], out[3]), each 6 bits in a byte: the low 6 bits of
 * bytes 0-7 hold sc[0..3], m[0..3]; bytes 8-11 the low nibbles of sc[4..7]
 * (low) and m[4..7] (high); the top 2 bits of bytes 0-3 (4-7) those of
 * sc[4..7] (m[4..7]). */
static inline void qlm_k4_unpack(const uint8_t *s, uint32_t out[4]) {
    uint32_t u[3];
    memcpy(u, s, 12);
    out[0] = u[0] & 0x3f3f3f3fu;
    out[1] = (u[2] & 0x0f0f0f0fu) | ((u[0] >> 6) & 0x03030303u) << 4;
    out[2] = u[1] & 0x3f3f3f3fu;
    out[3] = ((u[2] >> 4) & 0x0f0f0f0fu) | ((u[1] >> 6) & 0x03030303u) << 4;
}

/* Q3_K's 16 6-bit scales, still offset by +32, as bytes 0-15 of out: bytes
 * 0-7 of the packed field hold the low nibbles (scales 0-7 low halves, 8-15
 * high halves), bytes 8-11 the high bit pairs (scale j at bits 2 (j / 4) of
 * byte 8 + j % 4). */
static inline void qlm_q3_k_unpack(const uint8_t *packed, uint32_t out[4]) {
    uint32_t a[3];
    memcpy(a, packed, 12);
    const uint32_t m2 = 0x03030303u, m4 = 0x0f0f0f0fu;
    out[0] = (a[0] & m4) | ((a[2] & m2) << 4);
    out[1] = (a[1] & m4) | (((a[2] >> 2) & m2) << 4);
    out[2] = ((a[0] >> 4) & m4) | (((a[2] >> 4) & m2) << 4);
    out[3] = ((a[1] >> 4) & m4) | (((a[2] >> 6) & m2) << 4);
}

#endif
