// context.cu - a context's device side: buffers allocated once, the step
// (qlm_cuda_forward) with the one-token decode captured into a CUDA graph on
// first use and replayed after, and the context shift on the device cache.
#include <stdlib.h>
#include <string.h>

#include "attention.cuh"
#include "backend.cuh"
#include "ops.cuh"

static size_t max_matmul_scratch(const qlm_cuda_model *cm, int64_t n_tok) {
    size_t s = cm->has_output ? qlm_cu_matmul_scratch_size(cm->output.type, cm->output.n_in, cm->output.n_out, n_tok) : 0;
    for (int il = 0; il < cm->n_layers; il++) {
        const qlm_cu_layer *l = &cm->layers[il];
        const qlm_cu_weight *ws[] = {&l->wq, &l->wk, &l->wv, &l->wo, &l->gate, &l->up, &l->down};
        for (const qlm_cu_weight *w : ws) {
            const size_t z = qlm_cu_matmul_scratch_size(w->type, w->n_in, w->n_out, n_tok);
            if (z > s) s = z;
        }
    }
    return s;
}

// Device buffers, in one list so that allocation and freeing walk the same
// fields. Sizes in bytes, from the context's shapes.
struct buffer {
    void **ptr;
    size_t bytes;
};

static int ctx_buffers(qlm_cuda_ctx *cc, buffer *b) {
    const qlm_context *c = cc->ctx;
    const qlm_hparams *hp = &cc->cm->model->hp;
    const size_t nb = (size_t)c->n_batch, f = sizeof(float);
    const size_t q_dim = (size_t)hp->n_head * hp->head_dim, kv_dim = (size_t)hp->n_head_kv * hp->head_dim;
    const size_t kv = (size_t)cc->cm->n_layers * c->n_ctx * kv_dim * (cc->kv_f16 ? 2 : 4);
    const size_t n_logit_rows = c->logits_all ? nb : 1;
    int n = 0;
    b[n++] = buffer{(void **)&cc->x, nb * hp->n_embd * f};
    b[n++] = buffer{(void **)&cc->xb, nb * hp->n_embd * f};
    b[n++] = buffer{(void **)&cc->q, nb * q_dim * f};
    b[n++] = buffer{(void **)&cc->att, nb * q_dim * f};
    b[n++] = buffer{(void **)&cc->k, nb * kv_dim * f};
    b[n++] = buffer{(void **)&cc->v, nb * kv_dim * f};
    b[n++] = buffer{(void **)&cc->hb, nb * hp->n_ff * f};
    b[n++] = buffer{(void **)&cc->hb2, nb * hp->n_ff * f};
    b[n++] = buffer{(void **)&cc->logits, cc->cm->has_output ? n_logit_rows * hp->n_vocab * f : f};
    b[n++] = buffer{&cc->k_cache, kv};
    b[n++] = buffer{&cc->v_cache, kv};
    b[n++] = buffer{(void **)&cc->theta, (size_t)(hp->n_rot / 2 + 1) * f};
    b[n++] = buffer{(void **)&cc->theta_swa, (size_t)(hp->n_rot / 2 + 1) * f};
    b[n++] = buffer{(void **)&cc->d_n_past, sizeof(int32_t)};
    b[n++] = buffer{&cc->mm_scratch, max_matmul_scratch(cc->cm, c->n_batch)};
    b[n++] = buffer{&cc->att_scratch, qlm_cu_attention_scratch_size(c->n_batch, hp->n_head, hp->head_dim, c->n_ctx)};
    return n;
}

