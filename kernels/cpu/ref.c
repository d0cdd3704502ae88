/* ref.c - scalar reference kernels: the definition every SIMD/GPU kernel is
 * tested against. Plain C, no intrinsics; matmul is the shared driver
 * (matmul.c) over the type table's reference dots. The non-matmul ops are
 * exported (kernels.h) so SIMD tables can reuse them. */
#include <math.h>
#include <string.h>

#include "exp.h"
#include "kernels.h"

/* The reference matmul is the shared driver with no SIMD kernels: every
 * dot product and activation conversion comes from the type table. */
static const qlm_cpu_kernels no_kernels;

QLM_CPU_MATMUL_ENTRY_POINTS(ref, no_kernels)

/* The sum of squares in double (the one place where rounding shows), in
 * the lane order the SIMD tables reproduce: partial sum j takes the
 * (float) squares of x[8i + j] in order, then the partials fold j + 4, + 2,
 * + 1, as the softmax's. ggml sums in one chain; the two orders differ by
 * far less than the float rounding of the mean, and one chain is a 4-cycle
 * latency per value (1.5% of a prompt). */
void qlm_cpu_rmsnorm_ref(float *out, const float *x, const float *w, int64_t n, float eps) {
    double lane[8] = {0};
    for (int64_t i = 0; i < n; i++) lane[i % 8] += (double)(x[i] * x[i]);
    const float scale = qlm_cpu_rmsnorm_scale(lane, n, eps);
    for (int64_t i = 0; i < n; i++) out[i] = x[i] * scale * w[i];
}

/* The 8 partial sums folded, then the mean and scale in ggml's order; every
 * table's rmsnorm then writes x[i] * scale * w[i] (lane is clobbered). */
float qlm_cpu_rmsnorm_scale(double lane[8], int64_t n, float eps) {
    for (int k = 4; k >= 1; k /= 2)
        for (int j = 0; j < k; j++) lane[j] += lane[j + k];
    const float mean = (float)(lane[0] / (double)n); /* then float, in ggml's order */
    return 1.0f / sqrtf(mean + eps);
}

void qlm_cpu_rope_ref(float *x, int n_head, int head_dim, int n_rot, const float *theta, float pos,
                      qlm_rope_style style) {
    const int half = n_rot / 2;
    for (int i = 0; i < half; i++) {
        const float a = pos * theta[i], c = cosf(a), s = sinf(a);
        for (int h = 0; h < n_head; h++) {
            float *v = x + (int64_t)h * head_dim;
            const int i0 = style == QLM_ROPE_NEOX ? i : 2 * i;
            const int i1 = style == QLM_ROPE_NEOX ? i + half : 2 * i + 1;
            const float x0 = v[i0], x1 = v[i1];
            v[i0] = x0 * c - x1 * s;
            v[i1] = x0 * s + x1 * c;
        }
    }
}

static float kv_at(const void *base, qlm_type type, int64_t i) {
    return type == QLM_TYPE_F16 ? qlm_fp16_to_fp32(((const uint16_t *)base)[i]) : ((const float *)base)[i];
}

/* exp(x) = 2^n * e^r with n = round(x / ln 2) and |r| <= ln(2) / 2: r by a
 * two-constant Cody-Waite reduction, e^r by a degree-7 polynomial (Cephes'
 * expf coefficients, ~1 ulp), 2^n by building the exponent bits. Only
 * multiplies, adds and compares, each rounded once (the build disables
 * fused multiply-add contraction), so SIMD lanes reproduce it exactly.
 * Below -87.34 the result flushes to 0; from 88.38 (where n reaches 128) it
 * is +Inf, 0.34 short of float's true overflow: no caller gets near. */
