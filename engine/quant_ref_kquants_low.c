/* quant_ref_kquants_low.c - scalar references for the low-bit super-block
 * formats Q2_K, Q3_K and IQ4_XS (and the ternary TQ1_0, TQ2_0): ggml's block
 * layouts (types.h), dequantizers equal to gguf-py's, quantizers equal to
 * ggml's reference quantizers without an importance matrix
 * (quantize_row_q2_K_ref, quantize_row_q3_K_ref, quantize_iq4_xs(..., NULL)),
 * and the dot products with Q8_K activations.
 *
 * Quantizers: every float operation is ggml's, in ggml's order (the repo
 * builds with -ffp-contract=off, so no product is fused into an add), and
 * rounding to an integer is ggml's nearest_int bit trick, which is defined
 * for every input (huge or NaN values give a garbage integer that is then
 * clamped, exactly as in ggml): so NaN/Inf input never leads to undefined
 * behaviour, and finite input gives ggml's bytes.
 *
 * Dot products (our definition, which every SIMD kernel reproduces bit for
 * bit): per 256-value block, exact integer sums (sub-block scales times
 * sub-block sums of weight quants times activation quants; Q2_K's minimum
 * term through the Q8_K bsums), then a fixed short sequence of float
 * operations, accumulated in block order into one float (see each
 * vec_dot). */
#include "quant_ref.h"
#include "types.h"

#include <math.h>
#include <string.h>

/* ggml's nearest_int: round to nearest even for |v| <= 2^22 by adding
 * 1.5 * 2^23 and reading the low mantissa bits; any other input (huge,
 * Inf, NaN) gives some integer without undefined behaviour. */
static inline int nearest_int(float v) {
    const float t = v + 12582912.0f;
    int32_t i;
    memcpy(&i, &t, sizeof i);
    return (i & 0x007fffff) - 0x00400000;
}

static inline int clamp_int(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* ggml: an all-zero (sub-)block is one whose largest magnitude is below this. */
#define GROUP_MAX_EPS 1e-15f

/* Q2_K and Q3_K store 256 2-bit fields in qs as 2 halves of 128 values: byte
 * l (0..31) of half h holds value 128 h + 32 s + l in bits 2s, 2s + 1. */
static void pack_2bit(const uint8_t *L, uint8_t *qs) {
    for (int h = 0; h < 2; h++)
        for (int l = 0; l < 32; l++) {
            const uint8_t *v = L + 128 * h + l;
            qs[32 * h + l] = (uint8_t)(v[0] | (v[32] << 2) | (v[64] << 4) | (v[96] << 6));
        }
}

static inline int get_2bit(const uint8_t *qs, int i) {
    return (qs[32 * (i / 128) + i % 32] >> (2 * ((i % 128) / 32))) & 3;
}

/* ==================================================================== Q2_K */

/* value i = d * (scales[i/16] & 15) * q - dmin * (scales[i/16] >> 4). */

/* ggml's make_qkx2_quants(16, 3, x, |x|, L, &min, Laux, -0.5, 0.1, 15,
 * use_mad = true): an asymmetric 2-bit fit of one 16-value sub-block, the
 * scale and min refined by a weighted least-squares step over 16 candidate
 * inverse scales, keeping the lowest weighted absolute error. Returns the
 * scale; *the_min gets -min (>= 0). */
static float q2_k_fit(const float *x, uint8_t *L, float *the_min) {
    enum { N = 16, NMAX = 3, NSTEP = 15 };
    float w[N];
    uint8_t Laux[N];
    for (int i = 0; i < N; i++)
        w[i] = fabsf(x[i]);
    float min = x[0], max = x[0], sum_w = w[0], sum_x = sum_w * x[0];
    for (int i = 1; i < N; i++) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        sum_w += w[i];
        sum_x += w[i] * x[i];
    }
    if (min > 0) min = 0;
    if (max == min) {
        memset(L, 0, N);
        *the_min = -min;
        return 0.0f;
    }
    float iscale = NMAX / (max - min);
    float scale = 1 / iscale;
    float best_error = 0;
    for (int i = 0; i < N; i++) {
        L[i] = (uint8_t)clamp_int(nearest_int(iscale * (x[i] - min)), 0, NMAX);
        const float diff = scale * L[i] + min - x[i];
        best_error += w[i] * fabsf(diff);
    }
    for (int is = 0; is <= NSTEP; is++) {
        iscale = (-0.5f + 0.1f * (float)is + NMAX) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < N; i++) {
            const int l = clamp_int(nearest_int(iscale * (x[i] - min)), 0, NMAX);
            Laux[i] = (uint8_t)l;
            sum_l += w[i] * l;
            sum_l2 += w[i] * l * l;
            sum_xl += w[i] * l * x[i];
        }
        const float D = sum_w * sum_l2 - sum_l * sum_l;
        if (!(D > 0)) continue;
        float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
        float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
        if (this_min > 0) {
            this_min = 0;
            this_scale = sum_xl / sum_l2;
        }
        float cur_error = 0;
        for (int i = 0; i < N; i++) {
            const float diff = this_scale * Laux[i] + this_min - x[i];
            cur_error += w[i] * fabsf(diff);
        }
        if (cur_error < best_error) {
            memcpy(L, Laux, N);
            best_error = cur_error;
            scale = this_scale;
            min = this_min;
        }
    }
    *the_min = -min;
    return scale;
}