static qlm_status ctx_alloc(qlm_cuda_ctx *cc, qlm_errbuf *err) {
    const qlm_context *c = cc->ctx;
    const qlm_hparams *hp = &cc->cm->model->hp;
    buffer b[32];
    const int n = ctx_buffers(cc, b);
    size_t total = 0;
    for (int i = 0; i < n; i++) total += b[i].bytes;
    for (int i = 0; i < n; i++) {
        cudaError_t e = cudaMalloc(b[i].ptr, b[i].bytes ? b[i].bytes : 1);
        if (e != cudaSuccess)
            return qlm_err(err, QLM_ERR_NOMEM, "cannot allocate %.1f MiB of device memory for a context of %d tokens "
                           "(batch %d): %s", total / 1048576.0, c->n_ctx, c->n_batch, cudaGetErrorString(e));
    }
    const size_t out_row = (size_t)(hp->n_vocab > hp->n_embd ? hp->n_vocab : hp->n_embd) * sizeof(float);
    if (cudaMallocHost((void **)&cc->h_n_past, sizeof(int32_t)) != cudaSuccess ||
        cudaMallocHost((void **)&cc->h_x, (size_t)hp->n_embd * sizeof(float)) != cudaSuccess ||
        cudaMallocHost((void **)&cc->h_out, out_row) != cudaSuccess)
        return qlm_err(err, QLM_ERR_NOMEM, "cannot allocate pinned host memory");
    const size_t th = (size_t)(hp->n_rot / 2) * sizeof(float);
    if (cudaMemcpy(cc->theta, c->theta, th, cudaMemcpyHostToDevice) != cudaSuccess ||
        cudaMemcpy(cc->theta_swa, c->theta_swa, th, cudaMemcpyHostToDevice) != cudaSuccess)
        return qlm_err(err, QLM_ERR_INTERNAL, "uploading the RoPE angles failed");
    return QLM_OK;
}

extern "C" qlm_status qlm_cuda_ctx_new(qlm_cuda_model *cm, const qlm_context *ctx, qlm_cuda_ctx **out,
                                       qlm_errbuf *err) {
    *out = NULL;
    qlm_cuda_ctx *cc = (qlm_cuda_ctx *)calloc(1, sizeof *cc);
    if (!cc) return qlm_err(err, QLM_ERR_NOMEM, "out of memory");
    cc->cm = cm;
    cc->ctx = ctx;
    cc->kv_f16 = ctx->kv_type == QLM_TYPE_F16;
    qlm_status st = QLM_OK;
    if (cudaStreamCreateWithFlags(&cc->stream, cudaStreamNonBlocking) != cudaSuccess)
        st = qlm_err(err, QLM_ERR_INTERNAL, "cannot create a CUDA stream");
    else if (!(cc->blas = qlm_cu_blas_create(cc->stream)))
        st = qlm_err(err, QLM_ERR_INTERNAL, "cannot initialize cuBLAS");
    else
        st = ctx_alloc(cc, err);
    if (st != QLM_OK) {
        qlm_cuda_ctx_free(cc);
        return st;
    }
    *out = cc;
    return QLM_OK;
}

extern "C" void qlm_cuda_ctx_free(qlm_cuda_ctx *cc) {
    if (!cc) return;
    if (cc->decode_graph) cudaGraphExecDestroy(cc->decode_graph);
    buffer b[32];
    const int n = ctx_buffers(cc, b);
    for (int i = 0; i < n; i++)
        if (*b[i].ptr) cudaFree(*b[i].ptr);
    if (cc->h_n_past) cudaFreeHost(cc->h_n_past);
    if (cc->h_x) cudaFreeHost(cc->h_x);
    if (cc->h_out) cudaFreeHost(cc->h_out);
    if (cc->blas) qlm_cu_blas_destroy(cc->blas);
    if (cc->stream) cudaStreamDestroy(cc->stream);
    free(cc);
}

// Where the step's result goes: the logits (whole model on the device) or
// the residual stream (the CPU runs the remaining layers).
static int step_gives_logits(const qlm_cuda_ctx *cc, int want_logits) { return cc->cm->has_output && want_logits; }

