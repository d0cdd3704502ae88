/* exact_kquants.c - kcheck's exact dot products for Q4_K, Q5_K and Q6_K
 * against Q8_K (exact.h), from the raw block fields and the activation
 * block's stored qs and d, independently of engine/quant_ref_kquants.c.
 *
 * The value: sum over blocks of d_y (d_x sum_k sc q_k a_k - dmin_x sum_k m a_k)
 * (Q6_K: d_y d_x sum_k sc (q_k - 32) a_k). The integer sums are exact; d_x
 * times an integer below 2^31 is exact in double (11 + 31 bits), and the
 * product with d_y rounds once (2^-53 relative, far below kcheck's bounds).
 *
 * mag: the reference computes two float terms per Q4_K/Q5_K block, t0 =
 * d_x d_y isum and t1 = dmin_x d_y msum, and subtracts them; where they
 * nearly cancel, its roundings are relative to |t0| and |t1|, not to the
 * dequantized products. So mag sums both parts' magnitudes:
 * |d_x d_y| sum_k |sc q_k a_k| + |dmin_x d_y| sum_k |m a_k|. */
#include <math.h>
#include <stdlib.h>

#include "exact.h"

/* 6-bit scale and minimum of sub-block j (ggml's 12-byte packing). */
static void scale_min(const uint8_t *s, int j, int *sc, int *m) {
    if (j < 4) {
        *sc = s[j] & 63, *m = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 15) | (s[j - 4] >> 6) << 4;
        *m = (s[j + 4] >> 4) | (s[j] >> 6) << 4;
    }
}

/* Quant k (0..255) of a Q4_K (qh NULL) or Q5_K block. */
static int k4_quant(const uint8_t *qs, const uint8_t *qh, int k) {
    const int j = k / 32, l = k % 32;
    int q = j % 2 ? qs[32 * (j / 2) + l] >> 4 : qs[32 * (j / 2) + l] & 15;
    if (qh) q |= ((qh[l] >> j) & 1) << 4;
    return q;
}

/* Quant k of a Q6_K block, 0..63 (before the -32 offset). */
static int q6_quant(const qlm_block_q6_k *b, int k) {
    const int h = k / 128, r = k % 128, l = r % 32, quarter = r / 32;
    const int byte = b->ql[64 * h + 32 * (quarter % 2) + l];
    return (quarter < 2 ? byte & 15 : byte >> 4) | ((b->qh[32 * h + l] >> (2 * quarter)) & 3) << 4;
}

static void dot_k4(const uint16_t *d, const uint8_t *scales, const uint8_t *qs, const uint8_t *qh,
                   const qlm_block_q8_k *a, double *sum, double *abs_sum) {
    int64_t isum = 0, iabs = 0, msum = 0, mabs = 0;
    for (int k = 0; k < QLM_QK_K; k++) {
        int sc, m;
        scale_min(scales, k / 32, &sc, &m);
        const int64_t p = (int64_t)sc * k4_quant(qs, qh, k) * a->qs[k];
        isum += p, iabs += llabs(p);
        msum += (int64_t)m * a->qs[k], mabs += llabs((int64_t)m * a->qs[k]);
    }
    const double dy = a->d, dx = qlm_fp16_to_fp32(d[0]), mx = qlm_fp16_to_fp32(d[1]);
    *sum += dy * (dx * (double)isum) - dy * (mx * (double)msum);
    *abs_sum += fabs(dy * dx) * (double)iabs + fabs(dy * mx) * (double)mabs;
}

int kcheck_exact_dot_kquants(qlm_type wtype, const void *w, const void *a, int64_t n, double *want, double *mag) {
    if (wtype != QLM_TYPE_Q4_K && wtype != QLM_TYPE_Q5_K && wtype != QLM_TYPE_Q6_K) return 0;
    const qlm_block_q8_k *ab = a;
    double sum = 0, abs_sum = 0;
    for (int64_t b = 0; b < n / QLM_QK_K; b++) {
        if (wtype == QLM_TYPE_Q4_K) {
            const qlm_block_q4_k *wb = (const qlm_block_q4_k *)w + b;
            const uint16_t d[2] = {wb->d, wb->dmin};
            dot_k4(d, wb->scales, wb->qs, NULL, &ab[b], &sum, &abs_sum);
        } else if (wtype == QLM_TYPE_Q5_K) {
            const qlm_block_q5_k *wb = (const qlm_block_q5_k *)w + b;
            const uint16_t d[2] = {wb->d, wb->dmin};
            dot_k4(d, wb->scales, wb->qs, wb->qh, &ab[b], &sum, &abs_sum);
        } else {
            const qlm_block_q6_k *wb = (const qlm_block_q6_k *)w + b;
            int64_t isum = 0, iabs = 0;
            for (int k = 0; k < QLM_QK_K; k++) {
                const int64_t p = (int64_t)wb->scales[k / 16] * (q6_quant(wb, k) - 32) * ab[b].qs[k];
                isum += p, iabs += llabs(p);
            }
            const double dd = (double)qlm_fp16_to_fp32(wb->d);
            sum += (double)ab[b].d * (dd * (double)isum);
            abs_sum += fabs((double)ab[b].d * dd) * (double)iabs;
        }
    }
    *want = sum, *mag = abs_sum;
    return 1;
}
