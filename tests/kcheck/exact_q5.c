/* exact_q5.c - kcheck's exact dot products for Q5_0, Q5_1, IQ4_NL and MXFP4
 * (exact.h), read from the raw block fields, independently of
 * quant_ref_q5.c: the integer block dot, times the block scale, summed in
 * double. Every step is exact in double: scales are products of two floats
 * (24-bit significands at most), |isum| < 2^20, and a row has few enough
 * blocks that the sum of such terms loses nothing that matters against the
 * float bounds (relative 2^-53 per addition).
 *
 * Scales as the formats define them (ggml's and ours): Q5_0, IQ4_NL d_x d_y;
 * Q5_1 d_x d_y plus m_x s_y with the activation block's stored s; MXFP4
 * 2^(e - 128) d_y as ONE FLOAT product, because that product is where the
 * definition rounds: for e < 3 it can fall below FLT_MIN and lose bits,
 * which every kernel must reproduce (they all form it the same way), and it
 * must not count against the summation bound. */
#include <math.h>
#include <stdlib.h>

#include "exact.h"

static int q5_quant(const uint8_t *qs, const uint8_t *qh, int j) {
    const int lo = j < 16 ? qs[j] & 0x0f : qs[j - 16] >> 4;
    return lo | ((qh[j / 8] >> (j % 8)) & 1) << 4;
}

/* One block's weight quant j, as the integer the format multiplies. */
static int weight_quant(qlm_type t, const void *blk, int j) {
    switch (t) {
    case QLM_TYPE_Q5_0: {
        const qlm_block_q5_0 *b = blk;
        return q5_quant(b->qs, b->qh, j) - 16;
    }
    case QLM_TYPE_Q5_1: {
        const qlm_block_q5_1 *b = blk;
        return q5_quant(b->qs, b->qh, j);
    }
    case QLM_TYPE_IQ4_NL: {
        const qlm_block_iq4_nl *b = blk;
        return qlm_kvalues_iq4nl[j < 16 ? b->qs[j] & 0x0f : b->qs[j - 16] >> 4];
    }
    default: {
        const qlm_block_mxfp4 *b = blk;
        return qlm_kvalues_mxfp4[j < 16 ? b->qs[j] & 0x0f : b->qs[j - 16] >> 4];
    }
    }
}

/* The block's scale (and Q5_1's offset term m_x s_y in *off). */
static double block_scale(qlm_type t, const void *w, const void *a, double *off) {
    *off = 0;
    if (t == QLM_TYPE_Q5_1) {
        const qlm_block_q5_1 *b = w;
        const qlm_block_q8_1 *y = a;
        *off = (double)qlm_fp16_to_fp32(b->m) * qlm_fp16_to_fp32(y->s);
        return (double)qlm_fp16_to_fp32(b->d) * qlm_fp16_to_fp32(y->d);
    }
    const float dy = qlm_fp16_to_fp32(((const qlm_block_q8_0 *)a)->d);
    if (t == QLM_TYPE_MXFP4) {
        const float d = qlm_e8m0_half(((const qlm_block_mxfp4 *)w)->e) * dy;
        return d;
    }
    const uint16_t dx = t == QLM_TYPE_Q5_0 ? ((const qlm_block_q5_0 *)w)->d : ((const qlm_block_iq4_nl *)w)->d;
    return (double)qlm_fp16_to_fp32(dx) * dy;
}

int kcheck_exact_dot_q5(qlm_type wtype, const void *w, const void *a, int64_t n, double *want, double *mag) {
    if (wtype != QLM_TYPE_Q5_0 && wtype != QLM_TYPE_Q5_1 && wtype != QLM_TYPE_IQ4_NL && wtype != QLM_TYPE_MXFP4)
        return 0;
    const qlm_type_traits *tt = qlm_type_traits_get(wtype), *at = qlm_type_traits_get(tt->vec_dot_type);
    double sum = 0, abs_sum = 0;
    for (int64_t b = 0; b < n / 32; b++) {
        const char *wb = (const char *)w + b * tt->type_size, *ab = (const char *)a + b * at->type_size;
        /* Q8_0 and Q8_1 blocks keep their 32 quants after the 2 or 4 header bytes */
        const int8_t *q8 = (const int8_t *)(ab + (at->type_size - 32));
        long long isum = 0, iabs = 0;
        for (int j = 0; j < 32; j++) {
            const long long p = (long long)weight_quant(wtype, wb, j) * q8[j];
            isum += p, iabs += llabs(p);
        }
        double off;
        const double d = block_scale(wtype, wb, ab, &off);
        sum += d * (double)isum + off, abs_sum += fabs(d) * (double)iabs + fabs(off);
    }
    *want = sum, *mag = abs_sum;
    return 1;
}
