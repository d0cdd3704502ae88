/* ref.c - scalar reference kernels: the definition every SIMD/GPU kernel is
 * tested against. Plain C, no intrinsics; matmul is the shared driver
 * (matmul.c) over the type table's reference dots. The non-matmul ops are
 * exported (kernels.h) so SIMD tables can reuse them. */
#include <math.h>
#include <string.h>

#include "kernels.h"

/* The reference matmul is the shared driver with no SIMD kernels: every
 * dot product and activation conversion comes from the type table. */
static const qlm_cpu_kernels no_kernels;

static void matmul_ref(const qlm_tensor *w, const float *x, int64_t n_tok, float *y, void *scratch,
                       int n_threads) {
    qlm_cpu_matmul(&no_kernels, w, x, n_tok, y, scratch, n_threads);
}

void qlm_cpu_rmsnorm_ref(float *out, const float *x, const float *w, int64_t n, float eps) {
    double ss = 0.0; /* double: the sum of squares is the one place where rounding shows */
    for (int64_t i = 0; i < n; i++) ss += (double)(x[i] * x[i]);
    const float mean = (float)(ss / (double)n); /* then float, in ggml's order */
    const float scale = 1.0f / sqrtf(mean + eps);
    for (int64_t i = 0; i < n; i++) out[i] = x[i] * scale * w[i];
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

/* In place: scores (n, already scaled) -> softmax, summed in double as
 * ggml does; with round_f16 each probability is then rounded to F16, exactly
 * where llama.cpp's non-flash path converts it to the F16 dot-product type. */
void qlm_cpu_softmax_ref(float *scores, int64_t n, int round_f16) {
    float max = -INFINITY;
    for (int64_t p = 0; p < n; p++)
        if (scores[p] > max) max = scores[p];
    double sum = 0.0;
    for (int64_t p = 0; p < n; p++) {
        scores[p] = expf(scores[p] - max);
        sum += scores[p];
    }
    const float inv = (float)(1.0 / sum);
    for (int64_t p = 0; p < n; p++) {
        scores[p] *= inv;
        if (round_f16) scores[p] = qlm_fp16_to_fp32(qlm_fp32_to_fp16(scores[p]));
    }
}

/* Two passes, as llama.cpp's non-flash path computes it: scores, softmax,
 * then the weighted sum of V. With an F16 cache Q arrives rounded to F16 and
 * the probabilities are rounded too; mirroring ggml's conversions keeps our
 * logits within llama.cpp's own rounding noise. scores: n_kv floats of scratch. */
void qlm_cpu_attention_head_ref(float *out, const float *q, const void *k, const void *v,
                                qlm_type kv_type, int64_t n_kv, int64_t stride, int head_dim,
                                float scale, float *scores) {
    for (int64_t p = 0; p < n_kv; p++) {
        float s = 0.0f;
        for (int d = 0; d < head_dim; d++) s += q[d] * kv_at(k, kv_type, p * stride + d);
        scores[p] = s * scale;
    }
    qlm_cpu_softmax_ref(scores, n_kv, kv_type == QLM_TYPE_F16);
    for (int d = 0; d < head_dim; d++) {
        float acc = 0.0f;
        for (int64_t p = 0; p < n_kv; p++) acc += scores[p] * kv_at(v, kv_type, p * stride + d);
        out[d] = acc;
    }
}

void qlm_cpu_swiglu_ref(float *h, const float *gate, const float *up, int64_t n) {
    for (int64_t i = 0; i < n; i++) h[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
}

const qlm_ops qlm_ops_ref = {
    .name = "ref",
    .matmul = matmul_ref,
    .rmsnorm = qlm_cpu_rmsnorm_ref,
    .rope = qlm_cpu_rope_ref,
    .attention_head = qlm_cpu_attention_head_ref,
    .swiglu = qlm_cpu_swiglu_ref,
};
