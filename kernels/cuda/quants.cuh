// quants.cuh - the weight formats as the CUDA kernels read them: for every
// quantized type, group g (16 consecutive values) of a row unpacked into 16
// signed bytes q and floats d, m with
//
//     value_i = d * q_i + m          (has_min types; m = 0 and no add otherwise)
//
// exactly as the CPU reference dequantizer (engine/quant_ref*.c) computes it:
// d is the same float (the block scale times the sub-block scale, one
// product, as the reference forms it), q_i the same integer, and the value
// is d * q rounded, then + m rounded (qlm_dequant1; m is the negated
// subtracted minimum, and p + (-mj) is p - mj exactly). So a dequantized row
// is bit-identical to the type's to_float, and the int8 matmul can use q
// directly: sum_i value_i a_i = d * dot(q, a) + m * sum(a).
//
// Every q fits a signed byte: 4/5-bit quants minus their offset, Q3_K's
// signed 3-bit, Q6_K's q - 32, the IQ4 table values (-127..113), MXFP4's
// doubled E2M1 values (-12..12, with the halved E8M0 scale as d), the
// ternary -1..1 (TQ2_0's unused field 3 reads as 2, as in ggml).
//
// Host and device run the same functions (QLM_HD): the tests call them on
// the host, the emulator runs the kernels there too. Loads assume a row
// starts where a whole number of blocks of a 4-byte aligned base would
// (the upload aligns each tensor to 256 bytes): 4-byte loads where a
// type's block size and field offsets are multiples of 4, 2-byte loads
// where they are even, byte loads for MXFP4 (17-byte blocks).
#ifndef QLM_CUDA_QUANTS_CUH
#define QLM_CUDA_QUANTS_CUH

#include <stdint.h>
#include <string.h>

#include "common.cuh"
extern "C" {
#include "types.h"
}

// ------------------------------------------------------------ float ops

// d * q and p + m without fusing them into an FMA (nvcc fuses a * b + c by
// default), so the dequantized value rounds twice, as the reference's.
QLM_HD float qlm_fmul(float a, float b) {
#if defined(__CUDA_ARCH__)
    return __fmul_rn(a, b);
#else
    return a * b;
#endif
}

QLM_HD float qlm_fadd(float a, float b) {
#if defined(__CUDA_ARCH__)
    return __fadd_rn(a, b);
#else
    return a + b;
#endif
}

// ---------------------------------------------------------------- loads

// A load the GPU would fault on (misaligned) aborts in the emulator, whose
// host loads (memcpy) would not notice; elsewhere this is nothing.
#if defined(QLM_CUDA_EMU)
#include <stdio.h>
#include <stdlib.h>
static inline void qlm_check_align(const void *p, unsigned a) {
    if ((uintptr_t)p % a == 0) return;
    fprintf(stderr, "qlm emu: %u-byte load from %p, not %u-byte aligned (a GPU would fault)\n", a, p, a);
    abort();
}
#else
QLM_HD void qlm_check_align(const void *, unsigned) {}
#endif

QLM_HD uint32_t qlm_ld_u16(const uint8_t *p) { // p 2-byte aligned
#if defined(__CUDA_ARCH__)
    return *(const uint16_t *)p;
#else
    qlm_check_align(p, 2);
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
#endif
}

QLM_HD uint32_t qlm_ld32_a4(const uint8_t *p) { // p 4-byte aligned
#if defined(__CUDA_ARCH__)
    return *(const uint32_t *)p;
#else
    qlm_check_align(p, 4);
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
#endif
}

QLM_HD uint32_t qlm_ld32_a2(const uint8_t *p) { // p 2-byte aligned
    return qlm_ld_u16(p) | qlm_ld_u16(p + 2) << 16;
}

QLM_HD uint32_t qlm_ld32_a1(const uint8_t *p) { return (uint32_t)qlm_load_i32(p); }

QLM_HD float qlm_ld_half(const uint8_t *p) { return qlm_h2f((uint16_t)qlm_ld_u16(p)); }

// ------------------------------------------------------ byte arithmetic

// Each of v's four bytes (each 0..127) minus k (<= 128), as signed bytes:
// the set top bit absorbs the borrow, so no byte disturbs its neighbour.
QLM_HD int qlm_bytes_sub(uint32_t v, uint32_t k) {
    return (int)(((v | 0x80808080u) - k * 0x01010101u) ^ 0x80808080u);
}