// Enqueues input upload, step and result download for one token, reading
// and writing the pinned staging buffers (so a graph can hold the copies).
static cudaError_t enqueue_decode(qlm_cuda_ctx *cc, int want_logits, float *h_out) {
    const qlm_hparams *hp = &cc->cm->model->hp;
    cudaError_t e = cudaMemcpyAsync(cc->x, cc->h_x, (size_t)hp->n_embd * sizeof(float), cudaMemcpyHostToDevice,
                                    cc->stream);
    if (e == cudaSuccess) e = qlm_cu_forward_enqueue(cc, 1, want_logits);
    if (e != cudaSuccess) return e;
    if (step_gives_logits(cc, want_logits))
        return cudaMemcpyAsync(h_out, cc->logits, (size_t)hp->n_vocab * sizeof(float), cudaMemcpyDeviceToHost,
                               cc->stream);
    return cudaMemcpyAsync(h_out, cc->x, (size_t)hp->n_embd * sizeof(float), cudaMemcpyDeviceToHost, cc->stream);
}

// Graphs are on unless QLM_CUDA_GRAPHS=0 (to compare, or to debug a step).
static int graphs_enabled(void) {
    const char *v = getenv("QLM_CUDA_GRAPHS");
    return !(v && strcmp(v, "0") == 0);
}

// The one-token step as a graph: captured the first time (and again when the
// caller switches between wanting logits or not), then replayed. It reads
// h_x and writes h_out, pinned buffers that live as long as the graph.
static cudaError_t decode_with_graph(qlm_cuda_ctx *cc, int want_logits) {
    const int key = step_gives_logits(cc, want_logits) ? 1 : 2;
    if (cc->decode_graph && cc->decode_graph_logits != key) {
        cudaGraphExecDestroy(cc->decode_graph);
        cc->decode_graph = NULL;
    }
    if (!cc->decode_graph) {
        cudaGraph_t g;
        cudaError_t e = cudaStreamBeginCapture(cc->stream, cudaStreamCaptureModeThreadLocal);
        if (e != cudaSuccess) return e;
        const cudaError_t enq = enqueue_decode(cc, want_logits, cc->h_out);
        e = cudaStreamEndCapture(cc->stream, &g);
        if (enq != cudaSuccess) e = enq;
        if (e != cudaSuccess) return e;
        e = cudaGraphInstantiate(&cc->decode_graph, g, 0);
        cudaGraphDestroy(g);
        if (e != cudaSuccess) return e;
        cc->decode_graph_logits = key;
    }
    return cudaGraphLaunch(cc->decode_graph, cc->stream);
}

static cudaError_t forward_batch(qlm_cuda_ctx *cc, float *x, int32_t n_tok, int want_logits, float *logits) {
    const qlm_hparams *hp = &cc->cm->model->hp;
    const size_t row = (size_t)hp->n_embd * sizeof(float);
    cudaError_t e = cudaMemcpyAsync(cc->x, x, n_tok * row, cudaMemcpyHostToDevice, cc->stream);
    if (e == cudaSuccess) e = qlm_cu_forward_enqueue(cc, n_tok, want_logits);
    if (e != cudaSuccess) return e;
    if (!step_gives_logits(cc, want_logits))
        return cudaMemcpyAsync(x, cc->x, n_tok * row, cudaMemcpyDeviceToHost, cc->stream);
    const int32_t n = cc->ctx->logits_all ? n_tok : 1;
    return cudaMemcpyAsync(logits, cc->logits, (size_t)n * hp->n_vocab * sizeof(float), cudaMemcpyDeviceToHost,
                           cc->stream);
}

