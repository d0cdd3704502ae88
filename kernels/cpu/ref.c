/* ref.c - scalar reference kernels: the definition every SIMD/GPU kernel is
 * tested against. Plain C, no intrinsics; OpenMP splits matmul rows. */
#include <math.h>
#include <string.h>

#include "ops.h"

size_t qlm_matmul_scratch_size(qlm_type wtype, int64_t n_in, int64_t n_tok) {
    const qlm_type_traits *t = qlm_type_traits_get(wtype);
    if (!t || t->vec_dot_type == QLM_TYPE_F32) return 0; /* F32 activations used as they are */
    return qlm_row_size(t->vec_dot_type, n_in) * (size_t)n_tok;
}

/* Activations are converted once per matmul (not per row) to the type the
 * weight's dot product wants: Q8_0 for Q4_0/Q8_0, Q8_1 for Q4_1 (ggml's
 * vec_dot_type convention, which keeps our numerics close to llama.cpp's). */
static void matmul_ref(const qlm_tensor *w, const float *x, int64_t n_tok, float *y, void *scratch,
                       int n_threads) {
    const qlm_type_traits *t = qlm_type_traits_get(w->type);
    const int64_t n_in = w->ne[0], n_out = qlm_tensor_rows(w);
    const void *act = x;
    size_t act_row = n_in * sizeof(float);
    if (t->vec_dot_type != QLM_TYPE_F32) {
        const qlm_type_traits *at = qlm_type_traits_get(t->vec_dot_type);
        act_row = qlm_row_size(t->vec_dot_type, n_in);
        for (int64_t i = 0; i < n_tok; i++)
            at->from_float(x + i * n_in, (char *)scratch + i * act_row, n_in);
        act = scratch;
    }
    /* Rows outer so each weight row is read once and reused for every token. */
#pragma omp parallel for num_threads(n_threads) schedule(static)
    for (int64_t r = 0; r < n_out; r++) {
        const char *wr = (const char *)w->data + r * w->row_bytes;
        for (int64_t i = 0; i < n_tok; i++)
            t->vec_dot(n_in, &y[i * n_out + r], wr, (const char *)act + i * act_row);
    }
}

static void rmsnorm_ref(float *out, const float *x, const float *w, int64_t n, float eps) {
    double ss = 0.0; /* double: the sum of squares is the one place where rounding shows */
    for (int64_t i = 0; i < n; i++) ss += (double)(x[i] * x[i]);
    const float mean = (float)(ss / (double)n); /* then float, in ggml's order */
    const float scale = 1.0f / sqrtf(mean + eps);
    for (int64_t i = 0; i < n; i++) out[i] = x[i] * scale * w[i];
}

static void rope_ref(float *x, int n_head, int head_dim, int n_rot, const float *theta, float pos,
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

/* Two passes, as llama.cpp's non-flash path computes it: scores, softmax
 * (sum in double), then the weighted sum of V. With an F16 cache, Q and the
 * probabilities are rounded to F16 first, exactly where ggml converts them to
 * the F16 dot-product type; mirroring that keeps our logits within llama.cpp's
 * own rounding noise. scores: n_kv floats of scratch. */
static void attention_head_ref(float *out, const float *q, const void *k, const void *v,
                               qlm_type kv_type, int64_t n_kv, int64_t stride, int head_dim,
                               float scale, float *scores) {
    const int f16 = kv_type == QLM_TYPE_F16;
    float max = -INFINITY;
    for (int64_t p = 0; p < n_kv; p++) {
        float s = 0.0f;
        for (int d = 0; d < head_dim; d++) s += q[d] * kv_at(k, kv_type, p * stride + d);
        scores[p] = s * scale;
        if (scores[p] > max) max = scores[p];
    }
    double sum = 0.0;
    for (int64_t p = 0; p < n_kv; p++) {
        scores[p] = expf(scores[p] - max);
        sum += scores[p];
    }
    const float inv = (float)(1.0 / sum);
    for (int64_t p = 0; p < n_kv; p++) {
        scores[p] *= inv;
        if (f16) scores[p] = qlm_fp16_to_fp32(qlm_fp32_to_fp16(scores[p]));
    }
    for (int d = 0; d < head_dim; d++) {
        float acc = 0.0f;
        for (int64_t p = 0; p < n_kv; p++) acc += scores[p] * kv_at(v, kv_type, p * stride + d);
        out[d] = acc;
    }
}

static void swiglu_ref(float *h, const float *gate, const float *up, int64_t n) {
    for (int64_t i = 0; i < n; i++) h[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
}

const qlm_ops qlm_ops_ref = {
    .name = "ref",
    .matmul = matmul_ref,
    .rmsnorm = rmsnorm_ref,
    .rope = rope_ref,
    .attention_head = attention_head_ref,
    .swiglu = swiglu_ref,
};