// Bit b (0..3) of x to bit 8b: four flag bits onto four bytes.
QLM_HD uint32_t qlm_spread4(uint32_t x) {
    return (x & 1u) | (x & 2u) << 7 | (x & 4u) << 14 | (x & 8u) << 21;
}

// ------------------------------------------------------- lookup tables

// The 16 values of a 4-bit lookup format packed into two 64-bit constants
// (entry i in byte i % 8 of lo or hi): one definition that host and device
// code read without a memory table (a __constant__ array serializes lanes
// that index it differently). The tests hold every entry to the engine's
// qlm_kvalues_* through the bit-exact dequantization.
#define QLM_PACK8(a, b, c, d, e, f, g, h)                                                                 \
    ((uint64_t)(uint8_t)(a) | (uint64_t)(uint8_t)(b) << 8 | (uint64_t)(uint8_t)(c) << 16 |                \
     (uint64_t)(uint8_t)(d) << 24 | (uint64_t)(uint8_t)(e) << 32 | (uint64_t)(uint8_t)(f) << 40 |         \
     (uint64_t)(uint8_t)(g) << 48 | (uint64_t)(uint8_t)(h) << 56)
static constexpr uint64_t qlm_iq4nl_lo = QLM_PACK8(-127, -104, -83, -65, -49, -35, -22, -10);
static constexpr uint64_t qlm_iq4nl_hi = QLM_PACK8(1, 13, 25, 38, 53, 69, 89, 113);
// MXFP4: E2M1 values doubled (0, 0.5, 1, 1.5, 2, 3, 4, 6 and negatives).
static constexpr uint64_t qlm_mxfp4_lo = QLM_PACK8(0, 1, 2, 3, 4, 6, 8, 12);
static constexpr uint64_t qlm_mxfp4_hi = QLM_PACK8(0, -1, -2, -3, -4, -6, -8, -12);

// Each byte of idx (a 4-bit index) replaced by its table entry.
// Tuning: on the device two __byte_perm (prmt) over the four 32-bit table
// words do all four lookups.
QLM_HD int qlm_lut16(uint32_t idx, uint64_t lo, uint64_t hi) {
    uint32_t out = 0;
    for (int b = 0; b < 4; b++) {
        const uint32_t i = (idx >> 8 * b) & 15u;
        const uint32_t v = (uint32_t)((i < 8 ? lo : hi) >> 8 * (i & 7)) & 0xffu;
        out |= v << 8 * b;
    }
    return (int)out;
}

// 2^(e - 128): half the E8M0 scale (the MXFP4 kvalues are doubled), exact
// for every e; the bits of engine/types.h's qlm_e8m0_half.
QLM_HD float qlm_e8m0_half_hd(uint32_t e) { return qlm_u2f(e < 2 ? 0x00200000u << e : (e - 1) << 23); }

// -------------------------------------------------------------- formats

// qlm_qfmt<T>: values and bytes per block, whether value = d q + m has an
// m, and unpack(block, g, q, d, m) for group g of the block (0 <= g <
// block_values / 16). Specialized for every quantized type the engine
// reads (qlm_type_traits_get(t)->to_float and ->vec_dot).
template <int T> struct qlm_qfmt;

// 4-bit nibbles of 16 bytes at p (nibble = 0 low, 1 high) into q.
#define QLM_NIBBLES(LOAD, p, shift, q, EXPR)                                                              \
    for (int k_ = 0; k_ < 4; k_++) {                                                                       \
        const uint32_t v_ = (LOAD((p) + 4 * k_) >> (shift)) & 0x0f0f0f0fu;                                  \
        (q)[k_] = (EXPR);                                                                                  \
    }

template <> struct qlm_qfmt<QLM_TYPE_Q4_0> {
    static constexpr int block_values = 32, block_bytes = 18;
    static constexpr bool has_min = false;
    // d (q - 8); group 0 the low nibbles of qs[0..15], group 1 the high ones
    static QLM_HD void unpack(const uint8_t *b, int g, int q[4], float &d, float &m) {
        d = qlm_ld_half(b), m = 0.0f;
        QLM_NIBBLES(qlm_ld32_a2, b + 2, 4 * g, q, qlm_bytes_sub(v_, 8));
    }
};

