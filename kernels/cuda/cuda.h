/* cuda.h - the CUDA backend as the engine sees it (C). The .cu files beside
 * it are built by nvcc when found (make CUDA=auto|0|1) or, for the tests, by
 * the host compiler against the CPU emulator (make CUDA=emu).
 *
 * A model's first n_gpu_layers layers live on the device (weights uploaded
 * once at load, in their file layout); a context then keeps their KV cache
 * and activations there. qlm_forward hands those layers to
 * qlm_cuda_forward and runs the rest on the CPU. */
#ifndef QLM_CUDA_H
#define QLM_CUDA_H

#include <stddef.h>
#include <stdint.h>

#include "errbuf.h"

#ifdef __cplusplus
extern "C" {
#endif

struct qlm_model;
struct qlm_context;
typedef struct qlm_cuda_model qlm_cuda_model; /* weights on the device */
typedef struct qlm_cuda_ctx qlm_cuda_ctx;     /* one context's KV cache, activations, decode graph */

/* Number of usable CUDA devices; 0 when there is no driver or no device. */
int qlm_cuda_device_count(void);

/* "NVIDIA H200, 139.8 GiB, sm_90" (device 0), for logs and bench. */
void qlm_cuda_describe(char *buf, size_t cap);

/* Read bandwidth of device 0 in GB/s: the best of `passes` streams over a
 * buffer of `bytes` (bench: 2 GiB, 5 passes); 0 when there is no device. */
double qlm_cuda_read_bandwidth_gbps(size_t bytes, int passes);

/* Uploads layers [0, n_gpu_layers) (n_gpu_layers >= n_layer: all of them and
 * the output head). Call before the CPU repack: weights travel in their file
 * layout. */
qlm_status qlm_cuda_model_new(const struct qlm_model *m, int n_gpu_layers, qlm_cuda_model **out, qlm_errbuf *err);
void qlm_cuda_model_free(qlm_cuda_model *cm);
int qlm_cuda_model_n_layers(const qlm_cuda_model *cm);      /* layers on the device */
int qlm_cuda_model_has_output(const qlm_cuda_model *cm);    /* output head too: logits come from the device */
uint64_t qlm_cuda_model_bytes(const qlm_cuda_model *cm);    /* device bytes of weights */

/* Device buffers for ctx (its n_ctx, n_batch, kv_type, logits_all). */
qlm_status qlm_cuda_ctx_new(qlm_cuda_model *cm, const struct qlm_context *ctx, qlm_cuda_ctx **out, qlm_errbuf *err);
void qlm_cuda_ctx_free(qlm_cuda_ctx *cc);

/* Runs n_tok tokens (embeddings x (n_tok, n_embd) already computed on the
 * host) at positions n_past.. through the device's layers. With the output
 * head on the device and want_logits, writes the logits of the last token
 * (or of every token with logits_all) to `logits` and their row count to
 * *n_logits; otherwise writes the residual stream after the last device
 * layer back to x. Decoding one token replays a captured CUDA graph. */
qlm_status qlm_cuda_forward(qlm_cuda_ctx *cc, float *x, int32_t n_tok, int32_t n_past, int want_logits,
                            float *logits, int32_t *n_logits, qlm_errbuf *err);

/* Context shift on the device cache: rows [src, src + n) of every device
 * layer move to dst, keys rotated back by delta positions. */
qlm_status qlm_cuda_kv_shift(qlm_cuda_ctx *cc, int32_t dst, int32_t src, int32_t n, float delta, qlm_errbuf *err);

#ifdef __cplusplus
}
#endif
#endif
