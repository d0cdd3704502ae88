/* quant_ref_kquants.c - scalar references for the K-quants Q4_K, Q5_K and
 * Q6_K (256-value super-blocks) and their dot products with Q8_K activations.
 *
 * Quantizers: ggml's quantize_row_q{4,5,6}_K_ref (no importance matrix) bit
 * for bit: the same searches (ggml's make_qkx2_quants for Q4_K/Q5_K, its
 * make_qx_quants for Q6_K) with every float operation in ggml's order, each
 * product in its own statement (no FMA contraction; see quant_ref.c). The
 * oracle is llama.cpp's own libggml (tests/gen/gen_kquant_fixtures.py).
 * NaN/Inf inputs give unspecified bytes (as in ggml) but no undefined
 * behaviour: the only float -> int step is the bit-level round below.
 *
 * Dequantizers: gguf-py's (= ggml's) d * sc first, then * q, then - dmin * m.
 *
 * Dot products with Q8_K. The numerics are OUR definition, chosen so that
 * SIMD kernels can reproduce them bit for bit. Per 256-block:
 *   Q4_K, Q5_K: isum = sum_j sc[j] * sum_{k in sub-block j} q_k a_k     (int32)
 *               msum = sum_j m[j] * (bsums[2j] + bsums[2j + 1])      (int32)
 *               d = fp16(x.d) * y.d;  dm = fp16(x.dmin) * y.d;
 *               t0 = d * (float)isum;  t1 = dm * (float)msum;
 *               sum += t0;  sum -= t1;
 *   Q6_K:       isum = sum_j sc[j] * sum_{k in sub-block j} (q_k - 32) a_k (int32;
 *               equally sum_j sc[j] (sum q a - 32 bsums[j]), all integer)
 *               d = fp16(x.d) * y.d;  t = d * (float)isum;  sum += t;
 * with sum a float starting at 0 and blocks in order. Integer sums are exact
 * in any order (|isum| < 2^27: Q5_K 8 * 63 * 32 * 31 * 127, Q6_K 16 * 128 *
 * 16 * 32 * 128; |msum| <= 8 * 63 * 2 * 2032 < 2^21), so a kernel may add
 * them however it likes; (float)isum may round (|isum| can pass 2^24), and
 * that rounding is part of the definition. */
#include "quant_ref.h"
#include "types.h"

#include <math.h>
#include <string.h>

_Static_assert(sizeof(qlm_block_q4_k) == 4 + 12 + QLM_QK_K / 2, "q4_K block size");
_Static_assert(sizeof(qlm_block_q5_k) == 4 + 12 + QLM_QK_K / 8 + QLM_QK_K / 2, "q5_K block size");
_Static_assert(sizeof(qlm_block_q6_k) == QLM_QK_K / 2 + QLM_QK_K / 4 + QLM_QK_K / 16 + 2, "q6_K block size");

/* Smallest |value| ggml treats as non-zero in make_qx_quants (GROUP_MAX_EPS). */
#define GROUP_MAX_EPS 1e-15f

/* ---------------------------------------------------------------- helpers */

/* ggml's nearest_int: adding 1.5 * 2^23 leaves round-to-nearest-even of v in
 * the low mantissa bits, for |v| <= 2^22 (ggml asserts that; beyond it, and
 * for NaN/Inf, the result is a well-defined garbage integer in
 * [-2^22, 2^22), which every caller clamps). */
static inline int kq_round(float v) {
    const float t = v + 12582912.0f;
    int32_t i;
    memcpy(&i, &t, sizeof i);
    return (i & 0x007fffff) - 0x00400000;
}

static inline int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* The 6-bit scale sc and minimum m of sub-block j from Q4_K/Q5_K's 12 bytes:
 * bytes 0-3 hold sc[0..3] (+ the top 2 bits of sc[4..7]), bytes 4-7 m[0..3]
 * (+ the top bits of m[4..7]), bytes 8-11 the low nibbles of sc[4..7] and
 * m[4..7]. */
static inline void k4_scale_min(int j, const uint8_t *s, int *sc, int *m) {
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4);
        *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