template <> struct qlm_qfmt<QLM_TYPE_Q4_1> {
    static constexpr int block_values = 32, block_bytes = 20;
    static constexpr bool has_min = true;
    static QLM_HD void unpack(const uint8_t *b, int g, int q[4], float &d, float &m) {
        d = qlm_ld_half(b), m = qlm_ld_half(b + 2);
        QLM_NIBBLES(qlm_ld32_a4, b + 4, 4 * g, q, (int)v_);
    }
};

// Q5: value j's fifth bit is bit j of qh: bits 16 g + 4 k .. + 3 for int k
// of group g, moved to bit 4 of each byte.
template <> struct qlm_qfmt<QLM_TYPE_Q5_0> {
    static constexpr int block_values = 32, block_bytes = 22;
    static constexpr bool has_min = false;
    static QLM_HD void unpack(const uint8_t *b, int g, int q[4], float &d, float &m) {
        d = qlm_ld_half(b), m = 0.0f;
        const uint32_t qh = qlm_ld32_a2(b + 2);
        QLM_NIBBLES(qlm_ld32_a2, b + 6, 4 * g, q,
                    qlm_bytes_sub(v_ | qlm_spread4((qh >> (16 * g + 4 * k_)) & 15u) << 4, 16));
    }
};

template <> struct qlm_qfmt<QLM_TYPE_Q5_1> {
    static constexpr int block_values = 32, block_bytes = 24;
    static constexpr bool has_min = true;
    static QLM_HD void unpack(const uint8_t *b, int g, int q[4], float &d, float &m) {
        d = qlm_ld_half(b), m = qlm_ld_half(b + 2);
        const uint32_t qh = qlm_ld32_a4(b + 4);
        QLM_NIBBLES(qlm_ld32_a4, b + 8, 4 * g, q, (int)(v_ | qlm_spread4((qh >> (16 * g + 4 * k_)) & 15u) << 4));
    }
};

template <> struct qlm_qfmt<QLM_TYPE_Q8_0> {
    static constexpr int block_values = 32, block_bytes = 34;
    static constexpr bool has_min = false;
    static QLM_HD void unpack(const uint8_t *b, int g, int q[4], float &d, float &m) {
        d = qlm_ld_half(b), m = 0.0f;
        for (int k = 0; k < 4; k++) q[k] = (int)qlm_ld32_a2(b + 2 + 16 * g + 4 * k);
    }
};

template <> struct qlm_qfmt<QLM_TYPE_IQ4_NL> {
    static constexpr int block_values = 32, block_bytes = 18;
    static constexpr bool has_min = false;
    static QLM_HD void unpack(const uint8_t *b, int g, int q[4], float &d, float &m) {
        d = qlm_ld_half(b), m = 0.0f;
        QLM_NIBBLES(qlm_ld32_a2, b + 2, 4 * g, q, qlm_lut16(v_, qlm_iq4nl_lo, qlm_iq4nl_hi));
    }
};

template <> struct qlm_qfmt<QLM_TYPE_MXFP4> {
    static constexpr int block_values = 32, block_bytes = 17;
    static constexpr bool has_min = false;
    static QLM_HD void unpack(const uint8_t *b, int g, int q[4], float &d, float &m) {
        d = qlm_e8m0_half_hd(b[0]), m = 0.0f;
        QLM_NIBBLES(qlm_ld32_a1, b + 1, 4 * g, q, qlm_lut16(v_, qlm_mxfp4_lo, qlm_mxfp4_hi));
    }
};

// Q2_K, Q3_K, TQ2_0: 2-bit fields; value i of a super-block sits in byte
// 32 (i / 128) + i % 32 at bits 2 ((i % 128) / 32). For group g that is 16
// consecutive bytes from 32 (g / 8) + 16 (g % 2), shifted by 2 ((g % 8) / 2).
QLM_HD int qlm_2bit_offset(int g) { return 32 * (g / 8) + 16 * (g % 2); }
QLM_HD int qlm_2bit_shift(int g) { return 2 * ((g % 8) / 2); }