/* ggml's quantize_row_q2_K_ref for one block: fit each sub-block, quantize
 * the 16 scales and 16 mins to 4 bits against their maxima, then requantize
 * every value with the stored (rounded) scale and min. */
static void q2_k_quantize_block(const float *x, qlm_block_q2_k *b) {
    uint8_t L[QLM_QK_K];
    float scales[16], mins[16], max_scale = 0, max_min = 0;
    for (int j = 0; j < 16; j++) {
        scales[j] = q2_k_fit(x + 16 * j, L + 16 * j, &mins[j]);
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    memset(b->scales, 0, sizeof b->scales);
    b->d = b->dmin = qlm_fp32_to_fp16(0.0f);
    if (max_scale > 0) {
        const float iscale = 15.0f / max_scale;
        for (int j = 0; j < 16; j++)
            b->scales[j] = (uint8_t)nearest_int(iscale * scales[j]);
        b->d = qlm_fp32_to_fp16(max_scale / 15.0f);
    }
    if (max_min > 0) {
        const float iscale = 15.0f / max_min;
        for (int j = 0; j < 16; j++)
            b->scales[j] |= (uint8_t)((unsigned)nearest_int(iscale * mins[j]) << 4);
        b->dmin = qlm_fp32_to_fp16(max_min / 15.0f);
    }
    for (int j = 0; j < 16; j++) {
        const float d = qlm_fp16_to_fp32(b->d) * (float)(b->scales[j] & 0xf);
        if (d == 0.0f) continue; /* keeps the fit's quants, as ggml */
        const float dm = qlm_fp16_to_fp32(b->dmin) * (float)(b->scales[j] >> 4);
        for (int i = 0; i < 16; i++)
            L[16 * j + i] = (uint8_t)clamp_int(nearest_int((x[16 * j + i] + dm) / d), 0, 3);
    }
    pack_2bit(L, b->qs);
}

void qlm_q2_k_from_float(const float *src, void *dst, int64_t n) {
    qlm_block_q2_k *b = dst;
    for (int64_t i = 0; i < n / QLM_QK_K; i++)
        q2_k_quantize_block(src + i * QLM_QK_K, &b[i]);
}

/* dl * q - ml: two roundings, as ggml and gguf-py. */
void qlm_q2_k_to_float(const void *src, float *dst, int64_t n) {
    const qlm_block_q2_k *b = src;
    for (int64_t k = 0; k < n / QLM_QK_K; k++, dst += QLM_QK_K) {
        const float d = qlm_fp16_to_fp32(b[k].d), dmin = qlm_fp16_to_fp32(b[k].dmin);
        for (int i = 0; i < QLM_QK_K; i++) {
            const uint8_t sc = b[k].scales[i / 16];
            const float dl = d * (float)(sc & 0xf), ml = dmin * (float)(sc >> 4);
            const float p = dl * (float)get_2bit(b[k].qs, i);
            dst[i] = p - ml;
        }
    }
}

/* Per block: isum = sum_j (scales[j] & 15) * sum(q * a) over sub-block j,
 * msum = sum_j (scales[j] >> 4) * bsums[j] (exact; |isum| <= 15*3*127*256
 * and |msum| <= 15*127*256, both below 2^24, so their conversions to float
 * are exact too), then
 *     d = fp16(x.d) * y.d;  dm = fp16(x.dmin) * y.d;
 *     t0 = d * isum;  t1 = dm * msum;  sum += t0 - t1;
 * which is also ggml's generic ggml_vec_dot_q2_K_q8_K, operation for
 * operation. The row dot is a chain of these block steps from 0. */
float qlm_dot_block_q2_k(float sum, const void *x, const void *y) {
    const qlm_block_q2_k *a = x;
    const qlm_block_q8_k *b = y;
    int isum = 0, msum = 0;
    for (int j = 0; j < 16; j++) {
        int sub = 0;
        for (int i = 16 * j; i < 16 * j + 16; i++)
            sub += get_2bit(a->qs, i) * b->qs[i];
        isum += (a->scales[j] & 0xf) * sub;
        msum += (a->scales[j] >> 4) * b->bsums[j];
    }
    const float d = qlm_fp16_to_fp32(a->d) * b->d;
    const float dm = qlm_fp16_to_fp32(a->dmin) * b->d;
    const float t0 = d * (float)isum;
    const float t1 = dm * (float)msum;
    return sum + (t0 - t1);
}

void qlm_vec_dot_q2_k_q8_k(int64_t n, float *s, const void *x, const void *y) {
    const qlm_block_q2_k *a = x;
    const qlm_block_q8_k *b = y;
    float sum = 0.0f;
    for (int64_t k = 0; k < n / QLM_QK_K; k++) sum = qlm_dot_block_q2_k(sum, &a[k], &b[k]);
    *s = sum;
}

/* ==================================================================== Q3_K */

/* value i = d * (sc[i/16] - 32) * (q - 4), q = 2 bits from qs plus bit
 * (i % 128) / 32 + 4 (i / 128) of hmask[i % 32] as its third bit; the 6-bit
 * sc: low 4 bits in scales[j] (j < 8) or scales[j - 8] >> 4, high 2 bits at
 * bit 2 (j / 4) of scales[8 + j % 4]. */
static inline int q3_k_scale(const uint8_t *scales, int j) {
    const int lo = j < 8 ? scales[j] & 0xf : scales[j - 8] >> 4;
    return (lo | (((scales[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
}

static inline int q3_k_quant(const qlm_block_q3_k *b, int i) {
    const int hbit = (b->hmask[i % 32] >> (i / 32)) & 1;
    return get_2bit(b->qs, i) - (hbit ? 0 : 4);
}

/* ggml's make_q3_quants(16, 4, x, L, do_rmse = true): symmetric levels
 * -4..3 from the value of largest magnitude, then up to 5 passes that move
 * single quants while the weighted (x^2) fit sum(lx)^2 / sum(l^2) improves.
 * L gets q + 4 (0..7); returns the scale. */
static float q3_k_fit(const float *x, int8_t *L) {
    enum { N = 16, NMAX = 4 };
    float max = 0, amax = 0;
    for (int i = 0; i < N; i++)
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            max = x[i];
        }
    if (amax < GROUP_MAX_EPS) {
        memset(L, 0, N);
        return 0.0f;
    }
    const float iscale = -NMAX / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < N; i++) {
        const int l = clamp_int(nearest_int(iscale * x[i]), -NMAX, NMAX - 1);
        L[i] = (int8_t)l;
        const float w = x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    for (int itry = 0; itry < 5; itry++) {
        int n_changed = 0;
        for (int i = 0; i < N; i++) {
            const float w = x[i] * x[i];
            float slx = sumlx - w * x[i] * L[i];
            if (!(slx > 0)) continue;
            float sl2 = suml2 - w * L[i] * L[i];
            const int new_l = clamp_int(nearest_int(x[i] * sl2 / slx), -NMAX, NMAX - 1);
            if (new_l == L[i]) continue;
            slx += w * x[i] * new_l;
            sl2 += w * new_l * new_l;
            if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                L[i] = (int8_t)new_l;
                sumlx = slx;
                suml2 = sl2;
                n_changed++;
            }
        }
        if (!n_changed) break;
    }
    for (int i = 0; i < N; i++)
        L[i] = (int8_t)(L[i] + NMAX);
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

/* The low byte of v as a signed byte (ggml stores nearest_int's result in
 * an int8_t before clamping; garbage integers from non-finite input wrap). */
static inline int wrap_i8(int v) {
    const int b = v & 0xff;
    return b >= 128 ? b - 256 : b;
}

/* The 16 scales to 6 bits against the one of largest magnitude (it maps to
 * -32), packed as described above; returns the float super-block scale. */
static float q3_k_pack_scales(const float *scales, uint8_t *packed) {
    float max_scale = 0, amax = 0;
    for (int j = 0; j < 16; j++)
        if (fabsf(scales[j]) > amax) {
            amax = fabsf(scales[j]);
            max_scale = scales[j];
        }
    memset(packed, 0, 12);
    if (max_scale == 0.0f) return 0.0f;
    const float iscale = -32.0f / max_scale;
    for (int j = 0; j < 16; j++) {
        const int l = clamp_int(wrap_i8(nearest_int(iscale * scales[j])), -32, 31) + 32;
        if (j < 8)
            packed[j] = (uint8_t)(l & 0xf);
        else
            packed[j - 8] |= (uint8_t)((l & 0xf) << 4);
        packed[8 + j % 4] |= (uint8_t)((l >> 4) << (2 * (j / 4)));
    }
    return 1 / iscale;
}

/* ggml's quantize_row_q3_K_ref for one block. */
static void q3_k_quantize_block(const float *x, qlm_block_q3_k *b) {
    int8_t L[QLM_QK_K];
    float scales[16];
    for (int j = 0; j < 16; j++)
        scales[j] = q3_k_fit(x + 16 * j, L + 16 * j);
    b->d = qlm_fp32_to_fp16(q3_k_pack_scales(scales, b->scales));
    for (int j = 0; j < 16; j++) {
        const float d = qlm_fp16_to_fp32(b->d) * (float)q3_k_scale(b->scales, j);
        if (d == 0.0f) continue; /* keeps the fit's quants, as ggml */
        for (int i = 0; i < 16; i++)
            L[16 * j + i] = (int8_t)(clamp_int(nearest_int(x[16 * j + i] / d), -4, 3) + 4);
    }
    uint8_t low[QLM_QK_K];
    memset(b->hmask, 0, sizeof b->hmask);
    for (int i = 0; i < QLM_QK_K; i++) {
        const int q = L[i];
        if (q > 3) b->hmask[i % 32] |= (uint8_t)(1u << (i / 32));
        low[i] = (uint8_t)(q > 3 ? q - 4 : q);
    }
    pack_2bit(low, b->qs);
}

void qlm_q3_k_from_float(const float *src, void *dst, int64_t n) {
    qlm_block_q3_k *b = dst;
    for (int64_t i = 0; i < n / QLM_QK_K; i++)
        q3_k_quantize_block(src + i * QLM_QK_K, &b[i]);
}

void qlm_q3_k_to_float(const void *src, float *dst, int64_t n) {
    const qlm_block_q3_k *b = src;
    for (int64_t k = 0; k < n / QLM_QK_K; k++, dst += QLM_QK_K) {
        const float d = qlm_fp16_to_fp32(b[k].d);
        for (int i = 0; i < QLM_QK_K; i++) {
            const float dl = d * (float)q3_k_scale(b[k].scales, i / 16);
            dst[i] = dl * (float)q3_k_quant(&b[k], i);
        }
    }
}

/* Per block: isum = sum_j (sc_j - 32) * sum(q * a) over sub-block j, exact
 * (|isum| <= 32*4*127*256 < 2^24, so its conversion is exact too), then
 *     d = fp16(x.d) * y.d;  t = d * isum;  sum += t
 * (the row dot: a chain of these block steps from 0). */
float qlm_dot_block_q3_k(float sum, const void *x, const void *y) {
    const qlm_block_q3_k *a = x;
    const qlm_block_q8_k *b = y;
    int isum = 0;
    for (int j = 0; j < 16; j++) {
        int sub = 0;
        for (int i = 16 * j; i < 16 * j + 16; i++)
            sub += q3_k_quant(a, i) * b->qs[i];
        isum += q3_k_scale(a->scales, j) * sub;
    }
    const float d = qlm_fp16_to_fp32(a->d) * b->d;
    const float t = d * (float)isum;
    return sum + t;
}

void qlm_vec_dot_q3_k_q8_k(int64_t n, float *s, const void *x, const void *y) {
    const qlm_block_q3_k *a = x;
    const qlm_block_q8_k *b = y;
    float sum = 0.0f;
    for (int64_t k = 0; k < n / QLM_QK_K; k++) sum = qlm_dot_block_q3_k(sum, &a[k], &b[k]);
    *s = sum;
}

/* ================================================================== IQ4_XS */

/* value i = d * (ls - 32) * kvalues[q] for sub-block ib = i / 32, with the
 * 6-bit ls: low 4 bits nibble ib % 2 of scales_l[ib / 2], high 2 bits at
 * bit 2 ib of scales_h; q: byte 16 ib + i % 16 of qs, low nibble for the
 * first 16 values of the sub-block, high nibble for the last 16. */

/* ggml's kvalues_iq4nl: a non-uniform 4-bit grid (IQ4_NL's, shared by
 * IQ4_XS), denser near zero where weights concentrate. */
static const int8_t kvalues[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

static inline int iq4_xs_scale(const qlm_block_iq4_xs *b, int ib) {
    const int lo = (b->scales_l[ib / 2] >> (4 * (ib % 2))) & 0xf;
    return (lo | (((b->scales_h >> (2 * ib)) & 3) << 4)) - 32;
}

static inline int iq4_xs_index(const qlm_block_iq4_xs *b, int i) {
    const uint8_t q = b->qs[16 * (i / 32) + i % 16];
    return i % 32 < 16 ? q & 0xf : q >> 4;
}

/* sum(w q x) and sum(w q^2) of x quantized with inverse scale id, w = x^2. */
static void iq4_sums(const float *x, float id, float *sumqx, float *sumq2) {
    uint8_t L[32];
    qlm_iq4nl_index32(x, id, L);
    float qx = 0, q2 = 0;
    for (int j = 0; j < 32; j++) {
        const float q = kvalues[L[j]], w = x[j] * x[j];
        qx += w * q * x[j];
        q2 += w * q * q;
    }
    *sumqx = qx, *sumq2 = q2;
}

/* ggml's quantize_row_iq4_nl_impl for one 32-value sub-block without
 * weights (ntry = 7): start from the largest magnitude mapped to -127, then
 * try 15 inverse scales (itry - 127) / max, keeping the least-squares
 * scale that maximizes sum(wqx)^2 / sum(wq^2). */
static float iq4_xs_fit(const float *x) {
    float amax = 0, max = 0;
    for (int j = 0; j < 32; j++)
        if (fabsf(x[j]) > amax) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    if (amax < GROUP_MAX_EPS) return 0.0f;
    float d = -max / (float)kvalues[0];
    float sumqx, sumq2;
    iq4_sums(x, 1 / d, &sumqx, &sumq2);
    d = sumq2 > 0 ? sumqx / sumq2 : 0.0f;
    float best = d * sumqx;
    for (int itry = -7; itry <= 7; itry++) {
        iq4_sums(x, (float)(itry + kvalues[0]) / max, &sumqx, &sumq2);
        if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
            d = sumqx / sumq2;
            best = d * sumqx;
        }
    }
    return d;
}

/* ggml's quantize_iq4_xs for one block: fit the 8 sub-blocks, quantize
 * their scales to 6 bits against the one of largest magnitude (-32), then
 * requantize each sub-block with its quantized (float, not fp16) scale. */
static void iq4_xs_quantize_block(const float *x, qlm_block_iq4_xs *b) {
    float scales[8], max_scale = 0, amax_scale = 0;
    for (int ib = 0; ib < 8; ib++) {
        scales[ib] = iq4_xs_fit(x + 32 * ib);
        if (fabsf(scales[ib]) > amax_scale) {
            amax_scale = fabsf(scales[ib]);
            max_scale = scales[ib];
        }
    }
    const float d = -max_scale / 32;
    const float id = d != 0.0f ? 1 / d : 0.0f;
    b->d = qlm_fp32_to_fp16(d);
    b->scales_h = 0;
    memset(b->scales_l, 0, sizeof b->scales_l);
    for (int ib = 0; ib < 8; ib++) {
        const int l = clamp_int(nearest_int(id * scales[ib]), -32, 31);
        const float dl = d * (float)l;
        const float idl = dl != 0.0f ? 1 / dl : 0.0f;
        uint8_t L[32];
        qlm_iq4nl_index32(x + 32 * ib, idl, L);
        for (int j = 0; j < 16; j++)
            b->qs[16 * ib + j] = (uint8_t)(L[j] | (L[j + 16] << 4));
        b->scales_l[ib / 2] |= (uint8_t)(((l + 32) & 0xf) << (4 * (ib % 2)));
        b->scales_h |= (uint16_t)(((l + 32) >> 4) << (2 * ib));
    }
}

void qlm_iq4_xs_from_float(const float *src, void *dst, int64_t n) {
    qlm_block_iq4_xs *b = dst;
    for (int64_t i = 0; i < n / QLM_QK_K; i++)
        iq4_xs_quantize_block(src + i * QLM_QK_K, &b[i]);
}

void qlm_iq4_xs_to_float(const void *src, float *dst, int64_t n) {
    const qlm_block_iq4_xs *b = src;
    for (int64_t k = 0; k < n / QLM_QK_K; k++, dst += QLM_QK_K) {
        const float d = qlm_fp16_to_fp32(b[k].d);
        for (int i = 0; i < QLM_QK_K; i++) {
            const float dl = d * (float)iq4_xs_scale(&b[k], i / 32);
            dst[i] = dl * (float)kvalues[iq4_xs_index(&b[k], i)];
        }
    }
}

/* Per block: isum = sum_ib (ls_ib - 32) * sum(kvalues[q] * a) over
 * sub-block ib, exact in int32 (|isum| <= 32*127*127*256 < 2^31), then
 *     d = fp16(x.d) * y.d;  t = d * (float)isum;  sum += t.
 * |isum| can exceed 2^24, so (float)isum rounds (to nearest even, as every
 * SIMD int -> float conversion does): that rounding is part of the
 * definition. */
float qlm_dot_block_iq4_xs(float sum, const void *x, const void *y) {
    const qlm_block_iq4_xs *a = x;
    const qlm_block_q8_k *b = y;
    int32_t isum = 0;
    for (int ib = 0; ib < 8; ib++) {
        int32_t sub = 0;
        for (int i = 32 * ib; i < 32 * ib + 32; i++) sub += kvalues[iq4_xs_index(a, i)] * b->qs[i];
        isum += iq4_xs_scale(a, ib) * sub;
    }
    const float d = qlm_fp16_to_fp32(a->d) * b->d;
    const float t = d * (float)isum;
    return sum + t;
}

void qlm_vec_dot_iq4_xs_q8_k(int64_t n, float *s, const void *x, const void *y) {
    const qlm_block_iq4_xs *a = x;
    const qlm_block_q8_k *b = y;
    float sum = 0.0f;
    for (int64_t k = 0; k < n / QLM_QK_K; k++) sum = qlm_dot_block_iq4_xs(sum, &a[k], &b[k]);
    *s = sum;
}

/* ================================================================= ternary */

/* TQ1_0 and TQ2_0: value = d * t, t in {-1, 0, 1}, d = the block's largest
 * magnitude; activations Q8_K. */

/* ggml's lroundf(v) + 1 for the ternary quantizers: v = x / amax is in
 * [-1, 1] for finite input, so this is 0, 1 or 2. Non-finite v (NaN from
 * Inf / Inf, or from a NaN input), where lroundf's result is unspecified,
 * gives 1 (a zero weight), which is also what x86 produces there. */
static inline int ternary(float v) {
    if (!(fabsf(v) <= 2.0f)) return 1;
    return (int)roundf(v) + 1;
}

/* ggml's d = MAX(amax, |x|) over the block, in its order (MAX(a, b) = a > b
 * ? a : b, so a NaN is replaced by the next value). */
static float ternary_amax(const float *x) {
    float amax = 0.0f;
    for (int j = 0; j < QLM_QK_K; j++)
        amax = amax > fabsf(x[j]) ? amax : fabsf(x[j]);
    return amax;
}

/* 5 (or 4, then shifted) trits as one base-3 number in a byte, scaled by
 * 256 / 243 rounding up (ggml's ceiling division) so that trit n comes back
 * as ((byte * 3^n mod 256) * 3) >> 8. */
static uint8_t trits_pack(const float *x, int stride, int count, float id) {
    unsigned q = 0;
    for (int n = 0; n < count; n++)
        q = q * 3 + (unsigned)ternary(x[n * stride] * id);
    if (count == 4) q *= 3;
    return (uint8_t)((q * 256 + 242) / 243);
}

static inline int trit_at(uint8_t byte, int n) {
    static const uint8_t pow3[5] = {1, 3, 9, 27, 81};
    const uint8_t q = (uint8_t)(byte * pow3[n]);
    return ((q * 3) >> 8) - 1;
}

/* Value i of a TQ1_0 block: qs[0..31] hold values 0..159 (value 32n + m in
 * trit n of byte m), qs[32..47] values 160..239 (160 + 16n + m in trit n of
 * byte 32 + m), qh[0..3] values 240..255 (240 + 4n + j in trit n of qh[j]). */
static int tq1_0_trit(const qlm_block_tq1_0 *b, int i) {
    if (i < 160) return trit_at(b->qs[i % 32], i / 32);
    if (i < 240) return trit_at(b->qs[32 + (i - 160) % 16], (i - 160) / 16);
    return trit_at(b->qh[(i - 240) % 4], (i - 240) / 4);
}

static void tq1_0_quantize_block(const float *x, qlm_block_tq1_0 *b) {
    const float d = ternary_amax(x);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    b->d = qlm_fp32_to_fp16(d);
    for (int m = 0; m < 32; m++)
        b->qs[m] = trits_pack(x + m, 32, 5, id);
    for (int m = 0; m < 16; m++)
        b->qs[32 + m] = trits_pack(x + 160 + m, 16, 5, id);
    for (int j = 0; j < 4; j++)
        b->qh[j] = trits_pack(x + 240 + j, 4, 4, id);
}

void qlm_tq1_0_from_float(const float *src, void *dst, int64_t n) {
    qlm_block_tq1_0 *b = dst;
    for (int64_t i = 0; i < n / QLM_QK_K; i++)
        tq1_0_quantize_block(src + i * QLM_QK_K, &b[i]);
}

void qlm_tq1_0_to_float(const void *src, float *dst, int64_t n) {
    const qlm_block_tq1_0 *b = src;
    for (int64_t k = 0; k < n / QLM_QK_K; k++, dst += QLM_QK_K) {
        const float d = qlm_fp16_to_fp32(b[k].d);
        for (int i = 0; i < QLM_QK_K; i++)
            dst[i] = (float)tq1_0_trit(&b[k], i) * d;
    }
}

/* TQ2_0: value i's q + 1 (0..2) in the 2-bit fields of qs, laid out as
 * Q2_K's. */
static void tq2_0_quantize_block(const float *x, qlm_block_tq2_0 *b) {
    const float d = ternary_amax(x);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    uint8_t L[QLM_QK_K];
    b->d = qlm_fp32_to_fp16(d);
    for (int i = 0; i < QLM_QK_K; i++)
        L[i] = (uint8_t)ternary(x[i] * id);
    pack_2bit(L, b->qs);
}

void qlm_tq2_0_from_float(const float *src, void *dst, int64_t n) {
    qlm_block_tq2_0 *b = dst;
    for (int64_t i = 0; i < n / QLM_QK_K; i++)
        tq2_0_quantize_block(src + i * QLM_QK_K, &b[i]);
}

void qlm_tq2_0_to_float(const void *src, float *dst, int64_t n) {
    const qlm_block_tq2_0 *b = src;
    for (int64_t k = 0; k < n / QLM_QK_K; k++, dst += QLM_QK_K) {
        const float d = qlm_fp16_to_fp32(b[k].d);
        for (int i = 0; i < QLM_QK_K; i++)
            dst[i] = (float)(get_2bit(b[k].qs, i) - 1) * d;
    }
}

/* TQ1_0 -> TQ2_0: the same values d * t, so the same fp16 d, and each
 * value's t + 1 moved from its base-3 digit into its 2-bit field. The two
 * ternary dots do the same float steps, so converted rows multiply to the
 * same bits (the loader does this for TQ2_0's packed kernels: repack.c).
 * Per byte, digit n is ((byte * 3^n mod 256) * 3) >> 8 (trit_at without the
 * - 1): a multiply, a mask and a shift, in fixed-length loops over bytes
 * that GCC -O2 vectorizes (0.08 ns a value on one core, load time mattering
 * for a 1e9-value model). */
static inline unsigned trit1(unsigned byte, unsigned pow3) { return (((byte * pow3) & 255u) * 3u) >> 8; }

static void tq1_0_to_tq2_0_block(const qlm_block_tq1_0 *x, qlm_block_tq2_0 *y) {
    uint8_t q[QLM_QK_K / 4];
    /* qs[m], m < 32: values m, 32 + m, 64 + m, 96 + m (fields 0-3 of TQ2_0
     * byte m) and 128 + m (field 0 of byte 32 + m) */
    for (int m = 0; m < 32; m++) {
        const unsigned b = x->qs[m];
        q[m] = (uint8_t)(trit1(b, 1) | trit1(b, 3) << 2 | trit1(b, 9) << 4 | trit1(b, 27) << 6);
        q[32 + m] = (uint8_t)trit1(b, 81);
    }
    /* qs[32 + m], m < 16: values 160 + m, 192 + m, 224 + m (fields 1, 2, 3
     * of byte 32 + m) and 176 + m, 208 + m (fields 1, 2 of byte 48 + m) */
    for (int m = 0; m < 16; m++) {
        const unsigned b = x->qs[32 + m];
        q[32 + m] |= (uint8_t)(trit1(b, 1) << 2 | trit1(b, 9) << 4 | trit1(b, 81) << 6);
        q[48 + m] |= (uint8_t)(trit1(b, 3) << 2 | trit1(b, 27) << 4);
    }
    /* qh[j]: values 240 + 4n + j, n < 4 (field 3 of byte 48 + 4n + j) */
    for (int n = 0, pow3 = 1; n < 4; n++, pow3 *= 3)
        for (int j = 0; j < 4; j++) q[48 + 4 * n + j] |= (uint8_t)(trit1(x->qh[j], (unsigned)pow3) << 6);
    memcpy(y->qs, q, sizeof q);
    y->d = x->d;
}

void qlm_tq1_0_to_tq2_0(const void *src, void *dst, int64_t n) {
    const qlm_block_tq1_0 *x = src;
    qlm_block_tq2_0 *y = dst;
    for (int64_t k = 0; k < n / QLM_QK_K; k++) tq1_0_to_tq2_0_block(&x[k], &y[k]);
}

/* Both ternary dots: isum = sum(t a) per block (|isum| <= 127 * 256, exact
 * as a float), then d = fp16(x.d) * y.d; t = d * isum; sum += t, which is
 * ggml's generic ggml_vec_dot_tq{1,2}_0_q8_K operation for operation. A
 * TQ2_0 field of 3 (no quantizer writes it) counts as t = 2, as in ggml. */
void qlm_vec_dot_tq1_0_q8_k(int64_t n, float *s, const void *x, const void *y) {
    const qlm_block_tq1_0 *a = x;
    const qlm_block_q8_k *b = y;
    float sum = 0.0f;
    for (int64_t k = 0; k < n / QLM_QK_K; k++) {
        int isum = 0;
        for (int i = 0; i < QLM_QK_K; i++)
            isum += tq1_0_trit(&a[k], i) * b[k].qs[i];
        const float d = qlm_fp16_to_fp32(a[k].d) * b[k].d;
        const float t = d * (float)isum;
        sum += t;
    }
    *s = sum;
}

float qlm_dot_block_tq2_0(float sum, const void *x, const void *y) {
    const qlm_block_tq2_0 *a = x;
    const qlm_block_q8_k *b = y;
    int isum = 0;
    for (int i = 0; i < QLM_QK_K; i++)
        isum += (get_2bit(a->qs, i) - 1) * b->qs[i];
    const float d = qlm_fp16_to_fp32(a->d) * b->d;
    const float t = d * (float)isum;
    return sum + t;
}

void qlm_vec_dot_tq2_0_q8_k(int64_t n, float *s, const void *x, const void *y) {
    const qlm_block_tq2_0 *a = x;
    const qlm_block_q8_k *b = y;
    float sum = 0.0f;
    for (int64_t k = 0; k < n / QLM_QK_K; k++) sum = qlm_dot_block_tq2_0(sum, &a[k], &b[k]);
    *s = sum;
}