float qlm_expf_ref(float x) {
    if (x != x) return x;
    if (x > QLM_EXP_HI) return INFINITY;
    if (x < QLM_EXP_LO) return 0.0f;
    const float t = x * QLM_LOG2E + QLM_ROUND_MAGIC; /* round to nearest integer, in the low mantissa bits */
    const float n = t - QLM_ROUND_MAGIC;
    const float r1 = x - n * QLM_LN2_HI;
    const float r = r1 - n * QLM_LN2_LO;
    float p = QLM_EXP_P0;
    p = p * r + QLM_EXP_P1;
    p = p * r + QLM_EXP_P2;
    p = p * r + QLM_EXP_P3;
    p = p * r + QLM_EXP_P4;
    p = p * r + QLM_EXP_P5;
    const float r2 = r * r;
    const float e = p * r2 + r + 1.0f;
    const uint32_t bits = (uint32_t)((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, 4);
    return e * scale;
}

/* In place: scores (n, already scaled) -> softmax, summed in double as
 * ggml does (8 partial sums, p % 8, folded 4, 2, 1: the order SIMD tables
 * replay); with round_f16 each probability is then rounded to F16, exactly
 * where llama.cpp's non-flash path converts it to the F16 dot-product type. */
void qlm_cpu_softmax_ref(float *scores, int64_t n, int round_f16) {
    float max = -INFINITY;
    for (int64_t p = 0; p < n; p++)
        if (scores[p] > max) max = scores[p];
    double lane[8] = {0};
    for (int64_t p = 0; p < n; p++) {
        scores[p] = qlm_expf_ref(scores[p] - max);
        lane[p % 8] += (double)scores[p];
    }
    for (int w = 4; w >= 1; w /= 2)
        for (int j = 0; j < w; j++) lane[j] += lane[j + w];
    const double sum = lane[0];
    const float inv = (float)(1.0 / sum);
    for (int64_t p = 0; p < n; p++) {
        scores[p] *= inv;
        if (round_f16) scores[p] = qlm_fp16_to_fp32(qlm_fp32_to_fp16(scores[p]));
    }
}

/* q . k in the lane order every SIMD table reproduces bit for bit: element
 * i goes to partial sum i % 16 (a fused multiply-add, one rounding, as
 * ggml's F16 dot), and the 16 partial sums are folded pairwise, j + j+8,
 * then + 4, + 2, + 1 (how a 512-bit register, or two 256-bit ones, reduce).
 * A model this small amplifies any rounding difference in attention into
 * logit changes of several tenths, so the tables agree exactly rather than
 * approximately. Every SIMD level the tables use has a fused multiply-add
 * (AVX2's level requires FMA; NEON's fmla), and fmaf is the same operation. */
static float dot16_kv(const float *q, const void *k, qlm_type kv_type, int64_t base, int n) {
    float lane[16] = {0};
    for (int d = 0; d < n; d++) lane[d % 16] = fmaf(q[d], kv_at(k, kv_type, base + d), lane[d % 16]);
    for (int w = 8; w >= 1; w /= 2)
        for (int j = 0; j < w; j++) lane[j] += lane[j + w];
    return lane[0];
}

/* Two passes, as llama.cpp's non-flash path computes it: scores, softmax,
 * then the weighted sum of V. With an F16 cache Q arrives rounded to F16 and
 * the probabilities are rounded too; mirroring ggml's conversions keeps our
 * logits within llama.cpp's own rounding noise. scores: n_kv floats of
 * scratch. Each output sums its positions in order, a fused multiply-add
 * each from 0. */
void qlm_cpu_attention_head_ref(float *out, const float *q, const void *k, const void *v,
                                qlm_type kv_type, int64_t n_kv, int64_t stride, int head_dim,
                                float scale, float *scores) {
    for (int64_t p = 0; p < n_kv; p++) scores[p] = dot16_kv(q, k, kv_type, p * stride, head_dim) * scale;
    qlm_cpu_softmax_ref(scores, n_kv, kv_type == QLM_TYPE_F16);
    for (int d = 0; d < head_dim; d++) {
        float acc = 0.0f;
        for (int64_t p = 0; p < n_kv; p++) acc = fmaf(scores[p], kv_at(v, kv_type, p * stride + d), acc);
        out[d] = acc;
    }
}

void qlm_cpu_attention_heads_ref(float *out, const float *q, int n_heads, const void *k, const void *v,
                                 qlm_type kv_type, int64_t n_kv, int64_t stride, int head_dim, float scale,
                                 float *scratch) {
    for (int h = 0; h < n_heads; h++)
        qlm_cpu_attention_head_ref(out + (int64_t)h * head_dim, q + (int64_t)h * head_dim, k, v, kv_type, n_kv,
                                   stride, head_dim, scale, scratch + h * n_kv);
}

void qlm_cpu_swiglu_ref(float *h, const float *gate, const float *up, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        const float e = qlm_expf_ref(-gate[i]);
        h[i] = gate[i] / (1.0f + e) * up[i];
    }
}

/* GELU with the tanh approximation, 0.5 x (1 + tanh(u)) with
 * u = sqrt(2/pi) (x + 0.044715 x^3), written as x / (1 + exp(-2u)) (the same
 * function: 0.5 (1 + tanh(u)) is the logistic function of 2u) so that it
 * reuses qlm_expf_ref and SIMD tables replay it exactly. For x far below 0,
 * exp overflows to Inf and the result is -0; far above, exp(-2u) is 0 and
 * the result is x. */
void qlm_cpu_geglu_ref(float *h, const float *gate, const float *up, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        const float x = gate[i];
        const float x2 = x * x;
        const float c = QLM_GELU_C3 * x2;
        const float z = QLM_GELU_2K * x * (1.0f + c);
        const float e = qlm_expf_ref(-z);
        h[i] = x / (1.0f + e) * up[i];
    }
}

void qlm_cpu_to_f16_ref(uint16_t *dst, const float *src, int64_t n) {
    for (int64_t i = 0; i < n; i++) dst[i] = qlm_fp32_to_fp16(src[i]);
}

void qlm_cpu_round_f16_ref(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = qlm_fp16_to_fp32(qlm_fp32_to_fp16(x[i]));
}

const qlm_ops qlm_ops_ref = {
    .name = "ref",
    .r16_types = QLM_R16_TYPES,
    .matmul = matmul_ref,
    .matmul_n = matmul_n_ref,
    .rmsnorm = qlm_cpu_rmsnorm_ref,
    .rope = qlm_cpu_rope_ref,
    .attention_head = qlm_cpu_attention_head_ref,
    .attention_heads = qlm_cpu_attention_heads_ref,
    .swiglu = qlm_cpu_swiglu_ref,
    .geglu = qlm_cpu_geglu_ref,
    .to_f16 = qlm_cpu_to_f16_ref,
    .round_f16 = qlm_cpu_round_f16_ref,
};