/* The inverse of k4_scale_min for 8 pairs of 6-bit values. */
static void k4_pack_scales(const uint8_t *ls, const uint8_t *lm, uint8_t *s) {
    for (int j = 0; j < 4; j++) {
        s[j] = ls[j];
        s[j + 4] = lm[j];
    }
    for (int j = 4; j < 8; j++) {
        s[j + 4] = (uint8_t)((ls[j] & 0x0f) | ((lm[j] & 0x0f) << 4));
        s[j - 4] |= (uint8_t)((ls[j] >> 4) << 6);
        s[j] |= (uint8_t)((lm[j] >> 4) << 6);
    }
}

/* --------------------------------------------------------- Q4_K and Q5_K */

/* Weighted squared error of x against scale * L + min over 32 values, in
 * ggml's order. */
static float fit_error(const float *x, const float *w, const uint8_t *L, float scale, float min) {
    float err = 0.0f;
    for (int i = 0; i < 32; i++) {
        const float sl = scale * (float)L[i];
        const float v = sl + min;
        const float diff = v - x[i];
        const float d2 = diff * diff;
        const float wd = w[i] * d2;
        err += wd;
    }
    return err;
}

/* ggml's make_qkx2_quants (squared error) on one sub-block of 32: quants
 * L in [0, nmax] and (scale, -min) with x ~ scale * L + min, min <= 0, the
 * best of the plain min/max fit and nstep + 1 least-squares refits from
 * the grids (nmax + rmin + rdelta * is) / (max - min). Returns the scale and
 * stores -min in *neg_min. */
static float fit_scale_min(int nmax, const float *x, const float *w, uint8_t *L, float *neg_min, float rmin,
                           float rdelta, int nstep) {
    float min = x[0], max = x[0], sum_w = w[0];
    float sum_x = sum_w * x[0];
    for (int i = 1; i < 32; i++) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        const float wx = w[i] * x[i];
        sum_w += w[i];
        sum_x += wx;
    }
    if (min > 0) min = 0;
    if (max == min) {
        memset(L, 0, 32);
        *neg_min = -min;
        return 0.0f;
    }
    float iscale = (float)nmax / (max - min);
    float scale = 1.0f / iscale;
    for (int i = 0; i < 32; i++) {
        const float v = iscale * (x[i] - min);
        L[i] = (uint8_t)clampi(kq_round(v), 0, nmax);
    }
    float best_error = fit_error(x, w, L, scale, min);
    uint8_t Laux[32];
    for (int is = 0; is <= nstep; is++) {
        const float step = rdelta * (float)is;
        const float num = rmin + step;
        iscale = (num + (float)nmax) / (max - min);
        float sum_l = 0.0f, sum_l2 = 0.0f, sum_xl = 0.0f;
        for (int i = 0; i < 32; i++) {
            const float v = iscale * (x[i] - min);
            const int l = clampi(kq_round(v), 0, nmax);
            Laux[i] = (uint8_t)l;
            const float wl = w[i] * (float)l;
            const float wll = wl * (float)l;
            const float wlx = wl * x[i];
            sum_l += wl;
            sum_l2 += wll;
            sum_xl += wlx;
        }
        const float p0 = sum_w * sum_l2, p1 = sum_l * sum_l;
        const float D = p0 - p1;
        if (!(D > 0)) continue;
        const float a0 = sum_w * sum_xl, a1 = sum_x * sum_l;
        const float b0 = sum_l2 * sum_x, b1 = sum_l * sum_xl;
        float this_scale = (a0 - a1) / D;
        float this_min = (b0 - b1) / D;
        if (this_min > 0) {
            this_min = 0;
            this_scale = sum_xl / sum_l2;
        }
        const float cur_error = fit_error(x, w, Laux, this_scale, this_min);
        if (cur_error < best_error) {
            memcpy(L, Laux, 32);
            best_error = cur_error;
            scale = this_scale;
            min = this_min;
        }
    }
    *neg_min = -min;
    return scale;
}