extern "C" qlm_status qlm_cuda_forward(qlm_cuda_ctx *cc, float *x, int32_t n_tok, int32_t n_past, int want_logits,
                                       float *logits, int32_t *n_logits, qlm_errbuf *err) {
    const qlm_hparams *hp = &cc->cm->model->hp;
    *cc->h_n_past = n_past;
    cudaError_t e = cudaMemcpyAsync(cc->d_n_past, cc->h_n_past, sizeof(int32_t), cudaMemcpyHostToDevice, cc->stream);
    const int gives_logits = step_gives_logits(cc, want_logits);
    const int use_graph = n_tok == 1 && graphs_enabled();
    if (e == cudaSuccess && use_graph) {
        memcpy(cc->h_x, x, (size_t)hp->n_embd * sizeof(float));
        e = decode_with_graph(cc, want_logits);
    } else if (e == cudaSuccess) {
        e = forward_batch(cc, x, n_tok, want_logits, logits);
    }
    if (e == cudaSuccess) e = cudaStreamSynchronize(cc->stream);
    if (e != cudaSuccess)
        return qlm_err(err, QLM_ERR_INTERNAL, "CUDA step of %d tokens at position %d failed: %s", n_tok, n_past,
                       cudaGetErrorString(e));
    if (use_graph && gives_logits) memcpy(logits, cc->h_out, (size_t)hp->n_vocab * sizeof(float));
    if (use_graph && !gives_logits) memcpy(x, cc->h_out, (size_t)hp->n_embd * sizeof(float));
    if (n_logits) *n_logits = gives_logits ? (cc->ctx->logits_all ? n_tok : 1) : 0;
    return QLM_OK;
}

// Rows [src, src + n) of one layer to dst, through the k/v activation
// buffers (n_batch rows) in ascending chunks: dst < src, so a chunk's
// destination never holds rows a later chunk still has to read.
static cudaError_t shift_layer(qlm_cuda_ctx *cc, int il, int32_t dst, int32_t src, int32_t n, float delta) {
    const qlm_hparams *hp = &cc->cm->model->hp;
    const qlm_cu_layer *l = &cc->cm->layers[il];
    const int64_t kv_dim = (int64_t)hp->n_head_kv * hp->head_dim;
    const size_t elem = cc->kv_f16 ? 2 : 4, layer = (size_t)il * cc->ctx->n_ctx * kv_dim * elem;
    char *kc = (char *)cc->k_cache + layer, *vc = (char *)cc->v_cache + layer;
    for (int32_t i = 0; i < n; i += cc->ctx->n_batch) {
        const int32_t rows = n - i < cc->ctx->n_batch ? n - i : cc->ctx->n_batch;
        const size_t from = (size_t)(src + i) * kv_dim * elem, to = (size_t)(dst + i) * kv_dim * elem;
        QLM_CU_TRY(qlm_cu_convert(cc->stream, cc->k, 0, kc + from, cc->kv_f16, rows * kv_dim));
        QLM_CU_TRY(qlm_cu_rope(cc->stream, cc->k, rows, hp->n_head_kv, hp->head_dim, hp->n_rot,
                         l->swa ? cc->theta_swa : cc->theta, NULL, -delta, hp->rope_style == QLM_ROPE_NEOX));
        QLM_CU_TRY(qlm_cu_convert(cc->stream, kc + to, cc->kv_f16, cc->k, 0, rows * kv_dim));
        QLM_CU_TRY(cudaMemcpyAsync(cc->v, vc + from, rows * kv_dim * elem, cudaMemcpyDeviceToDevice, cc->stream));
        QLM_CU_TRY(cudaMemcpyAsync(vc + to, cc->v, rows * kv_dim * elem, cudaMemcpyDeviceToDevice, cc->stream));
    }
    return cudaSuccess;
}

extern "C" qlm_status qlm_cuda_kv_shift(qlm_cuda_ctx *cc, int32_t dst, int32_t src, int32_t n, float delta,
                                        qlm_errbuf *err) {
    cudaError_t e = cudaSuccess;
    for (int il = 0; il < cc->cm->n_layers && e == cudaSuccess; il++) e = shift_layer(cc, il, dst, src, n, delta);
    if (e == cudaSuccess) e = cudaStreamSynchronize(cc->stream);
    if (e != cudaSuccess) return qlm_err(err, QLM_ERR_INTERNAL, "CUDA context shift failed: %s", cudaGetErrorString(e));
    return QLM_OK;
}
