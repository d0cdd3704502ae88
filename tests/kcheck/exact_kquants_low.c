/* exact_kquants_low.c - kcheck's exact dot products (exact.h) for Q2_K, Q3_K,
 * IQ4_XS, TQ1_0 and TQ2_0 against Q8_K activations, from the raw block fields and the
 * activation block's qs and d (not its bsums, which the kernels use: a wrong
 * bsums would show as an error).
 *
 * Per block the format's value is d_x d_y (isum) - dmin_x d_y (msum) with
 * integer sums (msum only for Q2_K), exact here in int64; d_x d_y (an
 * 11-bit by 24-bit product) is exact in double, and the products and sums
 * in double err by about 2^-53 relative, nothing against the bounds. mag is sum |terms| split
 * the same way, sum |d_x d_y sc q a| + sum |dmin_x d_y m a|, which bounds
 * |t0| + |t1| of every block and every partial sum a kernel forms.
 *
 * kcheck's bound (matmul_bound) allows 3 roundings per block term plus the
 * accumulation; the reference's terms take: Q3_K and IQ4_XS d_x d_y, the
 * conversion of isum (exact below 2^24, which Q3_K's |isum| <= 32*4*127*256
 * always is; IQ4_XS's reaches 32*127*127*256 ~ 2^27 and rounds once) and
 * the product: 3 (TQ1_0, TQ2_0 the same, |isum| <= 127*256); Q2_K (|isum|, |msum| < 2^24, exact conversions)
 * d_x d_y, dmin_x d_y, two products and the difference: 2 U on each of |t0|, |t1| plus U |t0 - t1| <= 3 U
 * (|t0| + |t1|), relative to the mag above. So the generic bound holds for these formats unchanged. */
#include <math.h>
#include <stdlib.h>

#include "exact.h"

static const int iq4_values[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

/* 2-bit field of value j (0..255) in Q2_K / Q3_K qs: byte 32 (j / 128) +
 * j % 32, bits 2 ((j % 128) / 32). */
static int two_bits(const uint8_t *qs, int j) {
    return (qs[32 * (j / 128) + j % 32] >> (2 * ((j % 128) / 32))) & 3;
}

/* Sub-block scale (1 for the ternary formats) and the weight quant of
 * value j of a block; *m gets Q2_K's sub-block min (0 for the others). */
static void decode(qlm_type t, const void *blk, int j, int *sc, int *m, int *q) {
    *m = 0;
    if (t == QLM_TYPE_Q2_K) {
        const qlm_block_q2_k *x = blk;
        *sc = x->scales[j / 16] & 15, *m = x->scales[j / 16] >> 4, *q = two_bits(x->qs, j);
    } else if (t == QLM_TYPE_Q3_K) {
        const qlm_block_q3_k *x = blk;
        const int s = j / 16, lo = (x->scales[s % 8] >> (4 * (s / 8))) & 15;
        const int hi = (x->scales[8 + s % 4] >> (2 * (s / 4))) & 3;
        *sc = (lo | hi << 4) - 32;
        *q = two_bits(x->qs, j) + 4 * ((x->hmask[j % 32] >> (j / 32)) & 1) - 4;
    } else if (t == QLM_TYPE_TQ1_0) { /* trit n of a byte: ((byte * 3^n mod 256) * 3) >> 8 */
        static const int pow3[5] = {1, 3, 9, 27, 81};
        const qlm_block_tq1_0 *x = blk;
        const int b = j < 160 ? x->qs[j % 32] : j < 240 ? x->qs[32 + (j - 160) % 16] : x->qh[(j - 240) % 4];
        const int e = j < 160 ? j / 32 : j < 240 ? (j - 160) / 16 : (j - 240) / 4;
        *sc = 1, *q = (((b * pow3[e]) % 256) * 3) / 256 - 1;
    } else if (t == QLM_TYPE_TQ2_0) {
        *sc = 1, *q = two_bits(((const qlm_block_tq2_0 *)blk)->qs, j) - 1;
    } else {
        const qlm_block_iq4_xs *x = blk;
        const int s = j / 32;
        *sc = (((x->scales_l[s / 2] >> (4 * (s % 2))) & 15) | (((x->scales_h >> (2 * s)) & 3) << 4)) - 32;
        *q = iq4_values[(x->qs[16 * s + j % 16] >> (4 * ((j % 32) / 16))) & 15];
    }
}

static uint16_t d_of(qlm_type t, const void *blk, int dmin) {
    if (t == QLM_TYPE_Q2_K)
        return dmin ? ((const qlm_block_q2_k *)blk)->dmin : ((const qlm_block_q2_k *)blk)->d;
    if (t == QLM_TYPE_Q3_K) return ((const qlm_block_q3_k *)blk)->d;
    if (t == QLM_TYPE_TQ1_0) return ((const qlm_block_tq1_0 *)blk)->d;
    if (t == QLM_TYPE_TQ2_0) return ((const qlm_block_tq2_0 *)blk)->d;
    return ((const qlm_block_iq4_xs *)blk)->d;
}

int kcheck_exact_dot_kquants_low(qlm_type wtype, const void *w, const void *a, int64_t n, double *want,
                                 double *mag) {
    if (wtype != QLM_TYPE_Q2_K && wtype != QLM_TYPE_Q3_K && wtype != QLM_TYPE_IQ4_XS &&
        wtype != QLM_TYPE_TQ1_0 && wtype != QLM_TYPE_TQ2_0)
        return 0;
    const size_t bytes = qlm_type_traits_get(wtype)->type_size;
    const qlm_block_q8_k *y = a;
    double sum = 0, abs_sum = 0;
    for (int64_t b = 0; b < n / QLM_QK_K; b++) {
        const void *blk = (const char *)w + b * bytes;
        int64_t isum = 0, iabs = 0, msum = 0, mabs = 0;
        for (int j = 0; j < QLM_QK_K; j++) {
            int sc, m, q;
            decode(wtype, blk, j, &sc, &m, &q);
            const int64_t p = (int64_t)sc * q * y[b].qs[j], pm = (int64_t)m * y[b].qs[j];
            isum += p, iabs += llabs((long long)p), msum += pm, mabs += llabs((long long)pm);
        }
        const double dd = (double)qlm_fp16_to_fp32(d_of(wtype, blk, 0)) * y[b].d;
        const double dm = (double)qlm_fp16_to_fp32(d_of(wtype, blk, 1)) * y[b].d;
        sum += dd * (double)isum - (wtype == QLM_TYPE_Q2_K ? dm * (double)msum : 0.0);
        abs_sum += fabs(dd) * (double)iabs + (wtype == QLM_TYPE_Q2_K ? fabs(dm) * (double)mabs : 0.0);
    }
    *want = sum, *mag = abs_sum;
    return 1;
}