/* Q4_K (nmax 15) and Q5_K (nmax 31), ggml's quantize_row_q{4,5}_K_ref up to
 * the packing of the quants: the super-block's d, dmin and packed 6-bit
 * scales, and the 256 quants L in [0, nmax]. */
static void k4_quantize(const float *x, int nmax, float rmin, int nstep, uint16_t *d_out, uint16_t *dmin_out,
                        uint8_t *packed, uint8_t *L) {
    float scales[8], mins[8], w[32];
    float max_scale = 0.0f, max_min = 0.0f;
    for (int j = 0; j < 8; j++) {
        const float *xj = x + 32 * j;
        float sum_x2 = 0.0f;
        for (int l = 0; l < 32; l++) {
            const float sq = xj[l] * xj[l];
            sum_x2 += sq;
        }
        const float av_x = sqrtf(sum_x2 / 32.0f);
        for (int l = 0; l < 32; l++) w[l] = av_x + fabsf(xj[l]);
        scales[j] = fit_scale_min(nmax, xj, w, L + 32 * j, &mins[j], rmin, 0.1f, nstep);
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    const float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f;
    const float inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
    uint8_t ls[8], lm[8];
    for (int j = 0; j < 8; j++) {
        /* ggml stores the int into a uint8_t (mod 256), then caps at 63 */
        const float vs = inv_scale * scales[j], vm = inv_min * mins[j];
        const uint8_t s = (uint8_t)(kq_round(vs) & 0xff), m = (uint8_t)(kq_round(vm) & 0xff);
        ls[j] = s < 63 ? s : 63;
        lm[j] = m < 63 ? m : 63;
    }
    k4_pack_scales(ls, lm, packed);
    *d_out = qlm_fp32_to_fp16(max_scale / 63.0f);
    *dmin_out = qlm_fp32_to_fp16(max_min / 63.0f);
    const float d_all = qlm_fp16_to_fp32(*d_out), dmin_all = qlm_fp16_to_fp32(*dmin_out);
    for (int j = 0; j < 8; j++) {
        int sc, m;
        k4_scale_min(j, packed, &sc, &m);
        const float d = d_all * (float)sc;
        if (d == 0.0f) continue; /* keeps the search's quants, as ggml */
        const float dm = dmin_all * (float)m;
        for (int i = 0; i < 32; i++) {
            const float v = (x[32 * j + i] + dm) / d;
            L[32 * j + i] = (uint8_t)clampi(kq_round(v), 0, nmax);
        }
    }
}

void qlm_q4_k_from_float(const float *src, void *dst, int64_t n) {
    qlm_block_q4_k *b = dst;
    for (int64_t i = 0; i < n / QLM_QK_K; i++) {
        uint8_t L[QLM_QK_K];
        k4_quantize(src + i * QLM_QK_K, 15, -1.0f, 20, &b[i].d, &b[i].dmin, b[i].scales, L);
        for (int g = 0; g < 4; g++)
            for (int l = 0; l < 32; l++)
                b[i].qs[32 * g + l] = (uint8_t)(L[64 * g + l] | (L[64 * g + 32 + l] << 4));
    }
}

void qlm_q5_k_from_float(const float *src, void *dst, int64_t n) {
    qlm_block_q5_k *b = dst;
    for (int64_t i = 0; i < n / QLM_QK_K; i++) {
        uint8_t L[QLM_QK_K];
        k4_quantize(src + i * QLM_QK_K, 31, -0.5f, 15, &b[i].d, &b[i].dmin, b[i].scales, L);
        memset(b[i].qh, 0, sizeof b[i].qh);
        for (int g = 0; g < 4; g++)
            for (int l = 0; l < 32; l++) {
                const int lo = L[64 * g + l], hi = L[64 * g + 32 + l];
                b[i].qs[32 * g + l] = (uint8_t)((lo & 0x0f) | ((hi & 0x0f) << 4));
                b[i].qh[l] |= (uint8_t)(((lo >> 4) << (2 * g)) | ((hi >> 4) << (2 * g + 1)));
            }
    }
}

void qlm_q4_k_to_float(const void *src, float *dst, int64_t n) {
    const qlm_block_q4_k *b = src;
    for (int64_t i = 0; i < n / QLM_QK_K; i++) {
        const float d = qlm_fp16_to_fp32(b[i].d), dmin = qlm_fp16_to_fp32(b[i].dmin);
        float *y = dst + i * QLM_QK_K;
        for (int j = 0; j < 8; j++) {
            int sc, m;
            k4_scale_min(j, b[i].scales, &sc, &m);
            const float dj = d * (float)sc, mj = dmin * (float)m;
            const uint8_t *q = b[i].qs + 32 * (j / 2);
            for (int l = 0; l < 32; l++) {
                const float p = dj * (float)(j % 2 ? q[l] >> 4 : q[l] & 0x0f);
                y[32 * j + l] = p - mj;
            }
        }
    }
}

void qlm_q5_k_to_float(const void *src, float *dst, int64_t n) {
    const qlm_block_q5_k *b = src;
    for (int64_t i = 0; i < n / QLM_QK_K; i++) {
        const float d = qlm_fp16_to_fp32(b[i].d), dmin = qlm_fp16_to_fp32(b[i].dmin);
        float *y = dst + i * QLM_QK_K;
        for (int j = 0; j < 8; j++) {
            int sc, m;
            k4_scale_min(j, b[i].scales, &sc, &m);
            const float dj = d * (float)sc, mj = dmin * (float)m;
            const uint8_t *q = b[i].qs + 32 * (j / 2);
            for (int l = 0; l < 32; l++) {
                const int q5 = (j % 2 ? q[l] >> 4 : q[l] & 0x0f) | (((b[i].qh[l] >> j) & 1) << 4);
                const float p = dj * (float)q5;
                y[32 * j + l] = p - mj;
            }
        }
    }
}

/* ------------------------------------------------------------------ Q6_K */

/* Sum of w x l and w l l with w = x^2 (ggml's rmse_type 1) over 16 values
 * quantized with iscale; stores L + 32 if L is not NULL. */
static void q6_sums(const float *x, float iscale, int8_t *L, float *sumlx, float *suml2) {
    float slx = 0.0f, sl2 = 0.0f;
    for (int i = 0; i < 16; i++) {
        const float v = iscale * x[i];
        const int l = clampi(kq_round(v), -32, 31);
        if (L) L[i] = (int8_t)(l + 32);
        const float w = x[i] * x[i];
        const float wx = w * x[i];
        const float wxl = wx * (float)l;
        const float wl = w * (float)l;
        const float wll = wl * (float)l;
        slx += wxl;
        sl2 += wll;
    }
    *sumlx = slx, *suml2 = sl2;
}

/* ggml's make_qx_quants(16, 32, x, L, rmse_type 1, no weights): the largest
 * magnitude maps to -32, then 18 nearby grids (32 + 0.1 is) are tried and the
 * one with the best weighted least-squares fit kept. Returns the scale; L in
 * [0, 63] (quant + 32), or all 0 for an all-zero sub-block. */
static float q6_fit(const float *x, int8_t *L) {
    float max = 0.0f, amax = 0.0f;
    for (int i = 0; i < 16; i++) {
        const float ax = fabsf(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (amax < GROUP_MAX_EPS) {
        memset(L, 0, 16);
        return 0.0f;
    }
    float sumlx, suml2;
    q6_sums(x, -32.0f / max, L, &sumlx, &suml2);
    float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; is++) {
        if (is == 0) continue;
        const float step = 0.1f * (float)is;
        const float num = 32.0f + step;
        const float iscale = -num / max;
        q6_sums(x, iscale, NULL, &sumlx, &suml2);
        const float lhs = sumlx * sumlx, rhs = best * suml2;
        if (suml2 > 0 && lhs > rhs) {
            q6_sums(x, iscale, L, &sumlx, &suml2);
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

/* int -> int8 modulo 256 (what ggml's store into int8_t does on GCC/Clang),
 * written out so it is defined everywhere. */
static inline int8_t wrap_i8(int v) {
    const int u = v & 0xff;
    return (int8_t)(u < 128 ? u : u - 256);
}

static void q6_k_quantize_block(const float *x, qlm_block_q6_k *b) {
    int8_t L[QLM_QK_K];
    float scales[16], max_scale = 0.0f, max_abs_scale = 0.0f;
    for (int j = 0; j < 16; j++) {
        scales[j] = q6_fit(x + 16 * j, L + 16 * j);
        const float a = fabsf(scales[j]);
        if (a > max_abs_scale) {
            max_abs_scale = a;
            max_scale = scales[j];
        }
    }
    if (max_abs_scale < GROUP_MAX_EPS) { /* also reached for NaN scales */
        memset(b, 0, sizeof *b);
        return;
    }
    const float iscale = -128.0f / max_scale;
    b->d = qlm_fp32_to_fp16(1.0f / iscale);
    for (int j = 0; j < 16; j++) {
        const float v = iscale * scales[j];
        const int s = kq_round(v);
        b->scales[j] = wrap_i8(s < 127 ? s : 127);
    }
    const float d_all = qlm_fp16_to_fp32(b->d);
    for (int j = 0; j < 16; j++) {
        const float d = d_all * (float)b->scales[j];
        if (d == 0.0f) continue; /* keeps q6_fit's quants, as ggml */
        for (int i = 0; i < 16; i++) {
            const float v = x[16 * j + i] / d;
            L[16 * j + i] = (int8_t)(clampi(kq_round(v), -32, 31) + 32);
        }
    }
    /* Each half of 128: ql[l] = value l (low nibble) and l + 64 (high),
     * ql[l + 32] = values l + 32 and l + 96; qh[l] = the top 2 bits of values
     * l, l + 32, l + 64, l + 96 at bits 0, 2, 4, 6. */
    for (int h = 0; h < 2; h++) {
        const int8_t *Lh = L + 128 * h;
        uint8_t *ql = b->ql + 64 * h, *qh = b->qh + 32 * h;
        for (int l = 0; l < 32; l++) {
            ql[l] = (uint8_t)((Lh[l] & 0x0f) | ((Lh[l + 64] & 0x0f) << 4));
            ql[l + 32] = (uint8_t)((Lh[l + 32] & 0x0f) | ((Lh[l + 96] & 0x0f) << 4));
            qh[l] = (uint8_t)((Lh[l] >> 4) | ((Lh[l + 32] >> 4) << 2) | ((Lh[l + 64] >> 4) << 4) |
                              ((Lh[l + 96] >> 4) << 6));
        }
    }
}

void qlm_q6_k_from_float(const float *src, void *dst, int64_t n) {
    qlm_block_q6_k *b = dst;
    for (int64_t i = 0; i < n / QLM_QK_K; i++) q6_k_quantize_block(src + i * QLM_QK_K, &b[i]);
}

/* Value k (0..255) of a Q6_K block as q in [0, 63] (the stored q, without
 * the -32 offset). */
static inline int q6_value(const qlm_block_q6_k *b, int k) {
    const int h = k / 128, r = k % 128, l = r % 32, quarter = r / 32;
    const uint8_t lo = b->ql[64 * h + l + 32 * (quarter & 1)];
    const int nib = quarter < 2 ? lo & 0x0f : lo >> 4;
    return nib | (((b->qh[32 * h + l] >> (2 * quarter)) & 3) << 4);
}

void qlm_q6_k_to_float(const void *src, float *dst, int64_t n) {
    const qlm_block_q6_k *b = src;
    for (int64_t i = 0; i < n / QLM_QK_K; i++) {
        const float d = qlm_fp16_to_fp32(b[i].d);
        for (int k = 0; k < QLM_QK_K; k++) {
            const float ds = d * (float)b[i].scales[k / 16];
            dst[i * QLM_QK_K + k] = ds * (float)(q6_value(&b[i], k) - 32);
        }
    }
}

/* ---------------------------------------------------------- dot products */

/* The integer part of Q4_K/Q5_K . Q8_K for one block: q(k) gives value k's
 * quant (k = 32 j + l in sub-block j). */
static void k4_isums(const uint8_t *scales, const int8_t *a, const int16_t *bsums, const uint8_t *q5h,
                     const uint8_t *qs, int32_t *isum, int32_t *msum) {
    int32_t is = 0, ms = 0;
    for (int j = 0; j < 8; j++) {
        int sc, m;
        k4_scale_min(j, scales, &sc, &m);
        const uint8_t *q = qs + 32 * (j / 2);
        int32_t s = 0;
        for (int l = 0; l < 32; l++) {
            int v = j % 2 ? q[l] >> 4 : q[l] & 0x0f;
            if (q5h) v |= ((q5h[l] >> j) & 1) << 4;
            s += v * a[32 * j + l];
        }
        is += sc * s;
        ms += m * (bsums[2 * j] + bsums[2 * j + 1]);
    }
    *isum = is, *msum = ms;
}

/* The float part of a Q4_K/Q5_K block (the definition above). */
static inline float k4_accumulate(float sum, uint16_t xd, uint16_t xdmin, float yd, int32_t isum, int32_t msum) {
    const float d = qlm_fp16_to_fp32(xd) * yd;
    const float dm = qlm_fp16_to_fp32(xdmin) * yd;
    const float t0 = d * (float)isum;
    const float t1 = dm * (float)msum;
    sum += t0;
    sum -= t1;
    return sum;
}

/* One block of Q4_K/Q5_K . Q8_K added to sum: the whole definition, so the
 * packed (R16) reference can replay a row block by block (kernels/cpu/pack.c). */
float qlm_dot_block_q4_k(float sum, const void *x, const void *y) {
    const qlm_block_q4_k *a = x;
    const qlm_block_q8_k *b = y;
    int32_t isum, msum;
    k4_isums(a->scales, b->qs, b->bsums, NULL, a->qs, &isum, &msum);
    return k4_accumulate(sum, a->d, a->dmin, b->d, isum, msum);
}

float qlm_dot_block_q5_k(float sum, const void *x, const void *y) {
    const qlm_block_q5_k *a = x;
    const qlm_block_q8_k *b = y;
    int32_t isum, msum;
    k4_isums(a->scales, b->qs, b->bsums, a->qh, a->qs, &isum, &msum);
    return k4_accumulate(sum, a->d, a->dmin, b->d, isum, msum);
}

void qlm_vec_dot_q4_k_q8_k(int64_t n, float *s, const void *x, const void *y) {
    const qlm_block_q4_k *a = x;
    const qlm_block_q8_k *b = y;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QLM_QK_K; i++) sum = qlm_dot_block_q4_k(sum, &a[i], &b[i]);
    *s = sum;
}

void qlm_vec_dot_q5_k_q8_k(int64_t n, float *s, const void *x, const void *y) {
    const qlm_block_q5_k *a = x;
    const qlm_block_q8_k *b = y;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QLM_QK_K; i++) sum = qlm_dot_block_q5_k(sum, &a[i], &b[i]);
    *s = sum;
}

float qlm_dot_block_q6_k(float sum, const void *x, const void *y) {
    const qlm_block_q6_k *a = x;
    const qlm_block_q8_k *b = y;
    int32_t isum = 0;
    for (int j = 0; j < 16; j++) {
        int32_t sj = 0;
        for (int l = 0; l < 16; l++) sj += (q6_value(a, 16 * j + l) - 32) * b->qs[16 * j + l];
        isum += a->scales[j] * sj;
    }
    const float d = qlm_fp16_to_fp32(a->d) * b->d;
    const float t = d * (float)isum;
    return sum + t;
}

void qlm_vec_dot_q6_k_q8_k(int64_t n, float *s, const void *x, const void *y) {
    const qlm_block_q6_k *a = x;
    const qlm_block_q8_k *b = y;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QLM_QK_K; i++) sum = qlm_dot_block_q6_k(sum, &a[i], &b[i]);
    *s = sum;
}
