// model.cu - uploads a model's weights to the device once, at load: every
// tensor of the offloaded layers (and the output head when all layers go)
// into one device allocation, in the file's row layout, which is what the
// matmul kernels read (matmul.cuh).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.cuh"

#define QLM_CU_ALIGN 256 // every tensor starts 256-byte aligned (128-bit loads, cuBLAS)

// The arena is filled in two passes with the same walk: the first only
// counts bytes (base == NULL), the second copies.
struct upload {
    char *base;
    size_t used;
    cudaError_t err;
    const char *failed; // the tensor whose copy failed
};

static const void *put(upload *u, const qlm_tensor *t, size_t bytes) {
    const size_t off = (u->used + QLM_CU_ALIGN - 1) / QLM_CU_ALIGN * QLM_CU_ALIGN;
    u->used = off + bytes;
    if (!u->base || u->err != cudaSuccess) return NULL;
    u->err = cudaMemcpy(u->base + off, t->data, bytes, cudaMemcpyHostToDevice);
    if (u->err != cudaSuccess) u->failed = t->name;
    return u->base + off;
}

static qlm_cu_weight put_weight(upload *u, const qlm_tensor *t) {
    qlm_cu_weight w;
    memset(&w, 0, sizeof w);
    w.type = t->type;
    w.n_in = t->ne[0];
    w.n_out = qlm_tensor_rows(t);
    w.row_bytes = t->row_bytes;
    w.data = put(u, t, (size_t)w.n_out * t->row_bytes);
    return w;
}

// An optional F32 vector (norm weight, bias): NULL when absent.
static const float *put_vector(upload *u, const qlm_tensor *t) {
    if (!t->data) return NULL;
    return (const float *)put(u, t, (size_t)t->ne[0] * sizeof(float));
}

static void put_layer(upload *u, const qlm_layer *l, qlm_cu_layer *d) {
    d->wq = put_weight(u, &l->wq), d->wk = put_weight(u, &l->wk), d->wv = put_weight(u, &l->wv);
    d->wo = put_weight(u, &l->wo);
    d->gate = put_weight(u, &l->ffn_gate), d->up = put_weight(u, &l->ffn_up);
    d->down = put_weight(u, &l->ffn_down);
    d->attn_norm = put_vector(u, &l->attn_norm), d->ffn_norm = put_vector(u, &l->ffn_norm);
    d->bq = put_vector(u, &l->bq), d->bk = put_vector(u, &l->bk), d->bv = put_vector(u, &l->bv);
    d->q_norm = put_vector(u, &l->attn_q_norm), d->k_norm = put_vector(u, &l->attn_k_norm);
    d->attn_post_norm = put_vector(u, &l->attn_post_norm);
    d->ffn_post_norm = put_vector(u, &l->ffn_post_norm);
    d->swa = l->swa;
}

static void put_model(upload *u, qlm_cuda_model *cm) {
    const qlm_model *m = cm->model;
    for (int il = 0; il < cm->n_layers; il++) put_layer(u, &m->layers[il], &cm->layers[il]);
    if (!cm->has_output) return;
    cm->output = put_weight(u, &m->output);
    cm->output_norm = put_vector(u, &m->output_norm);
}

// The device kernels read the file's rows; a tensor the CPU repack already
// interleaved cannot go (the engine uploads before repacking).
static const char *unsupported_tensor(const qlm_cuda_model *cm) {
    const qlm_model *m = cm->model;
    for (int il = 0; il < cm->n_layers; il++) {
        const qlm_layer *l = &m->layers[il];
        const qlm_tensor *ts[] = {&l->wq, &l->wk, &l->wv, &l->wo, &l->ffn_gate, &l->ffn_up, &l->ffn_down};
        for (const qlm_tensor *t : ts)
            if (t->layout != QLM_LAYOUT_ROWS || !qlm_cu_type_supported(t->type)) return t->name;
    }
    if (cm->has_output && (m->output.layout != QLM_LAYOUT_ROWS || !qlm_cu_type_supported(m->output.type)))
        return m->output.name;
    return NULL;
}

extern "C" qlm_status qlm_cuda_model_new(const qlm_model *m, int n_gpu_layers, qlm_cuda_model **out,
                                         qlm_errbuf *err) {
    *out = NULL;
    qlm_cuda_model *cm = (qlm_cuda_model *)calloc(1, sizeof *cm);
    if (!cm) return qlm_err(err, QLM_ERR_NOMEM, "out of memory");
    cm->model = m;
    cm->n_layers = n_gpu_layers < m->hp.n_layer ? n_gpu_layers : m->hp.n_layer;
    cm->has_output = n_gpu_layers >= m->hp.n_layer;
    cm->layers = (qlm_cu_layer *)calloc((size_t)(cm->n_layers > 0 ? cm->n_layers : 1), sizeof *cm->layers);
    if (!cm->layers) {
        qlm_cuda_model_free(cm);
        return qlm_err(err, QLM_ERR_NOMEM, "out of memory");
    }
    const char *bad = unsupported_tensor(cm);
    if (bad) {
        qlm_cuda_model_free(cm);
        return qlm_err(err, QLM_ERR_UNSUPPORTED, "%s: tensor %s has no CUDA kernel (type or layout)", m->path, bad);
    }
    upload u = {NULL, 0, cudaSuccess, NULL};
    put_model(&u, cm); // sizes only
    cm->arena_bytes = u.used;
    cudaError_t e = cudaMalloc(&cm->arena, u.used ? u.used : 1);
    if (e != cudaSuccess) {
        qlm_cuda_model_free(cm);
        return qlm_err(err, QLM_ERR_NOMEM, "%s: cannot allocate %.1f MiB of device memory for the weights: %s",
                       m->path, u.used / 1048576.0, cudaGetErrorString(e));
    }
    u = upload{(char *)cm->arena, 0, cudaSuccess, NULL};
    put_model(&u, cm);
    if (u.err != cudaSuccess) {
        qlm_cuda_model_free(cm);
        return qlm_err(err, QLM_ERR_INTERNAL, "%s: uploading %s failed: %s", m->path, u.failed,
                       cudaGetErrorString(u.err));
    }
    *out = cm;
    return QLM_OK;
}

extern "C" void qlm_cuda_model_free(qlm_cuda_model *cm) {
    if (!cm) return;
    if (cm->arena) cudaFree(cm->arena);
    free(cm->layers);
    free(cm);
}

extern "C" int qlm_cuda_model_n_layers(const qlm_cuda_model *cm) { return cm ? cm->n_layers : 0; }
extern "C" int qlm_cuda_model_has_output(const qlm_cuda_model *cm) { return cm ? cm->has_output : 0; }
extern "C" uint64_t qlm_cuda_model_bytes(const qlm_cuda_model *cm) { return cm ? cm->arena_bytes : 0; }

extern "C" void qlm_cuda_describe(char *buf, size_t cap) {
    if (!cap) return;
    buf[0] = '\0';
    cudaDeviceProp p;
    if (qlm_cuda_device_count() == 0 || cudaGetDeviceProperties(&p, 0) != cudaSuccess) return;
    snprintf(buf, cap, "%s, %.1f GiB, sm_%d%d", p.name, p.totalGlobalMem / 1073741824.0, p.major, p.minor);
}