template <> struct qlm_qfmt<QLM_TYPE_Q2_K> {
    static constexpr int block_values = 256, block_bytes = 84;
    static constexpr bool has_min = true;
    // scales[16] | qs[64] | d | dmin; value = d (sc & 15) q - dmin (sc >> 4)
    static QLM_HD void unpack(const uint8_t *b, int g, int q[4], float &d, float &m) {
        const uint32_t sc = b[g];
        d = qlm_fmul(qlm_ld_half(b + 80), (float)(sc & 15u));
        m = -qlm_fmul(qlm_ld_half(b + 82), (float)(sc >> 4));
        const uint8_t *qs = b + 16 + qlm_2bit_offset(g);
        for (int k = 0; k < 4; k++) q[k] = (int)((qlm_ld32_a4(qs + 4 * k) >> qlm_2bit_shift(g)) & 0x03030303u);
    }
};

template <> struct qlm_qfmt<QLM_TYPE_Q3_K> {
    static constexpr int block_values = 256, block_bytes = 110;
    static constexpr bool has_min = false;
    // hmask[32] | qs[64] | scales[12] | d. 6-bit scale j: low 4 bits in
    // scales[j] (j < 8) or scales[j - 8] >> 4, high 2 at bit 2 (j / 4) of
    // scales[8 + j % 4]; value = d (sc - 32) (q2 | hbit << 2) - 4), the high
    // bit of value i at bit i / 32 of hmask[i % 32].
    static QLM_HD void unpack(const uint8_t *b, int g, int q[4], float &d, float &m) {
        const uint8_t *s = b + 96;
        const uint32_t lo = g < 8 ? s[g] & 15u : (uint32_t)s[g - 8] >> 4;
        const int sc = (int)(lo | ((s[8 + g % 4] >> (2 * (g / 4))) & 3u) << 4) - 32;
        d = qlm_fmul(qlm_ld_half(b + 108), (float)sc), m = 0.0f;
        const uint8_t *qs = b + 32 + qlm_2bit_offset(g), *hm = b + 16 * (g % 2);
        for (int k = 0; k < 4; k++) {
            const uint32_t low = (qlm_ld32_a2(qs + 4 * k) >> qlm_2bit_shift(g)) & 0x03030303u;
            const uint32_t high = (qlm_ld32_a2(hm + 4 * k) >> (g / 2)) & 0x01010101u;
            q[k] = qlm_bytes_sub(low | high << 2, 4);
        }
    }
};

// Q4_K / Q5_K: 6-bit scale and min of sub-block j (32 values) from the 12
// packed bytes (engine/quant_ref_kquants.c's k4_scale_min).
QLM_HD void qlm_k4_scale_min(int j, const uint8_t *s, uint32_t &sc, uint32_t &mn) {
    if (j < 4) {
        sc = s[j] & 63u, mn = s[j + 4] & 63u;
    } else {
        sc = (s[j + 4] & 15u) | (uint32_t)(s[j - 4] >> 6) << 4;
        mn = (uint32_t)(s[j + 4] >> 4) | (uint32_t)(s[j] >> 6) << 4;
    }
}

// d = D sc, m = -(Dmin mn) for sub-block j of a Q4_K/Q5_K block b.
QLM_HD void qlm_k4_dm(const uint8_t *b, int j, float &d, float &m) {
    uint32_t sc, mn;
    qlm_k4_scale_min(j, b + 4, sc, mn);
    d = qlm_fmul(qlm_ld_half(b), (float)sc);
    m = -qlm_fmul(qlm_ld_half(b + 2), (float)mn);
}

template <> struct qlm_qfmt<QLM_TYPE_Q4_K> {
    static constexpr int block_values = 256, block_bytes = 144;
    static constexpr bool has_min = true;
    // d | dmin | scales[12] | qs[128]: sub-block j = g / 2 in the low (j
    // even) or high nibbles of qs[32 (j / 2) ..], group g the half g % 2.
    static QLM_HD void unpack(const uint8_t *b, int g, int q[4], float &d, float &m) {
        const int j = g / 2;
        qlm_k4_dm(b, j, d, m);
        QLM_NIBBLES(qlm_ld32_a4, b + 16 + 32 * (j / 2) + 16 * (g % 2), 4 * (j % 2), q, (int)v_);
    }
};

template <> struct qlm_qfmt<QLM_TYPE_Q5_K> {
    static constexpr int block_values = 256, block_bytes = 176;
    static constexpr bool has_min = true;
    // d | dmin | scales[12] | qh[32] | qs[128]: as Q4_K plus value l of
    // sub-block j's fifth bit at bit j of qh[l].
    static QLM_HD void unpack(const uint8_t *b, int g, int q[4], float &d, float &m) {
        const int j = g / 2;
        qlm_k4_dm(b, j, d, m);
        const uint8_t *qh = b + 16 + 16 * (g % 2);
        QLM_NIBBLES(qlm_ld32_a4, b + 48 + 32 * (j / 2) + 16 * (g % 2), 4 * (j % 2), q,
                    (int)(v_ | ((qlm_ld32_a4(qh + 4 * k_) >> j) & 0x01010101u) << 4));
    }
};

template <> struct qlm_qfmt<QLM_TYPE_Q6_K> {
    static constexpr int block_values = 256, block_bytes = 210;
    static constexpr bool has_min = false;
    // ql[128] | qh[64] | scales[16] (int8) | d; value = d scales[g] (q - 32).
    // Half h = g / 8 of 128 values, quarter r = (g % 8) / 2 of it: low 4
    // bits in the low (r < 2) or high nibbles of ql[64 h + 32 (r & 1) ..],
    // top 2 bits at bits 2 r of qh[32 h ..]; group g the 16 from 16 (g % 2).
    static QLM_HD void unpack(const uint8_t *b, int g, int q[4], float &d, float &m) {
        const int h = g / 8, r = (g % 8) / 2;
        d = qlm_fmul(qlm_ld_half(b + 208), (float)(int8_t)b[192 + g]), m = 0.0f;
        const uint8_t *qh = b + 128 + 32 * h + 16 * (g % 2);
        QLM_NIBBLES(qlm_ld32_a2, b + 64 * h + 32 * (r & 1) + 16 * (g % 2), r < 2 ? 0 : 4, q,
                    qlm_bytes_sub(v_ | ((qlm_ld32_a2(qh + 4 * k_) >> (2 * r)) & 0x03030303u) << 4, 32));
    }
};

template <> struct qlm_qfmt<QLM_TYPE_IQ4_XS> {
    static constexpr int block_values = 256, block_bytes = 136;
    static constexpr bool has_min = false;
    // d | scales_h (u16) | scales_l[4] | qs[128]; sub-block ib = g / 2 has
    // the 6-bit ls (low 4 bits nibble ib % 2 of scales_l[ib / 2], high 2 at
    // bits 2 ib of scales_h), value = d (ls - 32) kvalues[q], q in the low
    // (first 16) or high (last 16) nibbles of qs[16 ib ..].
    static QLM_HD void unpack(const uint8_t *b, int g, int q[4], float &d, float &m) {
        const int ib = g / 2;
        const uint32_t lo = (uint32_t)(b[4 + ib / 2] >> (4 * (ib % 2))) & 15u;
        const int ls = (int)(lo | ((qlm_ld_u16(b + 2) >> (2 * ib)) & 3u) << 4) - 32;
        d = qlm_fmul(qlm_ld_half(b), (float)ls), m = 0.0f;
        QLM_NIBBLES(qlm_ld32_a4, b + 8 + 16 * ib, 4 * (g % 2), q, qlm_lut16(v_, qlm_iq4nl_lo, qlm_iq4nl_hi));
    }
};

// Trit n (0..4) of a TQ1_0 byte: ((byte * 3^n mod 256) * 3 >> 8) - 1.
QLM_HD int qlm_trit(uint32_t byte, int n) {
    const uint32_t pow3 = (uint32_t)(0x511b090301ull >> 8 * n) & 0xffu;
    return (int)((((byte * pow3) & 0xffu) * 3u) >> 8) - 1;
}

template <> struct qlm_qfmt<QLM_TYPE_TQ1_0> {
    static constexpr int block_values = 256, block_bytes = 54;
    static constexpr bool has_min = false;
    // qs[48] | qh[4] | d. Values 0..159: trit i / 32 of qs[i % 32]; 160..239:
    // trit (i - 160) / 16 of qs[32 + i % 16]; 240..255: trit (i - 240) / 4
    // of qh[i % 4]. So group g < 10 is trit g / 2 of qs[16 (g % 2) ..], g <
    // 15 trit g - 10 of qs[32 ..], g = 15 trit k / 4 of qh[k % 4].
    static QLM_HD void unpack(const uint8_t *b, int g, int q[4], float &d, float &m) {
        d = qlm_ld_half(b + 52), m = 0.0f;
        for (int k = 0; k < 4; k++) {
            uint32_t packed = 0;
            for (int i = 0; i < 4; i++) {
                const int l = 4 * k + i;
                const int t = g < 10 ? qlm_trit(b[16 * (g % 2) + l], g / 2)
                              : g < 15 ? qlm_trit(b[32 + l], g - 10)
                                       : qlm_trit(b[48 + l % 4], l / 4);
                packed |= (uint32_t)(t & 0xff) << 8 * i;
            }
            q[k] = (int)packed;
        }
    }
};

template <> struct qlm_qfmt<QLM_TYPE_TQ2_0> {
    static constexpr int block_values = 256, block_bytes = 66;
    static constexpr bool has_min = false;
    // qs[64] | d; value = d (q - 1), q in Q2_K's 2-bit layout.
    static QLM_HD void unpack(const uint8_t *b, int g, int q[4], float &d, float &m) {
        d = qlm_ld_half(b + 64), m = 0.0f;
        const uint8_t *qs = b + qlm_2bit_offset(g);
        for (int k = 0; k < 4; k++)
            q[k] = qlm_bytes_sub((qlm_ld32_a2(qs + 4 * k) >> qlm_2bit_shift(g)) & 0x03030303u, 1);
    }
};

#undef QLM_NIBBLES

// ------------------------------------------------------------ row access

// Group g (16 values from 16 g) of a row of type T.
template <int T> QLM_HD void qlm_unpack16(const uint8_t *row, int64_t g, int q[4], float &d, float &m) {
    typedef qlm_qfmt<T> F;
    constexpr int per_block = F::block_values / 16;
    qlm_qfmt<T>::unpack(row + (g / per_block) * F::block_bytes, (int)(g % per_block), q, d, m);
}

// Byte i (0..15) of the unpacked q as an int.
QLM_HD int qlm_q_at(const int q[4], int i) { return (int)(int8_t)(q[i / 4] >> 8 * (i % 4)); }

// One value as the reference dequantizer rounds it.
template <int T> QLM_HD float qlm_dequant1(float d, float m, int qi) {
    const float p = qlm_fmul(d, (float)qi);
    return qlm_qfmt<T>::has_min ? qlm_fadd(p, m) : p;
}

// Element i of a float-type row (F32, F16, BF16) as a float, exactly.
template <int T> QLM_HD float qlm_float_at(const void *row, int64_t i);
template <> QLM_HD float qlm_float_at<QLM_TYPE_F32>(const void *row, int64_t i) { return ((const float *)row)[i]; }
template <> QLM_HD float qlm_float_at<QLM_TYPE_F16>(const void *row, int64_t i) {
    return qlm_h2f(((const uint16_t *)row)[i]);
}
template <> QLM_HD float qlm_float_at<QLM_TYPE_BF16>(const void *row, int64_t i) {
    return qlm_bf2f(((const uint16_t *)row)[i]);
}

// Calls F::template run<T>(args...) for the quantized weight type t (the
// dispatch every kernel family shares); returns false for other types.
template <class F, class... A> static inline bool qlm_dispatch_quant(int t, A &&...args) {
    switch (t) {
#define QLM_CASE(T)                                                                                        \
    case T:                                                                                                \
        F::template run<T>(args...);                                                                       \
        return true;
        QLM_CASE(QLM_TYPE_Q4_0)
        QLM_CASE(QLM_TYPE_Q4_1)
        QLM_CASE(QLM_TYPE_Q5_0)
        QLM_CASE(QLM_TYPE_Q5_1)
        QLM_CASE(QLM_TYPE_Q8_0)
        QLM_CASE(QLM_TYPE_IQ4_NL)
        QLM_CASE(QLM_TYPE_MXFP4)
        QLM_CASE(QLM_TYPE_Q2_K)
        QLM_CASE(QLM_TYPE_Q3_K)
        QLM_CASE(QLM_TYPE_Q4_K)
        QLM_CASE(QLM_TYPE_Q5_K)
        QLM_CASE(QLM_TYPE_Q6_K)
        QLM_CASE(QLM_TYPE_IQ4_XS)
        QLM_CASE(QLM_TYPE_TQ1_0)
        QLM_CASE(QLM_TYPE_TQ2_0)
#undef QLM_CASE
    default:
        return false;
    }
}

#endif
